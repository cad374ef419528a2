//! Attention on the CPU, one query row at a time.
//!
//! A query row's output here depends on that row and on the keys and values it may see, and on
//! nothing else: not on how many rows come with it in the pass, nor on how long the key axis
//! is. candle's matrix products do not give that (their blocking and their one-row path differ
//! with the shapes), and two things need it. Speculative decoding checks drafted tokens by
//! running them in one pass with the token before them, and the reply must be the one that one
//! pass per token gives, token for token. And a prompt must give the same reply however it was
//! cut into passes: whole, or its request after a cached prefix (the prompt cache, a KV cache
//! kept from the previous request), so a position's keys and values must not depend on where
//! the cuts were. With the weight products (`packed/`, `prefill/`), the norms and the rotary
//! embedding row-independent already, every pass on the CPU attends here, prompts included.
//!
//! The work is split across candle's thread pool by (row, key/value head): the query heads that
//! share a key/value head are computed together, so each key and value is loaded once for all
//! of them, but each head's sums run in the same order as it would alone.

use std::sync::{Mutex, PoisonError};

use candle_core::{Device, Storage, Tensor};

/// The attention output `[1, seq, heads * head_dim]` (the heads of a position side by side,
/// what the output projection takes) for queries `q` (`[1, heads, seq, head_dim]`, after the
/// rotary embedding) at positions `offset..offset + seq`, over the cached `keys` and `values`
/// (`[1, kv_heads, offset + seq, head_dim]` views of the cache): a query sees the keys at or
/// before its position, only the latest `window` of them when given.
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
    // Work item `row * kv_heads + kv_head` writes the outputs of that key/value head's query
    // heads at that row: one stretch of `group * dim` values.
    let mut out = vec![0f32; seq * heads * dim];
    let items: Vec<Mutex<&mut [f32]>> = out.chunks_mut(group * dim).map(Mutex::new).collect();
    let work = |range: std::ops::Range<usize>| {
        let mut scores = Vec::new();
        for item in range {
            let (row, kv_head) = (item / kv_heads, item % kv_heads);
            let position = offset + row;
            let first = window.map_or(0, |window| (position + 1).saturating_sub(window));
            let group_queries: Vec<&[f32]> = (kv_head * group..(kv_head + 1) * group)
                .map(|head| &queries[(head * seq + row) * dim..][..dim])
                .collect();
            let mut target = items[item].lock().unwrap_or_else(PoisonError::into_inner);
            attend_row(
                &group_queries,
                first..=position,
                |p| key(kv_head, p),
                |p| value(kv_head, p),
                scale,
                &mut scores,
                &mut target,
            );
        }
    };
    match items.len() {
        1 => work(0..1),
        count => candle_core::utils::barrier_pool().execute_chunked(count, work),
    }
    drop(items);
    Tensor::from_vec(out, (1, seq, heads * dim), &Device::Cpu)
}

/// The outputs of `queries` (heads that share keys and values) at one position, into `out`
/// (one `dim` stretch per query): softmax of each one's scores over `positions`, weighting the
/// values there. `scores` is scratch space.
fn attend_row<'a>(
    queries: &[&[f32]],
    positions: std::ops::RangeInclusive<usize>,
    key: impl Fn(usize) -> &'a [f32],
    value: impl Fn(usize) -> &'a [f32],
    scale: f32,
    scores: &mut Vec<f32>,
    out: &mut [f32],
) {
    let count = positions.clone().count();
    let dim = out.len() / queries.len().max(1);
    // Scores of query `i` at `scores[i * count..][..count]`, four queries per key at a time.
    scores.clear();
    scores.resize(queries.len() * count, 0.0);
    for (at, p) in positions.clone().enumerate() {
        let key = key(p);
        for (chunk, queries) in queries.chunks(4).enumerate() {
            let dots: &[f32] = match *queries {
                [a, b, c, d] => &dots([a, b, c, d], key),
                [a, b, c] => &dots([a, b, c], key),
                [a, b] => &dots([a, b], key),
                [a] => &dots([a], key),
                _ => &[],
            };
            for (i, dot) in dots.iter().enumerate() {
                scores[(chunk * 4 + i) * count + at] = dot * scale;
            }
        }
    }
    let mut totals = vec![0f32; queries.len()];
    for (scores, total) in scores.chunks_exact_mut(count).zip(&mut totals) {
        let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        for score in scores.iter_mut() {
            *score = (*score - max).exp();
            *total += *score;
        }
    }
    out.fill(0.0);
    for (at, p) in positions.enumerate() {
        let value = value(p);
        for (i, target) in out.chunks_exact_mut(dim).enumerate() {
            let weight = scores[i * count + at];
            for (sum, v) in target.iter_mut().zip(value) {
                *sum += weight * v;
            }
        }
    }
    for (target, total) in out.chunks_exact_mut(dim).zip(totals) {
        for sum in target.iter_mut() {
            *sum /= total;
        }
    }
}

/// `query · key` for each of `R` queries, each with eight running sums (which the compiler
/// keeps in one vector register) added up in a fixed order: a query's dot product is the same
/// bits whichever queries come with it, and the `R` chains of additions run side by side.
fn dots<const R: usize>(queries: [&[f32]; R], key: &[f32]) -> [f32; R] {
    let mut sums = [[0f32; 8]; R];
    let whole = key.len() / 8 * 8;
    for (at, k) in key[..whole].chunks_exact(8).enumerate() {
        for (sums, query) in sums.iter_mut().zip(&queries) {
            let q = &query[at * 8..at * 8 + 8];
            for lane in 0..8 {
                sums[lane] += q[lane] * k[lane];
            }
        }
    }
    std::array::from_fn(|i| {
        let tail: f32 = queries[i][whole..]
            .iter()
            .zip(&key[whole..])
            .map(|(x, y)| x * y)
            .sum();
        sums[i].iter().sum::<f32>() + tail
    })
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
        weights
            .matmul(&v.contiguous().unwrap())
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .reshape((1, seq, heads * dim))
            .unwrap()
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
            (0, 40, None),
            (3, 33, Some(8)),
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

    /// A row's output, bit for bit, is the one it has in a pass of its own, however many rows
    /// come with it (a prompt, a check of drafts), for groups of query heads that take one,
    /// two, three and four at a time.
    #[test]
    fn a_row_is_the_same_however_many_rows_come_with_it() {
        for (heads, kv_heads, dim, rows, window) in [
            (4, 2, 64, 6, None),
            (12, 2, 128, 37, None),
            (7, 1, 24, 19, Some(9)),
            (9, 3, 20, 5, None),
        ] {
            let offset = 30;
            let k = filled((1, kv_heads, offset + rows, dim), 5);
            let v = filled((1, kv_heads, offset + rows, dim), 6);
            let q = filled((1, heads, rows, dim), 7);
            let scale = 0.125;
            let together = attend(&q, &k, &v, offset, window, scale).unwrap();
            for row in 0..rows {
                let alone = attend(
                    &q.narrow(2, row, 1).unwrap(),
                    &k.narrow(2, 0, offset + row + 1).unwrap(),
                    &v.narrow(2, 0, offset + row + 1).unwrap(),
                    offset + row,
                    window,
                    scale,
                )
                .unwrap();
                let from_together: Vec<f32> = together
                    .narrow(1, row, 1)
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .to_vec1()
                    .unwrap();
                let alone: Vec<f32> = alone.flatten_all().unwrap().to_vec1().unwrap();
                assert_eq!(from_together, alone, "{heads} heads, row {row}");
            }
        }
    }
}
