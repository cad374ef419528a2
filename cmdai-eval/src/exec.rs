//! Comparing a generated command with the reference by what they do: both run in fresh copies
//! of one fixture, in the [`Sandbox`], and their output and the files they leave are compared.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use cmdai_core::safety::RiskLevel;

use crate::EvalError;
use crate::dataset::Row;
use crate::fixture::write_fixture;
use crate::sandbox::{Outcome, Sandbox, Status, Tree};

/// Where and how long commands run.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// The directory each command gets a fresh copy of; the built-in fixture
    /// ([`write_fixture`]) when `None`.
    pub fixture: Option<PathBuf>,
    /// Each command's time limit.
    pub timeout: Duration,
}

/// The sandbox, the fixture it copies and what the fixture looks like untouched.
#[derive(Debug)]
pub struct Execution {
    sandbox: Sandbox,
    initial: Tree,
    /// The built-in fixture's directory, removed when this is dropped.
    _fixture: Option<tempfile::TempDir>,
}

impl Execution {
    /// Writes the built-in fixture when `options` names none, and starts the sandbox (which
    /// checks once that it can run commands here).
    pub fn new(options: &ExecOptions) -> Result<Self, EvalError> {
        let (path, owned) = match &options.fixture {
            Some(path) => {
                if !path.is_dir() {
                    return Err(EvalError::FixtureNotADirectory { path: path.clone() });
                }
                (path.clone(), None)
            }
            None => {
                let dir = tempfile::Builder::new()
                    .prefix("cmdai-fixture-")
                    .tempdir()
                    .map_err(|source| EvalError::WriteFixture {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                write_fixture(dir.path(), SystemTime::now())?;
                (dir.path().to_path_buf(), Some(dir))
            }
        };
        let sandbox = Sandbox::new(&path, options.timeout)?;
        Ok(Execution {
            initial: sandbox.initial_tree(),
            sandbox,
            _fixture: owned,
        })
    }

    /// Runs `row`'s reference and, when the reference does something observable, the generated
    /// command, each in a fresh copy of the fixture (after the row's set-up script); critical
    /// commands are never run.
    pub fn compare(&self, row: &Row, generated: Option<&str>) -> Result<ExecVerdict, EvalError> {
        let generated = generated.map(str::to_owned);
        self.generate_and_compare(row, |_| Ok::<_, EvalError>(generated))
            .map(|(_, verdict)| verdict)
    }

    /// Calls `generate` with the directory the row's request is about (the fixture after the
    /// row's set-up script; `None` when the script fails), as a user would ask from there,
    /// then compares the command it gives as [`compare`](Self::compare) does.
    pub fn generate_and_compare<E: From<EvalError>>(
        &self,
        row: &Row,
        generate: impl FnOnce(Option<&Path>) -> Result<Option<String>, E>,
    ) -> Result<(Option<String>, ExecVerdict), E> {
        let mut generate = Some(generate);
        let verdict = self.in_fixture::<_, E>(row, |sandbox, initial| {
            let generate = generate.take().expect("called once");
            let generated = generate(Some(sandbox.fixture()))?;
            if critical(&row.reference) {
                return Ok((generated, ExecVerdict::NotRunnable(Skip::CriticalReference)));
            }
            let expected = sandbox.run(&row.reference)?;
            if let Some(skip) = not_counted(&expected, initial) {
                return Ok((generated, ExecVerdict::NotRunnable(skip)));
            }
            let Some(command) = generated.as_deref() else {
                return Ok((generated, ExecVerdict::Differs(Difference::NoCommand)));
            };
            if critical(command) {
                return Ok((generated, ExecVerdict::Differs(Difference::Critical)));
            }
            let actual = sandbox.run(command)?;
            let verdict = if actual.same_effect(&expected, row.ordered) {
                ExecVerdict::Same
            } else {
                ExecVerdict::Differs(Difference::between(&expected, &actual))
            };
            Ok((generated, verdict))
        })?;
        match verdict {
            Ok(found) => Ok(found),
            Err(skip) => {
                let generate = generate.take().expect("not called when the set-up fails");
                Ok((generate(None)?, ExecVerdict::NotRunnable(skip)))
            }
        }
    }

    /// Whether `row`'s reference can count in a comparison, for whoever writes a dataset: it
    /// runs twice, each time in a fresh copy of the fixture, and must succeed, do something
    /// observable and do the same both times. `None` when it counts.
    pub fn check_reference(&self, row: &Row) -> Result<Option<Skip>, EvalError> {
        if critical(&row.reference) {
            return Ok(Some(Skip::CriticalReference));
        }
        let found = self.in_fixture(row, |sandbox, initial| {
            let first = sandbox.run(&row.reference)?;
            if let Some(skip) = not_counted(&first, initial) {
                return Ok(Some(skip));
            }
            let second = sandbox.run(&row.reference)?;
            Ok((!second.same_effect(&first, row.ordered)).then_some(Skip::NotDeterministic))
        })?;
        Ok(found.unwrap_or_else(Some))
    }

    /// Calls `work` with the sandbox for `row` (one over a fixture of its own when the row has a
    /// set-up script) and what its fixture looks like untouched; `Err(Skip)` when the set-up
    /// script fails.
    fn in_fixture<T, E: From<EvalError>>(
        &self,
        row: &Row,
        work: impl FnOnce(&Sandbox, &Tree) -> Result<T, E>,
    ) -> Result<Result<T, Skip>, E> {
        match &row.setup {
            None => work(&self.sandbox, &self.initial).map(Ok),
            Some(script) => match self.sandbox.prepare(script)? {
                Some(prepared) => work(&prepared, &prepared.initial_tree()).map(Ok),
                None => Ok(Err(Skip::SetupFails)),
            },
        }
    }
}

fn critical(command: &str) -> bool {
    cmdai_core::safety::analyze(command).level == RiskLevel::Critical
}

/// Why a reference that ran as `outcome` in a fixture that looked like `initial` does not count.
fn not_counted(outcome: &Outcome, initial: &Tree) -> Option<Skip> {
    if outcome.status != Status::Exited(0) {
        Some(Skip::ReferenceFails)
    } else if outcome.stdout.iter().all(u8::is_ascii_whitespace) && outcome.tree == *initial {
        Some(Skip::ReferenceDoesNothing)
    } else {
        None
    }
}

/// What running both commands showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecVerdict {
    /// The reference did nothing that can be compared here.
    NotRunnable(Skip),
    /// Both did the same.
    Same,
    /// The generated command did something else.
    Differs(Difference),
}

/// Why a reference does not count for the comparison by execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// The safety analysis rates the reference critical, so it is not run.
    CriticalReference,
    /// The reference fails in the fixture.
    ReferenceFails,
    /// The reference prints nothing and changes nothing in the fixture.
    ReferenceDoesNothing,
    /// The row's set-up script fails.
    SetupFails,
    /// Two runs of the reference did different things ([`Execution::check_reference`] only).
    NotDeterministic,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::CriticalReference => "the reference is critical; not run",
            Skip::ReferenceFails => "the reference fails in the fixture",
            Skip::ReferenceDoesNothing => {
                "the reference prints nothing and changes nothing in the fixture"
            }
            Skip::SetupFails => "the set-up script fails",
            Skip::NotDeterministic => "the reference does something else when run again",
        })
    }
}

/// How the generated command's effect differs from the reference's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Difference {
    /// There was no generated command.
    NoCommand,
    /// The safety analysis rates the generated command critical, so it is not run.
    Critical,
    /// The generated command ran past the time limit.
    TimedOut,
    /// The generated command failed where the reference succeeded.
    Failed,
    /// The files afterwards differ.
    Files,
    /// The output differs.
    Output,
}

impl Difference {
    fn between(expected: &Outcome, actual: &Outcome) -> Self {
        if actual.status == Status::TimedOut {
            Difference::TimedOut
        } else if actual.status != Status::Exited(0) {
            Difference::Failed
        } else if actual.tree != expected.tree {
            Difference::Files
        } else {
            Difference::Output
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Difference::NoCommand => "no command",
            Difference::Critical => "the generated command is critical; not run",
            Difference::TimedOut => "the generated command timed out",
            Difference::Failed => "the generated command failed",
            Difference::Files => "different files afterwards",
            Difference::Output => "different output",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether this system lets an unprivileged user make the sandbox's namespaces.
    fn namespaces_available() -> bool {
        let probe = std::process::Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "--net", "true"])
            .stderr(std::process::Stdio::null())
            .status();
        let available = probe.is_ok_and(|s| s.success());
        if !available {
            eprintln!("skipping: no unprivileged user namespaces here (unshare -rmn)");
        }
        available
    }

    /// An execution over the built-in fixture; `None` (the test is skipped) without namespaces.
    fn built_in() -> Option<Execution> {
        if !namespaces_available() {
            return None;
        }
        let options = ExecOptions {
            fixture: None,
            // Generous: nothing here runs long, and the machine may be busy.
            timeout: Duration::from_secs(30),
        };
        Some(Execution::new(&options).unwrap())
    }

    #[test]
    fn commands_are_judged_by_what_they_do_in_the_built_in_fixture() {
        let Some(execution) = built_in() else {
            return;
        };
        let check = |reference: &str, generated: Option<&str>, expected: ExecVerdict| {
            let verdict = execution
                .compare(&Row::new("", reference), generated)
                .unwrap();
            assert_eq!(verdict, expected, "{reference:?} vs {generated:?}");
        };
        use {Difference as D, ExecVerdict as V, Skip as S};
        check("rm todo.txt", Some("rm -f ./todo.txt"), V::Same);
        // The same lines in another order are the same output.
        check("cat notes.txt", Some("sort notes.txt"), V::Same);
        check(
            "wc -l notes.txt",
            Some("wc -l < notes.txt"),
            V::Differs(D::Output),
        );
        check("touch a.txt", Some("touch b.txt"), V::Differs(D::Files));
        check("ls", Some("ls /nonexistent"), V::Differs(D::Failed));
        check("ls", None, V::Differs(D::NoCommand));
        check("ls data", Some("rm -rf /"), V::Differs(D::Critical));
        check("cat /nonexistent", None, V::NotRunnable(S::ReferenceFails));
        check(
            "true",
            Some("true"),
            V::NotRunnable(S::ReferenceDoesNothing),
        );
        check("rm -rf /", Some("ls"), V::NotRunnable(S::CriticalReference));
    }

    #[test]
    fn the_generator_sees_the_files_the_row_is_about() {
        let Some(execution) = built_in() else {
            return;
        };
        let row = Row {
            setup: Some("printf 'x,y\\n' > points.csv".into()),
            ..Row::new("the first column of points.csv", "cut -d, -f1 points.csv")
        };
        let (command, verdict) = execution
            .generate_and_compare(&row, |dir| {
                let dir = dir.expect("the row's fixture");
                let header = std::fs::read_to_string(dir.join("points.csv")).unwrap();
                assert_eq!(header, "x,y\n");
                Ok::<_, EvalError>(Some("cut -d, -f1 < points.csv".to_owned()))
            })
            .unwrap();
        assert_eq!(command.as_deref(), Some("cut -d, -f1 < points.csv"));
        assert_eq!(verdict, ExecVerdict::Same);
        // A set-up that fails leaves no fixture to look at; the row still gets a command.
        let broken = Row {
            setup: Some("exit 3".into()),
            ..row
        };
        let (command, verdict) = execution
            .generate_and_compare(&broken, |dir| {
                assert!(dir.is_none());
                Ok::<_, EvalError>(Some("ls".to_owned()))
            })
            .unwrap();
        assert_eq!(command.as_deref(), Some("ls"));
        assert_eq!(verdict, ExecVerdict::NotRunnable(Skip::SetupFails));
    }

    #[test]
    fn rows_bring_their_own_files_and_may_ask_for_order() {
        let Some(execution) = built_in() else {
            return;
        };
        let sort = Row {
            setup: Some("printf 'b\\na\\nc\\n' > letters && chmod 600 letters".into()),
            ..Row::new("sort the letters", "sort letters")
        };
        let compare = |row: &Row, generated| execution.compare(row, Some(generated)).unwrap();
        // Files made by the set-up script are there, untouched, for both commands.
        assert_eq!(compare(&sort, "sort < letters"), ExecVerdict::Same);
        assert_eq!(compare(&sort, "cat letters"), ExecVerdict::Same);
        let ordered = Row {
            ordered: true,
            ..sort.clone()
        };
        assert_eq!(
            compare(&ordered, "cat letters"),
            ExecVerdict::Differs(Difference::Output)
        );
        // Permission bits the set-up script gave are part of the fixture, not an effect.
        let chmod = Row {
            reference: "chmod 644 letters".into(),
            ..sort.clone()
        };
        assert_eq!(
            compare(&chmod, "chmod u=rw,go=r letters"),
            ExecVerdict::Same
        );
        assert_eq!(
            compare(&chmod, "true"),
            ExecVerdict::Differs(Difference::Files)
        );
        assert_eq!(execution.check_reference(&sort).unwrap(), None);
        assert_eq!(execution.check_reference(&chmod).unwrap(), None);
        // A new file is the same file however its time was set.
        let gzip = Row {
            setup: None,
            ..Row::new("compress notes.txt, keep it", "gzip -k notes.txt")
        };
        assert_eq!(
            compare(&gzip, "gzip -c notes.txt > notes.txt.gz"),
            ExecVerdict::Same
        );
        // Directories keep their times in every copy, so an archive of one is the same twice.
        let tar = Row::new("archive src", "tar -cf src.tar src");
        assert_eq!(execution.check_reference(&tar).unwrap(), None);
        let broken = Row {
            setup: Some("exit 3".into()),
            ..sort.clone()
        };
        assert_eq!(
            compare(&broken, "sort letters"),
            ExecVerdict::NotRunnable(Skip::SetupFails)
        );
        let random = Row::new("a random number", "od -An -N4 -tu4 /dev/urandom");
        assert_eq!(
            execution.check_reference(&random).unwrap(),
            Some(Skip::NotDeterministic)
        );
        let nothing = Row::new("nothing", "true");
        assert_eq!(
            execution.check_reference(&nothing).unwrap(),
            Some(Skip::ReferenceDoesNothing)
        );
    }

    #[test]
    fn a_fixture_that_is_not_a_directory_is_refused() {
        let file = tempfile::NamedTempFile::new().unwrap();
        let options = ExecOptions {
            fixture: Some(file.path().to_owned()),
            timeout: Duration::from_secs(1),
        };
        assert!(matches!(
            Execution::new(&options),
            Err(EvalError::FixtureNotADirectory { .. })
        ));
    }
}
