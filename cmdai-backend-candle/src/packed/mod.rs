//! Q4_K and Q6_K matrices interleaved sixteen rows at a time, for AVX-512 VNNI (and AVX2).
//!
//! In the GGUF layout each row's blocks are separate, and a dot product of one row spends most
//! of its instructions unpacking that row's scales and moving 4-bit values into place (most of
//! a decode step's time on an AVX-512 CPU; see docs/PERFORMANCE.md, "Figures that were code
//! comments"). Here a tile ([`Q4KTile`], [`Q6KTile`]) holds the same superblock (256 values) of
//! sixteen consecutive rows: their quantized values as sixteen 32-bit words side by side, so
//! that one `vpdpbusd` multiplies four values of all sixteen rows by the same four input values,
//! and their scales already unpacked (one byte each). The values and scales are the GGUF file's,
//! rearranged: a Q4_K tile is 2,368 bytes where the sixteen blocks are 2,304, a Q6_K tile 3,392
//! (3,360 and padding) where they are 3,360.
//!
//! The input is quantized to 8 bits per value in blocks of 256 (ggml's `Q8_K`, as in
//! `prefill/`), and the integer arithmetic is that of ggml's Q4_K dot product, so the results
//! agree with `prefill/` and candle to float rounding.
//!
//! Rearranging a model's matrices takes seconds, too long for every start of a command-line
//! tool, so the tiles are written once per model into a file in the cache directory
//! ([`PackedWeights`]) and mapped from there by later processes, like the model file.
//!
//! As ggml keeps weight repacking apart from the code of each architecture, this module is
//! four files: `layout.rs` the tiles and the repacking of GGUF blocks into them, `file.rs` the
//! packed-weights file (its header, writing it, mapping and checking it), `x86.rs` the AVX-512
//! and AVX2 kernels, and this one what the rest of the crate calls: which kernels this CPU runs
//! and the matrix products split across the thread pool.
#![allow(unsafe_code)]

mod file;
mod layout;
#[cfg(target_arch = "x86_64")]
mod x86;

use candle_core::quantized::GgmlDType;

use crate::prefill::{BLOCK, BlockQ8K};

pub use file::{PackedMatrix, PackedWeights, Packing};
pub(crate) use layout::{Packed, Q4KTile, Q6KTile, ROWS};

/// The kernels a CPU runs the tiles with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // only x86 has them
pub(crate) enum Level {
    /// 512-bit registers and `vpdpbusd`: sixteen rows a register.
    Avx512Vnni,
    /// 256-bit registers, `vpmaddubsw` and `vpmaddwd` for the 8-bit products: eight rows a
    /// register, twice.
    Avx2,
}

/// Which kernels run the interleaved matrices of a model (`LoadOptions::kernels`). The default
/// takes the fastest this CPU has; the others are for measuring one against another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CpuKernels {
    /// AVX-512 VNNI where the CPU has it, else AVX2.
    #[default]
    Best,
    /// The AVX2 kernels, even on a CPU with AVX-512 VNNI.
    Avx2,
    /// None: every matrix runs on the GGUF file's own layout.
    FileLayout,
}

/// The [`Level`] `wanted` runs at on this CPU; `None` without AVX2, FMA and F16C (or off x86),
/// or for [`CpuKernels::FileLayout`].
pub(crate) fn level(wanted: CpuKernels) -> Option<Level> {
    let best = best_level()?;
    match wanted {
        CpuKernels::Best => Some(best),
        CpuKernels::Avx2 => Some(Level::Avx2),
        CpuKernels::FileLayout => None,
    }
}

/// The best [`Level`] this CPU has (detected once).
fn best_level() -> Option<Level> {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Option<Level>> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
            {
                return Some(Level::Avx512Vnni);
            }
            if is_x86_feature_detected!("avx2")
                && is_x86_feature_detected!("fma")
                && is_x86_feature_detected!("f16c")
            {
                return Some(Level::Avx2);
            }
        }
        None
    })
}

/// Input rows a worker takes per row group: their quantized blocks stay in the cache while it
/// walks the row group's tiles.
const TILE_M: usize = 16;
/// How many tiles ahead the kernels ask for the memory they will read next.
const PREFETCH_TILES: usize = 2;
/// Input rows that share one load of a tile's values.
const GROUP: usize = 4;

/// `dst = lhs · weightsᵀ` for `lhs` of `m` rows of `k` values and `tiles` from [`pack`] of `n`
/// rows of `k` values, with the kernels of `level` (one [`level`] gave); `dst` is `m × n`.
pub(crate) fn matmul<T: Packed>(
    level: Level,
    (m, k, n): (usize, usize, usize),
    lhs: &[f32],
    tiles: &[T],
    dst: &mut [f32],
) {
    check((m, k, n), lhs, tiles, dst);
    let input = crate::prefill::quantize(lhs, k);
    let items = n / ROWS * m.div_ceil(TILE_M);
    let out = dst.as_mut_ptr() as usize;
    candle_core::utils::barrier_pool().execute_chunked(items, |range| {
        for item in range {
            // SAFETY: `check` passed; each item writes its own part of `dst`, which nothing
            // reads until the pool returns.
            unsafe { run_item(level, (m, k, n), &input, tiles, item, out as *mut f32) };
        }
    });
}

/// Products of the same input rows (`m` rows of `k` values) by several matrices, `dsts[i] =
/// lhs · matrices[i]ᵀ`: the input is quantized once and every product is split across the
/// thread pool in one pass (a layer's queries, keys and values; its gate and up projections),
/// instead of one pass and one wait each.
pub(crate) fn matmul_many(
    (m, k): (usize, usize),
    lhs: &[f32],
    matrices: &[&PackedMatrix],
    dsts: &mut [Vec<f32>],
) {
    assert_eq!(matrices.len(), dsts.len(), "one output per matrix");
    let Some(level) = matrices.first().map(|matrix| matrix.level) else {
        return;
    };
    assert!(
        matrices.iter().all(|matrix| matrix.level == level),
        "one model, one kernel level"
    );
    let mut starts = Vec::with_capacity(matrices.len());
    let mut items = 0;
    for (matrix, dst) in matrices.iter().zip(dsts.iter()) {
        let n = dst.len() / m.max(1);
        match matrix.dtype {
            GgmlDType::Q4K => check((m, k, n), lhs, matrix.tiles::<Q4KTile>(), dst),
            _ => check((m, k, n), lhs, matrix.tiles::<Q6KTile>(), dst),
        }
        starts.push(items);
        items += n / ROWS * m.div_ceil(TILE_M);
    }
    let input = crate::prefill::quantize(lhs, k);
    let outs: Vec<(usize, usize)> = dsts
        .iter_mut()
        .map(|dst| (dst.as_mut_ptr() as usize, dst.len() / m.max(1)))
        .collect();
    candle_core::utils::barrier_pool().execute_chunked(items, |range| {
        for item in range {
            let which = starts.partition_point(|&start| start <= item) - 1;
            let (out, n) = outs[which];
            let local = item - starts[which];
            let matrix = matrices[which];
            // SAFETY: every product passed `check`; each item writes its own part of its
            // output, which nothing reads until the pool returns.
            unsafe {
                match matrix.dtype {
                    GgmlDType::Q4K => run_item(
                        level,
                        (m, k, n),
                        &input,
                        matrix.tiles::<Q4KTile>(),
                        local,
                        out as *mut f32,
                    ),
                    _ => run_item(
                        level,
                        (m, k, n),
                        &input,
                        matrix.tiles::<Q6KTile>(),
                        local,
                        out as *mut f32,
                    ),
                }
            }
        }
    });
}

/// The shapes of one product agree.
fn check<T: Packed>((m, k, n): (usize, usize, usize), lhs: &[f32], tiles: &[T], dst: &[f32]) {
    assert!(
        k.is_multiple_of(BLOCK) && n.is_multiple_of(ROWS),
        "shape {m}×{k}×{n}"
    );
    assert_eq!(lhs.len(), m * k, "input of the wrong size");
    assert_eq!(dst.len(), m * n, "output of the wrong size");
    assert_eq!(
        tiles.len(),
        n / ROWS * (k / BLOCK),
        "weights of the wrong size"
    );
}

/// Work item `item` of a product: the sixteen output columns of one row group for up to
/// [`TILE_M`] input rows.
///
/// # Safety
/// The CPU has what `level` needs; the shapes passed [`check`]; `out` points to the `m × n`
/// output, of which no other thread writes this item's elements.
unsafe fn run_item<T: Packed>(
    level: Level,
    (m, k, n): (usize, usize, usize),
    input: &[BlockQ8K],
    tiles: &[T],
    item: usize,
    out: *mut f32,
) {
    let per_row = k / BLOCK;
    let groups = n / ROWS;
    let (row_tile, group) = (item / groups, item % groups);
    let weights = &tiles[group * per_row..(group + 1) * per_row];
    // The tiles a few places on: the kernels ask for them early. The AVX-512 kernels stay in
    // the row group (asking for the next row group's first tiles too made decode slower on
    // the Xeons); the AVX2 kernels go on into the next row group's tiles, which lie right
    // after (decode faster in four of five rounds on a Zen 3, -2% to +20%). See
    // docs/PERFORMANCE.md, "Figures that were code comments" and "Prefetching across row
    // groups".
    let ahead = match level {
        Level::Avx2 => tiles.get(group * per_row + PREFETCH_TILES..).unwrap_or(&[]),
        Level::Avx512Vnni => weights.get(PREFETCH_TILES..).unwrap_or(&[]),
    };
    let row_of = |r: usize| &input[r * per_row..(r + 1) * per_row];
    let mut row = row_tile * TILE_M;
    let end = m.min(row + TILE_M);
    while row < end {
        let take = (end - row).min(GROUP);
        let mut sums = [[0f32; ROWS]; GROUP];
        // SAFETY: the caller's `level` runs here; every row has `per_row` blocks.
        unsafe {
            match take {
                4 => T::dots(
                    level,
                    weights,
                    ahead,
                    [
                        row_of(row),
                        row_of(row + 1),
                        row_of(row + 2),
                        row_of(row + 3),
                    ],
                    &mut sums,
                ),
                3 => T::dots(
                    level,
                    weights,
                    ahead,
                    [row_of(row), row_of(row + 1), row_of(row + 2)],
                    &mut sums,
                ),
                2 => T::dots(
                    level,
                    weights,
                    ahead,
                    [row_of(row), row_of(row + 1)],
                    &mut sums,
                ),
                _ => T::dots(level, weights, ahead, [row_of(row)], &mut sums),
            }
        }
        for (i, values) in sums.iter().take(take).enumerate() {
            // SAFETY: (row + i, the group's 16 columns) is inside the output (`check`), and
            // belongs to this item only.
            unsafe {
                std::ptr::copy_nonoverlapping(
                    values.as_ptr(),
                    out.add((row + i) * n + group * ROWS),
                    ROWS,
                );
            }
        }
        row += take;
    }
}

#[cfg(test)]
mod tests {
    use super::layout::pack;
    use super::*;

    /// `count` GGUF blocks of `T::Block` with random bytes, their half-float scales (at the
    /// byte offsets `scales`) set to small positive values.
    fn random_blocks<T: Packed>(count: usize, scales: &[usize], seed: u64) -> Vec<T::Block> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let size = std::mem::size_of::<T::Block>();
        (0..count)
            .map(|_| {
                let mut bytes: Vec<u8> = (0..size).map(|_| next() as u8).collect();
                for &at in scales {
                    let scale = half::f16::from_f32((next() % 1000 + 1) as f32 / 1e5);
                    bytes[at..at + 2].copy_from_slice(&scale.to_le_bytes());
                }
                // SAFETY: `size` bytes, read as the plain-data block type.
                unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) }
            })
            .collect()
    }

    /// The kernel levels this CPU runs: the AVX2 kernels too where it has AVX-512 VNNI.
    fn levels_here() -> &'static [Level] {
        match best_level() {
            Some(Level::Avx512Vnni) => &[Level::Avx512Vnni, Level::Avx2],
            Some(Level::Avx2) => &[Level::Avx2],
            None => &[],
        }
    }

    /// Products through the tiles against `prefill`'s on the GGUF layout, for input row
    /// counts that take every kernel width and more than one worker tile.
    fn agrees_with_the_plain_layout<T: Packed>(scales: &[usize]) {
        let levels = levels_here();
        if levels.is_empty() || !crate::prefill::available() {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let (k, n) = (1536, 48);
        let weights = random_blocks::<T>(n * k / BLOCK, scales, 7);
        let tiles = pack::<T>(&weights, n);
        // SAFETY: plain data, viewed as bytes.
        let bytes = unsafe {
            std::slice::from_raw_parts(weights.as_ptr().cast(), std::mem::size_of_val(&weights[..]))
        };
        for m in [1, 2, 3, 4, 5, 6, 17, 33] {
            let lhs: Vec<f32> = (0..m * k)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
                .collect();
            let mut want = vec![0f32; m * n];
            assert!(crate::prefill::matmul(
                T::DTYPE,
                (m, k, n),
                &lhs,
                bytes,
                &mut want
            ));
            let largest = want.iter().fold(0f32, |l, w| l.max(w.abs()));
            for &level in levels {
                let mut got = vec![0f32; m * n];
                matmul(level, (m, k, n), &lhs, &tiles, &mut got);
                for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 1e-5 * largest,
                        "{:?} {level:?}, m={m}: element {i}: {g} against {w} (largest {largest})",
                        T::DTYPE
                    );
                }
            }
        }
    }

    /// Each row of a product of several rows is, bit for bit, that row's product alone (as
    /// speculative decoding needs: see `prefill`'s test of the same).
    fn rows_are_independent<T: Packed>(scales: &[usize]) {
        let levels = levels_here();
        if levels.is_empty() {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let (k, n) = (1536, 48);
        let tiles = pack::<T>(&random_blocks::<T>(n * k / BLOCK, scales, 11), n);
        for &level in levels {
            for m in [2, 3, 4, 5, 6, 7, 8, 9, 17] {
                let lhs: Vec<f32> = (0..m * k)
                    .map(|i| ((i * 53 % 211) as f32 - 105.0) / 40.0)
                    .collect();
                let mut together = vec![f32::NAN; m * n];
                matmul(level, (m, k, n), &lhs, &tiles, &mut together);
                for (row, (input, got)) in lhs.chunks(k).zip(together.chunks(n)).enumerate() {
                    let mut alone = vec![f32::NAN; n];
                    matmul(level, (1, k, n), input, &tiles, &mut alone);
                    let (got, alone): (Vec<u32>, Vec<u32>) = (
                        got.iter().map(|v| v.to_bits()).collect(),
                        alone.iter().map(|v| v.to_bits()).collect(),
                    );
                    assert_eq!(got, alone, "{:?} {level:?} m={m}: row {row}", T::DTYPE);
                }
            }
        }
    }

    #[test]
    fn every_row_is_computed_as_if_alone() {
        rows_are_independent::<Q4KTile>(&[0, 2]);
        rows_are_independent::<Q6KTile>(&[208]);
    }

    #[test]
    fn packed_q4k_products_match_the_plain_layout() {
        agrees_with_the_plain_layout::<Q4KTile>(&[0, 2]);
    }

    #[test]
    fn packed_q6k_products_match_the_plain_layout() {
        agrees_with_the_plain_layout::<Q6KTile>(&[208]);
    }
}
