//! The evaluation loop: a command generated for every row, compared with the reference by text
//! and (with an [`Execution`]) by running both; the counts and latency percentiles that sum it up.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::EvalError;
use crate::compare::{Match, compare};
use crate::dataset::Row;
use crate::exec::{ExecVerdict, Execution};

/// How one row went.
#[derive(Debug, Clone, PartialEq)]
pub struct RowResult {
    /// The row's request.
    pub request: String,
    /// The row's reference command.
    pub reference: String,
    /// The generated command; `None` when the generator gave none.
    pub command: Option<String>,
    /// How the generated command compares with the reference by text.
    pub matched: Match,
    /// How long generating took.
    pub latency: Duration,
    /// What running both showed; `None` when the evaluation runs nothing.
    pub exec: Option<ExecVerdict>,
}

/// Every row's result and the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The rows' results, in the rows' order.
    pub results: Vec<RowResult>,
    /// Counts and latency over all rows.
    pub summary: Summary,
}

/// Counts over the rows of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Rows evaluated.
    pub rows: usize,
    /// Rows the generator gave a command for.
    pub parsed: usize,
    /// Rows whose command is an exact match.
    pub exact: usize,
    /// Rows whose command has the reference's utilities.
    pub utility: usize,
    /// Rows whose command has the reference's utilities and flags.
    pub flags: usize,
    /// The comparison by execution; `None` when the evaluation runs nothing.
    pub exec: Option<ExecSummary>,
    /// Generation latency.
    pub latency: Latency,
}

impl Summary {
    /// The share of rows that gave a command, as [`rate`] rounds it.
    pub fn parse_rate(&self) -> f64 {
        rate(self.parsed, self.rows)
    }

    /// The share of exact matches.
    pub fn exact_match(&self) -> f64 {
        rate(self.exact, self.rows)
    }

    /// The share of utility matches.
    pub fn utility_match(&self) -> f64 {
        rate(self.utility, self.rows)
    }

    /// The share of utility and flag matches.
    pub fn flags_match(&self) -> f64 {
        rate(self.flags, self.rows)
    }
}

/// The comparison by execution, over the rows whose reference does something in the fixture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecSummary {
    /// Rows whose reference ran and did something observable.
    pub runnable: usize,
    /// Of those, rows whose generated command did the same.
    pub same: usize,
}

impl ExecSummary {
    /// The share of runnable rows with the same effect, as [`rate`] rounds it.
    pub fn match_rate(&self) -> f64 {
        rate(self.same, self.runnable)
    }
}

/// The comparison by execution for each group of rows that `key` names (rows it gives `None`
/// are left out), e.g. by category or by level. `results` are `rows`' results, in order.
pub fn exec_by<K: Ord>(
    rows: &[Row],
    results: &[RowResult],
    key: impl Fn(&Row) -> Option<K>,
) -> BTreeMap<K, ExecSummary> {
    let mut groups: BTreeMap<K, ExecSummary> = BTreeMap::new();
    for (row, result) in rows.iter().zip(results) {
        let (Some(key), Some(verdict)) = (key(row), result.exec) else {
            continue;
        };
        let group = groups.entry(key).or_insert(ExecSummary {
            runnable: 0,
            same: 0,
        });
        if matches!(verdict, ExecVerdict::Same | ExecVerdict::Differs(_)) {
            group.runnable += 1;
        }
        if verdict == ExecVerdict::Same {
            group.same += 1;
        }
    }
    groups
}

/// Percentiles of the time generation took per row (nearest rank; zero without rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Latency {
    /// The median.
    pub p50: Duration,
    /// The 90th percentile.
    pub p90: Duration,
    /// The 99th percentile.
    pub p99: Duration,
}

impl Latency {
    /// The percentiles of `latencies`, in any order.
    pub fn of(latencies: &[Duration]) -> Self {
        let mut sorted = latencies.to_vec();
        sorted.sort();
        let percentile = |p: f64| -> Duration {
            if sorted.is_empty() {
                return Duration::ZERO;
            }
            let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
            sorted[at]
        };
        Latency {
            p50: percentile(0.5),
            p90: percentile(0.9),
            p99: percentile(0.99),
        }
    }
}

/// `n` of `total` as a share rounded to three decimals (0 when `total` is 0).
pub fn rate(n: usize, total: usize) -> f64 {
    (n as f64 / total.max(1) as f64 * 1000.0).round() / 1000.0
}

/// Generates a command for every row with `generate` and compares it with the row's reference:
/// by text, and by running both in `execution`'s sandbox when there is one. `generate` answers
/// `Ok(None)` when it gave no usable command (the row counts as a miss) and `Err` to stop the
/// whole evaluation (an interrupt); its time is the row's latency. With an execution it also
/// gets the directory the request is about (the row's fixture), as a user asks from there.
/// `observe` sees each row's result, with the row's index, as soon as it is known.
pub fn evaluate<E: From<EvalError>>(
    rows: &[Row],
    execution: Option<&Execution>,
    mut generate: impl FnMut(&str, Option<&Path>) -> Result<Option<String>, E>,
    mut observe: impl FnMut(usize, &RowResult),
) -> Result<Report, E> {
    let mut results = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let mut latency = Duration::ZERO;
        let mut timed = |dir: Option<&Path>| {
            let started = Instant::now();
            let command = generate(&row.request, dir);
            latency = started.elapsed();
            command
        };
        let (command, exec) = match execution {
            Some(execution) => {
                let (command, verdict) = execution.generate_and_compare(row, &mut timed)?;
                (command, Some(verdict))
            }
            None => (timed(None)?, None),
        };
        let matched = command
            .as_deref()
            .map(|command| compare(&row.reference, command))
            .unwrap_or_default();
        let result = RowResult {
            request: row.request.clone(),
            reference: row.reference.clone(),
            command,
            matched,
            latency,
            exec,
        };
        observe(index, &result);
        results.push(result);
    }
    let count = |f: fn(&RowResult) -> bool| results.iter().filter(|r| f(r)).count();
    let latencies: Vec<Duration> = results.iter().map(|r| r.latency).collect();
    let summary = Summary {
        rows: results.len(),
        parsed: count(|r| r.command.is_some()),
        exact: count(|r| r.matched.exact),
        utility: count(|r| r.matched.utility),
        flags: count(|r| r.matched.flags),
        exec: execution.map(|_| ExecSummary {
            runnable: count(|r| {
                matches!(r.exec, Some(ExecVerdict::Same | ExecVerdict::Differs(_)))
            }),
            same: count(|r| r.exec == Some(ExecVerdict::Same)),
        }),
        latency: Latency::of(&latencies),
    };
    Ok(Report { results, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(request: &str, reference: &str) -> Row {
        Row::new(request, reference)
    }

    #[test]
    fn rows_are_scored_and_summed_up() {
        let rows = [
            row("list", "ls -la"),
            row("disk", "du -sh ."),
            row("where", "pwd"),
            row("count", "wc -l f"),
        ];
        let answers = [Some("ls -al"), Some("du -sh ."), None, Some("grep -c x f")];
        let mut seen = Vec::new();
        let report = evaluate(
            &rows,
            None,
            |request, _| {
                let at = rows.iter().position(|r| r.request == request).unwrap();
                Ok::<_, EvalError>(answers[at].map(str::to_owned))
            },
            |index, result| seen.push((index, result.command.clone())),
        )
        .unwrap();
        assert_eq!(seen.len(), 4);
        assert_eq!(seen[2], (2, None));
        let s = &report.summary;
        assert_eq!(
            (s.rows, s.parsed, s.exact, s.utility, s.flags),
            (4, 3, 1, 2, 2)
        );
        assert_eq!(s.exec, None);
        assert_eq!(
            (s.parse_rate(), s.exact_match(), s.flags_match()),
            (0.75, 0.25, 0.5)
        );
        assert!(report.results.iter().all(|r| r.exec.is_none()));
    }

    #[test]
    fn execution_results_are_summed_up_by_group() {
        let rows = [
            Row {
                category: Some("text".into()),
                ..row("a", "ls")
            },
            Row {
                category: Some("files".into()),
                ..row("b", "ls")
            },
            Row {
                category: Some("text".into()),
                ..row("c", "ls")
            },
            row("d", "ls"),
        ];
        let verdicts = [
            ExecVerdict::Same,
            ExecVerdict::NotRunnable(crate::Skip::ReferenceFails),
            ExecVerdict::Differs(crate::Difference::Output),
            ExecVerdict::Same,
        ];
        let results: Vec<RowResult> = verdicts
            .iter()
            .map(|&verdict| RowResult {
                request: String::new(),
                reference: String::new(),
                command: None,
                matched: Match::default(),
                latency: Duration::ZERO,
                exec: Some(verdict),
            })
            .collect();
        let groups = exec_by(&rows, &results, |r| r.category.clone());
        let summed: Vec<_> = groups
            .iter()
            .map(|(k, s)| (k.as_str(), s.runnable, s.same))
            .collect();
        assert_eq!(summed, [("files", 0, 0), ("text", 2, 1)]);
    }

    #[test]
    fn an_error_from_the_generator_stops_the_evaluation() {
        let rows = [row("a", "ls"), row("b", "ls")];
        let mut asked = 0;
        let error = evaluate(
            &rows,
            None,
            |_, _| {
                asked += 1;
                Err(EvalError::NoShell)
            },
            |_, _| {},
        )
        .unwrap_err();
        assert!(matches!(error, EvalError::NoShell));
        assert_eq!(asked, 1);
    }

    #[test]
    fn latency_percentiles_are_nearest_rank() {
        let ms = Duration::from_millis;
        let latency = Latency::of(&(1..=10).rev().map(ms).collect::<Vec<_>>());
        assert_eq!(
            (latency.p50, latency.p90, latency.p99),
            (ms(6), ms(9), ms(10))
        );
        assert_eq!(Latency::of(&[]), Latency::default());
        assert_eq!(rate(1, 3), 0.333);
        assert_eq!(rate(0, 0), 0.0);
    }
}
