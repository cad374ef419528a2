//! Will the model fit in memory? Checked before any weight is read, so a model too large for the
//! machine fails at once with the numbers, instead of swapping the machine to a halt or being
//! killed by the kernel halfway through loading.

use std::path::Path;

use candle_core::quantized::gguf_file::Content;

/// Bytes the CPU backend holds per byte of weights: the weights are used in place from the
/// memory-mapped file (`mapped.rs`), so once each. They must fit in memory to run at speed: a
/// model larger than memory would be read from disk for every token.
const CPU_BYTES_PER_WEIGHT_BYTE: u64 = 1;

/// Runtime, activations and the KV cache of a short context, on top of the weights.
const CPU_OVERHEAD: u64 = 128 << 20;

/// Bytes of tensor data the file's tensor table describes.
pub(crate) fn weight_bytes(content: &Content) -> u64 {
    content
        .tensor_infos
        .values()
        .map(|info| {
            let blocks = info.shape.elem_count() as u64 / info.ggml_dtype.block_size() as u64;
            blocks.saturating_mul(info.ggml_dtype.type_size() as u64)
        })
        .fold(0, u64::saturating_add)
}

/// Memory a model with `weights` bytes of tensors needs on the CPU.
pub(crate) fn needed_on_cpu(weights: u64) -> u64 {
    weights
        .saturating_mul(CPU_BYTES_PER_WEIGHT_BYTE)
        .saturating_add(CPU_OVERHEAD)
}

/// Memory this process can still take: the kernel's `MemAvailable`, lowered by a cgroup memory
/// limit (containers, CI runners). `None` where it cannot be told (not Linux).
pub fn available() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let available_kb: u64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemAvailable:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let mut available = available_kb.saturating_mul(1024);
    if let Some(room) = cgroup_room() {
        available = available.min(room);
    }
    Some(available)
}

/// What a cgroup v2 (or v1) memory limit leaves: limit minus current usage.
fn cgroup_room() -> Option<u64> {
    let read = |path: &str| -> Option<u64> {
        std::fs::read_to_string(Path::new(path))
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let (limit, usage) = match read("/sys/fs/cgroup/memory.max") {
        Some(limit) => (limit, read("/sys/fs/cgroup/memory.current")?),
        // "max" (no limit) does not parse; try cgroup v1.
        None => (
            read("/sys/fs/cgroup/memory/memory.limit_in_bytes")?,
            read("/sys/fs/cgroup/memory/memory.usage_in_bytes")?,
        ),
    };
    Some(limit.saturating_sub(usage))
}

/// `bytes` for people: `1.3 GB`.
pub(crate) fn human(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_memory_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            let available = available().unwrap();
            assert!(available > 64 << 20, "{available}");
        }
    }
}
