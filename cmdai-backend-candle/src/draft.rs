//! Where speculative decoding's drafted tokens come from: a smaller model of the same
//! vocabulary run ahead of the model ([`DraftModel`]), or the tokens that followed the newest
//! few tokens where they last appeared earlier in the prompt or the reply ("prompt lookup
//! decoding": a command often repeats what the request or the prompt's examples spell out).
//! Either way the model checks the drafts in one batched pass (backend.rs), and a run of drafts
//! it confirms costs that one pass instead of one pass per token.

use std::collections::BTreeSet;

use crate::constrain::Constraint;
use crate::error::Result;
use crate::sampling::{Sampler, greedy};
use crate::{PromptCache, Transformer};

/// The most tokens one pass that checks drafts runs (the pending token and the drafts): a
/// longer draft is rarely all confirmed, and a rejected one wastes its pass's work.
pub(crate) const MOST_CHECKED: usize = 16;

/// Where speculative decoding's drafted tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Draft {
    /// No drafts: one forward pass per token. The default: on a 2-core AVX2 CPU, neither source
    /// saved time over everyday requests (docs/PERFORMANCE.md, "Speculative decoding").
    #[default]
    Off,
    /// What followed the newest tokens where they appeared earlier in the prompt or the reply.
    PromptLookup,
    /// A smaller model of the same vocabulary ([`CandleBackend::load_draft`](crate::CandleBackend::load_draft)).
    Model,
}

impl std::str::FromStr for Draft {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "model" => Ok(Draft::Model),
            "prompt" => Ok(Draft::PromptLookup),
            "off" => Ok(Draft::Off),
            _ => Err(format!(
                "unknown draft `{s}`; expected model, prompt or off"
            )),
        }
    }
}

impl std::fmt::Display for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Draft::Off => "off",
            Draft::PromptLookup => "prompt",
            Draft::Model => "model",
        })
    }
}

/// The most tokens drafted for one pass from the prompt.
const LOOKUP_LIMIT: usize = 4;
/// The most tokens a draft model drafts for one pass; it stops earlier where it is unsure.
const MODEL_LIMIT: usize = 6;
/// A draft model's drafts end before a token it gives less than this probability: the model
/// would seldom keep it, and every drafted token costs a row in each of the model's products.
const MIN_CONFIDENCE: f32 = 0.5;

/// A smaller model with the model's vocabulary, loaded beside it to draft its next tokens.
#[derive(Debug)]
pub(crate) struct DraftModel {
    pub(crate) model: Transformer,
    /// The tokens whose keys and values are in its KV cache, in order.
    pub(crate) cached_tokens: Vec<u32>,
    pub(crate) prompt_cache: Option<PromptCache>,
}

impl DraftModel {
    /// Up to `limit` tokens drafted after `sequence` (prompt and reply so far): its KV cache
    /// is brought to `sequence` first, keeping what it already holds of it. Each draft is its
    /// most likely token (greedy) or drawn by `sampler`, among those `constraint` allows; the
    /// drafts end early at a stop token, where the grammar ends or forces the next tokens, and
    /// before a token the draft gives less than [`MIN_CONFIDENCE`].
    fn draft(
        &mut self,
        sequence: &[u32],
        limit: usize,
        constraint: Option<&Constraint>,
        sampler: &mut Sampler,
        stops: &BTreeSet<u32>,
    ) -> Result<Vec<Drafted>> {
        let reused = common_prefix(&self.cached_tokens, sequence).min(sequence.len() - 1);
        self.model.truncate(reused)?;
        self.cached_tokens.truncate(reused);
        let mut constraint = constraint.map(Constraint::fork);
        let mut input = sequence[reused..].to_vec();
        let mut drafts = Vec::new();
        while drafts.len() < limit {
            let mut values = self.model.forward(&input)?.to_vec1::<f32>()?;
            self.cached_tokens.append(&mut input);
            if let Some(grammar) = &mut constraint
                && grammar.mask(&mut values).is_err()
            {
                break;
            }
            let (drafted, confidence) = match sampler.is_sampling() {
                true => {
                    let from = sampler.distribution(&values);
                    let token = sampler.pick(&from);
                    let confidence = from[token as usize];
                    let drafted = Drafted {
                        token,
                        from: Some(from),
                    };
                    (drafted, confidence)
                }
                false => {
                    let token = greedy(&values);
                    let drafted = Drafted { token, from: None };
                    (drafted, probability_of_largest(&values))
                }
            };
            if confidence < MIN_CONFIDENCE {
                break;
            }
            let token = drafted.token;
            drafts.push(drafted);
            if stops.contains(&token) {
                break;
            }
            if let Some(grammar) = &mut constraint
                && (grammar.accept(token).is_err()
                    || grammar.is_done()
                    || !grammar.forced().is_empty())
            {
                break;
            }
            input.push(token);
        }
        Ok(drafts)
    }
}

/// A drafted token, and the distribution it was drawn from when drafts are sampled (`None`:
/// it was certain).
#[derive(Debug)]
pub(crate) struct Drafted {
    pub(crate) token: u32,
    pub(crate) from: Option<Vec<f32>>,
}

/// The drafts of one reply: the sequence so far (prompt first) and where drafts come from.
pub(crate) struct Drafter<'a> {
    sequence: Vec<u32>,
    source: Source<'a>,
}

enum Source<'a> {
    Lookup,
    Model {
        model: &'a mut DraftModel,
        /// Boxed: a random number generator is large beside [`Source::Lookup`].
        sampler: Box<Sampler>,
        stops: BTreeSet<u32>,
    },
}

impl<'a> Drafter<'a> {
    /// Drafts by looking the newest tokens up earlier in the sequence.
    pub(crate) fn lookup(prompt: &[u32]) -> Self {
        Drafter {
            sequence: prompt.to_vec(),
            source: Source::Lookup,
        }
    }

    /// Drafts with `model`, drawing like `sampler` (its own random numbers), ending drafts at
    /// `stops`.
    pub(crate) fn model(
        prompt: &[u32],
        model: &'a mut DraftModel,
        sampler: Sampler,
        stops: BTreeSet<u32>,
    ) -> Self {
        Drafter {
            sequence: prompt.to_vec(),
            source: Source::Model {
                model,
                sampler: Box::new(sampler),
                stops,
            },
        }
    }

    /// Records tokens decided after the ones before.
    pub(crate) fn extend(&mut self, tokens: &[u32]) {
        self.sequence.extend_from_slice(tokens);
    }

    /// Tokens to follow the sequence so far, at most `room`; `constraint` is the reply's
    /// grammar where it has one, at the end of the sequence.
    pub(crate) fn draft(
        &mut self,
        room: usize,
        constraint: Option<&Constraint>,
    ) -> Result<Vec<Drafted>> {
        match &mut self.source {
            Source::Lookup => Ok(lookup(&self.sequence, room.min(LOOKUP_LIMIT))
                .into_iter()
                .map(|token| Drafted { token, from: None })
                .collect()),
            Source::Model {
                model,
                sampler,
                stops,
            } => model.draft(
                &self.sequence,
                room.min(MODEL_LIMIT),
                constraint,
                sampler,
                stops,
            ),
        }
    }
}

/// The softmax probability of the largest of `logits`.
fn probability_of_largest(logits: &[f32]) -> f32 {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let total: f32 = logits.iter().map(|&logit| (logit - max).exp()).sum();
    1.0 / total
}

pub(crate) fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Longest and shortest run of newest tokens looked up; longer matches are tried first.
const LONGEST: usize = 3;
const SHORTEST: usize = 2;

/// Up to `limit` tokens that followed the newest occurrence, before the end, of the last
/// [`LONGEST`] (then fewer, down to [`SHORTEST`]) tokens of `history`; empty when none recurs.
fn lookup(history: &[u32], limit: usize) -> Vec<u32> {
    let len = history.len();
    for n in (SHORTEST..=LONGEST).rev() {
        if len <= n {
            continue;
        }
        let tail = &history[len - n..];
        // Windows that end before the tail itself, newest first.
        let found = (0..len - n)
            .rev()
            .find(|&start| &history[start..start + n] == tail);
        if let Some(start) = found {
            let from = start + n;
            return history[from..(from + limit).min(len)].to_vec();
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_what_followed_the_newest_earlier_occurrence() {
        // ... 1 2 3 4 5 ... 1 2 3 9 ... 1 2 3 -> the newest earlier "1 2 3" was followed by 9.
        let history = [7, 1, 2, 3, 4, 5, 8, 1, 2, 3, 9, 6, 1, 2, 3];
        assert_eq!(lookup(&history, 4), [9, 6, 1, 2]);
        assert_eq!(lookup(&history, 1), [9]);
    }

    #[test]
    fn a_longer_match_wins_over_a_newer_shorter_one() {
        // "2 3" ends the history as part of "1 2 3", which recurs (older) beside a newer "5 2 3".
        assert_eq!(
            lookup(&[1, 2, 3, 10, 11, 5, 2, 3, 20, 1, 2, 3], 2),
            [10, 11]
        );
        assert_eq!(lookup(&[1, 2, 3, 10, 11, 5, 2, 3, 20, 7, 2, 3], 2), [20, 7]);
    }

    #[test]
    fn nothing_to_draft_without_a_repeat() {
        assert!(lookup(&[1, 2, 3, 4], 4).is_empty());
        assert!(lookup(&[1], 4).is_empty());
        assert!(lookup(&[], 4).is_empty());
        // A single recurring token is too weak a cue.
        assert!(lookup(&[5, 1, 6, 5], 4).is_empty());
    }

    #[test]
    fn drafts_stop_at_the_end_of_the_history() {
        // The match is the newest window before the tail; what follows it runs into the tail.
        assert_eq!(lookup(&[4, 4, 4, 4], 8), [4]);
    }
}
