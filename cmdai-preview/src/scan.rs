//! Comparing an overlay with its lower layer: what a command created, deleted, renamed,
//! modified or re-permissioned. Only directories present in the upper layer can differ, so only
//! those are read.

use std::collections::{BTreeSet, HashMap};
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use crate::{Change, ChangeKind, EntryKind};

/// The largest file whose text is diffed.
const DIFF_MAX_BYTES: u64 = 256 << 10;
/// The most lines of one diff kept in the report.
const DIFF_MAX_LINES: usize = 40;

/// One overlay: the real directory (read-only), the view the command saw, and the layer that
/// took its changes.
pub(crate) struct Layers<'a> {
    pub lower: &'a Path,
    pub merged: &'a Path,
    pub upper: &'a Path,
}

/// Every change under the overlay, by path relative to it, in path order.
pub(crate) fn compare(layers: &Layers<'_>) -> Vec<Change> {
    let mut changes = Vec::new();
    let root = Path::new("");
    if let (Ok(before), Ok(after)) = (
        std::fs::symlink_metadata(layers.lower),
        std::fs::symlink_metadata(layers.merged),
    ) && mode(&before) != mode(&after)
    {
        changes.push(permissions(PathBuf::from("."), &before, &after));
    }
    compare_dir(layers, root, &mut changes);
    find_renames(layers, &mut changes);
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

fn compare_dir(layers: &Layers<'_>, dir: &Path, changes: &mut Vec<Change>) {
    let before = names(&layers.lower.join(dir));
    let after = names(&layers.merged.join(dir));
    for name in before.difference(&after) {
        let path = dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(layers.lower.join(&path)) {
            changes.push(gone(path, &layers.lower.join(dir).join(name), &meta));
        }
    }
    for name in after.difference(&before) {
        let path = dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(layers.merged.join(&path)) {
            changes.push(made(path, &layers.merged.join(dir).join(name), &meta));
        }
    }
    for name in before.intersection(&after) {
        let path = dir.join(name);
        // Untouched entries are not in the upper layer; a whiteout there means it was deleted,
        // and then it is not in the merged view either.
        match std::fs::symlink_metadata(layers.upper.join(&path)) {
            Ok(meta) if !is_whiteout(&meta) => {}
            _ => continue,
        }
        let (Ok(old), Ok(new)) = (
            std::fs::symlink_metadata(layers.lower.join(&path)),
            std::fs::symlink_metadata(layers.merged.join(&path)),
        ) else {
            continue;
        };
        compare_entry(layers, path, &old, &new, changes);
    }
}

fn compare_entry(
    layers: &Layers<'_>,
    path: PathBuf,
    old: &Metadata,
    new: &Metadata,
    changes: &mut Vec<Change>,
) {
    let (lower, merged) = (layers.lower.join(&path), layers.merged.join(&path));
    if kind(old) != kind(new) {
        changes.push(gone(path.clone(), &lower, old));
        changes.push(made(path, &merged, new));
        return;
    }
    if mode(old) != mode(new) && !old.file_type().is_symlink() {
        changes.push(permissions(path.clone(), old, new));
    }
    match kind(new) {
        EntryKind::Directory => compare_dir(layers, &path, changes),
        EntryKind::File => {
            if old.len() != new.len() || !same_contents(&lower, &merged) {
                let diff = text_diff(&lower, &merged, old.len(), new.len());
                changes.push(Change {
                    path,
                    kind: ChangeKind::Modified {
                        size_before: old.len(),
                        size_after: new.len(),
                        diff,
                    },
                });
            } else if mode(old) == mode(new) {
                changes.push(Change {
                    path,
                    kind: ChangeKind::Touched,
                });
            }
        }
        EntryKind::Symlink => {
            if std::fs::read_link(&lower).ok() != std::fs::read_link(&merged).ok() {
                changes.push(Change {
                    path,
                    kind: ChangeKind::Modified {
                        size_before: old.len(),
                        size_after: new.len(),
                        diff: None,
                    },
                });
            }
        }
        EntryKind::Other => {}
    }
}

/// A created file and a deleted one with the same contents are one rename; so are a created
/// and a deleted directory with the same number of files and bytes.
fn find_renames(layers: &Layers<'_>, changes: &mut Vec<Change>) {
    let mut deleted: HashMap<(EntryKind, u64, u64), Vec<usize>> = HashMap::new();
    for (i, change) in changes.iter().enumerate() {
        if let ChangeKind::Deleted { entry, size, files } = change.kind {
            deleted.entry((entry, size, files)).or_default().push(i);
        }
    }
    if deleted.is_empty() {
        return;
    }
    let mut renames: Vec<(usize, usize)> = Vec::new();
    for (i, change) in changes.iter().enumerate() {
        let ChangeKind::Created { entry, size, files } = change.kind else {
            continue;
        };
        let Some(candidates) = deleted.get_mut(&(entry, size, files)) else {
            continue;
        };
        let found = candidates.iter().position(|&d| {
            entry != EntryKind::File
                || same_contents(
                    &layers.lower.join(&changes[d].path),
                    &layers.merged.join(&change.path),
                )
        });
        if let Some(at) = found {
            renames.push((i, candidates.swap_remove(at)));
        }
    }
    let mut dropped = Vec::new();
    for (created, old) in renames {
        let from = changes[old].path.clone();
        let ChangeKind::Created { entry, .. } = changes[created].kind else {
            continue;
        };
        changes[created].kind = ChangeKind::Renamed { from, entry };
        dropped.push(old);
    }
    dropped.sort_unstable();
    for index in dropped.into_iter().rev() {
        changes.remove(index);
    }
}

fn names(dir: &Path) -> BTreeSet<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default()
}

/// An overlay whiteout: a character device numbered 0:0.
fn is_whiteout(meta: &Metadata) -> bool {
    meta.file_type().is_char_device() && meta.rdev() == 0
}

fn kind(meta: &Metadata) -> EntryKind {
    let t = meta.file_type();
    if t.is_symlink() {
        EntryKind::Symlink
    } else if t.is_dir() {
        EntryKind::Directory
    } else if t.is_file() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

fn mode(meta: &Metadata) -> u32 {
    meta.mode() & 0o7777
}

fn permissions(path: PathBuf, old: &Metadata, new: &Metadata) -> Change {
    Change {
        path,
        kind: ChangeKind::Permissions {
            before: format!("{:o}", mode(old)),
            after: format!("{:o}", mode(new)),
        },
    }
}

/// A deleted entry, with what a deleted directory held.
fn gone(path: PathBuf, at: &Path, meta: &Metadata) -> Change {
    let (size, files) = measure(at, meta);
    Change {
        path,
        kind: ChangeKind::Deleted {
            entry: kind(meta),
            size,
            files,
        },
    }
}

/// A created entry, with what a created directory holds.
fn made(path: PathBuf, at: &Path, meta: &Metadata) -> Change {
    let (size, files) = measure(at, meta);
    Change {
        path,
        kind: ChangeKind::Created {
            entry: kind(meta),
            size,
            files,
        },
    }
}

/// Bytes and files (non-directories) in `at`: the entry itself for a file.
fn measure(at: &Path, meta: &Metadata) -> (u64, u64) {
    if meta.is_dir() {
        tree_size(at)
    } else {
        (meta.len(), 1)
    }
}

/// Bytes and files (non-directories) under the directory `dir`.
pub(crate) fn tree_size(dir: &Path) -> (u64, u64) {
    let (mut size, mut files) = (0, 0);
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.metadata() {
                Ok(m) if m.is_dir() => pending.push(entry.path()),
                Ok(m) => {
                    size += m.len();
                    files += 1;
                }
                Err(_) => files += 1,
            }
        }
    }
    (size, files)
}

/// Whether two files of the same length hold the same bytes.
fn same_contents(a: &Path, b: &Path) -> bool {
    let (Ok(mut a), Ok(mut b)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let (mut x, mut y) = (vec![0u8; 64 << 10], vec![0u8; 64 << 10]);
    loop {
        let (Ok(n), Ok(m)) = (read_full(&mut a, &mut x), read_full(&mut b, &mut y)) else {
            return false;
        };
        if n != m || x[..n] != y[..m] {
            return false;
        }
        if n == 0 {
            return true;
        }
    }
}

fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// A unified diff with one line of context, when both versions are small UTF-8 text.
fn text_diff(old: &Path, new: &Path, old_len: u64, new_len: u64) -> Option<String> {
    if old_len > DIFF_MAX_BYTES || new_len > DIFF_MAX_BYTES {
        return None;
    }
    let text = |path: &Path| {
        std::fs::read(path)
            .ok()
            .filter(|bytes| !bytes.contains(&0))
            .and_then(|bytes| String::from_utf8(bytes).ok())
    };
    let (old, new) = (text(old)?, text(new)?);
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut unified = diff.unified_diff();
    let rendered = unified.context_radius(1).to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    let mut kept = lines[..lines.len().min(DIFF_MAX_LINES)].join("\n");
    if lines.len() > DIFF_MAX_LINES {
        kept.push_str(&format!(
            "\n... {} more lines",
            lines.len() - DIFF_MAX_LINES
        ));
    }
    Some(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds lower and merged by hand (no overlay needed): `upper` lists what changed.
    fn layers(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let (lower, merged, upper) = (dir.join("l"), dir.join("m"), dir.join("u"));
        for d in [&lower, &merged, &upper] {
            std::fs::create_dir(d).unwrap();
        }
        (lower, merged, upper)
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn each_kind_of_change_is_found_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (lower, merged, upper) = layers(dir.path());
        for root in [&lower, &merged] {
            write(&root.join("same.txt"), "same\n");
            write(&root.join("sub/keep.txt"), "keep\n");
        }
        write(&lower.join("edit.txt"), "one\ntwo\nthree\n");
        write(&merged.join("edit.txt"), "one\n2\nthree\n");
        write(&upper.join("edit.txt"), "");
        write(&lower.join("old.log"), "a log\n");
        write(&merged.join("new.log"), "a log\n");
        write(&lower.join("gone/a"), "x");
        write(&lower.join("gone/b"), "yz");
        write(&merged.join("made/c"), "c");
        write(&merged.join("sub/extra.txt"), "extra\n");
        write(&upper.join("sub/extra.txt"), "");
        let changes = compare(&Layers {
            lower: &lower,
            merged: &merged,
            upper: &upper,
        });
        let summary: Vec<(String, &str)> = changes
            .iter()
            .map(|c| (c.path.display().to_string(), c.kind.verb()))
            .collect();
        assert_eq!(
            summary,
            [
                ("edit.txt".to_owned(), "modified"),
                ("gone".to_owned(), "deleted"),
                ("made".to_owned(), "created"),
                ("new.log".to_owned(), "renamed"),
                ("sub/extra.txt".to_owned(), "created"),
            ]
        );
        let ChangeKind::Modified {
            diff: Some(diff), ..
        } = &changes[0].kind
        else {
            panic!("{changes:?}");
        };
        assert!(diff.contains("-two") && diff.contains("+2"), "{diff}");
        assert_eq!(
            changes[1].kind,
            ChangeKind::Deleted {
                entry: EntryKind::Directory,
                size: 3,
                files: 2
            }
        );
        assert_eq!(
            changes[3].kind,
            ChangeKind::Renamed {
                from: PathBuf::from("old.log"),
                entry: EntryKind::File
            }
        );
    }

    #[test]
    fn binary_and_large_files_get_no_diff() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"x\0y").unwrap();
        std::fs::write(&b, b"x\0z").unwrap();
        assert_eq!(text_diff(&a, &b, 3, 3), None);
        assert_eq!(text_diff(&a, &b, DIFF_MAX_BYTES + 1, 3), None);
        assert!(!same_contents(&a, &b));
        assert!(same_contents(&a, &a));
    }
}
