# cmdai shell integration for fish. Load it from ~/.config/fish/config.fish with:
#   cmdai init fish | source
# Type a request in plain English and press __KEY_NAME__: the line becomes the command, for you
# to review, edit and run with Enter (it then lands in your history like any command).
# On an empty line, __KEY_NAME__ fixes the last command (cmdai is given it and its exit status);
# __FIX_KEY_NAME__ fixes it as the text on the line says ("only .txt files", "it said permission
# denied"). Either way the fixed command replaces the line, for you to review.
function __cmdai_remember --on-event fish_postexec
    set -g __cmdai_last_status $status
    set -g __cmdai_last_command $argv[1]
end
function __cmdai_replace_line
    if test -n "$argv[1]"
        commandline -r -- $argv[1]
        commandline -f end-of-line
    end
end
function __cmdai_fix
    if test -z "$__cmdai_last_command"
        echo "cmdai: no command to fix yet" >/dev/tty
        return
    end
    set -l generated (command cmdai fix --command "$__cmdai_last_command" --status "$__cmdai_last_status" -- "$argv[1]" 2>/dev/tty)
    if test $status -eq 0
        __cmdai_replace_line (string join \n -- $generated)
    end
end
function __cmdai_widget
    set -l request (commandline)
    set -l trimmed (string trim -- "$request")
    if test -z "$trimmed"
        __cmdai_fix ""
    else
        set -l generated (command cmdai -- "$request" 2>/dev/tty)
        if test $status -eq 0
            __cmdai_replace_line (string join \n -- $generated)
        end
    end
    commandline -f repaint
end
function __cmdai_fix_widget
    __cmdai_fix (string join \n -- (commandline))
    commandline -f repaint
end
bind __KEY__ __cmdai_widget
bind __FIX_KEY__ __cmdai_fix_widget
