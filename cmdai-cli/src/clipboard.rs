//! Copying a command to the clipboard: OSC 52 through the terminal (works over SSH and in
//! tmux with `set-clipboard on`), and the desktop's clipboard tool when there is one.

use std::io::{IsTerminal, Write};
use std::process::{Command, Stdio};

use base64::Engine;

/// Clipboard tools, each with its arguments and the environment variable that says a desktop
/// session it can reach exists (`None`: always worth a try where it is installed).
const TOOLS: &[(&str, &[&str], Option<&str>)] = &[
    ("pbcopy", &[], None),
    ("wl-copy", &[], Some("WAYLAND_DISPLAY")),
    ("xclip", &["-selection", "clipboard"], Some("DISPLAY")),
    ("xsel", &["--clipboard", "--input"], Some("DISPLAY")),
];

/// Copies `text`; returns how (e.g. "OSC 52, wl-copy"), or why it could not.
pub fn copy(text: &str) -> Result<String, String> {
    let mut ways = Vec::new();
    if terminal_understands_escapes() {
        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
        let mut stderr = std::io::stderr();
        if write!(stderr, "\x1b]52;c;{encoded}\x07")
            .and_then(|()| stderr.flush())
            .is_ok()
        {
            ways.push("OSC 52".to_owned());
        }
    }
    if let Some(tool) = TOOLS
        .iter()
        .filter(|(_, _, session)| session.is_none_or(|var| std::env::var_os(var).is_some()))
        .find_map(|(tool, args, _)| pipe_into(tool, args, text).then_some(*tool))
    {
        ways.push(tool.to_owned());
    }
    if ways.is_empty() {
        return Err(
            "cannot copy: the terminal cannot take OSC 52 (TERM is dumb or unset) and no \
             clipboard tool (pbcopy, wl-copy, xclip, xsel) is available"
                .to_owned(),
        );
    }
    Ok(ways.join(", "))
}

/// A terminal on stderr that is not `TERM=dumb`. Terminals that do not support OSC 52 ignore
/// it; there is no reliable way to ask.
fn terminal_understands_escapes() -> bool {
    std::io::stderr().is_terminal()
        && std::env::var("TERM").is_ok_and(|term| !term.is_empty() && term != "dumb")
}

/// Runs `tool args` with `text` on stdin; whether it worked.
fn pipe_into(tool: &str, args: &[&str], text: &str) -> bool {
    let Ok(mut child) = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return false;
    };
    let written = child
        .stdin
        .take()
        .is_some_and(|mut stdin| stdin.write_all(text.as_bytes()).is_ok());
    child.wait().is_ok_and(|status| status.success()) && written
}
