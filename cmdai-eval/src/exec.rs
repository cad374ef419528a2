//! Comparing a generated command with the reference by what they do: both run in fresh copies
//! of one fixture, in the [`Sandbox`], and their output and the files they leave are compared.

use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use cmdai_core::safety::RiskLevel;

use crate::EvalError;
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

    /// Runs the reference and, when the reference does something observable, the generated
    /// command; critical commands are never run.
    pub fn compare(
        &self,
        reference: &str,
        generated: Option<&str>,
    ) -> Result<ExecVerdict, EvalError> {
        let critical = |command| cmdai_core::safety::analyze(command).level == RiskLevel::Critical;
        if critical(reference) {
            return Ok(ExecVerdict::NotRunnable(Skip::CriticalReference));
        }
        let expected = self.sandbox.run(reference)?;
        if expected.status != Status::Exited(0) {
            return Ok(ExecVerdict::NotRunnable(Skip::ReferenceFails));
        }
        if expected.stdout.iter().all(u8::is_ascii_whitespace) && expected.tree == self.initial {
            return Ok(ExecVerdict::NotRunnable(Skip::ReferenceDoesNothing));
        }
        let Some(generated) = generated else {
            return Ok(ExecVerdict::Differs(Difference::NoCommand));
        };
        if critical(generated) {
            return Ok(ExecVerdict::Differs(Difference::Critical));
        }
        let actual = self.sandbox.run(generated)?;
        Ok(if actual.same_effect(&expected) {
            ExecVerdict::Same
        } else {
            ExecVerdict::Differs(Difference::between(&expected, &actual))
        })
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
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Skip::CriticalReference => "the reference is critical; not run",
            Skip::ReferenceFails => "the reference fails in the fixture",
            Skip::ReferenceDoesNothing => {
                "the reference prints nothing and changes nothing in the fixture"
            }
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

    #[test]
    fn commands_are_judged_by_what_they_do_in_the_built_in_fixture() {
        if !namespaces_available() {
            return;
        }
        let options = ExecOptions {
            fixture: None,
            // Generous: nothing here runs long, and the machine may be busy.
            timeout: Duration::from_secs(30),
        };
        let execution = Execution::new(&options).unwrap();
        let check = |reference: &str, generated: Option<&str>, expected: ExecVerdict| {
            let verdict = execution.compare(reference, generated).unwrap();
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
