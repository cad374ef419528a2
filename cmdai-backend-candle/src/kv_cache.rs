//! The keys and values of one layer, in buffers that are filled in place.

use candle_core::{DType, Device, Result, Tensor};

/// Keys and values of one layer: two `[1, kv_heads, capacity, head_dim]` f32 buffers, the first
/// `len` positions in use. The buffers grow in steps of `grow_by` positions up to `max`; with
/// `grow_by == max` they are allocated once, at full size, and never move, which the fused CUDA
/// decode step relies on (it writes the new position itself).
#[derive(Debug)]
pub(crate) struct KvCache {
    buffers: Option<(Tensor, Tensor)>,
    len: usize,
    capacity: usize,
    grow_by: usize,
    max: usize,
    kv_heads: usize,
    head_dim: usize,
}

impl KvCache {
    /// A cache for `max` positions of `kv_heads` heads of `head_dim` values.
    pub(crate) fn new(kv_heads: usize, head_dim: usize, max: usize, grow_by: usize) -> Self {
        KvCache {
            buffers: None,
            len: 0,
            capacity: 0,
            grow_by: grow_by.clamp(1, max.max(1)),
            max,
            kv_heads,
            head_dim,
        }
    }

    /// Allocates the buffers now (for `grow_by` positions, or all of them).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub(crate) fn allocate(&mut self, device: &Device) -> Result<()> {
        if self.buffers.is_none() {
            self.grow(self.grow_by, device)?;
        }
        Ok(())
    }

    /// The whole buffers, positions past `len` included.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub(crate) fn buffers(&self) -> Option<&(Tensor, Tensor)> {
        self.buffers.as_ref()
    }

    /// Appends `k` and `v` (`[1, kv_heads, n, head_dim]`, contiguous) and returns the keys and
    /// values of every position in use.
    pub(crate) fn append(&mut self, k: &Tensor, v: &Tensor) -> Result<(Tensor, Tensor)> {
        let n = k.dim(2)?;
        let needed = self.len + n;
        if needed > self.max {
            candle_core::bail!("KV cache full: {needed} positions, room for {}", self.max);
        }
        if needed > self.capacity {
            let more = (needed - self.capacity).div_ceil(self.grow_by) * self.grow_by;
            self.grow(more.min(self.max - self.capacity), k.device())?;
        }
        let (keys, values) = self.buffers.as_ref().expect("allocated above");
        keys.slice_set(k, 2, self.len)?;
        values.slice_set(v, 2, self.len)?;
        self.len = needed;
        Ok((self.k()?.expect("not empty"), self.v()?.expect("not empty")))
    }

    /// Counts `n` more positions as in use: they were written into the buffers directly.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    pub(crate) fn advance(&mut self, n: usize) {
        debug_assert!(self.len + n <= self.capacity);
        self.len += n;
    }

    /// The keys in use (`[1, kv_heads, len, head_dim]`), `None` when empty.
    pub(crate) fn k(&self) -> Result<Option<Tensor>> {
        self.view(|(k, _)| k)
    }

    /// The values in use, like [`k`](Self::k).
    pub(crate) fn v(&self) -> Result<Option<Tensor>> {
        self.view(|(_, v)| v)
    }

    fn view(&self, pick: impl Fn(&(Tensor, Tensor)) -> &Tensor) -> Result<Option<Tensor>> {
        match &self.buffers {
            Some(buffers) if self.len > 0 => pick(buffers).narrow(2, 0, self.len).map(Some),
            _ => Ok(None),
        }
    }

    /// Keeps the first `len` positions (the rest are overwritten by later appends).
    pub(crate) fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    fn grow(&mut self, more: usize, device: &Device) -> Result<()> {
        let shape = (1, self.kv_heads, more, self.head_dim);
        let fresh = || Tensor::zeros(shape, DType::F32, device);
        let buffers = match self.buffers.take() {
            None => (fresh()?, fresh()?),
            Some((k, v)) => (
                Tensor::cat(&[&k, &fresh()?], 2)?,
                Tensor::cat(&[&v, &fresh()?], 2)?,
            ),
        };
        self.buffers = Some(buffers);
        self.capacity += more;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn positions(start: usize, n: usize) -> Tensor {
        let values: Vec<f32> = (start..start + n).map(|p| p as f32).collect();
        Tensor::from_vec(values, (1, 1, n, 1), &Device::Cpu).unwrap()
    }

    fn contents(cache: &KvCache) -> Vec<f32> {
        cache
            .k()
            .unwrap()
            .map(|k| k.flatten_all().unwrap().to_vec1().unwrap())
            .unwrap_or_default()
    }

    #[test]
    fn grows_in_steps_keeps_what_it_holds_and_stops_at_the_maximum() {
        let mut cache = KvCache::new(1, 1, 10, 4);
        cache.append(&positions(0, 3), &positions(0, 3)).unwrap();
        assert_eq!(cache.capacity, 4);
        cache.append(&positions(3, 4), &positions(3, 4)).unwrap();
        assert_eq!(cache.capacity, 8);
        assert_eq!(contents(&cache), [0., 1., 2., 3., 4., 5., 6.]);
        cache.append(&positions(7, 3), &positions(7, 3)).unwrap();
        assert_eq!(cache.capacity, 10);
        assert!(cache.append(&positions(10, 1), &positions(10, 1)).is_err());
        assert_eq!(cache.len, 10);
    }

    #[test]
    fn truncating_keeps_a_prefix_and_appends_after_it() {
        let mut cache = KvCache::new(1, 1, 8, 8);
        cache.append(&positions(0, 5), &positions(0, 5)).unwrap();
        cache.truncate(2);
        assert_eq!(contents(&cache), [0., 1.]);
        cache.append(&positions(7, 1), &positions(7, 1)).unwrap();
        assert_eq!(contents(&cache), [0., 1., 7.]);
        cache.truncate(0);
        assert!(cache.k().unwrap().is_none());
    }
}
