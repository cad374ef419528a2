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
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut candidates: Vec<(u32, f32)> = logits
            .iter()
            .enumerate()
            .map(|(id, &logit)| (id as u32, ((logit - max) / self.temperature).exp()))
            .filter(|(_, p)| *p > 0.0)
            .collect();
        candidates.sort_unstable_by(|a, b| b.1.total_cmp(&a.1));
        let total: f32 = candidates.iter().map(|(_, p)| p).sum();
        // Keep the most likely tokens until their share of the mass reaches top_p.
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
}

/// The index of the largest logit (the first one on ties, as llama.cpp's greedy sampler).
pub fn greedy(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &logit) in logits.iter().enumerate() {
        if logit > logits[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

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
