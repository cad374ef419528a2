//! Ctrl-C. While generating, the first one stops the download or generation in progress
//! cleanly (a download keeps what arrived, for resuming) and a second one exits at once. At a
//! confirmation prompt it exits at once; while the user's command runs, it belongs to that
//! command alone.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use cmdai_core::CancelToken;

const CANCEL: u8 = 0;
const EXIT: u8 = 1;
const IGNORE: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(CANCEL);
static INSTALLED: AtomicBool = AtomicBool::new(false);
static TARGETS: Mutex<Vec<(CancelToken, Arc<AtomicBool>)>> = Mutex::new(Vec::new());

fn ensure_handler() {
    if INSTALLED.swap(true, Ordering::SeqCst) {
        return;
    }
    let result = ctrlc::set_handler(|| match MODE.load(Ordering::SeqCst) {
        IGNORE => {}
        EXIT => std::process::exit(130),
        _ => {
            let targets = TARGETS.lock().unwrap_or_else(|e| e.into_inner());
            if targets.iter().any(|(token, _)| token.is_cancelled()) || targets.is_empty() {
                std::process::exit(130);
            }
            for (token, download) in targets.iter() {
                token.cancel();
                download.store(true, Ordering::Relaxed);
            }
        }
    });
    if let Err(error) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {error}");
    }
}

/// Installs the handler; returns the token generation checks. `download` is the fetcher's flag.
pub fn install(download: Arc<AtomicBool>) -> CancelToken {
    ensure_handler();
    let cancel = CancelToken::new();
    TARGETS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((cancel.clone(), download));
    cancel
}

/// A fresh token for the next generation of an interactive session (the last one may have been
/// cancelled); from now on the first Ctrl-C cancels again instead of exiting.
pub fn next_generation() -> CancelToken {
    ensure_handler();
    let cancel = CancelToken::new();
    let mut targets = TARGETS.lock().unwrap_or_else(|e| e.into_inner());
    for (token, download) in targets.iter_mut() {
        *token = cancel.clone();
        download.store(false, Ordering::Relaxed);
    }
    if targets.is_empty() {
        targets.push((cancel.clone(), Arc::new(AtomicBool::new(false))));
    }
    MODE.store(CANCEL, Ordering::SeqCst);
    cancel
}

/// From now on Ctrl-C exits with status 130 (at a prompt).
pub fn exit_on_interrupt() {
    ensure_handler();
    MODE.store(EXIT, Ordering::SeqCst);
}

/// From now on Ctrl-C is left to the child process (the user's command, which gets it from
/// the terminal).
pub fn leave_to_child() {
    ensure_handler();
    MODE.store(IGNORE, Ordering::SeqCst);
}
