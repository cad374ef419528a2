//! The packed-weights file: a header naming each matrix, its GGML type and its shape, padded
//! to a page, then the tiles of every matrix in order; written once per model and mapped by
//! every later process.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::Content;
use memmap2::Mmap;
use sha2::{Digest, Sha256};

use super::layout::pack_bytes;
use super::{CpuKernels, Level, Packed, Q4KTile, Q6KTile, ROWS, level, matmul};
use crate::mapped::MappedFile;
use crate::prefill::BLOCK;

/// Why a packed-weights file could not be used or written. Each is logged and the file
/// rebuilt, or the model run on the GGUF file's own layout.
#[derive(Debug, thiserror::Error)]
enum PackedFileError {
    /// The file could not be created, written, opened or mapped.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The file was written by an older build, in another version of the format: expected
    /// once after an upgrade, not a fault.
    #[error("it was written in format {0}, this build writes format {current}", current = MAGIC[7] as char)]
    OlderFormat(char),
    /// The header is not the one these matrices would have: another model's, another set of
    /// matrices, or a damaged file.
    #[error("its header is not that of this model's matrices")]
    Header,
    /// The file is longer or shorter than its header and tiles.
    #[error("{actual} bytes where {expected} were expected")]
    Length {
        /// Bytes in the file.
        actual: usize,
        /// Bytes of the header and the tiles it describes.
        expected: usize,
    },
    /// A matrix to pack could not be found in the mapped model file.
    #[error("{0} is not mapped")]
    NotMapped(String),
}

/// The first bytes of a packed-weights file; the number is the format's version. Version 3
/// records each matrix's type as its GGML type id (version 2 wrote candle's name for it);
/// version 4 puts a tile's scales before its values. A file of an older version is told from a
/// damaged one by this magic's last byte, and is rebuilt either way.
const MAGIC: &[u8; 8] = b"CMDAIPK4";
/// Hashed into the file name with the model's identity. It is version 2's magic, and stays so
/// when the format changes: a file written by an older build is then found at the same path,
/// rejected by its header and replaced, rather than left behind beside the new one.
const NAME_SALT: &[u8; 8] = b"CMDAIPK2";
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
        hasher.update(NAME_SALT);
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
    pub(super) dtype: GgmlDType,
    /// The kernels its products run with.
    pub(super) level: Level,
}

impl PackedMatrix {
    /// Its tiles, of type `T`.
    pub(super) fn tiles<T: Packed>(&self) -> &[T] {
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
            GgmlDType::Q4K => matmul(self.level, mkn, lhs, self.tiles::<Q4KTile>(), dst),
            _ => matmul(self.level, mkn, lhs, self.tiles::<Q6KTile>(), dst),
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
    /// when it holds exactly them, else packed now and written there first, to run with
    /// `kernels`. `None` where this CPU lacks AVX2 (see [`level`](super::level)) or `kernels`
    /// asks for the file's layout, or no tensor qualifies (2-D Q4_K or Q6_K with a multiple of
    /// 16 rows); also when the file can be neither read nor written (a read-only cache: the
    /// model then runs on the file's own layout, and the reason is logged).
    pub fn open_or_build(
        packing: &Packing,
        kernels: CpuKernels,
        file: &MappedFile,
        content: &Content,
        names: &[String],
    ) -> Option<Self> {
        let level = level(kernels)?;
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
            match Self::read(&path, &shapes, level) {
                Ok(weights) => return Some(weights),
                Err(reason) => {
                    // An older build's file is expected once after an upgrade; anything else
                    // is worth a warning.
                    if matches!(reason, PackedFileError::OlderFormat(_)) {
                        tracing::info!("rewriting {}: {reason}", path.display());
                    } else {
                        tracing::warn!("rebuilding {}: {reason}", path.display());
                    }
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        let started = std::time::Instant::now();
        let written = Self::write(&path, &shapes, file, content)
            .and_then(|()| Self::read(&path, &shapes, level));
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
    /// name, GGML type id, rows and columns), padded to a page, then the tiles. Written to a
    /// temporary file and renamed, so a reader never sees half a file.
    fn write(
        path: &Path,
        shapes: &[Shape],
        file: &MappedFile,
        content: &Content,
    ) -> Result<(), PackedFileError> {
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
                    .ok_or_else(|| PackedFileError::NotMapped(shape.name.clone()))?;
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
    fn read(path: &Path, shapes: &[Shape], level: Level) -> Result<Self, PackedFileError> {
        let file = std::fs::File::open(path)?;
        // SAFETY: read-only; cmdai never changes a packed file in place (it is renamed into
        // place whole, and removed rather than rewritten when invalid).
        let map = Arc::new(unsafe { Mmap::map(&file) }?);
        let expected = header(shapes);
        // The magic's last byte is the version.
        let (name, version) = MAGIC.split_at(MAGIC.len() - 1);
        if let Some([stale]) = map.get(name.len()..MAGIC.len())
            && map.starts_with(name)
            && *stale != version[0]
        {
            return Err(PackedFileError::OlderFormat(*stale as char));
        }
        if map.len() < expected.len() || map[..expected.len()] != expected[..] {
            return Err(PackedFileError::Header);
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
                    level,
                },
            );
            offset += tiles * tile_size(shape.dtype);
        }
        if map.len() != offset {
            return Err(PackedFileError::Length {
                actual: map.len(),
                expected: offset,
            });
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

/// The header of a packed-weights file of `shapes`, padded to [`PAGE`] bytes: [`MAGIC`], the
/// number of matrices (u64), then per matrix the length of its name (u64), the name, its GGML
/// type id (u32, as in GGUF) and its rows and columns (u64 each), all little-endian. The tiles
/// of the matrices follow it in order, so it fixes every offset; a file is valid when its header
/// is this one and its length the header's plus the tiles'.
fn header(shapes: &[Shape]) -> Vec<u8> {
    let mut header = MAGIC.to_vec();
    header.extend((shapes.len() as u64).to_le_bytes());
    for shape in shapes {
        header.extend((shape.name.len() as u64).to_le_bytes());
        header.extend(shape.name.as_bytes());
        header.extend(ggml_type_id(shape.dtype).to_le_bytes());
        header.extend((shape.rows as u64).to_le_bytes());
        header.extend((shape.cols as u64).to_le_bytes());
    }
    header.resize(header.len().next_multiple_of(PAGE), 0);
    header
}

/// The id GGUF files and ggml (`enum ggml_type` in `ggml.h`) give `dtype`; candle keeps its own
/// conversion private. Only Q4_K and Q6_K are packed, the rest is for completeness.
fn ggml_type_id(dtype: GgmlDType) -> u32 {
    match dtype {
        GgmlDType::F32 => 0,
        GgmlDType::F16 => 1,
        GgmlDType::Q4_0 => 2,
        GgmlDType::Q4_1 => 3,
        GgmlDType::Q5_0 => 6,
        GgmlDType::Q5_1 => 7,
        GgmlDType::Q8_0 => 8,
        GgmlDType::Q8_1 => 9,
        GgmlDType::Q2K => 10,
        GgmlDType::Q3K => 11,
        GgmlDType::Q4K => 12,
        GgmlDType::Q5K => 13,
        GgmlDType::Q6K => 14,
        GgmlDType::Q8K => 15,
        GgmlDType::BF16 => 30,
    }
}

#[cfg(test)]
mod tests {
    use candle_core::quantized::{QTensor, gguf_file};
    use candle_core::{Device, Tensor};

    use super::*;

    /// One matrix of each packed type, small.
    fn shapes() -> Vec<Shape> {
        vec![
            Shape {
                name: "blk.0.ffn_up.weight".into(),
                dtype: GgmlDType::Q4K,
                rows: 32,
                cols: 2 * BLOCK,
            },
            Shape {
                name: "output.weight".into(),
                dtype: GgmlDType::Q6K,
                rows: ROWS,
                cols: BLOCK,
            },
        ]
    }

    /// Bytes of the tiles of `shapes`.
    fn tiles_len(shapes: &[Shape]) -> usize {
        shapes
            .iter()
            .map(|s| s.rows / ROWS * (s.cols / BLOCK) * tile_size(s.dtype))
            .sum()
    }

    /// `header` followed by as many bytes (zeros) as the tiles of `shapes` take.
    fn file_with(header: &[u8], shapes: &[Shape]) -> Vec<u8> {
        let mut bytes = header.to_vec();
        bytes.resize(header.len() + tiles_len(shapes), 0);
        bytes
    }

    /// The header builds of format 2 wrote: the type as candle's name for it (`Q4K`).
    fn format_2_header(shapes: &[Shape]) -> Vec<u8> {
        let mut header = b"CMDAIPK2".to_vec();
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

    /// The header builds of format 3 wrote: today's but for the version (their tiles had the
    /// scales after the values).
    fn format_3_header(shapes: &[Shape]) -> Vec<u8> {
        let mut header = header(shapes);
        header[..MAGIC.len()].copy_from_slice(b"CMDAIPK3");
        header
    }

    #[test]
    fn the_header_records_ggml_type_ids_and_round_trips() {
        let shapes = shapes();
        let header = header(&shapes);
        assert_eq!(&header[..8], b"CMDAIPK4");
        // The first matrix's type id follows the count, its name's length and its name.
        let at = 8 + 8 + 8 + shapes[0].name.len();
        assert_eq!(header[at..at + 4], 12u32.to_le_bytes(), "Q4_K is type 12");
        let at = at + 4 + 16 + 8 + shapes[1].name.len();
        assert_eq!(header[at..at + 4], 14u32.to_le_bytes(), "Q6_K is type 14");

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.packed");
        std::fs::write(&path, file_with(&header, &shapes)).unwrap();
        let weights = PackedWeights::read(&path, &shapes, Level::Avx2).unwrap();
        let mut offset = header.len();
        for shape in &shapes {
            let matrix = weights.matrix(&shape.name).unwrap();
            assert_eq!(matrix.dtype, shape.dtype);
            assert_eq!(matrix.offset, offset);
            assert_eq!(matrix.tiles, shape.rows / ROWS * (shape.cols / BLOCK));
            offset += matrix.tiles * tile_size(shape.dtype);
        }
    }

    /// Format 2 wrote the type as text where format 3 writes a number, and format 3 had the
    /// scales after the values: a file of an old format read as the new one would be garbage,
    /// so it must be refused, as an older format (rebuilt without a warning).
    #[test]
    fn headers_of_older_formats_are_stale() {
        let shapes = shapes();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.packed");
        std::fs::write(&path, file_with(&format_2_header(&shapes), &shapes)).unwrap();
        assert!(matches!(
            PackedWeights::read(&path, &shapes, Level::Avx2),
            Err(PackedFileError::OlderFormat('2'))
        ));
        std::fs::write(&path, file_with(&format_3_header(&shapes), &shapes)).unwrap();
        assert!(matches!(
            PackedWeights::read(&path, &shapes, Level::Avx2),
            Err(PackedFileError::OlderFormat('3'))
        ));
    }

    #[test]
    fn a_file_of_the_wrong_length_is_refused() {
        let shapes = shapes();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.packed");
        let mut bytes = file_with(&header(&shapes), &shapes);
        let expected = bytes.len();
        bytes.truncate(expected - 1);
        std::fs::write(&path, &bytes).unwrap();
        let error = PackedWeights::read(&path, &shapes, Level::Avx2).unwrap_err();
        assert!(matches!(error, PackedFileError::Length { actual, .. } if actual == expected - 1));
        assert_eq!(
            error.to_string(),
            format!("{} bytes where {expected} were expected", expected - 1)
        );
    }

    /// The file name must not follow the format's version: a file of an older build would
    /// otherwise never be looked at again, and stay in the cache beside the new one.
    #[test]
    fn the_file_name_is_that_of_format_2() {
        let packing = Packing {
            dir: PathBuf::from("cache"),
            identity: "sha256:abc".into(),
        };
        assert_eq!(
            packing.file(),
            Path::new("cache/24f2925ebf9f4dc110f6d933e19c6b5ead98c6f7.packed")
        );
    }

    /// A model file with `shapes`' matrices, random weights.
    fn write_model(path: &Path, shapes: &[Shape]) {
        let tensors: Vec<(String, QTensor)> = shapes
            .iter()
            .map(|shape| {
                let values: Vec<f32> = (0..shape.rows * shape.cols)
                    .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                    .collect();
                let tensor =
                    Tensor::from_vec(values, (shape.rows, shape.cols), &Device::Cpu).unwrap();
                (
                    shape.name.clone(),
                    QTensor::quantize(&tensor, shape.dtype).unwrap(),
                )
            })
            .collect();
        let refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let mut out = std::fs::File::create(path).unwrap();
        gguf_file::write(&mut out, &[], &refs).unwrap();
    }

    /// A packed-weights file left by a build of format 2 or 3 is replaced by one of this format,
    /// in the same place, rather than mapped.
    #[test]
    fn files_of_older_formats_are_rebuilt() {
        if level(CpuKernels::Best).is_none() {
            eprintln!("skipped: this CPU has no AVX2");
            return;
        }
        let shapes = shapes();
        for (format, stale_header) in [(2, format_2_header(&shapes)), (3, format_3_header(&shapes))]
        {
            let dir = tempfile::tempdir().unwrap();
            let model = dir.path().join("model.gguf");
            write_model(&model, &shapes);
            let gguf = crate::GgufFile::open(&model).unwrap();
            let file = MappedFile::new(&std::fs::File::open(&model).unwrap()).unwrap();
            let packing = Packing {
                dir: dir.path().join("packed"),
                identity: "test".into(),
            };
            std::fs::create_dir_all(&packing.dir).unwrap();
            let stale = file_with(&stale_header, &shapes);
            std::fs::write(packing.file(), &stale).unwrap();

            let names: Vec<String> = shapes.iter().map(|s| s.name.clone()).collect();
            let weights = PackedWeights::open_or_build(
                &packing,
                CpuKernels::Best,
                &file,
                &gguf.content,
                &names,
            );
            assert!(weights.is_some(), "format {format}: rebuilt and mapped");
            let none = PackedWeights::open_or_build(
                &packing,
                CpuKernels::FileLayout,
                &file,
                &gguf.content,
                &names,
            );
            assert!(none.is_none(), "the file's layout was asked for");
            let written = std::fs::read(packing.file()).unwrap();
            let header = header(&shapes);
            assert_eq!(written[..header.len()], header[..], "format {format}");
            assert_ne!(
                written,
                file_with(&header, &shapes),
                "format {format}: tiles written"
            );
            assert_eq!(written.len(), header.len() + tiles_len(&shapes));
            assert_eq!(std::fs::read_dir(&packing.dir).unwrap().count(), 1);
        }
    }
}
