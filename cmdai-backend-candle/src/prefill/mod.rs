//! Matrix products for several input rows at once (prefill), and for one (decode), on the plain
//! GGUF layout of the weights, for x86_64 with AVX2 and FMA.
//!
//! candle's kernel for the plain layout (`k_quants::matmul`) computes each (input row, weight
//! row) dot product on its own: every weight block is loaded, its 4- or 6-bit values unpacked
//! and its scales shuffled again for every input row. Prefill multiplies many input rows by the
//! same weights, so here each weight block is unpacked once and used for up to [`GROUP`] input
//! rows. The integer arithmetic is that of candle's (and llama.cpp's) AVX2 dot products, so the
//! results agree with `k_quants::matmul` to float rounding. Profiles of prefill had most of its
//! time in the Q4_K and Q6_K dot products (see docs/PERFORMANCE.md, "Prefill kernel", for
//! those and for what this changed).
//!
//! The weights stay where they are (the mapped file); the input rows are quantized to 8 bits
//! per value in blocks of 256 (ggml's `Q8_K`), as candle does.
//!
//! This file holds what is portable: the block types, quantizing the input, and splitting a
//! product across the thread pool; `x86.rs` holds the kernels, in AVX2 intrinsics. The unsafe
//! code in both is SIMD intrinsics, the weights' bytes viewed as blocks, and the writes of
//! worker threads into disjoint elements of one output.
#![allow(unsafe_code)]

#[cfg(target_arch = "x86_64")]
mod x86;

use candle_core::quantized::GgmlDType;

/// Values per quantized block (`QK_K`).
pub(crate) const BLOCK: usize = 256;
/// Input rows that share one unpacked weight block: 4 keeps the accumulators in registers.
const GROUP: usize = 4;
/// Input rows a worker takes per weight row: 16 rows of quantized input stay in the cache while
/// it walks the weight rows.
const TILE: usize = 16;

/// GGUF `block_q4_K`: 8 sub-blocks of 32 values, each with a 6-bit scale and minimum.
#[repr(C)]
pub(crate) struct BlockQ4K {
    pub(crate) d: half::f16,
    pub(crate) dmin: half::f16,
    pub(crate) scales: [u8; 12],
    pub(crate) qs: [u8; BLOCK / 2],
}

/// GGUF `block_q6_K`: 16 sub-blocks of 16 values, each with an 8-bit scale.
#[repr(C)]
pub(crate) struct BlockQ6K {
    pub(crate) ql: [u8; BLOCK / 2],
    pub(crate) qh: [u8; BLOCK / 4],
    pub(crate) scales: [i8; BLOCK / 16],
    pub(crate) d: half::f16,
}

/// Values per block of the 32-value types (`QK5_0`, `QK8_0`).
pub(crate) const SMALL_BLOCK: usize = 32;

/// GGUF `block_q5_0`: 32 values of 5 bits (the low four in `qs`, the fifth in `qh`) and one
/// scale; value `q` stands for `d · (q - 16)`.
#[repr(C)]
pub(crate) struct BlockQ5_0 {
    pub(crate) d: half::f16,
    pub(crate) qh: [u8; 4],
    pub(crate) qs: [u8; SMALL_BLOCK / 2],
}

/// GGUF `block_q8_0`: 32 values of 8 bits and one scale. Also the input's blocks in products
/// with Q5_0 and Q8_0 weights, as in ggml.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct BlockQ8_0 {
    pub(crate) d: half::f16,
    pub(crate) qs: [i8; SMALL_BLOCK],
}

const _: () = assert!(std::mem::size_of::<BlockQ4K>() == 144);
const _: () = assert!(std::mem::size_of::<BlockQ6K>() == 210);
const _: () = assert!(std::mem::size_of::<BlockQ5_0>() == 22);
const _: () = assert!(std::mem::size_of::<BlockQ8_0>() == 34);

/// One input block quantized to 8 bits (ggml's `block_q8_K`), with the sums of each 16 values.
#[derive(Clone, Copy)]
#[repr(C)]
pub(crate) struct BlockQ8K {
    pub(crate) d: f32,
    pub(crate) qs: [i8; BLOCK],
    pub(crate) bsums: [i16; BLOCK / 16],
}

/// Whether [`matmul`] runs on this CPU.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE
            .get_or_init(|| is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dst = lhs · weightsᵀ` for `lhs` of `m` rows of `k` values and `weights` the raw bytes of `n`
/// rows of `k` values in `dtype`'s blocks; `dst` is `m × n`. Returns `false`, touching nothing,
/// where this module has no kernel (another block type, no rows, a CPU without AVX2), and the
/// caller uses candle's.
///
/// One row (a decode step, or the output projection of the last prefill position) goes through
/// here too, which made decode faster than candle's one-row dot products did (see
/// docs/PERFORMANCE.md, "Figures that were code comments").
pub fn matmul(
    dtype: GgmlDType,
    (m, k, n): (usize, usize, usize),
    lhs: &[f32],
    weights: &[u8],
    dst: &mut [f32],
) -> bool {
    if m == 0 || !available() || k == 0 {
        return false;
    }
    assert_eq!(lhs.len(), m * k, "input of the wrong size");
    assert_eq!(dst.len(), m * n, "output of the wrong size");
    match dtype {
        GgmlDType::Q4K => run::<BlockQ4K>((m, k, n), lhs, weights, dst),
        GgmlDType::Q6K => run::<BlockQ6K>((m, k, n), lhs, weights, dst),
        GgmlDType::Q5_0 => run::<BlockQ5_0>((m, k, n), lhs, weights, dst),
        GgmlDType::Q8_0 => run::<BlockQ8_0>((m, k, n), lhs, weights, dst),
        _ => false,
    }
}

/// A block of the input, quantized for the products with one kind of weight block.
pub(crate) trait InputBlock: Copy + Send + Sync {
    /// Values per block (the weight blocks' too).
    const VALUES: usize;
    /// A block of zeros.
    const ZERO: Self;
    /// Quantizes `row` (whole blocks) into `out`.
    fn quantize_row(row: &[f32], out: &mut [Self]);
}

/// A weight block type with a kernel here.
trait Kernel: Sized + Sync {
    /// The input's blocks in products with this type.
    type Input: InputBlock;

    /// The dot products of one weight row with `GROUP` (or fewer: `R`) input rows.
    ///
    /// # Safety
    /// The CPU has AVX2 and FMA; `rows` are as long as `weights`.
    unsafe fn dots<const R: usize>(weights: &[Self], rows: [&[Self::Input]; R]) -> [f32; R];
}

/// [`matmul`] with weight blocks `W`; `false`, touching nothing, when rows of `k` values do
/// not divide into them.
fn run<W: Kernel>(
    (m, k, n): (usize, usize, usize),
    lhs: &[f32],
    weights: &[u8],
    dst: &mut [f32],
) -> bool {
    if !k.is_multiple_of(W::Input::VALUES) {
        return false;
    }
    let per_row = k / W::Input::VALUES;
    assert_eq!(
        weights.len(),
        n * per_row * std::mem::size_of::<W>(),
        "weights of the wrong size"
    );
    assert!(
        (weights.as_ptr() as usize).is_multiple_of(std::mem::align_of::<W>()),
        "weights not aligned for their block type"
    );
    // SAFETY: the length and alignment were checked above; the block types are plain bytes and
    // half floats, valid for any bit pattern.
    let weights: &[W] =
        unsafe { std::slice::from_raw_parts(weights.as_ptr().cast::<W>(), n * per_row) };
    let input: Vec<W::Input> = quantize(lhs, k);

    let tiles = m.div_ceil(TILE);
    let out = dst.as_mut_ptr() as usize;
    candle_core::utils::barrier_pool().execute_chunked(tiles * n, |items| {
        for item in items {
            let (tile, col) = (item / n, item % n);
            let column = &weights[col * per_row..(col + 1) * per_row];
            let row_of = |r: usize| &input[r * per_row..(r + 1) * per_row];
            let mut row = tile * TILE;
            let end = m.min(row + TILE);
            while row < end {
                let take = (end - row).min(GROUP);
                // SAFETY: AVX2 and FMA were checked by `matmul`; every row has `per_row` blocks.
                let dots: &[f32] = unsafe {
                    match take {
                        4 => &W::dots(
                            column,
                            [
                                row_of(row),
                                row_of(row + 1),
                                row_of(row + 2),
                                row_of(row + 3),
                            ],
                        ),
                        3 => &W::dots(column, [row_of(row), row_of(row + 1), row_of(row + 2)]),
                        2 => &W::dots(column, [row_of(row), row_of(row + 1)]),
                        _ => &W::dots(column, [row_of(row)]),
                    }
                };
                for (i, &dot) in dots.iter().enumerate() {
                    // SAFETY: (row + i, col) is inside `dst` (checked in `matmul`), and each
                    // (row, col) belongs to exactly one work item, so no two threads write the
                    // same element and nothing reads `dst` until the pool returns.
                    unsafe { *(out as *mut f32).add((row + i) * n + col) = dot };
                }
                row += take;
            }
        }
    });
    true
}

/// The rows of `lhs` (each `k` values) in 8-bit blocks (ggml's `quantize_row_q8_K` or
/// `quantize_row_q8_0`); several rows are split across candle's thread pool (serially it had
/// become a noticeable part of a prefill once the products were interleaved for AVX-512; see
/// docs/PERFORMANCE.md, "Figures that were code comments").
pub(crate) fn quantize<B: InputBlock>(lhs: &[f32], k: usize) -> Vec<B> {
    let per_row = k / B::VALUES;
    let rows = lhs.len() / k;
    let mut out = vec![B::ZERO; rows * per_row];
    if rows == 1 {
        B::quantize_row(lhs, &mut out);
        return out;
    }
    let at = out.as_mut_ptr() as usize;
    candle_core::utils::barrier_pool().execute_chunked(rows, |range| {
        for row in range {
            // SAFETY: row `row`'s blocks are inside `out` and belong to this work item only;
            // nothing else touches `out` until the pool returns.
            let blocks = unsafe {
                std::slice::from_raw_parts_mut((at as *mut B).add(row * per_row), per_row)
            };
            B::quantize_row(&lhs[row * k..(row + 1) * k], blocks);
        }
    });
    out
}

impl InputBlock for BlockQ8K {
    const VALUES: usize = BLOCK;
    const ZERO: Self = BlockQ8K {
        d: 0.0,
        qs: [0; BLOCK],
        bsums: [0; BLOCK / 16],
    };

    fn quantize_row(row: &[f32], out: &mut [Self]) {
        for (values, block) in row.chunks_exact(BLOCK).zip(out) {
            let max = values
                .iter()
                .copied()
                .fold(0f32, |max, v| if v.abs() > max.abs() { v } else { max });
            if max == 0.0 {
                continue;
            }
            let scale = -127.0 / max;
            for (q, &v) in block.qs.iter_mut().zip(values) {
                *q = (scale * v).round().clamp(-128.0, 127.0) as i8;
            }
            for (sum, group) in block.bsums.iter_mut().zip(block.qs.chunks_exact(16)) {
                *sum = group.iter().map(|&q| i16::from(q)).sum();
            }
            block.d = 1.0 / scale;
        }
    }
}

impl InputBlock for BlockQ8_0 {
    const VALUES: usize = SMALL_BLOCK;
    const ZERO: Self = BlockQ8_0 {
        d: half::f16::ZERO,
        qs: [0; SMALL_BLOCK],
    };

    /// As ggml's `quantize_row_q8_0` (and candle's `BlockQ8_0::from_float`).
    fn quantize_row(row: &[f32], out: &mut [Self]) {
        for (values, block) in row.chunks_exact(SMALL_BLOCK).zip(out) {
            let max = values.iter().fold(0f32, |max, v| max.max(v.abs()));
            let d = max / 127.0;
            let inverse = if d == 0.0 { 0.0 } else { 1.0 / d };
            block.d = half::f16::from_f32(d);
            for (q, &v) in block.qs.iter_mut().zip(values) {
                *q = (v * inverse).round() as i8;
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod portable {
    use super::{BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, BlockQ8K, Kernel};

    // `available()` is false off x86_64, so these are never called; they exist so the
    // dispatch compiles everywhere.
    macro_rules! unreachable_kernel {
        ($($weight:ty => $input:ty),*) => {$(
            impl Kernel for $weight {
                type Input = $input;
                unsafe fn dots<const R: usize>(_: &[Self], _: [&[$input]; R]) -> [f32; R] {
                    unreachable!("prefill kernels run on x86_64 only")
                }
            }
        )*};
    }
    unreachable_kernel!(BlockQ4K => BlockQ8K, BlockQ6K => BlockQ8K, BlockQ5_0 => BlockQ8_0, BlockQ8_0 => BlockQ8_0);
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::k_quants::{
        self, BlockQ4K, BlockQ5_0, BlockQ6K, BlockQ8_0, GgmlType,
    };
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    use super::*;

    /// Deterministic values in about [-1, 1] with some large ones, as activations have.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|i| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let v = (state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0;
                if i % 97 == 0 { v * 8.0 } else { v }
            })
            .collect()
    }

    /// This module's product against candle's `k_quants::matmul` on the same quantized weights.
    fn compare<T: GgmlType>(dtype: GgmlDType, m: usize, k: usize, n: usize) {
        let weights = values(n * k, 1 + m as u64);
        let lhs = values(m * k, 2 + n as u64);
        let quantized = QTensor::quantize(
            &Tensor::from_vec(weights.clone(), (n, k), &Device::Cpu).unwrap(),
            dtype,
        )
        .unwrap();
        let bytes = quantized.data().unwrap();
        let mut blocks = vec![T::zeros(); n * k / T::BLCK_SIZE];
        T::from_float(&weights, &mut blocks);

        let mut expected = vec![0f32; m * n];
        k_quants::matmul::<T>((m, k, n), &lhs, &blocks, &mut expected).unwrap();
        let mut got = vec![f32::NAN; m * n];
        assert!(matmul(dtype, (m, k, n), &lhs, &bytes, &mut got));

        let scale = expected.iter().fold(0f32, |max, v| max.max(v.abs()));
        for (i, (want, have)) in expected.iter().zip(&got).enumerate() {
            assert!(
                (want - have).abs() <= 1e-5 * scale,
                "{dtype:?} m={m} k={k} n={n}: element {i} is {have}, candle says {want}"
            );
        }
    }

    /// Row counts around the group and tile sizes, and one of the model's real widths `k`.
    fn every_row_count<T: GgmlType>(dtype: GgmlDType, model_k: usize) {
        if !available() {
            return;
        }
        for m in [1, 2, 3, 4, 5, 7, 16, 17, 33] {
            compare::<T>(dtype, m, 512, 24);
        }
        compare::<T>(dtype, 12, model_k, 40);
    }

    #[test]
    fn q4k_matches_candle_for_every_row_count() {
        every_row_count::<BlockQ4K>(GgmlDType::Q4K, 1536);
    }

    #[test]
    fn q6k_matches_candle_for_every_row_count() {
        every_row_count::<BlockQ6K>(GgmlDType::Q6K, 2304);
    }

    #[test]
    fn q5_0_matches_candle_for_every_row_count() {
        // 896: the width of Qwen2.5-0.5B, which does not divide into Q4_K's 256-value blocks.
        every_row_count::<BlockQ5_0>(GgmlDType::Q5_0, 896);
    }

    #[test]
    fn q8_0_matches_candle_for_every_row_count() {
        every_row_count::<BlockQ8_0>(GgmlDType::Q8_0, 4864);
    }

    /// Each row of a product of several rows is, bit for bit, that row's product alone:
    /// speculative decoding checks drafted tokens in one pass of several rows and must
    /// reproduce the one-row passes of plain decoding exactly.
    fn rows_are_independent(dtype: GgmlDType, k: usize) {
        if !available() {
            return;
        }
        let n = 24;
        let weights = values(n * k, 3);
        let quantized = QTensor::quantize(
            &Tensor::from_vec(weights, (n, k), &Device::Cpu).unwrap(),
            dtype,
        )
        .unwrap();
        let bytes = quantized.data().unwrap();
        for m in [2, 3, 4, 5, 6, 7, 8, 9, 17] {
            let lhs = values(m * k, 4 + m as u64);
            let mut together = vec![f32::NAN; m * n];
            assert!(matmul(dtype, (m, k, n), &lhs, &bytes, &mut together));
            for (row, (input, got)) in lhs.chunks(k).zip(together.chunks(n)).enumerate() {
                let mut alone = vec![f32::NAN; n];
                assert!(matmul(dtype, (1, k, n), input, &bytes, &mut alone));
                let (got, alone): (Vec<u32>, Vec<u32>) = (
                    got.iter().map(|v| v.to_bits()).collect(),
                    alone.iter().map(|v| v.to_bits()).collect(),
                );
                assert_eq!(got, alone, "{dtype:?} m={m}: row {row}");
            }
        }
    }

    #[test]
    fn every_row_is_computed_as_if_alone() {
        rows_are_independent(GgmlDType::Q4K, 1536);
        rows_are_independent(GgmlDType::Q6K, 1536);
        rows_are_independent(GgmlDType::Q5_0, 896);
        rows_are_independent(GgmlDType::Q8_0, 896);
    }

    #[test]
    fn other_cases_are_left_to_candle() {
        let lhs = vec![0.5f32; 2 * 256];
        let mut dst = vec![7f32; 2 * 2];
        // Q4_1 has no kernel here; nor has an input without rows, nor rows that do not divide
        // into the weights' blocks.
        assert!(!matmul(
            GgmlDType::Q4_1,
            (2, 256, 2),
            &lhs,
            &[0; 2 * 8 * 20],
            &mut dst
        ));
        assert!(!matmul(
            GgmlDType::Q4K,
            (1, 96, 2),
            &lhs[..96],
            &[0; 2 * 144],
            &mut dst[..2]
        ));
        assert!(!matmul(
            GgmlDType::Q4K,
            (0, 256, 2),
            &[],
            &[0; 2 * 144],
            &mut []
        ));
        assert_eq!(dst, [7.0; 4], "nothing written");
    }
}
