//! Datasets: JSON lines of a request and the reference command, and seeded samples of them.

use std::path::Path;

use crate::EvalError;

/// One dataset row: a request in plain English and the command that answers it, with what the
/// comparison by execution needs to know about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// The row's name in the dataset (`"id"`), if it has one.
    pub id: Option<String>,
    /// The request, as a user would type it.
    pub request: String,
    /// The reference command.
    pub reference: String,
    /// A shell script run in the fixture before each command (`"setup"`): the files this
    /// request talks about.
    pub setup: Option<String>,
    /// Whether the order of the output lines matters (`"ordered"`): sorting, first and last N.
    pub ordered: bool,
    /// A label to sum results up by (`"category"`), if any.
    pub category: Option<String>,
    /// How hard the request is (`"level"`, 1 to 3), if given.
    pub level: Option<u8>,
}

impl Row {
    /// A row with only a request and its reference.
    pub fn new(request: impl Into<String>, reference: impl Into<String>) -> Self {
        Row {
            request: request.into(),
            reference: reference.into(),
            ..Row::default()
        }
    }
}

/// The rows of a dataset, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dataset {
    /// The rows.
    pub rows: Vec<Row>,
}

impl Dataset {
    /// Reads `{"request"|"nl": ..., "command"|"cmd": ...}` lines from `path`, with the optional
    /// fields of [`Row`] (`id`, `setup`, `ordered`, `category`, `level`); blank lines are
    /// skipped, other fields ignored.
    pub fn read(path: &Path) -> Result<Self, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|source| EvalError::ReadDataset {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Reads the lines of `text`, as [`Dataset::read`] does; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, EvalError> {
        let mut rows = Vec::new();
        for (index, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let value: serde_json::Value =
                serde_json::from_str(line).map_err(|source| EvalError::NotJson {
                    path: path.to_owned(),
                    line: index + 1,
                    source,
                })?;
            let field = |names: &[&str]| {
                names
                    .iter()
                    .find_map(|n| value.get(*n).and_then(|v| v.as_str()))
                    .map(str::to_owned)
            };
            let (Some(request), Some(reference)) =
                (field(&["request", "nl"]), field(&["command", "cmd"]))
            else {
                return Err(EvalError::MissingField {
                    path: path.to_owned(),
                    line: index + 1,
                });
            };
            rows.push(Row {
                id: field(&["id"]),
                request,
                reference,
                setup: field(&["setup"]),
                ordered: value.get("ordered").and_then(|v| v.as_bool()) == Some(true),
                category: field(&["category"]),
                level: value
                    .get("level")
                    .and_then(|v| v.as_u64())
                    .and_then(|l| u8::try_from(l).ok()),
            });
        }
        Ok(Dataset { rows })
    }

    /// `n` rows picked by a seeded shuffle (splitmix64 keys), in file order, so the same seed
    /// picks the same rows everywhere.
    pub fn sample(self, n: usize, seed: u64) -> Self {
        let key = |i: usize| {
            let mut z = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        order.sort_by_key(|&i| key(i));
        order.truncate(n);
        order.sort_unstable();
        let mut picked: Vec<Option<Row>> = self.rows.into_iter().map(Some).collect();
        Dataset {
            rows: order.into_iter().filter_map(|i| picked[i].take()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Dataset, EvalError> {
        Dataset::parse(text, Path::new("set.jsonl"))
    }

    #[test]
    fn rows_take_either_field_name_and_skip_blank_lines() {
        let dataset = parse(
            "{\"nl\": \"list files\", \"cmd\": \"ls\"}\n\n{\"request\": \"disk usage\", \"command\": \"du -sh .\", \"source\": \"x\"}\n",
        )
        .unwrap();
        let rows: Vec<_> = dataset
            .rows
            .iter()
            .map(|r| (r.request.as_str(), r.reference.as_str()))
            .collect();
        assert_eq!(rows, [("list files", "ls"), ("disk usage", "du -sh .")]);
        assert_eq!(dataset.rows[0], Row::new("list files", "ls"));
    }

    #[test]
    fn rows_carry_their_set_up_and_labels() {
        let dataset = parse(
            r#"{"id": "text-1", "request": "sort it", "command": "sort f", "setup": "printf 'b\\na\\n' > f", "ordered": true, "category": "text", "level": 2}"#,
        )
        .unwrap();
        assert_eq!(
            dataset.rows,
            [Row {
                id: Some("text-1".into()),
                request: "sort it".into(),
                reference: "sort f".into(),
                setup: Some("printf 'b\\na\\n' > f".into()),
                ordered: true,
                category: Some("text".into()),
                level: Some(2),
            }]
        );
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let error = parse("{\"nl\": \"a\", \"cmd\": \"b\"}\n\n{\"nl\": \"list files\"}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "set.jsonl:3: expected \"request\" (or \"nl\") and \"command\" (or \"cmd\") strings"
        );
        let error = parse("not json").unwrap_err().to_string();
        assert_eq!(error, "set.jsonl:1: not valid JSON");
    }

    #[test]
    fn a_sample_is_the_same_for_a_seed_and_keeps_file_order() {
        let dataset = Dataset {
            rows: (0..100).map(|i| Row::new(i.to_string(), "")).collect(),
        };
        let picked = |seed| -> Vec<usize> {
            dataset
                .clone()
                .sample(10, seed)
                .rows
                .iter()
                .map(|r| r.request.parse().unwrap())
                .collect()
        };
        let first = picked(7);
        // What seed 7 has always picked: published results name their seed and must stay
        // reproducible.
        assert_eq!(first, [0, 6, 18, 21, 32, 50, 68, 72, 77, 78]);
        assert_eq!(first, picked(7));
        assert_ne!(first, picked(8));
        assert_eq!(dataset.clone().sample(1000, 7), dataset);
    }
}
