//! Picks the next token from the logits: greedy, or temperature with nucleus (top-p) sampling.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A seeded sampler; the same seed and logits give the same tokens.
#[derive(Debug)]
pub struct Sampler {
    temperature: f32,
    top_p: f32,
    rng: StdRng,
}

impl Sampler {
    /// A sampler; `temperature <= 0` means greedy.
    pub fn new(temperature: f32, top_p: f32, seed: u64) -> Self {
        Sampler {
            temperature,
            top_p: top_p.clamp(f32::MIN_POSITIVE, 1.0),
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// The next token id.
    pub fn sample(&mut self, logits: &[f32]) -> u32 {
        if self.temperature <= 0.0 {
            return greedy(logits);
        }
        let candidates = self.nucleus(logits);
        let kept_total: f32 = candidates.iter().map(|(_, p)| p).sum();
        let mut threshold = self.rng.random::<f32>() * kept_total;
        for (id, p) in &candidates {
            threshold -= p;
            if threshold <= 0.0 {
                return *id;
            }
        }
        candidates[candidates.len() - 1].0
    }

    /// Whether tokens are drawn (rather than the most likely taken).
    pub fn is_sampling(&self) -> bool {
        self.temperature > 0.0
    }

    /// The probabilities [`sample`](Self::sample) draws from, over every token: the
    /// temperature, then the nucleus (top-p), zero outside it. Greedy: all on the largest logit.
    pub fn distribution(&self, logits: &[f32]) -> Vec<f32> {
        let mut probabilities = vec![0f32; logits.len()];
        if self.temperature <= 0.0 {
            if let Some(p) = probabilities.get_mut(greedy(logits) as usize) {
                *p = 1.0;
            }
            return probabilities;
        }
        let candidates = self.nucleus(logits);
        let kept_total: f32 = candidates.iter().map(|(_, p)| p).sum();
        for (id, p) in candidates {
            probabilities[id as usize] = p / kept_total;
        }
        probabilities
    }

    /// The tokens sampling draws from, most likely first, each with its weight after the
    /// temperature (not normalised): the fewest whose share of the mass reaches top_p, and
    /// at least one.
    fn nucleus(&self, logits: &[f32]) -> Vec<(u32, f32)> {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut candidates: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(id, &logit)| (id as u32, ((logit - max) / self.temperature).exp()))
            .filter(|(_, p)| *p > 0.0)
            .collect();
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        let total: f32 = candidates.iter().map(|(_, p)| p).sum();
        let mut kept_mass = 0.0;
        let mut kept = 0;
        for (_, p) in &candidates {
            kept_mass += p / total;
            kept += 1;
            if kept_mass >= self.top_p {
                break;
            }
        }
        candidates.truncate(kept.max(1));
        candidates
    }

    /// A token drawn from `weights` (probabilities, or any non-negative weights).
    pub fn pick(&mut self, weights: &[f32]) -> u32 {
        let total: f32 = weights.iter().sum();
        let mut threshold = self.rng.random::<f32>() * total;
        let mut last = 0;
        for (id, &w) in weights.iter().enumerate() {
            if w > 0.0 {
                last = id;
                threshold -= w;
                if threshold <= 0.0 {
                    break;
                }
            }
        }
        last as u32
    }

    /// The token after a drafted one in speculative decoding: `drafted` itself with
    /// probability min(1, p/q) of it, else one drawn from what `p` has in excess of `q`
    /// (`p` the distribution of `logits`, `q` the draft's: `from`, or certainly `drafted` when
    /// the draft was not drawn). Whatever `q` is, the token is distributed as `p`, as if
    /// [`sample`](Self::sample) had drawn it (Leviathan et al., 2023, "Fast Inference from
    /// Transformers via Speculative Decoding"). Greedy: the largest logit, as ever.
    pub fn check_draft(&mut self, logits: &[f32], drafted: u32, from: Option<&[f32]>) -> u32 {
        if self.temperature <= 0.0 {
            return greedy(logits);
        }
        let mut p = self.distribution(logits);
        let id = drafted as usize;
        let p_drafted = p.get(id).copied().unwrap_or(0.0);
        let q_drafted = from.map_or(1.0, |q| q.get(id).copied().unwrap_or(0.0));
        if q_drafted > 0.0 && self.rng.random::<f32>() * q_drafted < p_drafted {
            return drafted;
        }
        match from {
            Some(q) => {
                for (p, &q) in p.iter_mut().zip(q) {
                    *p = (*p - q).max(0.0);
                }
            }
            None => {
                if let Some(p) = p.get_mut(id) {
                    *p = 0.0;
                }
            }
        }
        if p.iter().all(|&p| p <= 0.0) {
            // Only rounding leaves nothing in excess; p itself is then the answer.
            return self.pick(&self.distribution(logits));
        }
        self.pick(&p)
    }
}

/// The index of the largest logit (the first one on ties, as llama.cpp's greedy sampler).
pub fn greedy(logits: &[f32]) -> u32 {
    // The largest value first, over sixteen lanes the compiler keeps in vector registers, then
    // its first index: two passes that vectorise, where one pass tracking the index does not
    // (a 152,000-token vocabulary is read on every step).
    const LANES: usize = 16;
    let larger = |a: f32, b: f32| if b > a { b } else { a };
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let chunks = logits.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &value) in lanes.iter_mut().zip(chunk) {
            *lane = larger(*lane, value);
        }
    }
    let max = lanes
        .iter()
        .chain(rest)
        .copied()
        .fold(f32::NEG_INFINITY, larger);
    logits.iter().position(|&value| value == max).unwrap_or(0) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How often each of `n` tokens came out of `draw` in `rounds` draws.
    fn frequencies(n: usize, rounds: usize, mut draw: impl FnMut() -> u32) -> Vec<f64> {
        let mut counts = vec![0usize; n];
        for _ in 0..rounds {
            counts[draw() as usize] += 1;
        }
        counts.iter().map(|&c| c as f64 / rounds as f64).collect()
    }

    #[test]
    fn checked_drafts_keep_the_distribution() {
        let logits = [1.0, 0.2, -0.5, 2.0, 0.0];
        let p = Sampler::new(0.8, 1.0, 0).distribution(&logits);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        // A draft distribution quite unlike p, and drafts that are always the same token.
        let q = [0.05f32, 0.6, 0.05, 0.1, 0.2];
        let rounds = 200_000;
        let mut drafts = Sampler::new(1.0, 1.0, 11);
        let mut checker = Sampler::new(0.8, 1.0, 12);
        let sampled = frequencies(5, rounds, || {
            let drafted = drafts.pick(&q);
            checker.check_draft(&logits, drafted, Some(&q))
        });
        let mut checker = Sampler::new(0.8, 1.0, 13);
        let fixed = frequencies(5, rounds, || checker.check_draft(&logits, 1, None));
        for (i, &want) in p.iter().enumerate() {
            for (name, got) in [("sampled", &sampled), ("fixed", &fixed)] {
                assert!(
                    (got[i] - f64::from(want)).abs() < 0.005,
                    "{name} drafts: token {i} came {:.4} of the time, p = {want:.4}",
                    got[i]
                );
            }
        }
    }

    #[test]
    fn the_nucleus_is_all_the_distribution_has() {
        let p = Sampler::new(1.0, 0.9, 0).distribution(&[2.0, 1.9, 1.8, -10.0, -10.0]);
        assert_eq!(&p[3..], [0.0, 0.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(
            Sampler::new(0.0, 1.0, 0).distribution(&[0.1, 3.0, 2.9]),
            [0.0, 1.0, 0.0]
        );
    }

    #[test]
    fn greedy_picks_the_first_largest_logit_wherever_it_lies() {
        use rand::{Rng, SeedableRng};
        let naive = |logits: &[f32]| {
            let mut best: Option<usize> = None;
            for (i, &value) in logits.iter().enumerate() {
                if !value.is_nan() && best.is_none_or(|b| value > logits[b]) {
                    best = Some(i);
                }
            }
            best.unwrap_or(0) as u32
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        // Lengths around the lane width, values from a small set so that ties are common.
        for len in [0, 1, 2, 15, 16, 17, 31, 33, 100, 1000] {
            for _ in 0..50 {
                let mut logits: Vec<f32> =
                    (0..len).map(|_| rng.random_range(-3..4) as f32).collect();
                if len > 0 && rng.random_bool(0.2) {
                    logits[rng.random_range(0..len)] = f32::NAN;
                }
                assert_eq!(greedy(&logits), naive(&logits), "{logits:?}");
            }
        }
        assert_eq!(greedy(&[f32::NEG_INFINITY; 40]), 0);
    }

    #[test]
    fn zero_temperature_is_greedy() {
        let mut sampler = Sampler::new(0.0, 1.0, 1);
        assert_eq!(sampler.sample(&[0.1, 3.0, 2.9, -1.0]), 1);
    }

    #[test]
    fn same_seed_same_tokens_and_top_p_cuts_the_tail() {
        let logits = [2.0, 1.9, 1.8, -10.0, -10.0];
        let run = |seed| {
            let mut sampler = Sampler::new(1.0, 0.9, seed);
            (0..64).map(|_| sampler.sample(&logits)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        let tokens = run(7);
        assert!(
            tokens.iter().all(|&t| t < 3),
            "tail tokens sampled: {tokens:?}"
        );
        assert!(
            tokens.iter().any(|&t| t != tokens[0]),
            "sampling never varied: {tokens:?}"
        );
    }
}
