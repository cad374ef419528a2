//! Prints the analysis of each argument: `cargo run -p cmdai-core --example check -- 'CMD'`.

fn main() {
    let analyzer = cmdai_core::safety::Analyzer::default();
    for command in std::env::args().skip(1) {
        let analysis = analyzer.analyze(&command);
        println!("{command}\n  => {}", analysis.level);
        for finding in &analysis.findings {
            println!(
                "     {} {:?}: {}",
                finding.level, finding.category, finding.message
            );
        }
    }
}
