# cmdai shell integration for fish. Load it from ~/.config/fish/config.fish with:
#   cmdai init fish | source
# Type a request in plain English and press __KEY_NAME__: the line becomes the command, for you
# to review, edit and run with Enter (it then lands in your history like any command).
function __cmdai_widget
    set -l request (commandline)
    set -l trimmed (string trim -- "$request")
    if test -n "$trimmed"
        set -l generated (command cmdai -- "$request" 2>/dev/tty)
        if test $status -eq 0; and test -n "$generated"
            commandline -r -- (string join \n -- $generated)
            commandline -f end-of-line
        end
    end
    commandline -f repaint
end
bind __KEY__ __cmdai_widget
