//! The tiles: Q4_K and Q6_K superblocks of sixteen rows side by side, and the repacking of
//! GGUF blocks into them (see the module's documentation for why they look as they do).
#![allow(unsafe_code)]

use candle_core::quantized::GgmlDType;

use super::{GROUP, Level};
use crate::prefill::{BLOCK, BlockQ4K, BlockQ6K, BlockQ8K};

/// Rows interleaved in one tile.
pub const ROWS: usize = 16;

/// A tile type: one superblock of sixteen rows of a GGUF block type, with its kernel.
pub(crate) trait Packed: Copy + Send + Sync + 'static {
    /// The GGUF block.
    type Block;
    /// Its type, as candle names it.
    const DTYPE: GgmlDType;
    /// The tile of superblock `b` of rows `rows[0..16]`.
    fn new(rows: &[&[Self::Block]], b: usize) -> Self;
    /// The dot products of the sixteen rows of `tiles` (one row group, every superblock) with
    /// `R` input rows, into `out[..R]`, with the kernels of `level`.
    ///
    /// # Safety
    /// The CPU has what `level` needs; every input row has `tiles.len()` blocks.
    unsafe fn dots<const R: usize>(
        level: Level,
        tiles: &[Self],
        ahead: &[Self],
        rows: [&[BlockQ8K]; R],
        out: &mut [[f32; ROWS]; GROUP],
    );
}

/// One Q4_K superblock of sixteen rows: its scales first, then its values, the order a kernel
/// reads them in, so that memory streamed in order arrives in the order it is needed (with the
/// scales after the values, a quarter of a decode profile's kernel samples on a Zen 3 waited
/// for them: "Tiles streamed in the order they are read" in docs/PERFORMANCE.md).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Q4KTile {
    /// Each row's superblock scale and minimum scale.
    pub(super) d: [half::f16; ROWS],
    pub(super) dmin: [half::f16; ROWS],
    /// The 6-bit scale and minimum of sub-block `j` (32 values) of each row.
    pub(super) scales: [[u8; ROWS]; 8],
    pub(super) mins: [[u8; ROWS]; 8],
    /// Word `w` of each row's 128 bytes of 4-bit values: `qs[w][r]` holds values `64c + 4g ..
    /// 64c + 4g + 4` of row `r` in its low nibbles and values `64c + 32 + 4g ..` in its high
    /// ones, for `w = 8c + g`. At byte 320, a multiple of 64.
    pub(super) qs: [[u32; ROWS]; BLOCK / 8],
}

const _: () = assert!(std::mem::size_of::<Q4KTile>() == 2368);

/// One Q6_K superblock of sixteen rows, its scales first (as [`Q4KTile`]).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Q6KTile {
    /// The 8-bit scale of sub-block `j` (16 values) of each row.
    pub(super) scales: [[i8; ROWS]; BLOCK / 16],
    pub(super) d: [half::f16; ROWS],
    /// Zeros, to a multiple of 64 bytes.
    padding: [u8; 32],
    /// Word `w` of each row's 128 bytes of low 4 bits (`ql` in GGUF), side by side, at byte 320.
    pub(super) ql: [[u32; ROWS]; BLOCK / 8],
    /// Word `w` of each row's 64 bytes of high 2 bits (`qh`).
    pub(super) qh: [[u32; ROWS]; BLOCK / 16],
}

const _: () = assert!(std::mem::size_of::<Q6KTile>() == 3392);

/// [`Packed::dots`] through the x86 kernels `$avx512` and `$avx2`.
macro_rules! dots_with {
    ($avx512:ident, $avx2:ident) => {
        unsafe fn dots<const R: usize>(
            level: Level,
            tiles: &[Self],
            ahead: &[Self],
            rows: [&[BlockQ8K]; R],
            out: &mut [[f32; ROWS]; GROUP],
        ) {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: passed on from the caller.
            unsafe {
                match level {
                    Level::Avx512Vnni => super::x86::$avx512(tiles, ahead, rows, out),
                    Level::Avx2 => super::x86::$avx2(tiles, ahead, rows, out),
                }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                let _ = (level, tiles, ahead, rows, out);
                unreachable!("no packed weights off x86: `available` is false there")
            }
        }
    };
}

/// The 32-bit words of `bytes`, little-endian.
fn words(bytes: &[u8]) -> impl Iterator<Item = u32> + '_ {
    bytes
        .chunks_exact(4)
        .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
}

impl Packed for Q4KTile {
    type Block = BlockQ4K;
    const DTYPE: GgmlDType = GgmlDType::Q4K;

    fn new(rows: &[&[BlockQ4K]], b: usize) -> Self {
        let mut tile = Q4KTile {
            qs: [[0; ROWS]; BLOCK / 8],
            d: [half::f16::ZERO; ROWS],
            dmin: [half::f16::ZERO; ROWS],
            scales: [[0; ROWS]; 8],
            mins: [[0; ROWS]; 8],
        };
        for (r, row) in rows.iter().enumerate() {
            let block = &row[b];
            tile.d[r] = block.d;
            tile.dmin[r] = block.dmin;
            for (w, word) in words(&block.qs).enumerate() {
                tile.qs[w][r] = word;
            }
            for j in 0..8 {
                let (scale, min) = scale_and_min(&block.scales, j);
                tile.scales[j][r] = scale;
                tile.mins[j][r] = min;
            }
        }
        tile
    }

    dots_with!(q4k_dots, q4k_dots_avx2);
}

impl Packed for Q6KTile {
    type Block = BlockQ6K;
    const DTYPE: GgmlDType = GgmlDType::Q6K;

    fn new(rows: &[&[BlockQ6K]], b: usize) -> Self {
        let mut tile = Q6KTile {
            ql: [[0; ROWS]; BLOCK / 8],
            qh: [[0; ROWS]; BLOCK / 16],
            scales: [[0; ROWS]; BLOCK / 16],
            d: [half::f16::ZERO; ROWS],
            padding: [0; 32],
        };
        for (r, row) in rows.iter().enumerate() {
            let block = &row[b];
            tile.d[r] = block.d;
            for (w, word) in words(&block.ql).enumerate() {
                tile.ql[w][r] = word;
            }
            for (w, word) in words(&block.qh).enumerate() {
                tile.qh[w][r] = word;
            }
            for (j, &scale) in block.scales.iter().enumerate() {
                tile.scales[j][r] = scale;
            }
        }
        tile
    }

    dots_with!(q6k_dots, q6k_dots_avx2);
}

/// ggml's unpacking of sub-block `j`'s 6-bit scale and minimum.
fn scale_and_min(packed: &[u8; 12], j: usize) -> (u8, u8) {
    if j < 4 {
        (packed[j] & 63, packed[j + 4] & 63)
    } else {
        (
            (packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4),
            (packed[j + 4] >> 4) | ((packed[j] >> 6) << 4),
        )
    }
}

/// The tiles of a matrix of `rows` rows (a multiple of [`ROWS`]) given as GGUF blocks,
/// `blocks` per row: row group `t`'s superblock `b` is tile `t * per_row + b`.
pub(crate) fn pack<T: Packed>(weights: &[T::Block], rows: usize) -> Vec<T> {
    assert!(rows.is_multiple_of(ROWS), "rows not a multiple of {ROWS}");
    let per_row = weights.len() / rows;
    let mut tiles = Vec::with_capacity(weights.len() / ROWS);
    for group in weights.chunks_exact(ROWS * per_row) {
        let rows: Vec<&[T::Block]> = group.chunks_exact(per_row).collect();
        tiles.extend((0..per_row).map(|b| T::new(&rows, b)));
    }
    tiles
}

/// The bytes of the tiles of a matrix of `rows` rows given as the raw bytes of GGUF blocks.
pub(super) fn pack_bytes<T: Packed>(weights: &[u8], rows: usize) -> Vec<u8> {
    let size = std::mem::size_of::<T::Block>();
    assert!(weights.len().is_multiple_of(size), "not whole blocks");
    assert!(
        (weights.as_ptr() as usize).is_multiple_of(std::mem::align_of::<T::Block>()),
        "blocks not aligned"
    );
    // SAFETY: length and alignment checked above; the GGUF blocks are plain bytes and half
    // floats, valid for any bit pattern.
    let blocks: &[T::Block] =
        unsafe { std::slice::from_raw_parts(weights.as_ptr().cast(), weights.len() / size) };
    tile_bytes(&pack::<T>(blocks, rows))
}

/// The bytes of `tiles`, for writing them out.
fn tile_bytes<T: Packed>(tiles: &[T]) -> Vec<u8> {
    let mut bytes = vec![0u8; std::mem::size_of_val(tiles)];
    // SAFETY: copies the tiles' bytes into a buffer of their size; the tile types have no
    // padding (their fields fill them exactly, as the size assertions above check).
    unsafe {
        std::ptr::copy_nonoverlapping(tiles.as_ptr().cast::<u8>(), bytes.as_mut_ptr(), bytes.len());
    }
    bytes
}

impl std::fmt::Debug for Q4KTile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Q4KTile").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Q6KTile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Q6KTile").finish_non_exhaustive()
    }
}
