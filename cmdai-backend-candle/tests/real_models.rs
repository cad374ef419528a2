//! Tests against the real GGUF models and llama.cpp's reference outputs in
//! `../shared/testdata` (see its README).
//!
//! Models are found through `CMDAI_TEST_MODEL_<ID>` variables (e.g.
//! `CMDAI_TEST_MODEL_SMOLLM2_135M`), which `scripts/test.sh` sets after fetching the models with
//! `cmdai models path`. A model that is absent is reported and skipped, unless it is listed in
//! `CMDAI_TEST_MODELS` (set by `scripts/test.sh`): then it is a failure. So is a reference test
//! that read its reference file but checked no row of it for a model listed there (no rows for
//! that model, or a name the test does not know). Without `../shared` at all (a checkout
//! elsewhere) the reference tests say so and check nothing: the repository must not need it.

use std::collections::BTreeMap;
use std::path::PathBuf;

use candle_core::Device;
use cmdai_backend_candle::{GgufFile, GgufTokenizer, Kernels, ModelSpec, Packing, Transformer};
use serde_json::Value;

/// The models `CMDAI_TEST_MODELS` names: each must be found and checked.
fn required_models() -> Vec<String> {
    std::env::var("CMDAI_TEST_MODELS")
        .map(|list| list.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn required(id: &str) -> bool {
    required_models().iter().any(|m| m == id)
}

/// Fails unless at least one row of the reference file `file` was checked for every model that
/// `CMDAI_TEST_MODELS` names; `checked` counts the rows checked per model id.
fn assert_every_required_model_was_checked(file: &str, checked: &BTreeMap<&str, usize>) {
    eprintln!("{file}: rows checked per model: {checked:?}");
    for id in required_models() {
        let rows = checked.get(id.as_str()).copied().unwrap_or(0);
        assert!(
            rows > 0,
            "CMDAI_TEST_MODELS names {id}, but no row of ../shared/testdata/{file} was checked \
             for it: the file has no rows for it, or this test does not know the name"
        );
    }
}

/// The path of a catalog model for tests, or `None` (after saying why) when not available.
fn model_path(id: &str) -> Option<PathBuf> {
    let var = format!(
        "CMDAI_TEST_MODEL_{}",
        id.to_ascii_uppercase()
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    );
    match std::env::var_os(&var).map(PathBuf::from) {
        Some(path) if path.is_file() => Some(path),
        _ => {
            assert!(
                !required(id),
                "{var} is not set to an existing file; run scripts/test.sh"
            );
            eprintln!("skipping model {id}: set {var} (scripts/test.sh does)");
            None
        }
    }
}

/// The rows of `../shared/testdata/<file>`; `None`, said on stderr, without the file.
fn reference_rows(file: &str) -> Option<Vec<Value>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/testdata")
        .join(file);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        ),
        Err(error) => {
            eprintln!(
                "skipping: no reference file {} ({error}); nothing is checked against llama.cpp",
                path.display()
            );
            None
        }
    }
}

/// The models whose vocabulary a tokenizer name in the reference file stands for.
fn models_for_tokenizer(name: &str) -> &'static [&'static str] {
    match name {
        "qwen2.5-coder" => &["qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"],
        "smollm2-135m" => &["smollm2-135m"],
        "gemma3-270m" => &["gemma3-270m"],
        _ => &[],
    }
}

#[test]
fn tokenizer_reproduces_llama_cpp_token_ids() {
    let Some(rows) = reference_rows("tokenizer-vectors.jsonl") else {
        return;
    };
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for tokenizer_name in ["qwen2.5-coder", "smollm2-135m", "gemma3-270m"] {
        for id in models_for_tokenizer(tokenizer_name) {
            let Some(path) = model_path(id) else { continue };
            let file = GgufFile::open(&path).unwrap();
            let mut tokenizer = GgufTokenizer::from_metadata(&file.content.metadata).unwrap();
            for row in rows.iter().filter(|r| r["tokenizer"] == tokenizer_name) {
                let text = row["text"].as_str().unwrap();
                let parse_special = row["parse_special"].as_bool().unwrap_or(false);
                let expected: Vec<u32> = row["ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap() as u32)
                    .collect();
                let ids = tokenizer.encode(text, parse_special).unwrap();
                assert_eq!(
                    ids, expected,
                    "{id}: tokenizing {text:?} (parse_special {parse_special})"
                );
                assert_eq!(
                    tokenizer.decode(&ids).unwrap(),
                    [
                        "<|im_start|>",
                        "<|im_end|>",
                        "<|endoftext|>",
                        "<start_of_turn>",
                        "<end_of_turn>"
                    ]
                    .iter()
                    .fold(text.to_owned(), |text, special| text.replace(special, "")),
                    "{id}: decoding {text:?}"
                );
                *checked.entry(*id).or_default() += 1;
            }
        }
    }
    assert_every_required_model_was_checked("tokenizer-vectors.jsonl", &checked);
}

/// Greedy decoding must reproduce llama.cpp's completions.
///
/// Both engines run the same quantized weights with different kernels (summation order,
/// llama.cpp's f16 KV cache), so logits differ in the last digits and a near-tie can flip a
/// token, after which free-running texts diverge completely. So the check is teacher-forced:
/// feed llama.cpp's completion token by token and require, at every position, that its token
/// is our most likely one or within `TIE_MARGIN` logits of it. A real bug (a wrong rope, a
/// missing bias, a bad mask) moves logits by whole units and fails at the first token or two.
/// Measured: the one flip seen (SmolLM2, " -" over " all") had a margin of 0.085.
#[test]
fn greedy_decoding_matches_llama_cpp() {
    const TIE_MARGIN: f32 = 0.3;
    const GUESSING_BELOW: f32 = 5.0;
    let Some(rows) = reference_rows("greedy-reference.jsonl") else {
        return;
    };
    let mut checked: BTreeMap<&str, usize> = BTreeMap::new();
    for id in [
        "smollm2-135m",
        "qwen2.5-coder-0.5b",
        "qwen2.5-coder-1.5b",
        "gemma3-270m",
    ] {
        let model_rows: Vec<&Value> = rows.iter().filter(|r| r["model"] == id).collect();
        if model_rows.is_empty() {
            continue;
        }
        let Some(path) = model_path(id) else { continue };
        let mut file = GgufFile::open(&path).unwrap();
        let spec = ModelSpec::from_gguf(&file.content).unwrap();
        let mut tokenizer = GgufTokenizer::from_metadata(&file.content.metadata).unwrap();
        // With the weights as `cmdai` runs them: interleaved where the CPU has AVX-512 VNNI,
        // kept under target/ between test runs.
        let packing = Packing {
            dir: PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("packed"),
            identity: format!("test:{}", path.display()),
        };
        let mut model = Transformer::load_with(
            spec,
            &mut file,
            &Device::Cpu,
            512,
            Some(&packing),
            Kernels::default(),
        )
        .unwrap();
        for row in model_rows {
            let prompt = row["prompt"].as_str().unwrap();
            let expected = row["completion"].as_str().unwrap();
            let expected_ids = tokenizer.encode(expected.trim_end(), false).unwrap();
            model.reset();
            // The reference tokenizer prepends BOS where the file asks for it (Gemma).
            let mut prompt_ids: Vec<u32> = tokenizer
                .bos
                .filter(|_| tokenizer.add_bos)
                .into_iter()
                .collect();
            prompt_ids.extend(tokenizer.encode(prompt, true).unwrap());
            let mut logits = model.forward(&prompt_ids).unwrap();
            let mut exact = 0;
            for (position, &want) in expected_ids.iter().enumerate() {
                let values = logits.to_vec1::<f32>().unwrap();
                let best = cmdai_backend_candle::sampling::greedy(&values);
                let margin = values[best as usize] - values[want as usize];
                // Where no token scores well, the model is guessing (Gemma 3 270M, a base model,
                // right after echoing the request: llama.cpp picks rare tokens such as
                // "itherto", and every logit is below 4 where confident steps score 10 to 22).
                // Which rare token wins there is down to rounding, so llama.cpp's choice need
                // only be among our five most likely.
                let guessing = values[best as usize] < GUESSING_BELOW;
                assert!(
                    margin <= TIE_MARGIN || (guessing && rank(&values, want) < 5),
                    "{id}: prompt {prompt:?}\n  at token {position} of {expected:?} llama.cpp chose {:?}, we prefer {:?} by {margin} logits",
                    tokenizer.token(want),
                    tokenizer.token(best),
                );
                exact += usize::from(best == want);
                logits = model.forward(&[want]).unwrap();
            }
            if row["stopped_by"] == "eos" {
                let values = logits.to_vec1::<f32>().unwrap();
                let best = cmdai_backend_candle::sampling::greedy(&values);
                let eos = tokenizer.token_id("<|im_end|>").unwrap();
                assert!(
                    values[best as usize] - values[eos as usize] <= TIE_MARGIN,
                    "{id}: {expected:?} should end here"
                );
            }
            eprintln!(
                "{id}: {:?}: {exact} of {} tokens are our greedy choice",
                &expected[..expected.len().min(30)],
                expected_ids.len()
            );
            *checked.entry(id).or_default() += 1;
        }
    }
    assert_every_required_model_was_checked("greedy-reference.jsonl", &checked);
}

/// The interleaved (packed) Q4_K weights give the file layout's logits, and a damaged
/// packed-weights file is rebuilt rather than used.
#[test]
fn packed_weights_agree_with_the_file_and_a_damaged_copy_is_rebuilt() {
    let Some(path) = model_path("qwen2.5-coder-1.5b") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let packing = Packing {
        dir: dir.path().to_owned(),
        identity: "test".into(),
    };
    let logits = |packing: Option<&Packing>| -> Vec<f32> {
        let mut file = GgufFile::open(&path).unwrap();
        let spec = ModelSpec::from_gguf(&file.content).unwrap();
        let mut model = Transformer::load_with(
            spec,
            &mut file,
            &Device::Cpu,
            64,
            packing,
            Kernels::default(),
        )
        .unwrap();
        // Several tokens (the prefill kernels), then one (the decode kernels).
        model
            .forward(&[785, 3974, 13876, 38835, 34208, 916])
            .unwrap();
        model.forward(&[279]).unwrap().to_vec1::<f32>().unwrap()
    };
    let plain = logits(None);
    let packed = logits(Some(&packing));
    let files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    let largest = plain.iter().fold(0f32, |m, v| m.max(v.abs()));
    let difference = plain
        .iter()
        .zip(&packed)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    // Each product agrees to float rounding (the unit tests in packed/: 1e-5), but a rounding
    // difference can move an activation across a rounding boundary of the next layer's 8-bit
    // quantization, and 28 layers of that add up: about 3% of the largest logit here. A wrong
    // scale or value in the packing gives differences as large as the logits themselves.
    assert!(
        difference <= 0.05 * largest,
        "packed weights change the logits by {difference} (largest {largest})"
    );
    assert_eq!(
        cmdai_backend_candle::sampling::greedy(&packed),
        cmdai_backend_candle::sampling::greedy(&plain)
    );
    let [file] = files.as_slice() else {
        eprintln!("no packed weights were written: this CPU has no AVX2 ({files:?})");
        return;
    };
    let size = std::fs::metadata(file).unwrap().len();

    // Cut short: rebuilt whole.
    std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .unwrap()
        .set_len(size - 2368)
        .unwrap();
    assert_eq!(logits(Some(&packing)), packed);
    assert_eq!(std::fs::metadata(file).unwrap().len(), size);

    // A header that is not this model's: rebuilt too.
    let mut bytes = std::fs::read(file).unwrap();
    bytes[20] ^= 0xff;
    std::fs::write(file, &bytes).unwrap();
    assert_eq!(logits(Some(&packing)), packed);
    assert_ne!(std::fs::read(file).unwrap()[20], bytes[20]);
}

/// A prompt gives the same logits, bit for bit, however it is cut into forward passes: whole,
/// after a prefix run on its own (the prompt cache, a KV cache kept from the last request), or
/// token by token (decode steps), and a pass that returns every position's logits (a check of
/// drafts) gives each the logits of its own pass. Otherwise a request could get another reply
/// with a warm cache than with a cold one, and speculative decoding another reply than plain
/// decoding. On the default model (grouped-query attention) and Gemma 3 (a sliding window).
#[test]
fn a_prompt_gives_the_same_logits_however_it_is_cut() {
    for id in ["qwen2.5-coder-1.5b", "gemma3-270m"] {
        let Some(path) = model_path(id) else {
            continue;
        };
        let mut file = GgufFile::open(&path).unwrap();
        let spec = ModelSpec::from_gguf(&file.content).unwrap();
        let window = spec.sliding_window;
        let mut model = Transformer::load(spec, &mut file, &Device::Cpu, 1024).unwrap();
        // Longer than the sliding window where the model has one.
        let length = window.map_or(300, |window| window + 60);
        let tokens: Vec<u32> = (0..length as u32)
            .map(|i| 200 + (i * 7919) % 5000)
            .collect();
        let bits = |logits: candle_core::Tensor| -> Vec<u32> {
            let logits: Vec<f32> = logits.to_vec1().unwrap();
            logits.iter().map(|v| v.to_bits()).collect()
        };
        let whole = bits(model.forward(&tokens).unwrap());
        // The keys and values of the whole pass, then the rest in one pass or token by token.
        model.truncate(length - 50).unwrap();
        let after_prefix = bits(model.forward(&tokens[length - 50..]).unwrap());
        assert_eq!(after_prefix, whole, "{id}: the last 50 after the others");
        model.truncate(length - 20).unwrap();
        let mut last = None;
        for token in &tokens[length - 20..] {
            last = Some(model.forward(&[*token]).unwrap());
        }
        assert_eq!(bits(last.unwrap()), whole, "{id}: the last 20 one by one");
        // Every position's logits from one pass: each as from a pass of its own.
        model.truncate(length - 10).unwrap();
        let all = model.forward_all(&tokens[length - 10..]).unwrap();
        for row in 0..10 {
            model.truncate(length - 10 + row).unwrap();
            let alone = bits(model.forward(&tokens[length - 10 + row..][..1]).unwrap());
            assert_eq!(bits(all.get(row).unwrap()), alone, "{id}: row {row} of ten");
        }
        // Keys and values computed anew, in passes cut elsewhere.
        model.reset();
        let mut start = 0;
        let mut last = None;
        for end in [37, length / 2, length - 3, length] {
            last = Some(model.forward(&tokens[start..end]).unwrap());
            start = end;
        }
        assert_eq!(bits(last.unwrap()), whole, "{id}: four passes");
        eprintln!("{id}: the same logits for every cut (window {window:?})");
    }
}

/// How many tokens have a higher logit than `id`.
fn rank(logits: &[f32], id: u32) -> usize {
    logits.iter().filter(|&&l| l > logits[id as usize]).count()
}

/// Qwen2.5 declares `<|im_end|>` as eos, but also ends turns with `<|endoftext|>` and the
/// fill-in-the-middle separators (151662-151664); all must stop generation.
#[test]
fn qwen_stops_on_every_end_of_generation_token() {
    let Some(path) = model_path("qwen2.5-coder-0.5b") else {
        return;
    };
    let backend = cmdai_backend_candle::CandleBackend::load(&path, &Default::default()).unwrap();
    let stops = backend.stop_tokens();
    for id in [151643, 151645, 151662, 151663, 151664] {
        assert!(
            stops.contains(&id),
            "token {id} ({:?}) does not stop generation",
            backend.tokenizer().token(id)
        );
    }
    assert!(
        !stops.contains(&151644),
        "<|im_start|> must not stop generation"
    );
}

/// Tokenizing messages apart from the template's markup (so requests cannot forge control
/// tokens) must give the ids of tokenizing the whole rendered prompt, on Qwen's real template.
#[test]
fn qwen_prompt_tokens_equal_the_whole_rendering() {
    let Some(path) = model_path("qwen2.5-coder-0.5b") else {
        return;
    };
    let file = GgufFile::open(&path).unwrap();
    let Some(candle_core::quantized::gguf_file::Value::String(source)) =
        file.content.metadata.get("tokenizer.chat_template")
    else {
        panic!("qwen has a chat template");
    };
    let template = cmdai_backend_candle::ChatTemplate::new(Some(source), "", "<|im_end|>").unwrap();
    let mut backend =
        cmdai_backend_candle::CandleBackend::load(&path, &Default::default()).unwrap();
    let context = cmdai_core::ShellContext::new("Linux", "bash", "/home/me/src");
    for request in [
        "list all files",
        "  find *.log files\nbigger than 1G ",
        "échelle ü 数字 123",
    ] {
        let conversation = cmdai_core::PromptBuilder::build(
            &cmdai_core::CommandPrompt::default(),
            request,
            &context,
        );
        let whole = backend
            .raw_prompt_tokens(&template.render(&conversation).unwrap())
            .unwrap();
        assert_eq!(
            backend.prompt_tokens(&conversation).unwrap(),
            whole,
            "{request:?}"
        );
    }
}

/// Constrained decoding: SmolLM2-135M often answers in prose, but held to cmdai's reply format
/// every reply is one code block and parses, even for requests that are not about a command.
/// The one way left to fail is running out of tokens (this model often repeats itself: 2 of
/// these 6 with command-v3): that is reported as such, never as prose or a broken block.
#[test]
fn every_constrained_reply_parses() {
    use cmdai_core::{
        CancelToken, CommandPrompt, GenerationParams, Generator, NullSink, ShellContext,
    };
    let Some(path) = model_path("smollm2-135m") else {
        return;
    };
    let requests = [
        "list all files in the current directory",
        "what is the weather like today",
        "find every python file and count its lines with wc, using find -exec",
        "tell me a joke about computers",
        "show the ten biggest files under /var/log",
        "explain what a shell is",
    ];
    let context = ShellContext::new("Linux", "bash", "/home/user");
    let backend = cmdai_backend_candle::CandleBackend::load(&path, &Default::default()).unwrap();
    let params = GenerationParams {
        max_tokens: 96,
        ..GenerationParams::default()
    };
    let mut generator = Generator::new(backend, CommandPrompt::default()).with_params(params);
    let mut parsed = 0;
    for request in requests {
        match generator.generate_streaming(request, &context, &mut NullSink, &CancelToken::new()) {
            Ok(command) => {
                assert!(!command.command.trim().is_empty(), "{request:?}");
                eprintln!("{request:?} -> {:?}", command.command);
                parsed += 1;
            }
            Err(cmdai_core::GenerateError::Parse {
                stopped: cmdai_core::StopReason::Length,
                ..
            }) => eprintln!("{request:?} -> ran out of tokens"),
            Err(error) => panic!("{request:?}: {error}"),
        }
    }
    assert!(parsed > 0, "no reply of {} parsed", requests.len());
}

/// Speculative decoding changes how many passes a reply takes, never the reply: with drafts
/// from the prompt (Qwen2.5-Coder-0.5B) and from a draft model (Qwen2.5-Coder-0.5B drafting for
/// the default 1.5B), greedy replies are the ones plain decoding gives, token for token, with
/// and without the response schema, when the token budget ends it mid-draft, and when a stop
/// string does. The drafts must also be used: some are confirmed.
#[test]
fn speculative_decoding_gives_the_same_replies() {
    use cmdai_backend_candle::{CandleBackend, Draft};
    let Some(small) = model_path("qwen2.5-coder-0.5b") else {
        return;
    };
    let mut backend = CandleBackend::load(&small, &Default::default()).unwrap();
    assert_drafts_change_nothing(&mut backend, Draft::PromptLookup);
    drop(backend);
    let Some(default) = model_path("qwen2.5-coder-1.5b") else {
        return;
    };
    let mut backend = CandleBackend::load(&default, &Default::default()).unwrap();
    backend.load_draft(&small, &Default::default()).unwrap();
    assert_eq!(backend.draft(), Draft::Model, "loading a draft turns it on");
    assert_drafts_change_nothing(&mut backend, Draft::Model);
}

/// The cases of [`speculative_decoding_gives_the_same_replies`], each replied to without
/// drafts and with `draft`.
fn assert_drafts_change_nothing(
    backend: &mut cmdai_backend_candle::CandleBackend,
    draft: cmdai_backend_candle::Draft,
) {
    use cmdai_backend_candle::Draft;
    use cmdai_core::{
        CancelToken, CommandPrompt, Conversation, GenerationParams, InferenceBackend, NullSink,
        PromptBuilder, Role, ShellContext,
    };
    let context = ShellContext::new("Linux", "bash", "/home/user");
    let prompt = CommandPrompt::default();
    let command = |request: &str| prompt.build(request, &context);
    let free = |text: &str| Conversation::new().with(Role::User, text);
    let constrained = GenerationParams {
        reply_format: prompt.reply_format(),
        ..GenerationParams::default()
    };
    let cases: Vec<(&str, Conversation, GenerationParams)> = vec![
        (
            "names from the request",
            command("rename quarterly_report_2024_final_v2.xlsx to quarterly_report_2024.xlsx"),
            constrained.clone(),
        ),
        (
            "a repeated pattern",
            command("find all .jpg, .jpeg, .png, .gif and .webp files under ./photos and ./backup"),
            constrained.clone(),
        ),
        (
            "a pipeline",
            command(
                "count how many times each IP address appears in access.log, most frequent first",
            ),
            constrained.clone(),
        ),
        (
            "copying text, no schema",
            free(
                "Repeat this line exactly, then repeat it again: the quick brown fox jumps over the lazy dog",
            ),
            GenerationParams {
                max_tokens: 48,
                reply_format: None,
                ..GenerationParams::default()
            },
        ),
        (
            "the budget ends inside a draft",
            free(
                "Write the numbers one two three four five six, then one two three four five six again",
            ),
            GenerationParams {
                max_tokens: 13,
                reply_format: None,
                ..GenerationParams::default()
            },
        ),
        (
            "a stop string",
            free(
                "Repeat exactly: alpha beta gamma delta, alpha beta gamma delta, alpha beta gamma delta",
            ),
            GenerationParams {
                max_tokens: 48,
                reply_format: None,
                stop: vec!["gamma delta,".into()],
                ..GenerationParams::default()
            },
        ),
    ];
    assert!(
        constrained.reply_format.is_some(),
        "the command prompt has a reply format"
    );
    let mut confirmed = 0;
    for (name, conversation, params) in &cases {
        let mut reply = |draft| {
            backend.set_draft(draft);
            let output = backend
                .generate(conversation, params, &mut NullSink, &CancelToken::new())
                .unwrap();
            (
                output.text,
                output.generated_tokens,
                output.stop_reason,
                backend.drafted(),
            )
        };
        let plain = reply(Draft::Off);
        let drafted = reply(draft);
        eprintln!(
            "{name} (--draft {draft}): {:?}, drafts {:?}",
            drafted.0, drafted.3
        );
        assert_eq!(plain.3, (0, 0), "{name}: drafts with drafting off");
        assert_eq!(
            (&plain.0, plain.1, plain.2),
            (&drafted.0, drafted.1, drafted.2),
            "{name} (--draft {draft})"
        );
        confirmed += drafted.3.1;
    }
    assert!(
        confirmed > 0,
        "no drafted token was confirmed in {} replies (--draft {draft})",
        cases.len()
    );
}

/// Sampled replies with a draft model keep drafts by the acceptance rule (whose distribution
/// the sampler's unit tests check); here they run through the real models and some are kept. A
/// draft whose vocabulary differs is refused, and a model on its own drafts nothing.
#[test]
fn a_draft_model_samples_and_must_share_the_vocabulary() {
    use cmdai_backend_candle::{CandleBackend, CandleError, Draft};
    use cmdai_core::{
        CancelToken, CommandPrompt, GenerationParams, InferenceBackend, NullSink, PromptBuilder,
        ShellContext,
    };
    let (Some(small), Some(other)) = (model_path("qwen2.5-coder-0.5b"), model_path("smollm2-135m"))
    else {
        return;
    };
    let mut backend = CandleBackend::load(&small, &Default::default()).unwrap();
    let prompt = CommandPrompt::default();
    let conversation = prompt.build(
        "find all .jpg, .jpeg, .png and .gif files under ./photos",
        &ShellContext::new("Linux", "bash", "/home/user"),
    );
    let params = GenerationParams {
        reply_format: prompt.reply_format(),
        temperature: 0.7,
        seed: 5,
        ..GenerationParams::default()
    };
    // Draft::Model without a draft model: no drafts, and the reply as ever.
    backend.set_draft(Draft::Model);
    backend
        .generate(&conversation, &params, &mut NullSink, &CancelToken::new())
        .unwrap();
    assert_eq!(backend.drafted(), (0, 0));

    let error = backend.load_draft(&other, &Default::default()).unwrap_err();
    assert!(
        matches!(error, CandleError::Draft { .. }) && error.to_string().contains("vocabulary"),
        "{error}"
    );
    // The model drafts for itself: every draft it samples is one it may keep.
    backend.load_draft(&small, &Default::default()).unwrap();
    let mut kept = 0;
    for seed in 1..=3 {
        let output = backend
            .generate(
                &conversation,
                &GenerationParams {
                    seed,
                    ..params.clone()
                },
                &mut NullSink,
                &CancelToken::new(),
            )
            .unwrap();
        let (drafted, confirmed) = backend.drafted();
        eprintln!(
            "seed {seed}: {:?}, {confirmed} of {drafted} drafts kept",
            output.text
        );
        assert!(
            output.text.starts_with("```bash\n") && output.text.ends_with("\n```"),
            "{:?}",
            output.text
        );
        assert!(confirmed <= drafted);
        kept += confirmed;
    }
    assert!(kept > 0, "no sampled draft was kept");
}
