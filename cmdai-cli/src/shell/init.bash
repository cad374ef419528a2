# cmdai shell integration for bash. Load it from ~/.bashrc with:
#   eval "$(cmdai init bash)"
# Type a request in plain English and press __KEY_NAME__: the line becomes the command, for you
# to review, edit and run with Enter (it then lands in your history like any command).
# On an empty line, __KEY_NAME__ fixes the last command (cmdai is given it and its exit status);
# __FIX_KEY_NAME__ fixes it as the text on the line says ("only .txt files", "it said permission
# denied"). Either way the fixed command replaces the line, for you to review.
__cmdai_remember() {
    __cmdai_last_status=$?
    local line
    line=$(HISTTIMEFORMAT='' builtin history 1)
    if [[ $line =~ ^[[:space:]]*[0-9]+\*?[[:space:]]+(.*)$ ]]; then
        __cmdai_last_command=${BASH_REMATCH[1]}
    fi
    return "$__cmdai_last_status"
}
if [[ ${PROMPT_COMMAND[*]} != *__cmdai_remember* ]]; then
    PROMPT_COMMAND="__cmdai_remember${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
fi
__cmdai_replace_line() {
    if [[ -n $1 ]]; then
        READLINE_LINE=$1
        READLINE_POINT=${#READLINE_LINE}
    fi
}
__cmdai_fix() {
    if [[ -z $__cmdai_last_command ]]; then
        echo "cmdai: no command to fix yet" >/dev/tty
        return
    fi
    local generated
    generated=$(command cmdai fix --command "$__cmdai_last_command" \
        --status "${__cmdai_last_status:-0}" -- "$1" 2>/dev/tty) && __cmdai_replace_line "$generated"
}
__cmdai_widget() {
    local request=$READLINE_LINE
    if [[ -z ${request//[[:space:]]/} ]]; then
        __cmdai_fix ""
        return
    fi
    local generated
    generated=$(command cmdai -- "$request" 2>/dev/tty) && __cmdai_replace_line "$generated"
}
__cmdai_fix_widget() {
    __cmdai_fix "$READLINE_LINE"
}
bind -x '"__KEY__": __cmdai_widget'
bind -x '"__FIX_KEY__": __cmdai_fix_widget'
