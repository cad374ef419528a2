# cmdai shell integration for zsh. Load it from ~/.zshrc with:
#   eval "$(cmdai init zsh)"
# Type a request in plain English and press __KEY_NAME__: the line becomes the command, for you
# to review, edit and run with Enter (it then lands in your history like any command).
__cmdai_widget() {
    local request=$BUFFER
    if [[ -n ${request//[[:space:]]/} ]]; then
        local generated
        generated=$(command cmdai -- "$request" 2>/dev/tty)
        if [[ $? -eq 0 && -n $generated ]]; then
            BUFFER=$generated
            CURSOR=${#BUFFER}
        fi
    fi
    zle reset-prompt
}
zle -N __cmdai_widget
bindkey '__KEY__' __cmdai_widget
