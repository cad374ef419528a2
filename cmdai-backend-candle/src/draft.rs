//! Drafting tokens for speculative decoding without a second model: the tokens that followed the
//! newest few tokens where they last appeared earlier in the prompt or the reply ("prompt lookup
//! decoding"). A command often repeats what the request or the prompt's examples spell out (file
//! names, patterns, a flag sequence), and a drafted run that the model confirms costs one
//! batched pass instead of one pass per token.

/// Where speculative decoding's drafted tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Draft {
    /// No drafts: one forward pass per token. The default: on a 2-core AVX2 CPU, drafts from the
    /// prompt saved no time over everyday requests (docs/PERFORMANCE.md, "Speculative decoding").
    #[default]
    Off,
    /// What followed the newest tokens where they appeared earlier in the prompt or the reply.
    PromptLookup,
}

impl std::str::FromStr for Draft {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "prompt" => Ok(Draft::PromptLookup),
            "off" => Ok(Draft::Off),
            _ => Err(format!("unknown draft `{s}`; expected prompt or off")),
        }
    }
}

impl std::fmt::Display for Draft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Draft::Off => "off",
            Draft::PromptLookup => "prompt",
        })
    }
}

/// Longest and shortest run of newest tokens looked up; longer matches are tried first.
const LONGEST: usize = 3;
const SHORTEST: usize = 2;

/// The tokens of the sequence so far, prompt first.
#[derive(Debug, Clone, Default)]
pub(crate) struct PromptLookup {
    history: Vec<u32>,
}

impl PromptLookup {
    pub(crate) fn new(prompt: &[u32]) -> Self {
        PromptLookup {
            history: prompt.to_vec(),
        }
    }

    /// Records tokens decided after the ones before.
    pub(crate) fn extend(&mut self, tokens: &[u32]) {
        self.history.extend_from_slice(tokens);
    }

    /// Up to `limit` tokens that followed the newest occurrence, before the end, of the last
    /// [`LONGEST`] (then fewer, down to [`SHORTEST`]) tokens; empty when none recurs.
    pub(crate) fn draft(&self, limit: usize) -> Vec<u32> {
        let history = &self.history;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drafts_what_followed_the_newest_earlier_occurrence() {
        // ... 1 2 3 4 5 ... 1 2 3 9 ... 1 2 3 -> the newest earlier "1 2 3" was followed by 9.
        let mut lookup = PromptLookup::new(&[7, 1, 2, 3, 4, 5, 8, 1, 2, 3, 9, 6]);
        lookup.extend(&[1, 2, 3]);
        assert_eq!(lookup.draft(4), [9, 6, 1, 2]);
        assert_eq!(lookup.draft(1), [9]);
    }

    #[test]
    fn a_longer_match_wins_over_a_newer_shorter_one() {
        // "2 3" ends the history as part of "1 2 3", which recurs (older) beside a newer "5 2 3".
        let lookup = PromptLookup::new(&[1, 2, 3, 10, 11, 5, 2, 3, 20, 1, 2, 3]);
        assert_eq!(lookup.draft(2), [10, 11]);
        let lookup = PromptLookup::new(&[1, 2, 3, 10, 11, 5, 2, 3, 20, 7, 2, 3]);
        assert_eq!(lookup.draft(2), [20, 7]);
    }

    #[test]
    fn nothing_to_draft_without_a_repeat() {
        assert!(PromptLookup::new(&[1, 2, 3, 4]).draft(4).is_empty());
        assert!(PromptLookup::new(&[1]).draft(4).is_empty());
        assert!(PromptLookup::new(&[]).draft(4).is_empty());
        // A single recurring token is too weak a cue.
        assert!(PromptLookup::new(&[5, 1, 6, 5]).draft(4).is_empty());
    }

    #[test]
    fn drafts_stop_at_the_end_of_the_history() {
        // The match is the newest window before the tail; what follows it runs into the tail.
        let lookup = PromptLookup::new(&[4, 4, 4, 4]);
        assert_eq!(lookup.draft(8), [4]);
    }
}
