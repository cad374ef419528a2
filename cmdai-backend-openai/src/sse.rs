//! Server-sent events, as far as chat-completions streams use them: `data:` lines, one event per
//! blank-line-terminated block; comments (`:`), `event:`, `id:` and `retry:` fields are ignored.

use std::io::{self, BufRead};

/// Reads the `data` of one event after another from `reader`.
pub struct Events<R> {
    reader: R,
    line: String,
}

impl<R: BufRead> Events<R> {
    pub fn new(reader: R) -> Self {
        Events {
            reader,
            line: String::new(),
        }
    }

    /// The next event's data (its `data:` lines joined with newlines), or `None` at the end of
    /// the stream. A stream that ends inside an event yields that event first.
    pub fn next_event(&mut self) -> io::Result<Option<String>> {
        let mut data: Option<String> = None;
        loop {
            self.line.clear();
            if self.reader.read_line(&mut self.line)? == 0 {
                return Ok(data);
            }
            let line = self.line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if data.is_some() {
                    return Ok(data);
                }
                continue;
            }
            let (field, value) = match line.split_once(':') {
                Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
                None => (line, ""),
            };
            if field == "data" {
                match &mut data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<String> {
        let mut events = Events::new(text.as_bytes());
        std::iter::from_fn(|| events.next_event().unwrap()).collect()
    }

    #[test]
    fn splits_on_blank_lines_and_joins_data_lines() {
        assert_eq!(
            events(
                ": keep-alive\n\ndata: {\"a\":1}\n\ndata:x\r\ndata: y\r\n\r\nevent: done\ndata: [DONE]\n\n"
            ),
            ["{\"a\":1}", "x\ny", "[DONE]"]
        );
    }

    #[test]
    fn an_event_cut_off_by_the_end_of_the_stream_is_still_returned() {
        assert_eq!(events("data: one\n\ndata: tw"), ["one", "tw"]);
        assert!(events("").is_empty());
    }
}
