//! Opening a GGUF file: header, metadata, and a bounds check of the tensor table against the
//! file size, so a truncated download fails before any weight is read.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use candle_core::quantized::gguf_file::Content;

use crate::error::{CandleError, Result};

/// An opened GGUF file whose header and tensor table have been checked.
#[derive(Debug)]
pub struct GgufFile {
    /// Where it is.
    pub path: PathBuf,
    /// Header, metadata and tensor table.
    pub content: Content,
    /// The open file, positioned anywhere.
    pub reader: BufReader<File>,
}

impl GgufFile {
    /// Opens `path` and checks that every tensor's data lies inside the file.
    pub fn open(path: &Path) -> Result<Self> {
        let io = |error| CandleError::Io {
            path: path.to_owned(),
            error,
        };
        let file = File::open(path).map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        let mut tracked = Tracked {
            inner: BufReader::new(file),
            position: 0,
        };
        let content = read_checked(path, &mut tracked, size)?;
        Ok(GgufFile {
            path: path.to_owned(),
            content,
            reader: tracked.inner,
        })
    }
}

/// A reader that knows its position. candle's GGUF reader asks for it before every string (a
/// vocabulary has 150,000 of them, and as many merges), and a `BufReader<File>` answers with an
/// `lseek` system call each time: 0.1 s of every model load, measured with the default model.
struct Tracked<R> {
    inner: R,
    position: u64,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.position += read as u64;
        Ok(read)
    }
}

impl<R: Seek> Seek for Tracked<R> {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.position = self.inner.seek(to)?;
        Ok(self.position)
    }

    fn stream_position(&mut self) -> std::io::Result<u64> {
        Ok(self.position)
    }
}

/// Reads the header and tensor table of the `size`-byte GGUF data in `reader` (named `path` in
/// errors) and checks that every tensor's data lies inside it.
pub(crate) fn read_checked<R: Read + Seek>(
    path: &Path,
    reader: &mut R,
    size: u64,
) -> Result<Content> {
    // candle appends a backtrace when RUST_BACKTRACE is set; the reason is its first line.
    let content = Content::read(reader).map_err(|e| CandleError::InvalidGguf {
        path: path.to_owned(),
        reason: e.to_string().lines().next().unwrap_or_default().to_owned(),
    })?;
    // The tensor reaching furthest tells how long the file must be.
    let mut furthest: Option<(&String, u64)> = None;
    for (name, info) in &content.tensor_infos {
        let dtype = info.ggml_dtype;
        let elements = info
            .shape
            .dims()
            .iter()
            .try_fold(1u64, |n, &d| n.checked_mul(d as u64));
        let block = dtype.block_size() as u64;
        let Some(elements) = elements.filter(|e| e.is_multiple_of(block)) else {
            return Err(CandleError::InvalidGguf {
                path: path.to_owned(),
                reason: format!(
                    "tensor `{name}` has a shape {:?} that is too large or not a multiple of its block size {block}",
                    info.shape.dims()
                ),
            });
        };
        let bytes = (elements / block).saturating_mul(dtype.type_size() as u64);
        let end = content
            .tensor_data_offset
            .saturating_add(info.offset)
            .saturating_add(bytes);
        if furthest.is_none_or(|(_, max)| end > max) {
            furthest = Some((name, end));
        }
    }
    if let Some((name, end)) = furthest.filter(|(_, end)| *end > size) {
        return Err(CandleError::Truncated {
            path: path.to_owned(),
            tensor: name.clone(),
            needed: end,
            actual: size,
        });
    }
    Ok(content)
}
