//! cmdai-core as a dependency of another application: built from the packaged crate, against
//! brush-parser as published (without cmdai's patched copy).

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use cmdai_consumer::{FixedBackend, suggest};
use cmdai_core::safety::{Analyzer, RiskLevel};

/// Inputs on which brush-parser 0.4.0 as published panics, loops forever (allocating until the
/// process is killed) or backtracks exponentially; cmdai-core must still answer, High.
const HOSTILE: &[&str] = &[
    "$( << && $(",
    "$(cat << \"\" && $(",
    "<< $(( \t",
    "<<E$[\t\t",
    "$( $( << ) \n",
    "ls; sh -c '$( $( << ) \n'",
    "sh -c '$(cat <<- ; $('",
    "$(cat <<EOF\n)\nEOF",
    "<E;(((((((((((((((((((((((((((((((((((((((((((\n\0&d(\n\x04<E",
];

#[test]
fn hostile_inputs_are_answered_within_a_deadline() {
    for input in HOSTILE {
        let (sender, receiver) = mpsc::channel();
        let text = (*input).to_owned();
        thread::spawn(move || {
            let level = Analyzer::default().analyze(&text).level;
            let _ = sender.send(level);
        });
        let level = receiver
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no answer within 20 s for {input:?}"));
        assert!(level >= RiskLevel::High, "{input:?} => {level}");
    }
}

#[test]
fn a_backend_of_its_own_generates_and_the_command_is_analysed() {
    let backend = FixedBackend {
        command: "rm -rf ~".to_owned(),
    };
    let (command, analysis) = suggest(backend, "clean up my home").unwrap();
    assert_eq!(command, "rm -rf ~");
    assert_eq!(analysis.level, RiskLevel::Critical);

    let backend = FixedBackend {
        command: "ls -la".to_owned(),
    };
    let (_, analysis) = suggest(backend, "list files").unwrap();
    assert_eq!(analysis.level, RiskLevel::Safe);
}

/// Shell-flavoured noise around here-documents and substitutions, the neighbourhood of the
/// known looping inputs: every string is answered within the deadline.
#[test]
fn here_document_noise_is_answered_within_a_deadline() {
    const PIECES: &[&str] = &[
        "$(", "<<", "<<-", "<<<", "\"", "'", "EOF", "\n", "\t", " ", "&&", ")", "(", "$((", "cat",
        "$[", "`", ";", "|", "E", "\\",
    ];
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let inputs: Vec<String> = (0..3000)
        .map(|_| {
            let length = 1 + next() % 12;
            (0..length)
                .map(|_| PIECES[(next() % PIECES.len() as u64) as usize])
                .collect()
        })
        .collect();
    let (sender, receiver) = mpsc::channel();
    let batch = inputs.clone();
    thread::spawn(move || {
        let analyzer = Analyzer::default();
        for input in &batch {
            analyzer.analyze(input);
            let _ = sender.send(());
        }
    });
    for input in &inputs {
        receiver
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no answer within 20 s, at or after {input:?}"));
    }
}
