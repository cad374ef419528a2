//! Download progress on stderr with indicatif.

use std::io::IsTerminal;
use std::time::Duration;

use cmdai_models::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Draws a progress bar per transfer on a terminal; when stderr is not a terminal, writes one
/// line when each transfer starts and ends instead, so logs stay readable.
#[derive(Debug, Default)]
pub struct BarProgress {
    bar: Option<ProgressBar>,
    label: String,
}

impl Progress for BarProgress {
    fn note(&mut self, message: &str) {
        eprintln!("cmdai: {message}");
    }

    fn begin(&mut self, label: &str, total: u64, done: u64) {
        if !std::io::stderr().is_terminal() {
            let resumed = if done > 0 {
                format!(", resuming at {:.1} MB", done as f64 / 1e6)
            } else {
                String::new()
            };
            eprintln!(
                "cmdai: downloading {label} ({:.1} MB{resumed})",
                total as f64 / 1e6
            );
            self.label = label.to_owned();
            return;
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>28} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_message(label.to_owned());
        bar.set_position(done);
        bar.enable_steady_tick(Duration::from_millis(200));
        self.bar = Some(bar);
    }

    fn advance(&mut self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    fn end(&mut self) {
        match self.bar.take() {
            Some(bar) => bar.finish_and_clear(),
            None => eprintln!("cmdai: downloaded {}", self.label),
        }
    }
}

/// What the user sees while the model writes: its tokens as they arrive (`--stream`), or a
/// spinner with the elapsed time on a terminal, or nothing. Always on stderr.
#[derive(Debug)]
pub enum GenerationView {
    Stream,
    Spinner(ProgressBar),
    Quiet,
}

impl GenerationView {
    pub fn new(stream: bool) -> Self {
        if stream {
            Self::Stream
        } else if std::io::stderr().is_terminal() {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template("{spinner} generating… {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(100));
            Self::Spinner(spinner)
        } else {
            Self::Quiet
        }
    }

    /// Shows the tokens as they arrive, whatever the user asked (an explanation is read as it is
    /// written).
    pub fn streaming() -> Self {
        Self::Stream
    }

    /// Clears the spinner, or ends the streamed line.
    pub fn finish(&self) {
        match self {
            Self::Stream => eprintln!(),
            Self::Spinner(spinner) => spinner.finish_and_clear(),
            Self::Quiet => {}
        }
    }
}

impl cmdai_core::TokenSink for GenerationView {
    fn token(&mut self, text: &str) {
        if let Self::Stream = self {
            use std::io::Write;
            let mut stderr = std::io::stderr();
            let _ = stderr.write_all(text.as_bytes());
            let _ = stderr.flush();
        }
    }

    fn restart(&mut self, why: &cmdai_core::Restart) {
        let note = why.to_string();
        match self {
            Self::Stream => eprintln!("\n[{note}]"),
            Self::Spinner(spinner) => {
                // Braces in the note would be the template's own.
                let note = note.replace('{', "{{").replace('}', "}}");
                spinner.set_style(
                    ProgressStyle::with_template(&format!("{{spinner}} {note}… {{elapsed}}"))
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
            }
            Self::Quiet => {}
        }
    }
}
