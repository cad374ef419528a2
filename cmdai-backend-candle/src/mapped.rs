//! Weights used in place from the memory-mapped GGUF file, for the CPU.
//!
//! candle's `QTensor` owns its data, so loading through it copies the whole file into memory,
//! and on x86 its first matmul with each Q4_K matrix repacks it into a second copy: 2.3 GB peak
//! for the 1.1 GB default model, and seconds of repacking in every new process, which a
//! one-shot command-line tool pays on every request. Here the quantized blocks stay where the
//! kernel's page cache already has them (shared by every cmdai process, nothing to copy at
//! load), and the matrix products run candle's own quantized kernels on them
//! (`k_quants::matmul`: the input quantized once, then dot products split across candle's
//! thread pool).
//!
//! Products with the block types that most of a model is made of (Q4_K, Q6_K) go to this
//! crate's own kernels (`prefill/`, `packed/`), for several input rows at once (prefill) and for
//! one (decode); other types go to candle's.
//!
//! Mapping a file and viewing its bytes as quantized blocks cannot be done without `unsafe`;
//! `docs/ARCHITECTURE.md` ("Unsafe code") lists every module that has some, and a test keeps
//! that list true.
#![allow(unsafe_code)]

use std::fs::File;
use std::sync::Arc;

use candle_core::quantized::GgmlDType;
use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::k_quants::{self, GgmlType};
use candle_core::{Device, Storage, Tensor};
use memmap2::Mmap;

use crate::error::{CandleError, Result};
use crate::packed::PackedMatrix;
use crate::prefill;

/// Runs `$body` with `$T` the block type of `$dtype`.
macro_rules! with_block_type {
    ($dtype:expr, $T:ident => $body:expr) => {{
        use candle_core::quantized::k_quants::*;
        match $dtype {
            GgmlDType::F32 => {
                type $T = f32;
                $body
            }
            GgmlDType::F16 => {
                type $T = half::f16;
                $body
            }
            GgmlDType::BF16 => {
                type $T = half::bf16;
                $body
            }
            GgmlDType::Q4_0 => {
                type $T = BlockQ4_0;
                $body
            }
            GgmlDType::Q4_1 => {
                type $T = BlockQ4_1;
                $body
            }
            GgmlDType::Q5_0 => {
                type $T = BlockQ5_0;
                $body
            }
            GgmlDType::Q5_1 => {
                type $T = BlockQ5_1;
                $body
            }
            GgmlDType::Q8_0 => {
                type $T = BlockQ8_0;
                $body
            }
            GgmlDType::Q8_1 => {
                type $T = BlockQ8_1;
                $body
            }
            GgmlDType::Q2K => {
                type $T = BlockQ2K;
                $body
            }
            GgmlDType::Q3K => {
                type $T = BlockQ3K;
                $body
            }
            GgmlDType::Q4K => {
                type $T = BlockQ4K;
                $body
            }
            GgmlDType::Q5K => {
                type $T = BlockQ5K;
                $body
            }
            GgmlDType::Q6K => {
                type $T = BlockQ6K;
                $body
            }
            GgmlDType::Q8K => {
                type $T = BlockQ8K;
                $body
            }
        }
    }};
}

/// The model file, mapped read-only.
#[derive(Debug, Clone)]
pub struct MappedFile {
    map: Arc<Mmap>,
}

impl MappedFile {
    /// Maps `file`. The caller has checked (see `gguf::read_checked`) that every tensor lies
    /// inside it. cmdai never changes a model file in place (downloads are renamed into the
    /// cache whole), so the mapping stays valid.
    pub fn new(file: &File) -> std::io::Result<Self> {
        // SAFETY: the map is read-only and the file is not modified while cmdai runs (see
        // above); a file truncated by another program underneath would end the process with
        // SIGBUS, as it does for llama.cpp, rather than read wrong weights.
        let map = unsafe { Mmap::map(file)? };
        Ok(MappedFile { map: Arc::new(map) })
    }

    /// Lets the operating system take back the pages of the file this process has read so far
    /// (they are read again from the page cache if used). Called after the weights were
    /// rearranged into a file of their own, which read all of them once.
    pub fn release_pages(&self) {
        // SAFETY: the map is read-only and file-backed: dropping its pages loses nothing, a
        // later access reads them from the file again.
        if let Err(error) = unsafe {
            self.map
                .unchecked_advise(memmap2::UncheckedAdvice::DontNeed)
        } {
            tracing::debug!("madvise(DONTNEED) on the model file: {error}");
        }
    }

    /// The matrix `name` (`[rows, cols]` in candle's order) in place, or `None` when its data
    /// is not aligned for its block type (files written with `general.alignment` below the
    /// usual 32 bytes), which the caller then reads into memory instead.
    pub fn matrix(&self, content: &Content, name: &str) -> Result<Option<MappedMatrix>> {
        let info = content
            .tensor_infos
            .get(name)
            .ok_or_else(|| CandleError::MissingTensor {
                name: name.to_owned(),
                arch: "GGUF",
            })?;
        let (rows, cols) = match info.shape.dims() {
            [rows, cols] => (*rows, *cols),
            dims => {
                return Err(CandleError::TensorShape {
                    name: name.to_owned(),
                    expected: vec![0, 0],
                    found: dims.to_vec(),
                });
            }
        };
        let dtype = info.ggml_dtype;
        let invalid = |reason: String| CandleError::InvalidMetadata {
            key: name.to_owned(),
            reason,
        };
        if cols % dtype.block_size() != 0 {
            return Err(invalid(format!(
                "rows of {cols} values do not divide into {dtype:?} blocks of {}",
                dtype.block_size()
            )));
        }
        let offset = usize::try_from(content.tensor_data_offset + info.offset)
            .map_err(|_| invalid("offset beyond the address space".into()))?;
        let len = rows * cols / dtype.block_size() * dtype.type_size();
        let align = with_block_type!(dtype, T => std::mem::align_of::<T>());
        if offset + len > self.map.len() {
            return Err(invalid(format!(
                "{len} bytes at byte {offset} are outside the file"
            )));
        }
        if !(self.map.as_ptr() as usize + offset).is_multiple_of(align) {
            return Ok(None);
        }
        Ok(Some(MappedMatrix {
            file: self.clone(),
            offset,
            len,
            dtype,
            rows,
            cols,
            packed: None,
        }))
    }
}

/// A quantized matrix inside a [`MappedFile`].
#[derive(Debug, Clone)]
pub struct MappedMatrix {
    file: MappedFile,
    offset: usize,
    len: usize,
    dtype: GgmlDType,
    rows: usize,
    cols: usize,
    /// The same matrix interleaved for SIMD kernels (`packed/`), where the CPU has them.
    packed: Option<PackedMatrix>,
}

impl MappedMatrix {
    /// This matrix, multiplied through `packed` (its tiles from `packed/`) from now on.
    pub fn with_packed(self, packed: Option<PackedMatrix>) -> Self {
        MappedMatrix { packed, ..self }
    }

    /// Its bytes in the file.
    pub fn bytes(&self) -> &[u8] {
        &self.file.map[self.offset..self.offset + self.len]
    }

    fn blocks<T: GgmlType>(&self) -> &[T] {
        let bytes = &self.file.map[self.offset..self.offset + self.len];
        // SAFETY: `MappedFile::matrix` checked the range lies inside the map, that its start is
        // aligned for `T`, and that it holds whole blocks of the tensor's type, which is `T`
        // (chosen by `with_block_type!` from the same dtype). Block types are plain data.
        unsafe {
            std::slice::from_raw_parts(
                bytes.as_ptr().cast::<T>(),
                self.len / std::mem::size_of::<T>(),
            )
        }
    }

    /// `x @ selfᵀ` for an f32 `x` of shape `[..., cols]`: `[..., rows]`.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let x = x.contiguous()?;
        let mut dims = x.dims().to_vec();
        let k = dims.last().copied().unwrap_or(0);
        if k != self.cols {
            candle_core::bail!(
                "input of width {k} for a matrix with rows of {} values",
                self.cols
            );
        }
        let m = x.elem_count() / k.max(1);
        let n = self.rows;
        let mut dst = vec![0f32; m * n];
        {
            let (storage, layout) = x.storage_and_layout();
            let Storage::Cpu(cpu) = &*storage else {
                candle_core::bail!("mapped weights run on the CPU only");
            };
            let lhs = &cpu.as_slice::<f32>()?[layout.start_offset()..][..m * k];
            let bytes = &self.file.map[self.offset..self.offset + self.len];
            if let Some(packed) = &self.packed {
                packed.matmul((m, k, n), lhs, &mut dst);
            } else if !prefill::matmul(self.dtype, (m, k, n), lhs, bytes, &mut dst) {
                with_block_type!(self.dtype, T => k_quants::matmul::<T>((m, k, n), lhs, self.blocks::<T>(), &mut dst))?;
            }
        }
        if let Some(last) = dims.last_mut() {
            *last = n;
        }
        Tensor::from_vec(dst, dims, &Device::Cpu)
    }

    /// `x @ mᵀ` for each of `matrices`, all interleaved (`packed/`) and as wide as `x`, in
    /// one pass of the thread pool; `None` when one of them is not interleaved.
    pub fn forward_many(
        x: &Tensor,
        matrices: &[&MappedMatrix],
    ) -> candle_core::Result<Option<Vec<Tensor>>> {
        let Some(packed) = matrices
            .iter()
            .map(|matrix| matrix.packed.as_ref())
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        let x = x.contiguous()?;
        let dims = x.dims().to_vec();
        let k = dims.last().copied().unwrap_or(0);
        if matrices.iter().any(|matrix| matrix.cols != k) {
            return Ok(None);
        }
        let m = x.elem_count() / k.max(1);
        let mut dsts: Vec<Vec<f32>> = matrices
            .iter()
            .map(|matrix| vec![0f32; m * matrix.rows])
            .collect();
        {
            let (storage, layout) = x.storage_and_layout();
            let Storage::Cpu(cpu) = &*storage else {
                candle_core::bail!("mapped weights run on the CPU only");
            };
            let lhs = &cpu.as_slice::<f32>()?[layout.start_offset()..][..m * k];
            crate::packed::matmul_many((m, k), lhs, &packed, &mut dsts);
        }
        let outputs = dsts
            .into_iter()
            .zip(matrices)
            .map(|(dst, matrix)| {
                let mut shape = dims.clone();
                if let Some(last) = shape.last_mut() {
                    *last = matrix.rows;
                }
                Tensor::from_vec(dst, shape, &Device::Cpu)
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Some(outputs))
    }

    /// The rows `ids`, dequantized: `[ids.len(), cols]` f32. Only those rows are read.
    pub fn rows_of(&self, ids: &[u32]) -> candle_core::Result<Tensor> {
        let width = self.cols;
        let mut out = vec![0f32; ids.len() * width];
        with_block_type!(self.dtype, T => {
            let blocks = self.blocks::<T>();
            let per_row = width / T::BLCK_SIZE;
            for (i, &id) in ids.iter().enumerate() {
                let id = id as usize;
                if id >= self.rows {
                    candle_core::bail!("token id {id} is outside the vocabulary of {}", self.rows);
                }
                T::to_float(
                    &blocks[id * per_row..(id + 1) * per_row],
                    &mut out[i * width..(i + 1) * width],
                );
            }
        });
        Tensor::from_vec(out, (ids.len(), width), &Device::Cpu)
    }
}
