//! Q4_K matrices interleaved sixteen rows at a time, for AVX-512 VNNI.
//!
//! In the GGUF layout each row's blocks are separate, and a dot product of one row spends most
//! of its instructions unpacking that row's scales and moving 4-bit values into place (the
//! profile of a decode step on an AVX-512 Xeon: 54% in the Q4_K dot). Here a [`Tile`] holds
//! the same superblock (256 values) of sixteen consecutive rows: their 4-bit values as sixteen
//! 32-bit words side by side, so that one `vpdpbusd` multiplies four values of all sixteen rows
//! by the same four input values, and their scales already unpacked (one byte each). The values
//! and scales are the GGUF file's, rearranged: a tile is 2,368 bytes where the sixteen blocks
//! are 2,304.
//!
//! The input is quantized to 8 bits per value in blocks of 256 (ggml's `Q8_K`, as in
//! `prefill.rs`), and the integer arithmetic is that of ggml's Q4_K dot product, so the results
//! agree with `prefill.rs` and candle to float rounding.
//!
//! Rearranging a model's Q4_K matrices takes about a second, too long for every start of a
//! command-line tool, so the tiles are written once per model into a file in the cache
//! directory ([`PackedWeights`]) and mapped from there by later processes, like the model file.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::Content;
use memmap2::Mmap;
use sha2::{Digest, Sha256};

use crate::mapped::MappedFile;
use crate::prefill::{BLOCK, BlockQ4K, BlockQ8K};

/// Rows interleaved in one tile.
pub const ROWS: usize = 16;

/// One superblock of sixteen rows.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub struct Tile {
    /// Word `w` of each row's 128 bytes of 4-bit values: `qs[w][r]` holds values `64c + 4g ..
    /// 64c + 4g + 4` of row `r` in its low nibbles and values `64c + 32 + 4g ..` in its high
    /// ones, for `w = 8c + g`.
    qs: [[u32; ROWS]; BLOCK / 8],
    /// Each row's superblock scale and minimum scale.
    d: [half::f16; ROWS],
    dmin: [half::f16; ROWS],
    /// The 6-bit scale and minimum of sub-block `j` (32 values) of each row.
    scales: [[u8; ROWS]; 8],
    mins: [[u8; ROWS]; 8],
}

const _: () = assert!(std::mem::size_of::<Tile>() == 2368);

impl Tile {
    /// The tile of superblock `b` of rows `rows[0..16]`, from their GGUF blocks.
    fn new(rows: &[&[BlockQ4K]], b: usize) -> Tile {
        let mut tile = Tile {
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
            for (w, word) in block.qs.chunks_exact(4).enumerate() {
                tile.qs[w][r] = u32::from_le_bytes([word[0], word[1], word[2], word[3]]);
            }
            for j in 0..8 {
                let (scale, min) = scale_and_min(&block.scales, j);
                tile.scales[j][r] = scale;
                tile.mins[j][r] = min;
            }
        }
        tile
    }
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

/// The tiles of a matrix of `rows` rows (a multiple of [`ROWS`]) given as GGUF Q4_K blocks,
/// `blocks` per row: row group `t`'s superblock `b` is tile `t * per_row + b`.
pub fn pack(weights: &[BlockQ4K], rows: usize) -> Vec<Tile> {
    assert!(rows.is_multiple_of(ROWS), "rows not a multiple of {ROWS}");
    let per_row = weights.len() / rows;
    let mut tiles = Vec::with_capacity(weights.len() / ROWS);
    for group in weights.chunks_exact(ROWS * per_row) {
        let rows: Vec<&[BlockQ4K]> = group.chunks_exact(per_row).collect();
        tiles.extend((0..per_row).map(|b| Tile::new(&rows, b)));
    }
    tiles
}

/// [`pack`] of the raw bytes of GGUF Q4_K blocks.
fn pack_bytes(weights: &[u8], rows: usize) -> Vec<Tile> {
    let size = std::mem::size_of::<BlockQ4K>();
    assert!(weights.len().is_multiple_of(size), "not whole Q4_K blocks");
    assert!(
        (weights.as_ptr() as usize).is_multiple_of(std::mem::align_of::<BlockQ4K>()),
        "Q4_K blocks not aligned"
    );
    // SAFETY: length and alignment checked above; the block is plain bytes and half floats,
    // valid for any bit pattern.
    let blocks =
        unsafe { std::slice::from_raw_parts(weights.as_ptr().cast(), weights.len() / size) };
    pack(blocks, rows)
}

impl std::fmt::Debug for Tile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tile").finish_non_exhaustive()
    }
}

/// The first bytes of a packed-weights file; the number is the layout's version.
const MAGIC: &[u8; 8] = b"CMDAIQ41";
/// Where the tiles start: the header is padded to a page.
const PAGE: usize = 4096;

/// Where a model's packed matrices are kept, and which model they are for.
#[derive(Debug, Clone)]
pub struct Packing {
    /// The directory of packed-weights files.
    pub dir: PathBuf,
    /// The model file's identity (its SHA-256 when known, else path, size and modification
    /// time): part of the file name, so another model's file is never used.
    pub identity: String,
}

impl Packing {
    /// The packed-weights file of this model. A model has one: the header inside says which
    /// matrices it holds.
    pub fn file(&self) -> PathBuf {
        let mut hasher = Sha256::new();
        hasher.update(MAGIC);
        hasher.update(self.identity.as_bytes());
        let digest = hex::encode(hasher.finalize());
        self.dir.join(format!("{}.q4k16", &digest[..40]))
    }
}

/// One packed matrix inside a mapped packed-weights file.
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    map: Arc<Mmap>,
    offset: usize,
    tiles: usize,
}

impl PackedMatrix {
    /// Its tiles.
    pub fn tiles(&self) -> &[Tile] {
        let bytes = &self.map[self.offset..self.offset + self.tiles * std::mem::size_of::<Tile>()];
        // SAFETY: `PackedWeights::read` checked that the range lies inside the map and that its
        // start is aligned for `Tile` (the map is page-aligned, the offset a multiple of 64); a
        // tile is plain bytes and half floats, valid for any bit pattern.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), self.tiles) }
    }
}

/// A model's packed Q4_K matrices, by tensor name.
#[derive(Debug, Default)]
pub struct PackedWeights {
    matrices: HashMap<String, PackedMatrix>,
}

impl PackedWeights {
    /// The packed form of the tensors `names` of the model in `file`, from `packing`'s file
    /// when it holds exactly them, else packed now and written there first. `None` where this
    /// CPU has no AVX-512 VNNI, or no tensor qualifies (2-D Q4_K with a multiple of 16 rows);
    /// also when the file can be neither read nor written (a read-only cache: the model then
    /// runs on the file's own layout, and the reason is logged).
    pub fn open_or_build(
        packing: &Packing,
        file: &MappedFile,
        content: &Content,
        names: &[String],
    ) -> Option<Self> {
        if !available() {
            return None;
        }
        let mut shapes = Vec::new();
        for name in names {
            let info = content.tensor_infos.get(name)?;
            match info.shape.dims() {
                [rows, cols]
                    if info.ggml_dtype == GgmlDType::Q4K
                        && rows.is_multiple_of(ROWS)
                        && cols.is_multiple_of(BLOCK) =>
                {
                    shapes.push((name.clone(), *rows, *cols));
                }
                _ => {}
            }
        }
        if shapes.is_empty() {
            return None;
        }
        let path = packing.file();
        if path.is_file() {
            match Self::read(&path, &shapes) {
                Ok(weights) => return Some(weights),
                Err(reason) => {
                    tracing::warn!("rebuilding {}: {reason}", path.display());
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let started = std::time::Instant::now();
        let written = Self::write(&path, &shapes, file, content)
            .map_err(|error| error.to_string())
            .and_then(|()| Self::read(&path, &shapes));
        match written {
            Ok(weights) => {
                tracing::info!(
                    "wrote the Q4_K weights interleaved for AVX-512 to {} in {:.2} s (once per model)",
                    path.display(),
                    started.elapsed().as_secs_f64()
                );
                Some(weights)
            }
            Err(error) => {
                tracing::warn!(
                    "cannot keep interleaved weights in {} ({error}); using the file's layout \
                     (slower on this CPU)",
                    packing.dir.display()
                );
                None
            }
        }
    }

    /// The packed form of tensor `name`, if it has one.
    pub fn matrix(&self, name: &str) -> Option<PackedMatrix> {
        self.matrices.get(name).cloned()
    }

    /// Writes the packed form of `shapes` (name, rows, columns) to `path`: a header (the magic,
    /// then per matrix its name, rows, columns and the offset of its tiles), padded to a page,
    /// then the tiles. Written to a temporary file and renamed, so a reader never sees half a
    /// file.
    fn write(
        path: &Path,
        shapes: &[(String, usize, usize)],
        file: &MappedFile,
        content: &Content,
    ) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        let result = (|| {
            let mut out = std::io::BufWriter::new(std::fs::File::create(&partial)?);
            out.write_all(&header(shapes))?;
            for (name, rows, _) in shapes {
                let bytes = file
                    .matrix(content, name)
                    .ok()
                    .flatten()
                    .ok_or_else(|| std::io::Error::other(format!("{name} is not mapped")))?;
                let tiles = pack_bytes(bytes.bytes(), *rows);
                // SAFETY: plain data, viewed as bytes to write it.
                let raw = unsafe {
                    std::slice::from_raw_parts(
                        tiles.as_ptr().cast::<u8>(),
                        std::mem::size_of_val(tiles.as_slice()),
                    )
                };
                out.write_all(raw)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&partial, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        result
    }

    /// Maps the file at `path` and checks it holds exactly `shapes`, whole.
    fn read(path: &Path, shapes: &[(String, usize, usize)]) -> Result<Self, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        // SAFETY: read-only; cmdai never changes a packed file in place (it is renamed into
        // place whole, and removed rather than rewritten when invalid).
        let map = Arc::new(unsafe { Mmap::map(&file) }.map_err(|e| e.to_string())?);
        let expected = header(shapes);
        if map.len() < expected.len() || map[..expected.len()] != expected[..] {
            return Err("its header is not that of this model's matrices".into());
        }
        let mut matrices = HashMap::new();
        let mut offset = expected.len();
        for (name, rows, cols) in shapes {
            let tiles = rows / ROWS * (cols / BLOCK);
            matrices.insert(
                name.clone(),
                PackedMatrix {
                    map: map.clone(),
                    offset,
                    tiles,
                },
            );
            offset += tiles * std::mem::size_of::<Tile>();
        }
        if map.len() != offset {
            return Err(format!("{} bytes where {offset} were expected", map.len()));
        }
        Ok(PackedWeights { matrices })
    }
}

/// The header of a packed-weights file of `shapes`, padded to [`PAGE`] bytes. The tiles of the
/// matrices follow it in order, so it fixes every offset; a file is valid when its header is
/// this one and its length the header's plus the tiles'.
fn header(shapes: &[(String, usize, usize)]) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend((shapes.len() as u64).to_le_bytes());
    for (name, rows, cols) in shapes {
        header.extend((name.len() as u64).to_le_bytes());
        header.extend(name.as_bytes());
        header.extend((*rows as u64).to_le_bytes());
        header.extend((*cols as u64).to_le_bytes());
    }
    header.resize(header.len().next_multiple_of(PAGE), 0);
    header
}

/// Whether [`matmul`] runs on this CPU.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use std::sync::OnceLock;
        static AVAILABLE: OnceLock<bool> = OnceLock::new();
        *AVAILABLE.get_or_init(|| {
            is_x86_feature_detected!("avx512f")
                && is_x86_feature_detected!("avx512bw")
                && is_x86_feature_detected!("avx512vnni")
        })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Input rows a worker takes per row group: their quantized blocks stay in the cache while it
/// walks the row group's tiles.
const TILE_M: usize = 16;
/// Input rows that share one load of a tile's values.
const GROUP: usize = 4;

/// `dst = lhs · weightsᵀ` for `lhs` of `m` rows of `k` values and `tiles` from [`pack`] of `n`
/// rows of `k` values; `dst` is `m × n`. Only where [`available`].
pub fn matmul((m, k, n): (usize, usize, usize), lhs: &[f32], tiles: &[Tile], dst: &mut [f32]) {
    assert!(available(), "packed Q4_K products need AVX-512 VNNI");
    assert!(
        k.is_multiple_of(BLOCK) && n.is_multiple_of(ROWS),
        "shape {m}×{k}×{n}"
    );
    assert_eq!(lhs.len(), m * k, "input of the wrong size");
    assert_eq!(dst.len(), m * n, "output of the wrong size");
    let per_row = k / BLOCK;
    assert_eq!(tiles.len(), n / ROWS * per_row, "weights of the wrong size");
    let input = crate::prefill::quantize(lhs, k);
    let groups = n / ROWS;
    let row_tiles = m.div_ceil(TILE_M);
    let out = dst.as_mut_ptr() as usize;
    candle_core::utils::barrier_pool().execute_chunked(groups * row_tiles, |items| {
        for item in items {
            let (row_tile, group) = (item / groups, item % groups);
            let weights = &tiles[group * per_row..(group + 1) * per_row];
            let row_of = |r: usize| &input[r * per_row..(r + 1) * per_row];
            let mut row = row_tile * TILE_M;
            let end = m.min(row + TILE_M);
            while row < end {
                let take = (end - row).min(GROUP);
                let mut sums = [[0f32; ROWS]; GROUP];
                // SAFETY: `available` was checked above; every row has `per_row` blocks.
                unsafe {
                    match take {
                        4 => x86::dots(
                            weights,
                            [
                                row_of(row),
                                row_of(row + 1),
                                row_of(row + 2),
                                row_of(row + 3),
                            ],
                            &mut sums,
                        ),
                        3 => x86::dots(
                            weights,
                            [row_of(row), row_of(row + 1), row_of(row + 2)],
                            &mut sums,
                        ),
                        2 => x86::dots(weights, [row_of(row), row_of(row + 1)], &mut sums),
                        _ => x86::dots(weights, [row_of(row)], &mut sums),
                    }
                }
                for (i, values) in sums.iter().take(take).enumerate() {
                    // SAFETY: (row + i, group's 16 columns) is inside `dst` (checked above), and
                    // each belongs to exactly one work item, so no two threads write the same
                    // element and nothing reads `dst` until the pool returns.
                    unsafe {
                        std::ptr::copy_nonoverlapping(
                            values.as_ptr(),
                            (out as *mut f32).add((row + i) * n + group * ROWS),
                            ROWS,
                        );
                    }
                }
                row += take;
            }
        }
    });
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{BlockQ8K, ROWS, Tile};

    /// The dot products of the sixteen rows of `tiles` (one row group, every superblock) with
    /// `R` input rows, into `out[..R]`.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VNNI; every input row has `tiles.len()` blocks.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn dots<const R: usize>(
        tiles: &[Tile],
        rows: [&[BlockQ8K]; R],
        out: &mut [[f32; ROWS]; super::GROUP],
    ) {
        let low4 = _mm512_set1_epi8(0xF);
        let mut acc = [_mm512_setzero_ps(); R];
        for (b, tile) in tiles.iter().enumerate() {
            let mut sumi = [_mm512_setzero_si512(); R];
            for c in 0..4 {
                let mut lo = [_mm512_setzero_si512(); R];
                let mut hi = [_mm512_setzero_si512(); R];
                for g in 0..8 {
                    // SAFETY: `qs` has 32 rows of 64 bytes, aligned to 64 (the tile is).
                    let bits = unsafe { _mm512_load_si512(tile.qs[8 * c + g].as_ptr().cast()) };
                    let q_lo = _mm512_and_si512(bits, low4);
                    let q_hi = _mm512_and_si512(_mm512_srli_epi16(bits, 4), low4);
                    for r in 0..R {
                        let y = rows[r][b].qs.as_ptr();
                        // SAFETY: `qs` has 256 values; 64c + 32 + 4g + 4 <= 256.
                        let (y_lo, y_hi) = unsafe {
                            (
                                _mm512_set1_epi32(
                                    y.add(64 * c + 4 * g).cast::<i32>().read_unaligned(),
                                ),
                                _mm512_set1_epi32(
                                    y.add(64 * c + 32 + 4 * g).cast::<i32>().read_unaligned(),
                                ),
                            )
                        };
                        lo[r] = _mm512_dpbusd_epi32(lo[r], q_lo, y_lo);
                        hi[r] = _mm512_dpbusd_epi32(hi[r], q_hi, y_hi);
                    }
                }
                // SAFETY: each scale row is 16 bytes.
                let (scale_lo, scale_hi) = unsafe {
                    (
                        _mm512_cvtepu8_epi32(_mm_loadu_si128(tile.scales[2 * c].as_ptr().cast())),
                        _mm512_cvtepu8_epi32(_mm_loadu_si128(
                            tile.scales[2 * c + 1].as_ptr().cast(),
                        )),
                    )
                };
                for r in 0..R {
                    sumi[r] = _mm512_add_epi32(
                        sumi[r],
                        _mm512_add_epi32(
                            _mm512_mullo_epi32(lo[r], scale_lo),
                            _mm512_mullo_epi32(hi[r], scale_hi),
                        ),
                    );
                }
            }
            // SAFETY: `d` and `dmin` are 16 half floats, 32 bytes each.
            let (d, dmin) = unsafe {
                (
                    _mm512_cvtph_ps(_mm256_loadu_si256(tile.d.as_ptr().cast())),
                    _mm512_cvtph_ps(_mm256_loadu_si256(tile.dmin.as_ptr().cast())),
                )
            };
            for r in 0..R {
                let y = &rows[r][b];
                // The minimums: Σ_j min_j · (sum of the input's values in sub-block j).
                let mut mins = _mm512_setzero_si512();
                for j in 0..8 {
                    // SAFETY: each minimum row is 16 bytes.
                    let min = unsafe {
                        _mm512_cvtepu8_epi32(_mm_loadu_si128(tile.mins[j].as_ptr().cast()))
                    };
                    let sum = i32::from(y.bsums[2 * j]) + i32::from(y.bsums[2 * j + 1]);
                    mins = _mm512_add_epi32(mins, _mm512_mullo_epi32(min, _mm512_set1_epi32(sum)));
                }
                let yd = _mm512_set1_ps(y.d);
                acc[r] = _mm512_fmadd_ps(_mm512_mul_ps(d, yd), _mm512_cvtepi32_ps(sumi[r]), acc[r]);
                acc[r] =
                    _mm512_fnmadd_ps(_mm512_mul_ps(dmin, yd), _mm512_cvtepi32_ps(mins), acc[r]);
            }
        }
        for r in 0..R {
            // SAFETY: a row of `out` is 16 floats.
            unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random GGUF Q4_K blocks for `rows` rows of `k` values.
    fn random_q4k(rows: usize, k: usize, seed: u64) -> Vec<BlockQ4K> {
        let mut state = seed;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..rows * k / BLOCK)
            .map(|_| {
                let mut block = BlockQ4K {
                    d: half::f16::from_f32((next() % 1000) as f32 / 1e5),
                    dmin: half::f16::from_f32((next() % 1000) as f32 / 1e5),
                    scales: [0; 12],
                    qs: [0; BLOCK / 2],
                };
                block.scales.iter_mut().for_each(|s| *s = next() as u8);
                block.qs.iter_mut().for_each(|q| *q = next() as u8);
                block
            })
            .collect()
    }

    fn bytes(blocks: &[BlockQ4K]) -> &[u8] {
        // SAFETY: plain data, read as bytes.
        unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast(), std::mem::size_of_val(blocks)) }
    }

    #[test]
    fn packed_products_match_the_plain_layout() {
        if !available() || !crate::prefill::available() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI");
            return;
        }
        let (k, n) = (1536, 48);
        let weights = random_q4k(n, k, 7);
        let tiles = pack(&weights, n);
        for m in [1, 2, 3, 4, 5, 6, 17, 33] {
            let lhs: Vec<f32> = (0..m * k)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 25.0)
                .collect();
            let mut want = vec![0f32; m * n];
            assert!(crate::prefill::matmul(
                candle_core::quantized::GgmlDType::Q4K,
                (m, k, n),
                &lhs,
                bytes(&weights),
                &mut want
            ));
            let mut got = vec![0f32; m * n];
            matmul((m, k, n), &lhs, &tiles, &mut got);
            let largest = want.iter().fold(0f32, |l, w| l.max(w.abs()));
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g - w).abs() <= 1e-5 * largest,
                    "m={m}: element {i}: {g} against {w} (largest {largest})"
                );
            }
        }
    }
}
