//! Speed of the paths between a request and a command: response parsing, prompt
//! tokenization, prefill and one decode step. Model benchmarks use a synthetic model written
//! here (tiny by default), or a real GGUF file given in `CMDAI_BENCH_MODEL`.

use std::hint::black_box;
use std::path::PathBuf;

use candle_core::Device;
use candle_core::quantized::GgmlDType;
use cmdai_backend_candle::synthetic::{tiny_spec, write_random_model};
use cmdai_backend_candle::{
    Architecture, GgufFile, GgufTokenizer, Kernels, ModelSpec, Packing, Transformer,
};
use cmdai_core::{CommandPrompt, PromptBuilder, ShellContext, parse_response};
use criterion::{Criterion, criterion_group, criterion_main};

fn model_file(dir: &tempfile::TempDir) -> PathBuf {
    if let Some(path) = std::env::var_os("CMDAI_BENCH_MODEL") {
        return path.into();
    }
    let path = dir.path().join("tiny.gguf");
    write_random_model(&path, &tiny_spec(Architecture::Qwen2), GgmlDType::Q8_0, 1).unwrap();
    path
}

fn parsing(c: &mut Criterion) {
    c.bench_function("parse_response/json", |b| {
        b.iter(|| {
            parse_response(black_box(
                r#"{"cmd": "find . -name '*.log' -size +100M -mtime -7"}"#,
            ))
        })
    });
    c.bench_function("parse_response/fenced", |b| {
        b.iter(|| {
            parse_response(black_box(
                "Here you go:\n```bash\nfind . -type f -name '*.rs' | xargs wc -l\n```",
            ))
        })
    });
}

fn model(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let path = model_file(&dir);
    let mut file = GgufFile::open(&path).unwrap();
    let spec = ModelSpec::from_gguf(&file.content).unwrap();
    let mut tokenizer = GgufTokenizer::from_metadata(&file.content.metadata).unwrap();
    // As `cmdai` runs it: Q4_K/Q6_K interleaved where the CPU has AVX-512 VNNI (written here
    // once, before anything is timed).
    let packing = Packing {
        dir: dir.path().join("packed"),
        identity: path.display().to_string(),
    };
    let mut model = Transformer::load_with(
        spec,
        &mut file,
        &Device::Cpu,
        1024,
        Some(&packing),
        Kernels::default(),
    )
    .unwrap();

    let context = ShellContext::new("Linux", "bash", "/home/user/project");
    let conversation =
        CommandPrompt::default().build("find log files over 100MB modified this week", &context);
    let prompt: String = conversation
        .messages
        .iter()
        .map(|m| format!("<|im_start|>{}\n{}<|im_end|>\n", m.role.as_str(), m.content))
        .collect();
    c.bench_function("tokenize/prompt", |b| {
        b.iter(|| tokenizer.encode(black_box(&prompt), true).unwrap())
    });

    let tokens: Vec<u32> = tokenizer
        .encode(&prompt, true)
        .unwrap()
        .into_iter()
        .take(128)
        .collect();
    let mut group = c.benchmark_group("forward");
    group.sample_size(10);
    group.throughput(criterion::Throughput::Elements(tokens.len() as u64));
    group.bench_function("prefill", |b| {
        b.iter(|| {
            model.reset();
            model.forward(&tokens).unwrap()
        })
    });
    group.throughput(criterion::Throughput::Elements(1));
    model.reset();
    model.forward(&tokens).unwrap();
    group.bench_function("decode_step", |b| {
        b.iter(|| {
            if model.position() + 1 >= model.max_positions() {
                model.reset();
                model.forward(&tokens).unwrap();
            }
            model.forward(&[tokens[1]]).unwrap()
        })
    });
    group.finish();
}

/// Constrained decoding: compiling the vocabulary (once per process), and what holding a reply
/// to the reply format of cmdai's prompt costs per generated token (mask, then accept).
fn constraint(c: &mut Criterion) {
    use cmdai_backend_candle::constrain::Grammars;

    let dir = tempfile::tempdir().unwrap();
    let path = model_file(&dir);
    let file = GgufFile::open(&path).unwrap();
    let spec = ModelSpec::from_gguf(&file.content).unwrap();
    let mut tokenizer = GgufTokenizer::from_metadata(&file.content.metadata).unwrap();
    let end = tokenizer.eos.unwrap_or(0);
    let format = CommandPrompt::default().reply_format().unwrap();

    let mut group = c.benchmark_group("constraint");
    group.sample_size(10);
    group.bench_function("build", |b| {
        b.iter(|| Grammars::new(&tokenizer, spec.vocab_size, end).unwrap())
    });
    let grammars = Grammars::new(&tokenizer, spec.vocab_size, end).unwrap();
    // The reply after the tokens the grammar forces (the opening fence and its newline).
    let reply = "```bash\nfind . -name '*.log' -size +100M -mtime -7\n```";
    let forced = grammars.constrain(&format).unwrap().forced();
    let forced_text = tokenizer.decode(&forced).unwrap();
    let body = tokenizer
        .encode(&reply[forced_text.len()..], false)
        .unwrap();
    let mut logits = vec![0.0f32; spec.vocab_size];
    group.throughput(criterion::Throughput::Elements(body.len() as u64));
    group.bench_function("per_token", |b| {
        b.iter(|| {
            let mut constraint = grammars.constrain(&format).unwrap();
            constraint.forced();
            for &token in &body {
                constraint.mask(&mut logits).unwrap();
                constraint.accept(token).unwrap();
            }
            assert!(constraint.is_done());
        })
    });
    group.finish();
}

criterion_group!(benches, parsing, model, constraint);
criterion_main!(benches);
