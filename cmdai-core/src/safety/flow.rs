//! What flows between the stages of a pipeline: downloads, decoded payloads, secrets, process
//! lists, and the text of literal `echo`s, decoded where the decoder is a known one.

use std::io::Read;

use super::rules::{has_flag, operands};
use super::targets;
use super::walk::{Arg, Input, Invocation, Stage};
use super::words;

/// Programs whose output comes from the network: downloaders and raw sockets.
const NETWORK_SOURCES: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "http",
    "https",
    "xh",
    "aria2c",
    "lynx",
    "links",
    "GET",
    "httpie",
    "nc",
    "ncat",
    "netcat",
    "nc.traditional",
    "nc.openbsd",
    "telnet",
    "socat",
    "dig",
    "nslookup",
    "host",
    "drill",
    "kdig",
];

/// Cloud metadata endpoints: what they answer includes the machine's credentials.
const METADATA: &[&str] = &[
    "169.254.169.254",
    "metadata.google.internal",
    "fd00:ec2::254",
    "100.100.100.200",
];

/// Programs that send what they are given to another machine.
pub(super) const NETWORK_SINKS: &[&str] = &[
    "curl",
    "wget",
    "http",
    "https",
    "xh",
    "nc",
    "ncat",
    "netcat",
    "nc.traditional",
    "nc.openbsd",
    "telnet",
    "socat",
    "ssh",
    "scp",
    "sftp",
    "rsync",
    "openssl",
    "dig",
    "nslookup",
    "host",
    "ping",
    "ftp",
    "tftp",
    "mail",
    "mailx",
    "sendmail",
    "mutt",
    "s3cmd",
    "aws",
    "gsutil",
    "rclone",
    "smbclient",
];

/// Clients of daemons and services: what they do happens in another process or on another
/// machine.
const SERVICE_CLIENTS: &[&str] = &[
    "ssh",
    "mosh",
    "sftp",
    "lftp",
    "ping",
    "ping6",
    "traceroute",
    "tracepath",
    "mtr",
    "nmap",
    "whois",
    "ldapsearch",
    "mysql",
    "mariadb",
    "psql",
    "mongo",
    "mongosh",
    "redis-cli",
    "cqlsh",
    "docker",
    "podman",
    "nerdctl",
    "kubectl",
    "helm",
    "systemctl",
    "service",
    "loginctl",
    "dbus-send",
    "busctl",
    "gcloud",
    "az",
    "gh",
    "terraform",
    "ansible",
    "ansible-playbook",
    "vagrant",
    "ftp",
    "tftp",
];

/// Whether running `base` with `args` talks to the network or another machine: downloaders,
/// sockets, remote shells, service clients, package managers installing, `git` and `rsync` with
/// a remote.
pub(super) fn talks_to_network(base: &str, args: &[Arg]) -> bool {
    let first = operands(args)
        .first()
        .map(|a| a.text.as_str())
        .unwrap_or("");
    let remote = || {
        args.iter().any(|a| {
            let t = a.text.as_str();
            t.contains("://")
                || (!t.starts_with('-')
                    && t.split_once(':')
                        .is_some_and(|(host, _)| !host.is_empty() && !host.contains('/')))
        })
    };
    match base {
        "rsync" | "scp" | "rclone" => remote(),
        "git" => matches!(
            first,
            "clone" | "fetch" | "pull" | "push" | "ls-remote" | "submodule" | "remote"
        ),
        "pip" | "pip3" | "pipx" | "uv" | "gem" | "go" => {
            matches!(first, "install" | "download" | "get" | "add" | "sync")
        }
        "npm" | "yarn" | "pnpm" | "bun" => {
            matches!(
                first,
                "install" | "i" | "add" | "ci" | "update" | "upgrade" | "publish" | "dlx" | "exec"
            ) || base == "yarn" && first.is_empty()
        }
        "npx" | "pnpx" => true,
        "cargo" => matches!(first, "install" | "publish" | "fetch" | "update" | "search"),
        "apt" | "apt-get" | "dnf" | "yum" | "zypper" | "pacman" | "apk" | "brew" | "snap"
        | "flatpak" | "port" => true,
        _ => {
            NETWORK_SOURCES.contains(&base)
                || (NETWORK_SINKS.contains(&base) && base != "openssl")
                || SERVICE_CLIENTS.contains(&base)
                || base == "openssl" && has_arg(args, "s_client")
        }
    }
}

/// What `base` feeds into the next stage of a pipeline.
pub(super) fn stage_of(base: &str, invocation: &Invocation) -> Stage {
    let args = &invocation.args;
    let has = |flag: &str| has_flag(args, flag);
    let metadata = args
        .iter()
        .any(|a| METADATA.iter().any(|m| a.text.contains(m)));
    if metadata && matches!(base, "curl" | "wget" | "http" | "xh") {
        return Stage::Secret;
    }
    if NETWORK_SOURCES.contains(&base) || base == "openssl" && has_arg(args, "s_client") {
        return Stage::Download;
    }
    if super::checks::is_shell(base) && reads_commands(args) {
        return Stage::Shell;
    }
    if reads_secret(base, args) {
        return Stage::Secret;
    }
    match base {
        "base64" | "base32" | "basenc" if has("-d") || has("--decode") || has("-D") => {
            let encoding = match base {
                "base32" => Encoding::Base32,
                "basenc" if has_arg(args, "--base16") => Encoding::Base16,
                "basenc" if has_arg(args, "--base32") => Encoding::Base32,
                _ => Encoding::Base64,
            };
            Stage::Decode(input_text(invocation).and_then(|t| decode(&t, encoding)))
        }
        "openssl" if has("-d") => {
            let base64 = has_arg(args, "-base64") || has_arg(args, "-a") || has_arg(args, "base64");
            Stage::Decode(
                input_text(invocation)
                    .filter(|_| base64)
                    .and_then(|t| decode(&t, Encoding::Base64)),
            )
        }
        "xxd" if has("-r") => {
            let plain = has("-p") || has("-ps") || has_arg(args, "-plain");
            Stage::Decode(
                input_text(invocation)
                    .filter(|_| plain)
                    .and_then(|t| decode(&t, Encoding::Base16)),
            )
        }
        "rev" => Stage::Decode(
            input_text(invocation)
                .filter(|_| operands(args).is_empty())
                .map(|t| {
                    t.lines()
                        .map(|l| l.chars().rev().collect::<String>())
                        .collect::<Vec<_>>()
                        .join("\n")
                }),
        ),
        "tr" if has("-d") => match (operands(args).first(), input_text(invocation)) {
            (Some(set), Some(text)) if set.is_literal() => {
                let set = expand_set(&set.text);
                Stage::Decode(Some(text.chars().filter(|c| !set.contains(c)).collect()))
            }
            _ => Stage::Other,
        },
        "tr" => match translation(args) {
            Some((from, to)) => match input_text(invocation) {
                Some(text) => Stage::Decode(Some(translate(&text, &from, &to))),
                None if args
                    .iter()
                    .any(|a| a.text.contains("N-Z") || a.text.contains("n-z")) =>
                {
                    Stage::Decode(None)
                }
                None => Stage::Other,
            },
            None => Stage::Other,
        },
        "gunzip" | "zcat" => Stage::Decode(input_text(invocation).and_then(|t| gunzip(&t))),
        "gzip" if has("-d") => Stage::Decode(input_text(invocation).and_then(|t| gunzip(&t))),
        "uudecode" | "bzcat" | "xzcat" | "gpg" => Stage::Decode(None),
        "bzip2" | "xz" | "zstd" if has("-d") => Stage::Decode(None),
        // `cat` of its standard input passes it on: `cat <<EOF | mysql`.
        "cat" if operands(args).is_empty() => match input_text(invocation) {
            Some(text) => Stage::Echo(text, invocation.span),
            None => Stage::Other,
        },
        "seq"
            if operands(args)
                .iter()
                .any(|a| a.text.eq_ignore_ascii_case("inf")) =>
        {
            Stage::Endless
        }
        "ls" if operands(args)
            .iter()
            .any(|a| a.text.trim_end_matches('/') == "/proc") =>
        {
            Stage::AllProcesses
        }
        "echo" | "printf" if args.iter().all(Arg::is_literal) => echo(base, invocation),
        "find" | "fd" | "fdfind" if broad_listing(args) => Stage::BroadListing,
        "ls" if operands(args).iter().any(|a| {
            matches!(
                targets::classify(&a.text, a.dynamic_at),
                Some(
                    targets::TargetKind::Root
                        | targets::TargetKind::System
                        | targets::TargetKind::Home
                )
            )
        }) && !operands(args)
            .iter()
            .any(|a| a.text.trim_end_matches('/') == "/proc") =>
        {
            Stage::BroadListing
        }
        "ps" if lists_everything(args) => Stage::AllProcesses,
        "pgrep" if has("-u") || has("-U") => Stage::AllProcesses,
        "yes" => Stage::Endless,
        "cat"
            if operands(args).iter().any(|a| {
                matches!(
                    a.text.as_str(),
                    "/dev/zero" | "/dev/urandom" | "/dev/random"
                )
            }) =>
        {
            Stage::Endless
        }
        "pgrep"
            if operands(args)
                .iter()
                .any(|a| matches!(a.text.as_str(), "." | ".*" | "" | "^" | "$")) =>
        {
            Stage::AllProcesses
        }
        // A pattern with no letter (`grep -E '^[0-9]+$'`) keeps every process id.
        "grep" | "egrep" | "fgrep" | "rg" | "ag"
            if !operands(args)
                .first()
                .is_some_and(|p| p.text.chars().any(|c| c.is_ascii_alphabetic())) =>
        {
            Stage::Other
        }
        "grep" | "egrep" | "fgrep" | "rg" | "ag" | "head" | "tail" | "pgrep" | "fzf" => {
            Stage::Filter
        }
        "awk" | "gawk" | "mawk" | "nawk" if awk_filters(args) => Stage::Filter,
        "sed" if has("-n") => Stage::Filter,
        _ => Stage::Other,
    }
}

fn has_arg(args: &[Arg], text: &str) -> bool {
    args.iter().any(|a| a.text == text)
}

/// A shell with no command string and no script: it runs what it reads.
fn reads_commands(args: &[Arg]) -> bool {
    let inline = args
        .iter()
        .any(|a| a.text.starts_with('-') && !a.text.starts_with("--") && a.text[1..].contains('c'));
    !inline && operands(args).iter().all(|a| a.text == "-")
}

/// Whether the command prints keys, credentials or the environment.
fn reads_secret(base: &str, args: &[Arg]) -> bool {
    let has = |word: &str| args.iter().any(|a| a.text == word);
    let credentials = match base {
        "kubectl" | "oc" => {
            has("get")
                && (has("secret")
                    || has("secrets")
                    || args.iter().any(|a| a.text.starts_with("secret/")))
        }
        "aws" => {
            has("export-credentials")
                || has("get-session-token")
                || has("get-secret-value")
                || has("assume-role")
        }
        "gh" | "glab" => has("auth") && has("token"),
        "gcloud" => args
            .iter()
            .any(|a| a.text.starts_with("print-") && a.text.ends_with("token")),
        "az" => has("get-access-token") || has("secret") && has("show"),
        "vault" => has("read") || has("kv") && has("get"),
        "op" => has("read") || has("item") && has("get"),
        "pass" | "gopass" => has("show") || args.len() == 1,
        _ => false,
    };
    if credentials {
        return true;
    }
    match base {
        "env" | "printenv" | "set" | "export" if operands(args).is_empty() => return true,
        "gpg" if args.iter().any(|a| a.text.starts_with("--export-secret")) => return true,
        "security"
            if args
                .iter()
                .any(|a| a.text.starts_with("find-") && a.text.ends_with("password")) =>
        {
            return true;
        }
        _ => {}
    }
    // Writing to a secret (`tee -a ~/.ssh/authorized_keys`) is not reading one.
    if matches!(
        base,
        "echo"
            | "printf"
            | "tee"
            | "cp"
            | "mv"
            | "ln"
            | "install"
            | "chmod"
            | "chown"
            | "mkdir"
            | "touch"
            | "rm"
            | "shred"
            | "ssh-keygen"
            | "ssh-add"
            | "ssh-copy-id"
            | "ssh"
            | "scp"
            | "rsync"
    ) {
        return false;
    }
    operands(args)
        .iter()
        .any(|a| a.is_literal() && targets::holds_secrets(&a.text))
}

/// `find ~ -type f`: every file under a home or system directory, with no name test.
fn broad_listing(args: &[Arg]) -> bool {
    // fd's own name tests count too.
    let narrow = |text: &str| {
        super::rules::FIND_TESTS.contains(&text)
            && !matches!(
                text,
                "-mtime"
                    | "-mmin"
                    | "-atime"
                    | "-amin"
                    | "-ctime"
                    | "-cmin"
                    | "-size"
                    | "-newer"
                    | "-empty"
                    | "-links"
            )
            || matches!(text, "-e" | "--extension" | "-g" | "--glob")
    };
    let root = args.iter().find(|a| !a.text.starts_with('-'));
    let broad = root.is_some_and(|r| {
        matches!(
            targets::classify(&r.text, r.dynamic_at),
            Some(
                targets::TargetKind::Root | targets::TargetKind::System | targets::TargetKind::Home
            )
        )
    });
    broad && !args.iter().any(|a| narrow(&a.text))
}

/// `ps -e`, `ps aux`, `ps -A`, `ps -ef`: every process.
fn lists_everything(args: &[Arg]) -> bool {
    args.iter().any(|a| {
        let text = a.text.as_str();
        match text.strip_prefix('-') {
            Some(cluster) if !cluster.starts_with('-') => {
                cluster.contains('e') || cluster.contains('A')
            }
            Some(_) => text == "--everyone" || text == "--all",
            // BSD style: `aux`, `ax`, `axo`.
            None => {
                text.contains('a')
                    && text.contains('x')
                    && text.chars().all(|c| c.is_ascii_alphabetic())
            }
        }
    })
}

/// An awk program that selects lines (`/x/`, `$1 == "a"`, `NR > 1`) rather than printing all.
fn awk_filters(args: &[Arg]) -> bool {
    operands(args).first().is_some_and(|program| {
        let text = program.text.trim();
        let selector = text.split('{').next().unwrap_or_default();
        !selector.trim().is_empty() || text.contains("if")
    })
}

/// The text arriving on standard input, when it is known.
pub(super) fn input_text(invocation: &Invocation) -> Option<String> {
    match &invocation.stdin {
        Input::Text(text, _) => Some(text.clone()),
        Input::Pipe(stages, _) => stages.last().and_then(Stage::output).map(str::to_owned),
        Input::Terminal => None,
    }
}

fn echo(base: &str, invocation: &Invocation) -> Stage {
    let mut words: Vec<&str> = invocation.args.iter().map(|a| a.text.as_str()).collect();
    let mut escapes = base == "printf";
    if base == "echo" {
        while let Some(flag) = words
            .first()
            .filter(|w| matches!(**w, "-n" | "-e" | "-E" | "-ne" | "-en"))
        {
            escapes |= flag.contains('e') && *flag != "-E";
            words.remove(0);
        }
    }
    let text = if base == "printf" {
        format_printf(&words)
    } else {
        words.join(" ")
    };
    // printf '\x72\x6d' and echo -e '\162\155' spell commands in escapes.
    let encoded = ["\\x", "\\0", "\\1", "\\u"]
        .iter()
        .any(|e| text.contains(e));
    match (escapes, encoded) {
        (true, true) => Stage::Decode(Some(words::decode_ansi_c(&text))),
        (false, true) => Stage::Decode(None),
        (true, false) => Stage::Echo(words::decode_ansi_c(&text), invocation.span),
        (false, false) => Stage::Echo(text, invocation.span),
    }
}

/// `printf FORMAT ARGS...` with `%s`, `%b` and `%d` filled in; escapes are left for the caller.
fn format_printf(words: &[&str]) -> String {
    let Some((format, mut rest)) = words.split_first() else {
        return String::new();
    };
    let mut out = String::new();
    // printf repeats the format while arguments are left, and only if it consumes some.
    loop {
        let before = rest.len();
        let mut chars = format.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('%') => out.push('%'),
                Some(_) => {
                    if let Some((first, tail)) = rest.split_first() {
                        out.push_str(first);
                        rest = tail;
                    }
                }
                None => out.push('%'),
            }
        }
        if rest.is_empty() || rest.len() == before {
            break;
        }
    }
    out
}

/// Payloads spelled as literals inside code of other languages: `b64decode('...')`,
/// `bytes.fromhex('...')`, `FromBase64String("...")`, `atob('...')`, decoded.
pub(super) fn decode_literals(code: &str) -> Vec<String> {
    const BASE64: &[&str] = &[
        "b64decode(",
        "FromBase64String(",
        "atob(",
        "decode64(",
        "base64_decode(",
        "Buffer.from(",
    ];
    const HEX: &[&str] = &[
        "fromhex(",
        "unhexlify(",
        "hex2bin(",
        "pack(\"H*\",",
        "pack('H*',",
    ];
    let mut out = Vec::new();
    for (markers, encoding) in [(BASE64, Encoding::Base64), (HEX, Encoding::Base16)] {
        for marker in markers {
            for (at, _) in code.match_indices(marker) {
                let rest = &code[at + marker.len()..];
                let rest = rest.trim_start_matches(['b', 'r', 'u']);
                let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else {
                    continue;
                };
                if let Some(literal) = rest[1..].split(quote).next() {
                    out.extend(decode(literal, encoding));
                }
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
enum Encoding {
    Base64,
    Base32,
    Base16,
}

/// Decodes `text`; bytes that are not UTF-8 are kept one char per byte (for `gunzip` next).
fn decode(text: &str, encoding: Encoding) -> Option<String> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let clean = clean.trim_end_matches('=');
    let bytes = match encoding {
        Encoding::Base64 => data_encoding::BASE64_NOPAD
            .decode(clean.as_bytes())
            .or_else(|_| data_encoding::BASE64URL_NOPAD.decode(clean.as_bytes())),
        Encoding::Base32 => {
            data_encoding::BASE32_NOPAD.decode(clean.to_ascii_uppercase().as_bytes())
        }
        Encoding::Base16 => data_encoding::HEXLOWER_PERMISSIVE.decode(clean.as_bytes()),
    }
    .ok()?;
    Some(match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(error) => error.into_bytes().into_iter().map(char::from).collect(),
    })
}

/// Decompresses gzip data carried one char per byte.
fn gunzip(text: &str) -> Option<String> {
    let bytes: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).ok())
        .collect::<Option<_>>()?;
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(1 << 20)
        .read_to_string(&mut out)
        .ok()?;
    Some(out)
}

/// `tr SET1 SET2` with both sets literal: the sets with their ranges expanded.
fn translation(args: &[Arg]) -> Option<(Vec<char>, Vec<char>)> {
    let sets = operands(args);
    if args.iter().any(|a| a.text.starts_with('-')) {
        return None;
    }
    match sets.as_slice() {
        [from, to] if from.is_literal() && to.is_literal() => {
            Some((expand_set(&from.text), expand_set(&to.text)))
        }
        _ => None,
    }
}

fn expand_set(set: &str) -> Vec<char> {
    let chars: Vec<char> = set.chars().collect();
    let mut out = Vec::new();
    let mut index = 0;
    while index < chars.len() {
        if index + 2 < chars.len() && chars[index + 1] == '-' && chars[index] <= chars[index + 2] {
            out.extend(chars[index]..=chars[index + 2]);
            index += 3;
        } else {
            out.push(chars[index]);
            index += 1;
        }
    }
    out
}

fn translate(text: &str, from: &[char], to: &[char]) -> String {
    text.chars()
        .map(|c| match from.iter().position(|f| *f == c) {
            Some(at) => to.get(at).or(to.last()).copied().unwrap_or(c),
            None => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders_recover_literal_payloads() {
        let base64 = |t| decode(t, Encoding::Base64);
        assert_eq!(base64("cm0gLXJmIC8=").as_deref(), Some("rm -rf /"));
        assert_eq!(base64("cm0gLXJmIC8").as_deref(), Some("rm -rf /"));
        assert_eq!(
            decode("726d202d7266202f", Encoding::Base16).as_deref(),
            Some("rm -rf /")
        );
        assert_eq!(
            decode("OJWSALLSMYQH4===", Encoding::Base32).as_deref(),
            Some("rm -rf ~")
        );
        let zipped = base64("H4sIAAAAAAAAAyvKVdAtSlOoAwA+LZ7wCAAAAA==").unwrap();
        assert_eq!(gunzip(&zipped).as_deref(), Some("rm -rf ~"));
        let rot13 = (expand_set("A-Za-z"), expand_set("N-ZA-Mn-za-m"));
        assert_eq!(translate("ez -es /", &rot13.0, &rot13.1), "rm -rf /");
        assert_eq!(format_printf(&["rm -rf %s", "~"]), "rm -rf ~");
        assert_eq!(format_printf(&["%s\\n", "a", "b"]), "a\\nb\\n");
        assert_eq!(format_printf(&["100%% done", "extra"]), "100% done");
    }
}
