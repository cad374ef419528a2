//! The review at a terminal: the command, highlighted, with its risk, then a one-key choice to
//! run, edit, revise, explain, preview, copy or cancel it; and `-i`, a session that keeps the model
//! loaded and answers request after request.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use cmdai_core::highlight::{Class, classify};
use cmdai_core::safety::{Analysis, Analyzer, Decision};
use cmdai_core::{
    BackendError, Exchange, GenerateError, GeneratedCommand, InferenceBackend, ShellContext,
};
use console::{Key, Term, style};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use crate::generate::CommandGenerator;
use crate::progress::GenerationView;
use crate::settings::{RunMode, Settings};
use crate::{clipboard, interrupt, safety};

/// Whether cmdai may ask: stdin, stdout and stderr are all a terminal (`$(cmdai ...)` and pipes
/// get the command alone).
pub fn at_terminal() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal()
}

/// How a review ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The command ran and exited with this status.
    Ran(u8),
    /// It was copied, or the user cancelled.
    Done,
    /// Ctrl-C at the menu.
    Interrupted,
}

/// Where a review happens: one request from the command line, or a `-i` session (where Ctrl-C
/// at the menu goes back to the session's prompt instead of exiting).
pub struct Review<'a> {
    settings: &'a Settings,
    generator: &'a mut CommandGenerator,
    context: &'a ShellContext,
    analyzer: Analyzer,
    editor: DefaultEditor,
    /// The last explanation and the command it explains.
    explained: Option<(String, String)>,
}

/// What the line editor read.
enum Line {
    Text(String),
    /// Ctrl-C.
    Interrupted,
    /// Ctrl-D on an empty line.
    End,
}

/// One menu choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Run,
    Edit,
    Revise,
    Explain,
    Preview,
    Copy,
    Cancel,
}

impl<'a> Review<'a> {
    pub fn new(
        settings: &'a Settings,
        generator: &'a mut CommandGenerator,
        context: &'a ShellContext,
    ) -> Result<Self> {
        Ok(Review {
            settings,
            generator,
            context,
            analyzer: safety::analyzer(settings),
            editor: DefaultEditor::new()?,
            explained: None,
        })
    }

    /// Remembers an explanation already shown, so `x` does not ask the model again.
    pub fn explained(&mut self, command: &str, text: &str) {
        self.explained = Some((command.to_owned(), text.to_owned()));
    }

    /// `cmdai -i`: reads requests until Ctrl-D or `exit`; each gets a command and a review.
    /// `first`, if given, is the first request.
    pub fn session(&mut self, first: Option<&str>) -> Result<u8> {
        let info = self.generator.backend().info();
        eprintln!(
            "cmdai: {} on {} is ready. Type a request; Ctrl-D or `exit` to leave.",
            info.model, info.device
        );
        let mut first = first.map(str::to_owned);
        loop {
            let request = match first.take() {
                Some(request) => request,
                None => match self.read_line("cmdai>", "")? {
                    Line::Text(line) => line,
                    Line::Interrupted => continue,
                    Line::End => return Ok(0),
                },
            };
            let request = request.trim();
            match request {
                "" => continue,
                "exit" | "quit" => return Ok(0),
                _ => {}
            }
            let _ = self.editor.add_history_entry(request);
            let Some(command) = self.generate(None, request) else {
                continue;
            };
            let outcome = self.review(vec![Exchange::new(request, command.command)])?;
            if let Outcome::Ran(status) = outcome
                && status != 0
            {
                eprintln!("cmdai: exit status {status}");
            }
        }
    }

    /// Shows the last command of `history` and acts on the user's choices until one ends it.
    pub fn review(&mut self, mut history: Vec<Exchange>) -> Result<Outcome> {
        loop {
            let Some(current) = history.last().map(|e| e.command.clone()) else {
                return Ok(Outcome::Done);
            };
            let analysis = self.analyzer.analyze(&current);
            show(&current, &analysis, self.settings.verbose)?;
            let decision = self.settings.safety.policy.decide(&analysis);
            let runnable =
                self.settings.safety.run != RunMode::DryRun && decision != Decision::Refuse;
            let default = if runnable && decision == Decision::Confirm {
                Choice::Run
            } else {
                Choice::Cancel
            };
            if !runnable {
                eprintln!(
                    "{}",
                    style(not_runnable(self.settings, decision))
                        .for_stderr()
                        .dim()
                );
            }
            let Some(choice) = menu(runnable, default)? else {
                return Ok(Outcome::Interrupted);
            };
            match choice {
                Choice::Run => {
                    if decision == Decision::ConfirmExplicitly && !self.confirm_high(&analysis)? {
                        continue;
                    }
                    let status = safety::run_in_shell(self.settings.shell.as_deref(), &current)?;
                    return Ok(Outcome::Ran(status));
                }
                Choice::Edit => {
                    let Line::Text(edited) = self.read_line("edit>", &current)? else {
                        continue;
                    };
                    let edited = edited.trim();
                    if !edited.is_empty()
                        && let Some(last) = history.last_mut()
                    {
                        last.command = edited.to_owned();
                    }
                }
                Choice::Revise => {
                    let Line::Text(follow_up) = self.read_line("revise>", "")? else {
                        continue;
                    };
                    let follow_up = follow_up.trim();
                    if follow_up.is_empty() {
                        continue;
                    }
                    if let Some(command) = self.generate(Some(&history), follow_up) {
                        history.push(Exchange::new(follow_up, command.command));
                    }
                }
                Choice::Explain => {
                    if let Some((command, text)) = &self.explained
                        && *command == current
                    {
                        eprintln!("{text}");
                    } else if let Some(text) = self.explain(&current) {
                        self.explained = Some((current, text));
                    }
                }
                Choice::Preview => crate::preview::show(self.settings, &current, &analysis),
                Choice::Copy => match clipboard::copy(&current) {
                    Ok(how) => {
                        eprintln!("cmdai: copied ({how})");
                        return Ok(Outcome::Done);
                    }
                    Err(message) => eprintln!("cmdai: {message}"),
                },
                Choice::Cancel => return Ok(Outcome::Done),
            }
        }
    }

    /// Reads a line after `label`, pre-filled with `initial`, in the line editor.
    fn read_line(&mut self, label: &str, initial: &str) -> Result<Line> {
        let prompt = format!("{} ", style(label).for_stderr().bold());
        match self.editor.readline_with_initial(&prompt, (initial, "")) {
            Ok(line) => Ok(Line::Text(line)),
            Err(ReadlineError::Interrupted) => Ok(Line::Interrupted),
            Err(ReadlineError::Eof) => Ok(Line::End),
            Err(error) => Err(error.into()),
        }
    }

    /// Generates a command for `request`, or a revision of `earlier`'s last command. Errors
    /// are shown and give `None`: the user can try again. Ctrl-C stops this generation only.
    fn generate(
        &mut self,
        earlier: Option<&[Exchange]>,
        request: &str,
    ) -> Option<GeneratedCommand> {
        let cancel = interrupt::next_generation();
        let mut view = GenerationView::new(self.settings.stream);
        // The files of the request the conversation started with: its prompt is built first.
        let first = earlier
            .and_then(<[Exchange]>::first)
            .map_or(request, |exchange| exchange.request.as_str());
        let context =
            crate::context::with_files_here(self.context, first, self.settings.look_at_files);
        let generated = self.generator.revise_streaming(
            earlier.unwrap_or_default(),
            request,
            &context,
            &mut view,
            &cancel,
        );
        view.finish();
        interrupt::exit_on_interrupt();
        generated.map_err(|error| report(&error)).ok()
    }

    /// Streams the model's explanation of `command` to stderr; returns it.
    fn explain(&mut self, command: &str) -> Option<String> {
        let cancel = interrupt::next_generation();
        let mut view = GenerationView::streaming();
        let explained = self
            .generator
            .explain_streaming(command, self.context, &mut view, &cancel);
        view.finish();
        interrupt::exit_on_interrupt();
        explained.map_err(|error| report(&error)).ok()
    }

    /// Asks for a typed `y` before running a command of High risk.
    fn confirm_high(&self, analysis: &Analysis) -> Result<bool> {
        eprint!(
            "This is {} risk. Run it anyway? [y/N] ",
            style(analysis.level).for_stderr().red().bold()
        );
        let key = Term::stderr().read_key_raw()?;
        let yes = matches!(key, Key::Char('y' | 'Y'));
        eprintln!("{}", if yes { "yes" } else { "no" });
        Ok(yes)
    }
}

/// Says why a generation gave nothing, without ending the review.
fn report(error: &GenerateError) {
    match error {
        GenerateError::Backend(BackendError::Cancelled) => eprintln!("cmdai: stopped"),
        error => eprintln!("cmdai: {error}"),
    }
}

/// Why the menu offers no "run".
fn not_runnable(settings: &Settings, decision: Decision) -> String {
    if settings.safety.run == RunMode::DryRun {
        "(dry run: cmdai will not run it)".to_owned()
    } else if decision == Decision::Refuse {
        format!(
            "(the {} safety policy does not let cmdai run this)",
            settings.safety.policy
        )
    } else {
        String::new()
    }
}

/// Prints the command on stdout, highlighted where colours are on, and its risk on stderr.
fn show(command: &str, analysis: &Analysis, verbose: u8) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(out, "{}", highlighted(command))?;
    out.flush()?;
    drop(out);
    safety::write_report(&mut std::io::stderr(), command, analysis, verbose)?;
    Ok(())
}

/// Follows `NO_COLOR` (no-color.org) as well as console's own `CLICOLOR` rules.
pub fn init_colors() {
    if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        console::set_colors_enabled(false);
        console::set_colors_enabled_stderr(false);
    }
}

/// `command` with ANSI colours by syntax class, for stdout, unless colours are off there (not a
/// colour terminal, `NO_COLOR`, `CLICOLOR=0`).
pub fn highlighted(command: &str) -> String {
    if !console::colors_enabled() {
        return command.to_owned();
    }
    let mut out = String::with_capacity(command.len() * 2);
    let mut at = 0;
    for part in classify(command) {
        out.push_str(&command[at..part.range.start]);
        let text = &command[part.range.clone()];
        let styled = match part.class {
            Class::Program => style(text).green().bold(),
            Class::Keyword => style(text).magenta().bold(),
            Class::Option => style(text).cyan(),
            Class::Quoted => style(text).yellow(),
            Class::Expansion => style(text).magenta(),
            Class::Operator => style(text).bold(),
            Class::Plain => style(text),
        };
        out.push_str(&styled.to_string());
        at = part.range.end;
    }
    out.push_str(&command[at..]);
    out
}

/// Asks which of `count` numbered commands to review (Enter: the first); `None` for quit.
pub fn pick(count: usize) -> Result<Option<usize>> {
    let term = Term::stderr();
    loop {
        eprint!("Review which? [1-{count}, q to quit] (Enter: 1) ");
        let choice = match term.read_key_raw()? {
            Key::Enter => Some(Some(0)),
            Key::Escape | Key::Char('q' | 'Q') => Some(None),
            Key::CtrlC => {
                eprintln!();
                std::process::exit(i32::from(crate::exit::INTERRUPTED));
            }
            Key::Char(c) => c
                .to_digit(10)
                .and_then(|d| usize::try_from(d).ok())
                .filter(|&d| (1..=count).contains(&d))
                .map(|d| Some(d - 1)),
            _ => None,
        };
        match choice {
            Some(picked) => {
                eprintln!(
                    "{}",
                    picked.map_or("quit".to_owned(), |i| (i + 1).to_string())
                );
                return Ok(picked);
            }
            None => eprintln!(),
        }
    }
}

/// Shows the choices and reads one key; `None` on Ctrl-C. Enter picks `default`.
fn menu(runnable: bool, default: Choice) -> Result<Option<Choice>> {
    let entries = [
        (Choice::Run, "r", "run"),
        (Choice::Edit, "e", "edit"),
        (Choice::Revise, "v", "revise"),
        (Choice::Explain, "x", "explain"),
        (Choice::Preview, "p", "preview"),
        (Choice::Copy, "c", "copy"),
        (Choice::Cancel, "q", "quit"),
    ];
    let shown: Vec<String> = entries
        .iter()
        .filter(|(choice, _, _)| runnable || *choice != Choice::Run)
        .map(|(choice, key, name)| {
            let label = name.replacen(key, &format!("[{key}]"), 1);
            if *choice == default {
                style(label).for_stderr().bold().underlined().to_string()
            } else {
                label
            }
        })
        .collect();
    let default_name = entries
        .iter()
        .find(|(choice, _, _)| *choice == default)
        .map_or("quit", |(_, _, name)| *name);
    let term = Term::stderr();
    loop {
        eprint!("{}  (Enter: {default_name}) ", shown.join("  "));
        let key = term.read_key_raw()?;
        let choice = match key {
            Key::Enter => Some(default),
            Key::Escape => Some(Choice::Cancel),
            Key::CtrlC => {
                eprintln!();
                return Ok(None);
            }
            Key::Char(c) => match c.to_ascii_lowercase() {
                'r' | 'y' if runnable => Some(Choice::Run),
                'e' => Some(Choice::Edit),
                'v' => Some(Choice::Revise),
                'x' => Some(Choice::Explain),
                'p' => Some(Choice::Preview),
                'c' => Some(Choice::Copy),
                'q' | 'n' => Some(Choice::Cancel),
                _ => None,
            },
            _ => None,
        };
        match choice {
            Some(choice) => {
                let name = entries
                    .iter()
                    .find(|(c, _, _)| *c == choice)
                    .map_or("", |(_, _, name)| *name);
                eprintln!("{name}");
                return Ok(Some(choice));
            }
            None => eprintln!(),
        }
    }
}
