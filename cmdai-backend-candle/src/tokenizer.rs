//! The tokenizer, built from the GGUF metadata (`tokenizer.ggml.*`): no tokenizer.json needed.
//!
//! GGUF stores either a byte-level BPE vocabulary (tokens already in GPT-2's byte-to-unicode
//! form), its merges, a token type per token and a pre-tokenizer name (Qwen, SmolLM, Llama 3), or
//! a SentencePiece vocabulary with a score per token (Gemma). The pre-tokenizer names map to the
//! regular expressions llama.cpp uses for them, so our token ids match llama.cpp's.

use std::collections::HashMap;

use candle_core::quantized::gguf_file::Value;
use tokenizers::decoders::DecoderWrapper;
use tokenizers::decoders::byte_fallback::ByteFallback;
use tokenizers::decoders::fuse::Fuse;
use tokenizers::decoders::sequence::Sequence as DecoderSequence;
use tokenizers::decoders::strip::Strip;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::normalizers::{
    NormalizerWrapper, Prepend, Replace, Sequence as NormalizerSequence,
};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{AddedToken, SplitDelimiterBehavior, Tokenizer};

use crate::error::{CandleError, Result};
use crate::spec::Metadata;

/// GGUF token types (llama.cpp `llama_token_type`).
const TOKEN_TYPE_NORMAL: i32 = 1;
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_USER_DEFINED: i32 = 4;

/// Pre-tokenizer regular expressions by `tokenizer.ggml.pre`, as in llama.cpp's `llama-vocab.cpp`.
/// Each entry is applied in order; every piece is kept (isolated).
fn pre_tokenizer_patterns(pre: &str) -> Option<&'static [&'static str]> {
    const GPT2: &str =
        r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
    const QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    const LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    match pre {
        "qwen2" => Some(&[QWEN2]),
        "llama-bpe" | "llama3" => Some(&[LLAMA3]),
        // SmolLM splits every digit on its own before the GPT-2 expression.
        "smollm" => Some(&[r"\p{N}", GPT2]),
        "gpt2" | "default" => Some(&[GPT2]),
        _ => None,
    }
}

const SUPPORTED_PRE: &str = "qwen2, llama-bpe, smollm, gpt2";

/// A vocabulary's token list as the metadata stores it: cheap to read, and all that
/// constrained decoding needs, so that can be prepared while the tokenizer is built.
#[derive(Debug, Clone)]
pub struct TokenTable {
    tokens: Vec<String>,
    types: Vec<i32>,
    spelling: Spelling,
}

impl TokenTable {
    /// Reads `tokenizer.ggml.tokens`, `.token_type` and `.model`.
    pub fn from_metadata(values: &HashMap<String, Value>) -> Result<Self> {
        let meta = Metadata::new(values, "GGUF");
        let spelling = match meta.string("tokenizer.ggml.model")? {
            "gpt2" => Spelling::ByteLevel,
            "llama" => Spelling::SentencePiece,
            other => {
                return Err(CandleError::Tokenizer(format!(
                    "tokenizer type `{other}` is not supported yet; supported: gpt2 (byte-level BPE), llama (SentencePiece BPE)"
                )));
            }
        };
        let tokens = string_array(values, "tokenizer.ggml.tokens")?;
        let types: Vec<i32> = match values.get("tokenizer.ggml.token_type") {
            Some(Value::Array(types)) => types.iter().map(|t| t.to_i32().unwrap_or(1)).collect(),
            _ => vec![TOKEN_TYPE_NORMAL; tokens.len()],
        };
        Ok(TokenTable {
            tokens,
            types,
            spelling,
        })
    }

    /// The spelling of token `id`.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Whether `id` is a control token.
    pub fn is_control(&self, id: u32) -> bool {
        self.types.get(id as usize) == Some(&TOKEN_TYPE_CONTROL)
    }

    /// Tokens in the vocabulary.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary has no tokens.
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// How the vocabulary spells text.
    pub fn spelling(&self) -> Spelling {
        self.spelling
    }
}

/// A tokenizer for one model, with the special token ids its metadata declares.
#[derive(Debug)]
pub struct GgufTokenizer {
    inner: Tokenizer,
    table: TokenTable,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// Whether prompts start with the BOS token (`tokenizer.ggml.add_bos_token`).
    pub add_bos: bool,
}

impl GgufTokenizer {
    /// Builds the tokenizer from GGUF metadata.
    pub fn from_metadata(values: &HashMap<String, Value>) -> Result<Self> {
        Self::new(values, TokenTable::from_metadata(values)?)
    }

    /// Builds the tokenizer of `table`, read from the GGUF metadata `values`.
    pub fn new(values: &HashMap<String, Value>, table: TokenTable) -> Result<Self> {
        let meta = Metadata::new(values, "GGUF");
        let TokenTable { tokens, types, .. } = &table;
        let mut inner = match table.spelling {
            Spelling::ByteLevel => byte_level_bpe(values, tokens)?,
            Spelling::SentencePiece => sentencepiece_bpe(values, tokens, types)?,
        };

        // Control tokens (`<|im_start|>`) are recognised only when special parsing is on;
        // user-defined ones always, as llama.cpp does.
        let added = |kind: i32, special: bool| -> Vec<AddedToken> {
            tokens
                .iter()
                .zip(types)
                .filter(|(_, t)| **t == kind)
                .map(|(token, _)| AddedToken::from(token.clone(), special).normalized(false))
                .collect()
        };
        inner.add_special_tokens(&added(TOKEN_TYPE_CONTROL, true));
        inner.add_tokens(&added(TOKEN_TYPE_USER_DEFINED, false));

        Ok(GgufTokenizer {
            inner,
            bos: meta.optional_u32("tokenizer.ggml.bos_token_id"),
            eos: meta.optional_u32("tokenizer.ggml.eos_token_id"),
            add_bos: matches!(
                values.get("tokenizer.ggml.add_bos_token"),
                Some(Value::Bool(true))
            ),
            table,
        })
    }

    /// Token ids for `text`. With `parse_special`, control tokens written in the text (such as
    /// `<|im_start|>`) become their ids; without, they are tokenized as plain text.
    pub fn encode(&mut self, text: &str, parse_special: bool) -> Result<Vec<u32>> {
        self.inner.set_encode_special_tokens(!parse_special);
        let encoding = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| CandleError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The text of `ids`, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(|e| CandleError::Tokenizer(e.to_string()))
    }

    /// The id of a token spelled exactly `text`.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.inner.token_to_id(text)
    }

    /// The spelling of token `id`.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.table.token(id)
    }

    /// Whether `id` is a control token.
    pub fn is_control(&self, id: u32) -> bool {
        self.table.is_control(id)
    }

    /// The Hugging Face tokenizer built from the metadata.
    pub fn hf(&self) -> &Tokenizer {
        &self.inner
    }

    /// Tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.table.len()
    }

    /// How the vocabulary spells text.
    pub fn spelling(&self) -> Spelling {
        self.table.spelling
    }

    /// The token list.
    pub fn table(&self) -> &TokenTable {
        &self.table
    }
}

/// How a vocabulary spells the text its tokens stand for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    /// GPT-2's byte-level BPE: every byte has a printable stand-in character (`Ġ` for a space).
    ByteLevel,
    /// SentencePiece: text as it is, `▁` for a space, and `<0xNN>` tokens for bytes of characters
    /// the vocabulary lacks.
    SentencePiece,
}

/// Byte-level BPE (`tokenizer.ggml.model = gpt2`): the vocabulary and merges as stored, and the
/// pre-tokenizer `tokenizer.ggml.pre` names.
fn byte_level_bpe(values: &HashMap<String, Value>, tokens: &[String]) -> Result<Tokenizer> {
    let meta = Metadata::new(values, "GGUF");
    let pre = meta
        .optional_string("tokenizer.ggml.pre")
        .unwrap_or("default");
    let patterns = pre_tokenizer_patterns(pre).ok_or_else(|| {
        CandleError::Tokenizer(format!(
            "pre-tokenizer `{pre}` is not supported; supported: {SUPPORTED_PRE}"
        ))
    })?;
    let Some(Value::Array(merges)) = values.get("tokenizer.ggml.merges") else {
        return Err(CandleError::Tokenizer(
            "metadata key `tokenizer.ggml.merges` is missing or not a list of strings".into(),
        ));
    };
    // The vocabulary's map and the merges (150,000 strings each for Qwen) are built side by
    // side: 35 ms less of every model load.
    let (vocab, merges) = std::thread::scope(|scope| {
        let vocab = scope.spawn(|| vocabulary(tokens));
        let merges = merges
            .iter()
            .map(|merge| {
                let merge = merge.to_string().map_err(|_| {
                    CandleError::Tokenizer("`tokenizer.ggml.merges` has a non-string entry".into())
                })?;
                merge
                    .split_once(' ')
                    .map(|(a, b)| (a.to_owned(), b.to_owned()))
                    .ok_or_else(|| {
                        CandleError::Tokenizer(format!("merge `{merge}` is not two tokens"))
                    })
            })
            .collect::<Result<Vec<_>>>();
        let vocab = vocab
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (vocab, merges)
    });
    let bpe = BPE::builder()
        .vocab_and_merges(vocab, merges?)
        .build()
        .map_err(|e| CandleError::Tokenizer(e.to_string()))?;
    let mut inner = Tokenizer::new(bpe);
    let mut steps = Vec::new();
    for pattern in patterns {
        let split = Split::new(
            SplitPattern::Regex((*pattern).to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| CandleError::Tokenizer(e.to_string()))?;
        steps.push(split.into());
    }
    steps.push(ByteLevel::new(false, false, false).into());
    inner.with_pre_tokenizer(Some(Sequence::new(steps)));
    inner.with_decoder(Some(ByteLevel::default()));
    Ok(inner)
}

/// SentencePiece BPE (`tokenizer.ggml.model = llama`, Gemma): GGUF stores a score per token
/// instead of merges. llama.cpp merges, again and again, the adjacent pair whose joined text is
/// the token with the highest score; a BPE whose merges are every split of every token, ranked
/// by that token's score, does the same, so the merges are derived here. Spaces become `▁`;
/// characters outside the vocabulary fall back to `<0xNN>` byte tokens.
fn sentencepiece_bpe(
    values: &HashMap<String, Value>,
    tokens: &[String],
    types: &[i32],
) -> Result<Tokenizer> {
    let scores: Vec<f32> = match values.get("tokenizer.ggml.scores") {
        Some(Value::Array(scores)) if scores.len() == tokens.len() => scores
            .iter()
            .map(|s| s.to_f32().unwrap_or(f32::NEG_INFINITY))
            .collect(),
        _ => {
            return Err(CandleError::Tokenizer(
                "a SentencePiece vocabulary needs `tokenizer.ggml.scores`, one per token".into(),
            ));
        }
    };
    let is_normal = |id: usize| types.get(id) == Some(&TOKEN_TYPE_NORMAL);
    let normal: HashMap<&str, usize> = tokens
        .iter()
        .enumerate()
        .filter(|(id, _)| is_normal(*id))
        .map(|(id, token)| (token.as_str(), id))
        .collect();
    let mut ranked: Vec<(f32, usize, &str, &str)> = Vec::new();
    for (id, token) in tokens.iter().enumerate().filter(|(id, _)| is_normal(*id)) {
        for (at, _) in token.char_indices().skip(1) {
            let (left, right) = token.split_at(at);
            if normal.contains_key(left) && normal.contains_key(right) {
                ranked.push((scores[id], id, left, right));
            }
        }
    }
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let merges = ranked
        .into_iter()
        .map(|(_, _, left, right)| (left.to_owned(), right.to_owned()))
        .collect();
    let mut builder = BPE::builder()
        .vocab_and_merges(vocabulary(tokens), merges)
        .byte_fallback(true);
    let meta = Metadata::new(values, "GGUF");
    if let Some(unknown) = meta
        .optional_u32("tokenizer.ggml.unknown_token_id")
        .and_then(|id| tokens.get(id as usize))
    {
        builder = builder.unk_token(unknown.clone());
    }
    let bpe = builder
        .build()
        .map_err(|e| CandleError::Tokenizer(e.to_string()))?;
    let mut inner = Tokenizer::new(bpe);
    let space = |e: tokenizers::Error| CandleError::Tokenizer(e.to_string());
    let mut normalizers: Vec<NormalizerWrapper> = Vec::new();
    // llama.cpp's default for SentencePiece vocabularies is a leading space; Gemma turns it off.
    let space_prefix = !matches!(
        values.get("tokenizer.ggml.add_space_prefix"),
        Some(Value::Bool(false))
    );
    if space_prefix {
        normalizers.push(Prepend::new("▁".into()).into());
    }
    normalizers.push(Replace::new(" ", "▁").map_err(space)?.into());
    inner.with_normalizer(Some(NormalizerSequence::new(normalizers)));
    let mut decoders: Vec<DecoderWrapper> = vec![
        Replace::new("▁", " ").map_err(space)?.into(),
        ByteFallback::new().into(),
        Fuse::new().into(),
    ];
    if space_prefix {
        decoders.push(Strip::new(' ', 1, 0).into());
    }
    inner.with_decoder(Some(DecoderSequence::new(decoders)));
    Ok(inner)
}

/// Token text to id.
fn vocabulary(tokens: &[String]) -> Vocab {
    tokens
        .iter()
        .enumerate()
        .map(|(id, token)| (token.clone(), id as u32))
        .collect()
}

fn string_array(values: &HashMap<String, Value>, key: &str) -> Result<Vec<String>> {
    let missing = || {
        CandleError::Tokenizer(format!(
            "metadata key `{key}` is missing or not a list of strings"
        ))
    };
    let Some(Value::Array(items)) = values.get(key) else {
        return Err(missing());
    };
    items
        .iter()
        .map(|item| item.to_string().cloned().map_err(|_| missing()))
        .collect()
}

/// Turns generated token ids into text piece by piece, holding back bytes that do not yet form
/// a whole UTF-8 character.
#[derive(Debug, Default)]
pub struct TextStream {
    ids: Vec<u32>,
    emitted: usize,
}

impl TextStream {
    /// Adds a token and returns the new text it completes, if any.
    pub fn push(&mut self, tokenizer: &GgufTokenizer, id: u32) -> Result<Option<String>> {
        self.ids.push(id);
        let text = tokenizer.decode(&self.ids)?;
        if text.len() <= self.emitted || text.ends_with('\u{FFFD}') {
            return Ok(None);
        }
        let Some(piece) = text.get(self.emitted..).map(str::to_owned) else {
            return Ok(None);
        };
        self.emitted = text.len();
        Ok(Some(piece))
    }
}
