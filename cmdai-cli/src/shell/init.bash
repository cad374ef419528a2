# cmdai shell integration for bash. Load it from ~/.bashrc with:
#   eval "$(cmdai init bash)"
# Type a request in plain English and press __KEY_NAME__: the line becomes the command, for you
# to review, edit and run with Enter (it then lands in your history like any command).
__cmdai_widget() {
    local request=$READLINE_LINE
    [[ -z ${request//[[:space:]]/} ]] && return
    local generated
    if generated=$(command cmdai -- "$request" 2>/dev/tty) && [[ -n $generated ]]; then
        READLINE_LINE=$generated
        READLINE_POINT=${#READLINE_LINE}
    fi
}
bind -x '"__KEY__": __cmdai_widget'
