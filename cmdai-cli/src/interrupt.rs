//! Ctrl-C: the first one stops the download or generation in progress cleanly (a download
//! keeps what arrived, for resuming); a second one exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use cmdai_core::CancelToken;

/// Installs the handler; returns the token generation checks. `download` is the fetcher's flag.
pub fn install(download: Arc<AtomicBool>) -> CancelToken {
    let cancel = CancelToken::new();
    let token = cancel.clone();
    let result = ctrlc::set_handler(move || {
        if token.is_cancelled() {
            std::process::exit(130);
        }
        token.cancel();
        download.store(true, Ordering::Relaxed);
    });
    if let Err(error) = result {
        tracing::warn!("cannot install the Ctrl-C handler: {error}");
    }
    cancel
}
