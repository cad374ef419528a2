//! Attention for a few new tokens on the CPU, one query row at a time.
//!
//! candle's matrix products give a query row slightly different rounding depending on how many
//! rows are multiplied together and how long the key axis is (their blocking and their
//! one-row path differ). That is harmless for one pass, but speculative decoding checks drafted
//! tokens by running them in one pass with the token before them, and the reply must be the one
//! that one pass per token gives, token for token. So for up to [`FEW`] new tokens (every decode
//! step, every check of drafts) each query row is computed here on its own, in the same order
//! whatever the other rows: its scores over the keys it may see, their softmax, and the sum of
//! the values they weight. The weight products are row-independent already (`packed/`,
//! `prefill/`), as are the norms and the rotary embedding. Longer prompts keep candle's products.

use candle_core::{Device, Storage, Tensor};

/// New tokens up to this many are attended here; more go through candle's products.
pub(crate) const FEW: usize = 16;

/// The attention output `[1, heads, seq, head_dim]` for queries `q` (`[1, heads, seq,
/// head_dim]`, after the rotary embedding) at positions `offset..offset + seq`, over the cached
/// `keys` and `values` (`[1, kv_heads, offset + seq, head_dim]` views of the cache): a query
/// sees the keys at or before its position, only the latest `window` of them when given.
pub(crate) fn attend(
    q: &Tensor,
    keys: &Tensor,
    values: &Tensor,
    offset: usize,
    window: Option<usize>,
    scale: f32,
) -> candle_core::Result<Tensor> {
    let (_, heads, seq, dim) = q.dims4()?;
    let kv_heads = keys.dim(1)?;
    let group = heads / kv_heads;
    let queries = q.flatten_all()?.to_vec1::<f32>()?;
    let (k_storage, k_layout) = keys.storage_and_layout();
    let (v_storage, v_layout) = values.storage_and_layout();
    let (Storage::Cpu(k_cpu), Storage::Cpu(v_cpu)) = (&*k_storage, &*v_storage) else {
        candle_core::bail!("row-wise attention runs on the CPU only");
    };
    let (k_data, v_data) = (k_cpu.as_slice::<f32>()?, v_cpu.as_slice::<f32>()?);
    let (k_stride, v_stride) = (k_layout.stride(), v_layout.stride());
    if k_stride[3] != 1 || v_stride[3] != 1 {
        candle_core::bail!("keys and values must be contiguous along the head dimension");
    }
    let key = |head: usize, position: usize| {
        let at = k_layout.start_offset() + head * k_stride[1] + position * k_stride[2];
        &k_data[at..at + dim]
    };
    let value = |head: usize, position: usize| {
        let at = v_layout.start_offset() + head * v_stride[1] + position * v_stride[2];
        &v_data[at..at + dim]
    };
    let mut out = vec![0f32; heads * seq * dim];
    let mut scores = Vec::with_capacity(offset + seq);
    for head in 0..heads {
        let kv_head = head / group;
        for row in 0..seq {
            let position = offset + row;
            let first = window.map_or(0, |window| (position + 1).saturating_sub(window));
            let query = &queries[(head * seq + row) * dim..][..dim];
            scores.clear();
            scores.extend((first..=position).map(|p| dot(query, key(kv_head, p)) * scale));
            let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let mut total = 0f32;
            for score in &mut scores {
                *score = (*score - max).exp();
                total += *score;
            }
            let target = &mut out[(head * seq + row) * dim..][..dim];
            for (p, weight) in (first..=position).zip(&scores) {
                for (sum, v) in target.iter_mut().zip(value(kv_head, p)) {
                    *sum += weight * v;
                }
            }
            for sum in target.iter_mut() {
                *sum /= total;
            }
        }
    }
    Tensor::from_vec(out, (1, heads, seq, dim), &Device::Cpu)
}

/// `a · b` with eight running sums (which the compiler keeps in one vector register), added
/// up in a fixed order.
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut sums = [0f32; 8];
    let (a_chunks, b_chunks) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = a_chunks
        .remainder()
        .iter()
        .zip(b_chunks.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..8 {
            sums[lane] += x[lane] * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic pseudo-random tensor.
    fn filled(shape: (usize, usize, usize, usize), seed: u32) -> Tensor {
        let count = shape.0 * shape.1 * shape.2 * shape.3;
        let values: Vec<f32> = (0..count as u32)
            .map(|i| ((i.wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect();
        Tensor::from_vec(values, shape, &Device::Cpu).unwrap()
    }

    /// What candle's products give, with the additive causal mask.
    fn reference(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        offset: usize,
        window: Option<usize>,
    ) -> Tensor {
        let (_, heads, seq, dim) = q.dims4().unwrap();
        let kv_heads = k.dim(1).unwrap();
        let kv_len = k.dim(2).unwrap();
        let group = heads / kv_heads;
        // Each key/value head repeated for the query heads that share it, in their order.
        let per_query_head = |t: &Tensor| {
            t.repeat((1, 1, group, 1))
                .unwrap()
                .reshape((1, heads, kv_len, dim))
                .unwrap()
        };
        let (k, v) = (per_query_head(k), per_query_head(v));
        let scores = (q.matmul(&k.t().unwrap()).unwrap() * (1.0 / (dim as f64).sqrt())).unwrap();
        let mask: Vec<f32> = (0..seq)
            .flat_map(|i| {
                (0..kv_len).map(move |key| {
                    let query = offset + i;
                    if key > query || window.is_some_and(|w| query - key >= w) {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let mask = Tensor::from_vec(mask, (1, 1, seq, kv_len), &Device::Cpu).unwrap();
        let weights =
            candle_nn::ops::softmax_last_dim(&scores.broadcast_add(&mask).unwrap()).unwrap();
        weights.matmul(&v.contiguous().unwrap()).unwrap()
    }

    fn largest_difference(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    #[test]
    fn agrees_with_the_masked_products() {
        let (heads, kv_heads, dim) = (6, 2, 20);
        for (offset, seq, window) in [
            (0, 1, None),
            (9, 1, None),
            (9, 5, None),
            (0, 7, None),
            (12, 4, Some(5)),
        ] {
            let q = filled((1, heads, seq, dim), 1);
            let k = filled((1, kv_heads, offset + seq, dim), 2);
            let v = filled((1, kv_heads, offset + seq, dim), 3);
            let scale = 1.0 / (dim as f32).sqrt();
            let ours = attend(&q, &k, &v, offset, window, scale).unwrap();
            let theirs = reference(&q, &k, &v, offset, window);
            let difference = largest_difference(&ours, &theirs);
            assert!(
                difference < 1e-5,
                "offset {offset}, {seq} rows, window {window:?}: {difference}"
            );
        }
    }

    #[test]
    fn a_row_is_the_same_however_many_rows_come_with_it() {
        let (heads, kv_heads, dim, offset) = (4, 2, 64, 30);
        let k = filled((1, kv_heads, offset + 6, dim), 5);
        let v = filled((1, kv_heads, offset + 6, dim), 6);
        let q = filled((1, heads, 6, dim), 7);
        let scale = 0.125;
        let together = attend(&q, &k, &v, offset, None, scale).unwrap();
        for row in 0..6 {
            let alone = attend(
                &q.narrow(2, row, 1).unwrap(),
                &k.narrow(2, 0, offset + row + 1).unwrap(),
                &v.narrow(2, 0, offset + row + 1).unwrap(),
                offset + row,
                None,
                scale,
            )
            .unwrap();
            let from_together: Vec<f32> = together
                .narrow(2, row, 1)
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let alone: Vec<f32> = alone.flatten_all().unwrap().to_vec1().unwrap();
            assert_eq!(from_together, alone, "row {row}");
        }
    }
}
