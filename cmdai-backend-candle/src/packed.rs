//! Q4_K and Q6_K matrices interleaved sixteen rows at a time, for AVX-512 VNNI (and AVX2).
//!
//! In the GGUF layout each row's blocks are separate, and a dot product of one row spends most
//! of its instructions unpacking that row's scales and moving 4-bit values into place (the
//! profile of a decode step on an AVX-512 Xeon: 54% in the Q4_K dot, 29% in the Q6_K one).
//! Here a tile ([`Q4KTile`], [`Q6KTile`]) holds the same superblock (256 values) of sixteen
//! consecutive rows: their quantized values as sixteen 32-bit words side by side, so that one
//! `vpdpbusd` multiplies four values of all sixteen rows by the same four input values, and
//! their scales already unpacked (one byte each). The values and scales are the GGUF file's,
//! rearranged: a Q4_K tile is 2,368 bytes where the sixteen blocks are 2,304, a Q6_K tile 3,392
//! (3,360 and padding) where they are 3,360.
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

/// One Q4_K superblock of sixteen rows.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Q4KTile {
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

const _: () = assert!(std::mem::size_of::<Q4KTile>() == 2368);

/// One Q6_K superblock of sixteen rows.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Q6KTile {
    /// Word `w` of each row's 128 bytes of low 4 bits (`ql` in GGUF), side by side.
    ql: [[u32; ROWS]; BLOCK / 8],
    /// Word `w` of each row's 64 bytes of high 2 bits (`qh`).
    qh: [[u32; ROWS]; BLOCK / 16],
    /// The 8-bit scale of sub-block `j` (16 values) of each row.
    scales: [[i8; ROWS]; BLOCK / 16],
    d: [half::f16; ROWS],
    /// Zeros, to a multiple of 64 bytes.
    padding: [u8; 32],
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
                    Level::Avx512Vnni => x86::$avx512(tiles, ahead, rows, out),
                    Level::Avx2 => x86::$avx2(tiles, ahead, rows, out),
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
fn pack_bytes<T: Packed>(weights: &[u8], rows: usize) -> Vec<u8> {
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

/// The first bytes of a packed-weights file; the number is the layout's version.
const MAGIC: &[u8; 8] = b"CMDAIPK2";
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
        self.dir.join(format!("{}.packed", &digest[..40]))
    }
}

/// One packed matrix inside a mapped packed-weights file.
#[derive(Debug, Clone)]
pub struct PackedMatrix {
    map: Arc<Mmap>,
    offset: usize,
    tiles: usize,
    dtype: GgmlDType,
}

impl PackedMatrix {
    /// Its tiles, of type `T`.
    fn tiles<T: Packed>(&self) -> &[T] {
        assert_eq!(self.dtype, T::DTYPE, "tiles of another type");
        let bytes = &self.map[self.offset..self.offset + self.tiles * std::mem::size_of::<T>()];
        // SAFETY: `PackedWeights::read` checked that the range lies inside the map and that its
        // start is aligned for `T` (the map is page-aligned, the offset a multiple of 64); a
        // tile is plain bytes and half floats, valid for any bit pattern.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), self.tiles) }
    }

    /// `dst = lhs · selfᵀ` for `lhs` of `m` rows of `k` values; `dst` is `m × n`.
    pub fn matmul(&self, mkn: (usize, usize, usize), lhs: &[f32], dst: &mut [f32]) {
        match self.dtype {
            GgmlDType::Q4K => matmul(mkn, lhs, self.tiles::<Q4KTile>(), dst),
            _ => matmul(mkn, lhs, self.tiles::<Q6KTile>(), dst),
        }
    }
}

/// Bytes of one tile of `dtype` (one this module packs).
fn tile_size(dtype: GgmlDType) -> usize {
    match dtype {
        GgmlDType::Q4K => std::mem::size_of::<Q4KTile>(),
        _ => std::mem::size_of::<Q6KTile>(),
    }
}

/// A model's packed matrices, by tensor name.
#[derive(Debug)]
pub struct PackedWeights {
    matrices: HashMap<String, PackedMatrix>,
}

impl PackedWeights {
    /// The packed form of the tensors `names` of the model in `file`, from `packing`'s file
    /// when it holds exactly them, else packed now and written there first. `None` where this
    /// CPU lacks AVX2 (see [`level`]), or no tensor qualifies (2-D Q4_K or Q6_K with a multiple of 16
    /// rows);
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
                    if matches!(info.ggml_dtype, GgmlDType::Q4K | GgmlDType::Q6K)
                        && rows.is_multiple_of(ROWS)
                        && cols.is_multiple_of(BLOCK) =>
                {
                    shapes.push(Shape {
                        name: name.clone(),
                        dtype: info.ggml_dtype,
                        rows: *rows,
                        cols: *cols,
                    });
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
        // Packing read every matrix of the model file once; those pages are not needed again.
        file.release_pages();
        match written {
            Ok(weights) => {
                tracing::info!(
                    "wrote the weights interleaved for this CPU's SIMD kernels to {} in {:.2} s (once per model)",
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

    /// Writes the packed form of `shapes` to `path`: a header (the magic, then per matrix its
    /// name, type, rows and columns), padded to a page, then the tiles. Written to a temporary
    /// file and renamed, so a reader never sees half a file.
    fn write(
        path: &Path,
        shapes: &[Shape],
        file: &MappedFile,
        content: &Content,
    ) -> std::io::Result<()> {
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        // Removed when dropped unless persisted: a failed write leaves nothing behind.
        let partial = tempfile::NamedTempFile::new_in(dir)?;
        {
            let mut out = std::io::BufWriter::new(partial.as_file());
            out.write_all(&header(shapes))?;
            for shape in shapes {
                let matrix = file
                    .matrix(content, &shape.name)
                    .ok()
                    .flatten()
                    .ok_or_else(|| {
                        std::io::Error::other(format!("{} is not mapped", shape.name))
                    })?;
                let tiles = match shape.dtype {
                    GgmlDType::Q4K => pack_bytes::<Q4KTile>(matrix.bytes(), shape.rows),
                    _ => pack_bytes::<Q6KTile>(matrix.bytes(), shape.rows),
                };
                out.write_all(&tiles)?;
            }
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        }
        partial.persist(path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Maps the file at `path` and checks it holds exactly `shapes`, whole.
    fn read(path: &Path, shapes: &[Shape]) -> Result<Self, String> {
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
        for shape in shapes {
            let tiles = shape.rows / ROWS * (shape.cols / BLOCK);
            matrices.insert(
                shape.name.clone(),
                PackedMatrix {
                    map: map.clone(),
                    offset,
                    tiles,
                    dtype: shape.dtype,
                },
            );
            offset += tiles * tile_size(shape.dtype);
        }
        if map.len() != offset {
            return Err(format!("{} bytes where {offset} were expected", map.len()));
        }
        Ok(PackedWeights { matrices })
    }
}

/// A matrix to pack.
#[derive(Debug)]
struct Shape {
    name: String,
    dtype: GgmlDType,
    rows: usize,
    cols: usize,
}

/// The header of a packed-weights file of `shapes`, padded to [`PAGE`] bytes. The tiles of the
/// matrices follow it in order, so it fixes every offset; a file is valid when its header is
/// this one and its length the header's plus the tiles'.
fn header(shapes: &[Shape]) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend((shapes.len() as u64).to_le_bytes());
    for shape in shapes {
        header.extend((shape.name.len() as u64).to_le_bytes());
        header.extend(shape.name.as_bytes());
        header.extend(format!("{:?}", shape.dtype).as_bytes());
        header.extend((shape.rows as u64).to_le_bytes());
        header.extend((shape.cols as u64).to_le_bytes());
    }
    header.resize(header.len().next_multiple_of(PAGE), 0);
    header
}

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

/// The best [`Level`] this CPU has, `None` without AVX2, FMA and F16C (or off x86).
/// `CMDAI_PACKED_KERNELS=avx2` takes the AVX2 kernels on an AVX-512 CPU (to compare them);
/// `off` runs every model on the file's own layout.
pub(crate) fn level() -> Option<Level> {
    use std::sync::OnceLock;
    static LEVEL: OnceLock<Option<Level>> = OnceLock::new();
    *LEVEL.get_or_init(|| {
        let wanted = std::env::var("CMDAI_PACKED_KERNELS").unwrap_or_default();
        if wanted == "off" {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        {
            if wanted != "avx2"
                && is_x86_feature_detected!("avx512f")
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

/// Whether [`matmul`] runs on this CPU.
pub fn available() -> bool {
    level().is_some()
}

/// Input rows a worker takes per row group: their quantized blocks stay in the cache while it
/// walks the row group's tiles.
const TILE_M: usize = 16;
/// How many tiles ahead the kernels ask for the memory they will read next.
const PREFETCH_TILES: usize = 2;
/// Input rows that share one load of a tile's values.
const GROUP: usize = 4;

/// `dst = lhs · weightsᵀ` for `lhs` of `m` rows of `k` values and `tiles` from [`pack`] of `n`
/// rows of `k` values; `dst` is `m × n`. Only where [`available`].
pub(crate) fn matmul<T: Packed>(
    (m, k, n): (usize, usize, usize),
    lhs: &[f32],
    tiles: &[T],
    dst: &mut [f32],
) {
    let level = level().expect("packed products need AVX2 and FMA at least");
    matmul_with(level, (m, k, n), lhs, tiles, dst);
}

/// [`matmul`] with the kernels of `level`.
fn matmul_with<T: Packed>(
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
    let level = level().expect("packed products need AVX2 and FMA at least");
    assert_eq!(matrices.len(), dsts.len(), "one output per matrix");
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
    // The tiles a few places on in the same row group: the kernels ask for them early. (Asking
    // for the next row group's first tiles too made decode slower: 15.7-16.2 tok/s against
    // 18.4.)
    let ahead = weights.get(PREFETCH_TILES..).unwrap_or(&[]);
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

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{BlockQ8K, Q4KTile, Q6KTile, ROWS};

    /// Asks for the cache lines of `tile`, which a kernel will read soon. Decode reads each
    /// weight once and is bound by how much memory one core keeps in flight; asking two tiles
    /// ahead made decode 21% faster on a 2-vCPU Xeon (docs/PERFORMANCE.md).
    #[target_feature(enable = "avx2,fma,f16c")]
    fn prefetch<T>(tile: &T) {
        let at = (tile as *const T).cast::<i8>();
        for line in 0..std::mem::size_of::<T>() / 64 {
            // SAFETY: a prefetch reads nothing; the address is inside the tile.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(at.add(64 * line)) };
        }
    }

    /// [`Packed::dots`](super::Packed::dots) for Q4_K.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VNNI; every input row has `tiles.len()` blocks.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn q4k_dots<const R: usize>(
        tiles: &[Q4KTile],
        ahead: &[Q4KTile],
        rows: [&[BlockQ8K]; R],
        out: &mut [[f32; ROWS]; super::GROUP],
    ) {
        let low4 = _mm512_set1_epi8(0xF);
        let mut acc = [_mm512_setzero_ps(); R];
        for (b, tile) in tiles.iter().enumerate() {
            if let Some(ahead) = ahead.get(b) {
                prefetch(ahead);
            }
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
    /// [`Packed::dots`](super::Packed::dots) for Q6_K. A value is `ql | qh << 4` minus 32; the
    /// 32 is taken off once per sub-block, through the sums of the input's values there.
    ///
    /// # Safety
    /// The CPU has AVX-512 F, BW and VNNI; every input row has `tiles.len()` blocks.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub unsafe fn q6k_dots<const R: usize>(
        tiles: &[Q6KTile],
        ahead: &[Q6KTile],
        rows: [&[BlockQ8K]; R],
        out: &mut [[f32; ROWS]; super::GROUP],
    ) {
        let low4 = _mm512_set1_epi8(0xF);
        let bits01 = _mm512_set1_epi8(0x03);
        let bits23 = _mm512_set1_epi8(0x0C);
        let bits45 = _mm512_set1_epi8(0x30);
        let mut acc = [_mm512_setzero_ps(); R];
        for (b, tile) in tiles.iter().enumerate() {
            if let Some(ahead) = ahead.get(b) {
                prefetch(ahead);
            }
            let mut sumi = [_mm512_setzero_si512(); R];
            let mut offset = [_mm512_setzero_si512(); R];
            // Values 128n + 32i + 4g + (0..4) of every row: `ql` word 16n + 8(i % 2) + g (low
            // nibbles for i < 2, high ones above) and bits 2i, 2i + 1 of `qh` word 8n + g.
            for n in 0..2 {
                for i in 0..4 {
                    for half in 0..2 {
                        let mut dot = [_mm512_setzero_si512(); R];
                        for g in 4 * half..4 * half + 4 {
                            // SAFETY: word indices below 32 (`ql`) and 16 (`qh`); the rows are
                            // 64 bytes, aligned to 64 (the tile is).
                            let (low, high) = unsafe {
                                (
                                    _mm512_load_si512(
                                        tile.ql[16 * n + 8 * (i % 2) + g].as_ptr().cast(),
                                    ),
                                    _mm512_load_si512(tile.qh[8 * n + g].as_ptr().cast()),
                                )
                            };
                            let low = match i {
                                0 | 1 => _mm512_and_si512(low, low4),
                                _ => _mm512_and_si512(_mm512_srli_epi16(low, 4), low4),
                            };
                            let high = match i {
                                0 => _mm512_slli_epi16(_mm512_and_si512(high, bits01), 4),
                                1 => _mm512_slli_epi16(_mm512_and_si512(high, bits23), 2),
                                2 => _mm512_and_si512(high, bits45),
                                _ => _mm512_and_si512(_mm512_srli_epi16(high, 2), bits45),
                            };
                            let q = _mm512_or_si512(low, high);
                            for r in 0..R {
                                // SAFETY: 128n + 32i + 4g + 4 <= 256, the length of `qs`.
                                let y = unsafe {
                                    rows[r][b]
                                        .qs
                                        .as_ptr()
                                        .add(128 * n + 32 * i + 4 * g)
                                        .cast::<i32>()
                                        .read_unaligned()
                                };
                                dot[r] = _mm512_dpbusd_epi32(dot[r], q, _mm512_set1_epi32(y));
                            }
                        }
                        let j = 8 * n + 2 * i + half;
                        // SAFETY: a scale row is 16 bytes.
                        let scale = unsafe {
                            _mm512_cvtepi8_epi32(_mm_loadu_si128(tile.scales[j].as_ptr().cast()))
                        };
                        for r in 0..R {
                            sumi[r] = _mm512_add_epi32(sumi[r], _mm512_mullo_epi32(dot[r], scale));
                            let sum = _mm512_set1_epi32(i32::from(rows[r][b].bsums[j]));
                            offset[r] = _mm512_add_epi32(offset[r], _mm512_mullo_epi32(scale, sum));
                        }
                    }
                }
            }
            // SAFETY: `d` is 16 half floats, 32 bytes.
            let d = unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(tile.d.as_ptr().cast())) };
            for r in 0..R {
                let total = _mm512_sub_epi32(sumi[r], _mm512_slli_epi32(offset[r], 5));
                acc[r] = _mm512_fmadd_ps(
                    _mm512_mul_ps(d, _mm512_set1_ps(rows[r][b].d)),
                    _mm512_cvtepi32_ps(total),
                    acc[r],
                );
            }
        }
        for r in 0..R {
            // SAFETY: a row of `out` is 16 floats.
            unsafe { _mm512_storeu_ps(out[r].as_mut_ptr(), acc[r]) };
        }
    }
    /// The first eight or last eight (`half` 0 or 1) of a tile row's sixteen bytes, widened to
    /// 32-bit lanes: unsigned, or signed with `signed`.
    #[target_feature(enable = "avx2,fma,f16c")]
    fn widen8(row: &[u8; ROWS], half: usize, signed: bool) -> __m256i {
        // SAFETY: 8 bytes from 8 * half <= 8, inside the 16.
        let bytes = unsafe { _mm_loadl_epi64(row.as_ptr().add(8 * half).cast()) };
        if signed {
            _mm256_cvtepi8_epi32(bytes)
        } else {
            _mm256_cvtepu8_epi32(bytes)
        }
    }

    /// The 8-lane half `half` of 16 half floats, as floats.
    #[target_feature(enable = "avx2,fma,f16c")]
    fn halves8(values: &[half::f16; ROWS], half: usize) -> __m256 {
        // SAFETY: 8 half floats (16 bytes) from 8 * half, inside the 16.
        _mm256_cvtph_ps(unsafe { _mm_loadu_si128(values.as_ptr().add(8 * half).cast()) })
    }

    /// Four input values from `at`, in every 32-bit lane.
    #[target_feature(enable = "avx2,fma,f16c")]
    unsafe fn broadcast4(at: *const i8) -> __m256i {
        // SAFETY: the caller passes four readable bytes.
        _mm256_set1_epi32(unsafe { at.cast::<i32>().read_unaligned() })
    }

    /// [`q4k_dots`] with 256-bit registers: rows 0-7, then 8-15. `vpmaddubsw` multiplies the
    /// 4-bit values by the input bytes in 16-bit pairs (at most 2 · 15 · 128 = 3,840, so a
    /// sub-block's eight steps add up in 16 bits without saturating), one `vpmaddwd` per
    /// sub-block makes them 32-bit.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; every input row has `tiles.len()` blocks.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn q4k_dots_avx2<const R: usize>(
        tiles: &[Q4KTile],
        ahead: &[Q4KTile],
        rows: [&[BlockQ8K]; R],
        out: &mut [[f32; ROWS]; super::GROUP],
    ) {
        let low4 = _mm256_set1_epi8(0xF);
        let ones = _mm256_set1_epi16(1);
        for half in 0..2 {
            let mut acc = [_mm256_setzero_ps(); R];
            for (b, tile) in tiles.iter().enumerate() {
                if let (0, Some(ahead)) = (half, ahead.get(b)) {
                    prefetch(ahead);
                }
                let mut sumi = [_mm256_setzero_si256(); R];
                for c in 0..4 {
                    let mut lo = [_mm256_setzero_si256(); R];
                    let mut hi = [_mm256_setzero_si256(); R];
                    for g in 0..8 {
                        // SAFETY: 8 words from 8 * half, inside the row of 16.
                        let bits = unsafe {
                            _mm256_loadu_si256(tile.qs[8 * c + g].as_ptr().add(8 * half).cast())
                        };
                        let q_lo = _mm256_and_si256(bits, low4);
                        let q_hi = _mm256_and_si256(_mm256_srli_epi16(bits, 4), low4);
                        for r in 0..R {
                            let y = rows[r][b].qs.as_ptr();
                            // SAFETY: 64c + 32 + 4g + 4 <= 256, the length of `qs`.
                            let (y_lo, y_hi) = unsafe {
                                (
                                    broadcast4(y.add(64 * c + 4 * g)),
                                    broadcast4(y.add(64 * c + 32 + 4 * g)),
                                )
                            };
                            lo[r] = _mm256_add_epi16(lo[r], _mm256_maddubs_epi16(q_lo, y_lo));
                            hi[r] = _mm256_add_epi16(hi[r], _mm256_maddubs_epi16(q_hi, y_hi));
                        }
                    }
                    let scale_lo = widen8(&tile.scales[2 * c], half, false);
                    let scale_hi = widen8(&tile.scales[2 * c + 1], half, false);
                    for r in 0..R {
                        let lo = _mm256_madd_epi16(lo[r], ones);
                        let hi = _mm256_madd_epi16(hi[r], ones);
                        sumi[r] = _mm256_add_epi32(
                            sumi[r],
                            _mm256_add_epi32(
                                _mm256_mullo_epi32(lo, scale_lo),
                                _mm256_mullo_epi32(hi, scale_hi),
                            ),
                        );
                    }
                }
                let (d, dmin) = (halves8(&tile.d, half), halves8(&tile.dmin, half));
                for r in 0..R {
                    let y = &rows[r][b];
                    let mut mins = _mm256_setzero_si256();
                    for j in 0..8 {
                        let sum = i32::from(y.bsums[2 * j]) + i32::from(y.bsums[2 * j + 1]);
                        mins = _mm256_add_epi32(
                            mins,
                            _mm256_mullo_epi32(
                                widen8(&tile.mins[j], half, false),
                                _mm256_set1_epi32(sum),
                            ),
                        );
                    }
                    let yd = _mm256_set1_ps(y.d);
                    acc[r] =
                        _mm256_fmadd_ps(_mm256_mul_ps(d, yd), _mm256_cvtepi32_ps(sumi[r]), acc[r]);
                    acc[r] =
                        _mm256_fnmadd_ps(_mm256_mul_ps(dmin, yd), _mm256_cvtepi32_ps(mins), acc[r]);
                }
            }
            for r in 0..R {
                // SAFETY: 8 floats from 8 * half, inside the row of 16.
                unsafe { _mm256_storeu_ps(out[r].as_mut_ptr().add(8 * half), acc[r]) };
            }
        }
    }

    /// [`q6k_dots`] with 256-bit registers: rows 0-7, then 8-15. The 6-bit values reach 63, so
    /// each `vpmaddubsw` pair sum (at most 2 · 63 · 128) is widened by `vpmaddwd` at once.
    ///
    /// # Safety
    /// The CPU has AVX2, FMA and F16C; every input row has `tiles.len()` blocks.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn q6k_dots_avx2<const R: usize>(
        tiles: &[Q6KTile],
        ahead: &[Q6KTile],
        rows: [&[BlockQ8K]; R],
        out: &mut [[f32; ROWS]; super::GROUP],
    ) {
        let low4 = _mm256_set1_epi8(0xF);
        let bits01 = _mm256_set1_epi8(0x03);
        let bits23 = _mm256_set1_epi8(0x0C);
        let bits45 = _mm256_set1_epi8(0x30);
        let ones = _mm256_set1_epi16(1);
        for half in 0..2 {
            let mut acc = [_mm256_setzero_ps(); R];
            for (b, tile) in tiles.iter().enumerate() {
                if let (0, Some(ahead)) = (half, ahead.get(b)) {
                    prefetch(ahead);
                }
                let mut sumi = [_mm256_setzero_si256(); R];
                let mut offset = [_mm256_setzero_si256(); R];
                for n in 0..2 {
                    for i in 0..4 {
                        for part in 0..2 {
                            let mut dot = [_mm256_setzero_si256(); R];
                            for g in 4 * part..4 * part + 4 {
                                // SAFETY: word indices below 32 (`ql`) and 16 (`qh`); 8 words
                                // from 8 * half, inside the rows of 16.
                                let (low, high) = unsafe {
                                    (
                                        _mm256_loadu_si256(
                                            tile.ql[16 * n + 8 * (i % 2) + g]
                                                .as_ptr()
                                                .add(8 * half)
                                                .cast(),
                                        ),
                                        _mm256_loadu_si256(
                                            tile.qh[8 * n + g].as_ptr().add(8 * half).cast(),
                                        ),
                                    )
                                };
                                let low = match i {
                                    0 | 1 => _mm256_and_si256(low, low4),
                                    _ => _mm256_and_si256(_mm256_srli_epi16(low, 4), low4),
                                };
                                let high = match i {
                                    0 => _mm256_slli_epi16(_mm256_and_si256(high, bits01), 4),
                                    1 => _mm256_slli_epi16(_mm256_and_si256(high, bits23), 2),
                                    2 => _mm256_and_si256(high, bits45),
                                    _ => _mm256_and_si256(_mm256_srli_epi16(high, 2), bits45),
                                };
                                let q = _mm256_or_si256(low, high);
                                for r in 0..R {
                                    // SAFETY: 128n + 32i + 4g + 4 <= 256, the length of `qs`.
                                    let y = unsafe {
                                        broadcast4(
                                            rows[r][b].qs.as_ptr().add(128 * n + 32 * i + 4 * g),
                                        )
                                    };
                                    dot[r] = _mm256_add_epi32(
                                        dot[r],
                                        _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones),
                                    );
                                }
                            }
                            let j = 8 * n + 2 * i + part;
                            // The scales are signed bytes.
                            let scale = widen8(
                                // SAFETY: i8 and u8 have the same layout.
                                unsafe { &*tile.scales[j].as_ptr().cast::<[u8; ROWS]>() },
                                half,
                                true,
                            );
                            for r in 0..R {
                                sumi[r] =
                                    _mm256_add_epi32(sumi[r], _mm256_mullo_epi32(dot[r], scale));
                                let sum = _mm256_set1_epi32(i32::from(rows[r][b].bsums[j]));
                                offset[r] =
                                    _mm256_add_epi32(offset[r], _mm256_mullo_epi32(scale, sum));
                            }
                        }
                    }
                }
                let d = halves8(&tile.d, half);
                for r in 0..R {
                    let total = _mm256_sub_epi32(sumi[r], _mm256_slli_epi32(offset[r], 5));
                    acc[r] = _mm256_fmadd_ps(
                        _mm256_mul_ps(d, _mm256_set1_ps(rows[r][b].d)),
                        _mm256_cvtepi32_ps(total),
                        acc[r],
                    );
                }
            }
            for r in 0..R {
                // SAFETY: 8 floats from 8 * half, inside the row of 16.
                unsafe { _mm256_storeu_ps(out[r].as_mut_ptr().add(8 * half), acc[r]) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
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

    /// Products through the tiles against `prefill.rs`'s on the GGUF layout, for input row
    /// counts that take every kernel width and more than one worker tile.
    fn agrees_with_the_plain_layout<T: Packed>(scales: &[usize]) {
        let levels: &[Level] = match level() {
            Some(Level::Avx512Vnni) => &[Level::Avx512Vnni, Level::Avx2],
            Some(Level::Avx2) => &[Level::Avx2],
            None => &[],
        };
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
                matmul_with(level, (m, k, n), &lhs, &tiles, &mut got);
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

    #[test]
    fn packed_q4k_products_match_the_plain_layout() {
        agrees_with_the_plain_layout::<Q4KTile>(&[0, 2]);
    }

    #[test]
    fn packed_q6k_products_match_the_plain_layout() {
        agrees_with_the_plain_layout::<Q6KTile>(&[208]);
    }
}
