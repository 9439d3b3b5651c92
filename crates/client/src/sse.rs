//! Server-sent events: an incremental parser fed with arbitrary byte chunks (WHATWG
//! "event stream interpretation"), independent of any transport.

/// One dispatched SSE message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseMessage {
    /// The `event:` field, if the server set one.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The `id:` field, if the server set one.
    pub id: Option<String>,
}

/// Incremental SSE parser: push chunks as they arrive, get back the messages they complete.
///
/// Lines may end in `\n`, `\r\n` or `\r`, and may be split anywhere across chunks (even inside a
/// UTF-8 sequence or between `\r` and `\n`). A blank line dispatches the message; lines starting
/// with `:` are comments (keep-alives) and are ignored; an unfinished message at end of stream is
/// discarded, as the spec requires.
#[derive(Debug, Default)]
pub struct SseParser {
    /// Bytes of the current, not yet terminated line.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`, so a leading `\n` belongs to that line ending.
    after_cr: bool,
    event: Option<String>,
    data: String,
    has_data: bool,
    id: Option<String>,
}

impl SseParser {
    /// Returns a parser with nothing buffered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds `chunk` and returns the messages it completes, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseMessage> {
        let mut out = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::replace(&mut self.after_cr, false);
            match byte {
                b'\n' if after_cr => {}
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                _ => self.line.push(byte),
            }
        }
        out
    }

    fn end_line(&mut self, out: &mut Vec<SseMessage>) {
        let line = std::mem::take(&mut self.line);
        if line.is_empty() {
            if let Some(msg) = self.dispatch() {
                out.push(msg);
            }
            return;
        }
        let line = String::from_utf8_lossy(&line);
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            // An id containing NUL must be ignored (spec); blazar never sends one.
            "id" if !value.contains('\0') => self.id = Some(value.to_string()),
            // `retry` and unknown fields carry nothing the CLI uses.
            _ => {}
        }
    }

    /// Ends the current message; a message without any `data:` line is dropped, per the spec.
    fn dispatch(&mut self) -> Option<SseMessage> {
        let event = self.event.take();
        if !std::mem::replace(&mut self.has_data, false) {
            return None;
        }
        Some(SseMessage {
            event,
            data: std::mem::take(&mut self.data),
            id: self.id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(chunks: &[&[u8]]) -> Vec<SseMessage> {
        let mut p = SseParser::new();
        chunks.iter().flat_map(|c| p.push(c)).collect()
    }

    fn msg(event: Option<&str>, data: &str) -> SseMessage {
        SseMessage {
            event: event.map(str::to_string),
            data: data.to_string(),
            id: None,
        }
    }

    #[test]
    fn single_message_with_event_and_data() {
        let got = parse_all(&[b"event: metric_update\ndata: {\"type\":\"metric_update\"}\n\n"]);
        assert_eq!(
            got,
            vec![msg(Some("metric_update"), "{\"type\":\"metric_update\"}")]
        );
    }

    #[test]
    fn message_split_across_chunks_at_every_byte() {
        let text = b"event: event\ndata: {\"a\":1}\n\ndata: second\n\n";
        for split in 0..text.len() {
            let (a, b) = text.split_at(split);
            let got = parse_all(&[a, b]);
            assert_eq!(
                got,
                vec![msg(Some("event"), "{\"a\":1}"), msg(None, "second")],
                "split at {split}"
            );
        }
    }

    #[test]
    fn one_byte_chunks() {
        let text = b"data: x\r\n\r\ndata: y\n\n";
        let chunks: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(parse_all(&chunks), vec![msg(None, "x"), msg(None, "y")]);
    }

    #[test]
    fn crlf_split_between_cr_and_lf_is_one_line_ending() {
        let got = parse_all(&[b"data: a\r", b"\n\r", b"\n"]);
        assert_eq!(got, vec![msg(None, "a")]);
    }

    #[test]
    fn bare_cr_line_endings() {
        assert_eq!(
            parse_all(&[b"data: a\r\rdata: b\r\r"]),
            vec![msg(None, "a"), msg(None, "b")]
        );
    }

    #[test]
    fn utf8_split_inside_a_character() {
        let text = "data: héllo\n\n".as_bytes();
        let (a, b) = text.split_at(8); // inside the two-byte 'é'
        assert_eq!(parse_all(&[a, b]), vec![msg(None, "héllo")]);
    }

    #[test]
    fn comments_and_keepalives_are_ignored() {
        let got = parse_all(&[b": keep-alive\n\n:\n\ndata: x\n: mid-message comment\n\n"]);
        assert_eq!(got, vec![msg(None, "x")]);
    }

    #[test]
    fn multiple_data_lines_join_with_newline() {
        assert_eq!(
            parse_all(&[b"data: a\ndata: b\ndata\n\n"]),
            vec![msg(None, "a\nb\n")]
        );
    }

    #[test]
    fn only_one_leading_space_is_stripped() {
        assert_eq!(
            parse_all(&[b"data:  two\ndata:none\n\n"]),
            vec![msg(None, " two\nnone")]
        );
    }

    #[test]
    fn event_without_data_is_not_dispatched_and_does_not_leak() {
        let got = parse_all(&[b"event: ping\n\ndata: x\n\n"]);
        assert_eq!(got, vec![msg(None, "x")]);
    }

    #[test]
    fn unterminated_message_is_held_until_blank_line() {
        let mut p = SseParser::new();
        assert!(p.push(b"data: partial\n").is_empty());
        assert_eq!(p.push(b"\n"), vec![msg(None, "partial")]);
    }

    #[test]
    fn id_persists_across_messages() {
        let got = parse_all(&[b"id: 7\ndata: a\n\ndata: b\n\n"]);
        assert_eq!(
            got.iter().map(|m| m.id.as_deref()).collect::<Vec<_>>(),
            vec![Some("7"), Some("7")]
        );
    }
}
