//! Writes GGUF files with random weights and a real-looking header: tiny models for tests,
//! and same-shape stand-ins of real models for speed measurements where the real weights
//! cannot travel (speed depends on shapes and types, not values).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom};
use std::path::Path;

use candle_core::quantized::ggml_file::qtensor_from_ggml;
use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};

use crate::error::{CandleError, Result};
use crate::spec::{Architecture, ModelSpec};

/// Control tokens appended after the 256 byte tokens of a synthetic vocabulary.
const SPECIAL_TOKENS: [&str; 3] = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"];

/// The vocabulary size of [`tiny_spec`]: 256 byte tokens, 3 merges, 3 control tokens.
pub const TINY_VOCAB: usize = 256 + TINY_MERGES.len() + SPECIAL_TOKENS.len();

/// A few merges so the BPE path is exercised: "ls", " -", "la".
const TINY_MERGES: [(&str, &str); 3] = [("l", "s"), ("Ġ", "-"), ("l", "a")];

/// A tiny model description for `arch`: 2 blocks (with sliding-window layers, one group of
/// local layers and a global one), width 64, 4 heads sharing 2 KV heads.
pub fn tiny_spec(arch: Architecture) -> ModelSpec {
    ModelSpec {
        arch,
        name: Some(format!("tiny random {}", arch.name())),
        block_count: arch.traits().global_layer_every.unwrap_or(2),
        embedding_length: 64,
        feed_forward_length: 128,
        head_count: 4,
        head_count_kv: 2,
        head_dim: 16,
        rope_freq_base: 10_000.0,
        context_length: 2048,
        rms_norm_eps: 1e-5,
        vocab_size: TINY_VOCAB,
        // Small enough that a test's prompt crosses it.
        sliding_window: arch.traits().global_layer_every.map(|_| 8),
        rope_freq_base_local: arch.traits().global_layer_every.map(|_| 10_000.0),
    }
}

/// Writes a model with `spec`'s shapes and random weights (seeded, so the same seed gives the
/// same file), matrices quantized as `dtype`, with a byte-level BPE vocabulary of
/// [`TINY_VOCAB`] tokens and a ChatML template.
pub fn write_random_model(
    path: &Path,
    spec: &ModelSpec,
    dtype: GgmlDType,
    seed: u64,
) -> Result<()> {
    if spec.vocab_size != TINY_VOCAB {
        return Err(CandleError::InvalidMetadata {
            key: "vocab_size".into(),
            reason: format!("synthetic models have a {TINY_VOCAB}-token vocabulary"),
        });
    }
    let device = Device::Cpu;
    let mut rng = SplitMix(seed);
    let mut tensors: Vec<(String, QTensor)> = Vec::new();
    for (name, shape) in spec.required_tensors() {
        let is_vector = shape.len() == 1;
        let elements: usize = shape.iter().product();
        // Small weights keep activations finite through the blocks; norms stay near 1.
        let values: Vec<f32> = (0..elements)
            .map(|_| {
                if name.ends_with("norm.weight") {
                    1.0 + 0.1 * rng.next()
                } else {
                    0.08 * rng.next()
                }
            })
            .collect();
        let tensor = Tensor::from_vec(values, shape.as_slice(), &device)?;
        let qtensor = if is_vector {
            QTensor::quantize(&tensor, GgmlDType::F32)?
        } else {
            QTensor::quantize(&tensor, dtype)?
        };
        tensors.push((name, qtensor));
    }

    let arch = spec.arch.name();
    let key = |suffix: &str| format!("{arch}.{suffix}");
    let mut metadata: Vec<(String, Value)> = vec![
        ("general.architecture".into(), Value::String(arch.into())),
        (
            "general.name".into(),
            Value::String(spec.name.clone().unwrap_or_default()),
        ),
        (key("block_count"), Value::U32(spec.block_count as u32)),
        (
            key("embedding_length"),
            Value::U32(spec.embedding_length as u32),
        ),
        (
            key("feed_forward_length"),
            Value::U32(spec.feed_forward_length as u32),
        ),
        (
            key("attention.head_count"),
            Value::U32(spec.head_count as u32),
        ),
        (
            key("attention.head_count_kv"),
            Value::U32(spec.head_count_kv as u32),
        ),
        (key("rope.freq_base"), Value::F32(spec.rope_freq_base)),
        (
            key("attention.key_length"),
            Value::U32(spec.head_dim as u32),
        ),
        (
            key("attention.value_length"),
            Value::U32(spec.head_dim as u32),
        ),
        (
            key("context_length"),
            Value::U32(spec.context_length as u32),
        ),
        (
            key("attention.layer_norm_rms_epsilon"),
            Value::F32(spec.rms_norm_eps as f32),
        ),
    ];
    if let Some(window) = spec.sliding_window {
        metadata.push((key("attention.sliding_window"), Value::U32(window as u32)));
    }
    metadata.extend(tiny_tokenizer_metadata());
    let metadata_refs: Vec<(&str, &Value)> =
        metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let io = |error| CandleError::Io {
        path: path.to_owned(),
        error,
    };
    let mut writer = BufWriter::new(File::create(path).map_err(io)?);
    gguf_file::write(&mut writer, &metadata_refs, &tensor_refs)?;
    writer
        .into_inner()
        .map_err(|e| io(e.into_error()))?
        .sync_all()
        .map_err(io)?;
    Ok(())
}

/// Copies the header of the GGUF file at `model` (metadata and tensor table, no weights) to
/// `out`: a few megabytes that describe the model completely, for [`write_like`] to fill
/// somewhere the real weights cannot go.
pub fn write_header(model: &Path, out: &Path) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error| CandleError::Io { path, error }
    };
    let mut file = File::open(model).map_err(io(model))?;
    let content = gguf_file::Content::read(&mut file).map_err(|e| CandleError::InvalidGguf {
        path: model.to_owned(),
        reason: e.to_string(),
    })?;
    file.seek(SeekFrom::Start(0)).map_err(io(model))?;
    let mut header = Vec::new();
    file.take(content.tensor_data_offset)
        .read_to_end(&mut header)
        .map_err(io(model))?;
    std::fs::write(out, header).map_err(io(out))
}

/// Writes a model with the metadata (tokenizer, chat template, shapes) and tensor table of
/// `header` (a GGUF file, or just its header from [`write_header`]) and random weights of the
/// same quantization types: a same-shape stand-in for speed measurements. Each tensor repeats
/// one block of properly quantized random values (finite scales, small weights), so writing
/// even a billion-parameter model takes seconds.
pub fn write_like(header: &Path, out: &Path, seed: u64) -> Result<()> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |error| CandleError::Io { path, error }
    };
    let content =
        gguf_file::Content::read(&mut File::open(header).map_err(io(header))?).map_err(|e| {
            CandleError::InvalidGguf {
                path: header.to_owned(),
                reason: e.to_string(),
            }
        })?;
    let device = Device::Cpu;
    let mut rng = SplitMix(seed);
    let mut infos: Vec<_> = content.tensor_infos.iter().collect();
    infos.sort_by_key(|(_, info)| info.offset);
    let mut tensors: Vec<(String, QTensor)> = Vec::with_capacity(infos.len());
    for (name, info) in infos {
        let dims = info.shape.dims().to_vec();
        let elements: usize = dims.iter().product();
        // A chunk of whole blocks and whole rows of the widest matrices here.
        let chunk = elements.min(1 << 16);
        let values: Vec<f32> = (0..chunk)
            .map(|_| {
                if dims.len() == 1 {
                    1.0 + 0.1 * rng.next()
                } else {
                    0.05 * rng.next()
                }
            })
            .collect();
        let quantized =
            QTensor::quantize(&Tensor::from_vec(values, chunk, &device)?, info.ggml_dtype)?;
        let block = quantized.data()?;
        let bytes = elements / info.ggml_dtype.block_size() * info.ggml_dtype.type_size();
        let data: Vec<u8> = block.iter().copied().cycle().take(bytes).collect();
        let tensor = qtensor_from_ggml(info.ggml_dtype, &data, dims, &device)?;
        tensors.push((name.clone(), tensor));
    }
    let metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut writer = BufWriter::new(File::create(out).map_err(io(out))?);
    gguf_file::write(&mut writer, &metadata, &tensor_refs)?;
    writer
        .into_inner()
        .map_err(|e| io(out)(e.into_error()))?
        .sync_all()
        .map_err(io(out))?;
    Ok(())
}

/// Tokenizer metadata of the synthetic vocabulary: GPT-2 byte tokens, a few merges, ChatML
/// control tokens.
fn tiny_tokenizer_metadata() -> Vec<(String, Value)> {
    let mut tokens: Vec<String> = byte_tokens();
    let by_text: HashMap<String, usize> = tokens
        .iter()
        .cloned()
        .enumerate()
        .map(|(i, t)| (t, i))
        .collect();
    debug_assert!(
        TINY_MERGES
            .iter()
            .all(|(a, b)| by_text.contains_key(*a) && by_text.contains_key(*b))
    );
    tokens.extend(TINY_MERGES.iter().map(|(a, b)| format!("{a}{b}")));
    let mut types = vec![1i32; tokens.len()];
    tokens.extend(SPECIAL_TOKENS.iter().map(|s| s.to_string()));
    types.extend([3; SPECIAL_TOKENS.len()]);
    let id = |text: &str| tokens.iter().position(|t| t == text).unwrap_or(0) as u32;
    let (eos, bos) = (id("<|im_end|>"), id("<|endoftext|>"));
    vec![
        ("tokenizer.ggml.model".into(), Value::String("gpt2".into())),
        ("tokenizer.ggml.pre".into(), Value::String("qwen2".into())),
        (
            "tokenizer.ggml.merges".into(),
            Value::Array(
                TINY_MERGES
                    .iter()
                    .map(|(a, b)| Value::String(format!("{a} {b}")))
                    .collect(),
            ),
        ),
        (
            "tokenizer.ggml.token_type".into(),
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        ("tokenizer.ggml.eos_token_id".into(), Value::U32(eos)),
        ("tokenizer.ggml.bos_token_id".into(), Value::U32(bos)),
        (
            "tokenizer.ggml.tokens".into(),
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
    ]
}

/// GPT-2's printable stand-ins for the 256 byte values, in byte order.
fn byte_tokens() -> Vec<String> {
    let printable =
        |b: u32| (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
    let mut shifted = 0;
    (0u32..256)
        .map(|b| {
            let c = if printable(b) {
                b
            } else {
                shifted += 1;
                255 + shifted
            };
            char::from_u32(c).expect("valid code point").to_string()
        })
        .collect()
}

/// A small deterministic generator of values in [-1, 1) (SplitMix64), so synthetic files do
/// not depend on a random-number crate's version.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}
