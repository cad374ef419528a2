# cmdai shell integration for zsh. Load it from ~/.zshrc with:
#   eval "$(cmdai init zsh)"
# Type a request in plain English and press __KEY_NAME__: the line becomes the command, for you
# to review, edit and run with Enter (it then lands in your history like any command).
# On an empty line, __KEY_NAME__ fixes the last command (cmdai is given it and its exit status);
# __FIX_KEY_NAME__ fixes it as the text on the line says ("only .txt files", "it said permission
# denied"). Either way the fixed command replaces the line, for you to review.
__cmdai_preexec() {
    __cmdai_last_command=$1
}
__cmdai_precmd() {
    __cmdai_last_status=$?
}
autoload -Uz add-zsh-hook
add-zsh-hook preexec __cmdai_preexec
# First, so that it sees the exit status of the command rather than of another hook.
precmd_functions=(__cmdai_precmd ${precmd_functions:#__cmdai_precmd})
__cmdai_replace_line() {
    if [[ -n $1 ]]; then
        BUFFER=$1
        CURSOR=${#BUFFER}
    fi
}
__cmdai_fix() {
    if [[ -z $__cmdai_last_command ]]; then
        zle -M "cmdai: no command to fix yet"
        return
    fi
    local generated
    generated=$(command cmdai fix --command "$__cmdai_last_command" \
        --status "${__cmdai_last_status:-0}" -- "$1" 2>/dev/tty) && __cmdai_replace_line "$generated"
}
__cmdai_widget() {
    local request=$BUFFER
    if [[ -z ${request//[[:space:]]/} ]]; then
        __cmdai_fix ""
    else
        local generated
        generated=$(command cmdai -- "$request" 2>/dev/tty) && __cmdai_replace_line "$generated"
    fi
    zle reset-prompt
}
__cmdai_fix_widget() {
    __cmdai_fix "$BUFFER"
    zle reset-prompt
}
zle -N __cmdai_widget
zle -N __cmdai_fix_widget
bindkey '__KEY__' __cmdai_widget
bindkey '__FIX_KEY__' __cmdai_fix_widget
