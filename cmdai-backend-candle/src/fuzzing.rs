//! Entry points for the fuzz targets in `fuzz/` and their regression tests: the same code paths
//! a model file from the internet goes through, minus the weights.

use std::io::Cursor;
use std::path::Path;

use candle_core::quantized::gguf_file::Value;
use cmdai_core::{Conversation, Role};

use crate::{ChatTemplate, GgufTokenizer, ModelSpec};

/// Reads `data` as a GGUF file and builds everything cmdai derives from its metadata: the model
/// description, the tokenizer (and a round trip through it) and the chat template (rendered).
/// Errors are expected; panics, hangs and unbounded allocations are bugs.
pub fn gguf(data: &[u8]) {
    let path = Path::new("fuzz.gguf");
    let _ = crate::gguf::read_checked(path, &mut Cursor::new(data), data.len() as u64);
    // Headers without their weights are the interesting inputs: go on as if the data were there.
    let Ok(content) = crate::gguf::read_checked(path, &mut Cursor::new(data), u64::MAX) else {
        return;
    };
    let spec = ModelSpec::from_gguf(&content);
    if let Ok(spec) = &spec {
        let _ = spec.check_tensors(&content);
    }
    if let Ok(mut tokenizer) = GgufTokenizer::from_metadata(&content.metadata)
        && let Ok(ids) = tokenizer.encode("find . -name '*.log' <|im_end|>", true)
    {
        let _ = tokenizer.decode(&ids);
    }
    let source = match content.metadata.get("tokenizer.chat_template") {
        Some(Value::String(source)) => Some(source.as_str()),
        _ => None,
    };
    if let Ok(template) = ChatTemplate::new(source, "<s>", "</s>") {
        let conversation = Conversation::new()
            .with(Role::System, "system")
            .with(Role::User, "list files");
        let _ = template.render(&conversation);
        let _ = template.end_of_turn_marker();
    }
}
