//! What a path argument points at, as far as harm goes.

use serde::Deserialize;

/// The kinds of target that make an effect worse. Ordinary paths are `None`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum TargetKind {
    /// `/`, `/*`, `/.`
    Root,
    /// A top-level system directory or everything in it: `/etc`, `/usr/*`, `/home`.
    System,
    /// Something inside a system directory: `/etc/nginx/nginx.conf`.
    Protected,
    /// Files the system needs to boot or let anyone log in.
    CriticalFile,
    /// A disk or partition device.
    Device,
    /// A whole home directory: `~`, `$HOME/*`, `/home/alice`.
    Home,
    /// Keys and credentials.
    Secret,
    /// A path that depends on a variable or command output cmdai cannot see.
    Dynamic,
    /// Everything in the current directory: `.`, `*`, `./*`.
    EverythingHere,
    /// Outside the current directory: `..`, `../..`.
    Parent,
    /// A shared scratch directory itself, or everything in it: `/tmp`, `/var/tmp/*`, `/dev/shm`.
    Scratch,
    /// A folder of the user's own files or settings, whole: `~/Documents`, `~/.config`.
    UserData,
}

impl TargetKind {
    pub fn describe(self, text: &str) -> String {
        match self {
            Self::Root => format!("`{text}` is the whole file system"),
            Self::System => format!("`{text}` is a system directory"),
            Self::Protected => format!("`{text}` is inside a system directory"),
            Self::CriticalFile => {
                format!(
                    "`{text}` is a file the system needs to boot, run programs or let anyone log in"
                )
            }
            Self::Device => format!("`{text}` is a disk device"),
            Self::Home => format!("`{text}` is a whole home directory"),
            Self::Secret => format!("`{text}` holds keys or credentials"),
            Self::Dynamic => {
                format!(
                    "`{text}` depends on a variable or command output that cmdai cannot see (an empty value changes the target)"
                )
            }
            Self::EverythingHere => format!("`{text}` is everything in the current directory"),
            Self::Parent => format!("`{text}` reaches outside the current directory"),
            Self::UserData => format!("`{text}` holds your own files or settings, all of them"),
            Self::Scratch => {
                format!("`{text}` is a scratch directory that every user and many programs share")
            }
        }
    }
}

/// Top-level directories the operating system lives in.
const SYSTEM_DIRS: &[&str] = &[
    "bin",
    "boot",
    "dev",
    "etc",
    "lib",
    "lib32",
    "lib64",
    "libx32",
    "proc",
    "root",
    "sbin",
    "sys",
    "usr",
    "var",
    "opt",
    "srv",
    "home",
    "Users",
    "System",
    "Library",
    "Applications",
    "private",
    "snap",
    "mnt",
    "media",
    "run",
    "tmp",
    "nix",
    "Volumes",
    "cores",
];

/// System directories whose contents are protected too (not `/tmp/x`, `/mnt/usb/x`...).
const PROTECTED_DIRS: &[&str] = &[
    "bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "libx32", "proc", "root", "sbin", "sys",
    "usr", "var", "System", "Library", "private", "nix", "snap",
];

const CRITICAL_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/fstab",
    "/etc/pam.d",
    "/etc/ssh/sshd_config",
    "/etc/resolv.conf",
    "/etc/crypttab",
    "/etc/inittab",
    "/etc/ld.so.preload",
    "/etc/ld.so.conf",
    "/proc/sysrq-trigger",
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
    "/boot",
    "/etc/sudoers.d",
    "/etc/security",
    "/etc/default/grub",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/usr/bin",
    "/usr/sbin",
    "/usr/lib",
    "/usr/lib64",
    "/usr/libexec",
    "/root/.ssh/authorized_keys",
    "/etc/environment",
    "/etc/profile",
    "/etc/bash.bashrc",
    "/etc/rc.local",
];

const DEVICE_PREFIXES: &[&str] = &[
    "/dev/sd",
    "/dev/hd",
    "/dev/vd",
    "/dev/xvd",
    "/dev/nvme",
    "/dev/mmcblk",
    "/dev/disk",
    "/dev/rdisk",
    "/dev/md",
    "/dev/mapper/",
    "/dev/dm-",
    "/dev/loop",
    "/dev/sr",
    "/dev/fd",
    "/dev/root",
    "/dev/ram",
    "/dev/nbd",
    "/dev/zd",
    "/dev/drbd",
    "/dev/bcache",
];

/// Devices writing to which is harmless.
const HARMLESS_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/stdin",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
    "/dev/full",
];

const SECRET_MARKERS: &[&str] = &[
    ".ssh/id_",
    ".ssh/authorized_keys",
    ".ssh/config",
    ".aws/credentials",
    ".aws/config",
    ".gnupg",
    ".netrc",
    ".kube/config",
    ".docker/config.json",
    ".git-credentials",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    "/etc/shadow",
    "/etc/ssl/private",
    ".config/gcloud",
    ".azure",
    ".password-store",
    ".vault-token",
    ".bash_history",
    ".zsh_history",
    "id_rsa",
    "id_ed25519",
    "id_ecdsa",
    "id_dsa",
    ".mozilla/firefox",
    ".config/google-chrome",
    ".config/chromium",
    "Library/Keychains",
    "Application Support/Google/Chrome",
    ".local/share/keyrings",
    ".kube",
    ".terraform.d/credentials",
    ".config/gh/hosts.yml",
    "/run/secrets/",
    "/environ",
    "serviceaccount/token",
    ".config/op/",
];

/// Folders directly in a home directory that hold the user's own files or settings.
const USER_DATA_DIRS: &[&str] = &[
    ".config",
    ".local",
    "Documents",
    "Desktop",
    "Pictures",
    "Music",
    "Videos",
    "Library",
    "Projects",
    "src",
    "code",
    "work",
    "Dropbox",
    ".mozilla",
    ".thunderbird",
];

/// Directories that are nothing but keys and credentials.
const SECRET_DIRS: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".kube",
    ".docker",
    ".azure",
    ".password-store",
];

/// Files in a secret directory that are public: `id_ed25519.pub`, `known_hosts`.
fn is_public(text: &str) -> bool {
    text.ends_with(".pub")
        || text.ends_with("known_hosts")
        || text.ends_with("/config.d")
        || text.ends_with(".ssh/config")
}

/// Whether `text` names a file or directory whose contents are keys, credentials or secrets
/// that must not leave the machine: what [`classify`] calls `Secret`, plus `/etc/shadow` and
/// project `.env` files (which are ordinary files to write, but secrets to send).
pub(super) fn holds_secrets(text: &str) -> bool {
    if is_public(text) {
        return false;
    }
    let name = text.rsplit('/').next().unwrap_or_default();
    let env_file = name == ".env"
        || name.starts_with(".env.")
            && !["example", "sample", "template", "dist", "defaults"]
                .iter()
                .any(|s| name.ends_with(s));
    env_file
        || text.contains("/etc/shadow")
        || text.contains("/etc/gshadow")
        || classify_static(text) == Some(TargetKind::Secret)
}

/// Whether writing to `text` is harmless (`/dev/null`, `/dev/stderr`...).
pub(super) fn is_harmless(text: &str) -> bool {
    HARMLESS_DEVICES.contains(&text)
        || ["/dev/fd/", "/dev/pts/", "/dev/tty"]
            .iter()
            .any(|prefix| text.starts_with(prefix))
}

fn has_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Classifies a path argument. `dynamic_at` is the byte index where a part cmdai cannot see
/// begins (`$DIR`), if any: only the text before it is known.
pub(super) fn classify(text: &str, dynamic_at: Option<usize>) -> Option<TargetKind> {
    match dynamic_at {
        // `rm -rf "$DIR"` with an empty DIR: cmdai cannot know.
        Some(0) => Some(TargetKind::Dynamic),
        // `/$X`, `~/$X`, `./build/$X`: with an empty X the target is what comes before.
        Some(at) => classify_static(&text[..at]),
        None => classify_static(text),
    }
}

fn classify_static(text: &str) -> Option<TargetKind> {
    if text.is_empty() {
        return None;
    }
    if is_harmless(text) {
        return None;
    }
    if text.starts_with('/') {
        let joined = format!("/{}", normalise(text).join("/"));
        if CRITICAL_FILES
            .iter()
            .any(|f| joined == *f || joined.starts_with(&format!("{f}/")))
        {
            return Some(TargetKind::CriticalFile);
        }
    }
    let secret_dir = || {
        let parts = normalise(text.trim_start_matches('~'));
        parts
            .last()
            .is_some_and(|last| SECRET_DIRS.contains(&last.as_str()))
            || parts
                .iter()
                .rev()
                .nth(1)
                .is_some_and(|dir| SECRET_DIRS.contains(&dir.as_str()))
    };
    if !is_public(text) && (SECRET_MARKERS.iter().any(|m| text.contains(m)) || secret_dir()) {
        return Some(TargetKind::Secret);
    }
    if let Some(rest) = text.strip_prefix('~') {
        return classify_home(rest);
    }
    if text.starts_with('/') {
        return classify_absolute(text);
    }
    let parts = normalise(text);
    if parts.first().is_some_and(|p| p == "..") {
        return Some(TargetKind::Parent);
    }
    match parts.as_slice() {
        [] => Some(TargetKind::EverythingHere),
        [only] if only.chars().all(|c| c == '*' || c == '.') => Some(TargetKind::EverythingHere),
        _ => None,
    }
}

/// `~`, `~/`, `~/*`, `~alice`: the home directory itself or all of it.
fn classify_home(rest: &str) -> Option<TargetKind> {
    // `~alice/x` is like `~/x`: whose home it is does not change the harm.
    let path = rest.find('/').map_or("", |slash| &rest[slash..]);
    let parts = normalise(path);
    let all = |part: &String| part.chars().all(|c| c == '*');
    match parts.as_slice() {
        [] => Some(TargetKind::Home),
        [only] if only.chars().all(|c| c == '*' || c == '.') => Some(TargetKind::Home),
        [dir] | [dir, _]
            if USER_DATA_DIRS.iter().any(|d| d.eq_ignore_ascii_case(dir))
                && parts.get(1).is_none_or(all) =>
        {
            Some(TargetKind::UserData)
        }
        [first, ..] if first == ".." => Some(TargetKind::System),
        _ => None,
    }
}

fn classify_absolute(text: &str) -> Option<TargetKind> {
    if DEVICE_PREFIXES.iter().any(|p| text.starts_with(p)) {
        return Some(TargetKind::Device);
    }
    let parts = normalise(text);
    let joined = format!("/{}", parts.join("/"));
    if CRITICAL_FILES
        .iter()
        .any(|f| joined == *f || joined.starts_with(&format!("{f}/")))
    {
        return Some(TargetKind::CriticalFile);
    }
    let all = |part: &String| part.chars().all(|c| c == '*');
    match parts.as_slice() {
        [tmp] | [tmp, _] if tmp == "tmp" && parts.get(1).is_none_or(all) => {
            return Some(TargetKind::Scratch);
        }
        [var, tmp] | [var, tmp, _]
            if (var == "var" && tmp == "tmp" || var == "dev" && tmp == "shm")
                && parts.get(2).is_none_or(all) =>
        {
            return Some(TargetKind::Scratch);
        }
        _ => {}
    }
    match parts.as_slice() {
        [] => Some(TargetKind::Root),
        [first] if has_glob(first) || first.chars().all(|c| c == '.') => Some(TargetKind::Root),
        [first] if SYSTEM_DIRS.contains(&first.as_str()) => Some(TargetKind::System),
        // Any other top-level directory (`/data`, `/backup`) is usually a whole volume.
        [_] => Some(TargetKind::UserData),
        [first, second] if (first == "home" || first == "Users") && !has_glob(first) => {
            Some(if second.chars().all(|c| c == '*') {
                TargetKind::System
            } else {
                TargetKind::Home
            })
        }
        [first, third @ ..] if (first == "home" || first == "Users") && third.len() == 2 => {
            if third[1].chars().all(|c| c == '*') {
                Some(TargetKind::Home)
            } else {
                None
            }
        }
        [first, second]
            if SYSTEM_DIRS.contains(&first.as_str()) && second.chars().all(|c| c == '*') =>
        {
            Some(TargetKind::System)
        }
        // A whole web root is the site's files: deleting it is High, handing it to the web
        // server's user (`chown -R www-data /var/www`) is not.
        [var, www] if var == "var" && www == "www" => Some(TargetKind::UserData),
        // Kernel settings (`/proc/sys/vm/drop_caches`, `/sys/class/...`) are what `sysctl -w`
        // changes: Moderate, like it.
        [first, second, ..] if first == "proc" && second == "sys" || first == "sys" => None,
        // A drop-in file (`/etc/apt/sources.list.d/x.list`, `/etc/nginx/conf.d/app.conf`) adds
        // to a configuration without replacing it.
        [first, middle @ .., _]
            if PROTECTED_DIRS.contains(&first.as_str())
                && middle.iter().any(|m| m.ends_with(".d")) =>
        {
            None
        }
        [first, ..] if PROTECTED_DIRS.contains(&first.as_str()) => {
            // Web roots and scratch space under /var belong to the user's own work.
            let shared = ["tmp", "folders", "www"];
            if first == "var" && parts.get(1).is_some_and(|p| shared.contains(&p.as_str())) {
                None
            } else {
                Some(TargetKind::Protected)
            }
        }
        [first, ..] if has_glob(first) => Some(TargetKind::Root),
        _ => None,
    }
}

/// Path components with `.` removed and `..` applied (never above the start).
fn normalise(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| p != "..") {
                    parts.pop();
                } else if !path.starts_with('/') {
                    parts.push("..".to_owned());
                }
            }
            other => parts.push(other.to_owned()),
        }
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        use TargetKind::*;
        let cases: &[(&str, Option<TargetKind>)] = &[
            ("/", Some(Root)),
            ("/*", Some(Root)),
            ("//", Some(Root)),
            ("/.", Some(Root)),
            ("/etc/..", Some(Root)),
            ("/e*", Some(Root)),
            ("/etc", Some(System)),
            ("/usr/*", Some(System)),
            ("/usr/local/bin/tool", Some(Protected)),
            ("/etc/passwd", Some(CriticalFile)),
            ("/etc/sudoers.d/me", Some(CriticalFile)),
            ("/dev/sda", Some(Device)),
            ("/dev/nvme0n1p1", Some(Device)),
            ("/dev/null", None),
            ("~", Some(Home)),
            ("~/", Some(Home)),
            ("~/*", Some(Home)),
            ("~/Downloads/x.zip", None),
            ("/home/alice", Some(Home)),
            ("/home/alice/*", Some(Home)),
            ("/home/alice/project", None),
            ("/home/*", Some(System)),
            ("~/.ssh/id_rsa", Some(Secret)),
            (".", Some(EverythingHere)),
            ("*", Some(EverythingHere)),
            ("./*", Some(EverythingHere)),
            ("..", Some(Parent)),
            ("../../x", Some(Parent)),
            ("./build", None),
            ("build/../..", Some(Parent)),
            ("/tmp/build", None),
            ("/var/tmp/x", None),
            ("/var/log/syslog", Some(Protected)),
            ("*.log", None),
        ];
        for (text, want) in cases {
            assert_eq!(classify(text, None), *want, "{text}");
        }
    }

    #[test]
    fn dynamic_paths_are_judged_by_what_is_known() {
        assert_eq!(classify("$DIR", Some(0)), Some(TargetKind::Dynamic));
        assert_eq!(classify("$DIR/", Some(0)), Some(TargetKind::Dynamic));
        assert_eq!(classify("/$DIR", Some(1)), Some(TargetKind::Root));
        assert_eq!(classify("~/$DIR", Some(2)), Some(TargetKind::Home));
        assert_eq!(classify("./build/$X", Some(8)), None);
    }
}
