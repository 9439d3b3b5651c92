//! Series selectors as alert rules write them: `name`, `name{label="v"}`, with `=`, `!=`, `=~`
//! and `!~` (regexes fully anchored, as in Prometheus).

/// How a label is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum MatchOp {
    #[serde(rename = "=")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
    #[serde(rename = "=~")]
    Regex,
    #[serde(rename = "!~")]
    NotRegex,
}

impl MatchOp {
    /// Returns the operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// One label matcher.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LabelMatch {
    pub name: String,
    pub op: MatchOp,
    pub value: String,
}

/// A parsed selector: the metric name and label matchers.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Selector {
    pub metric: String,
    pub matchers: Vec<LabelMatch>,
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.metric)?;
        if self.matchers.is_empty() {
            return Ok(());
        }
        f.write_str("{")?;
        for (i, m) in self.matchers.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}{}{:?}", m.name, m.op.as_str(), m.value)?;
        }
        f.write_str("}")
    }
}

/// Parses `name{a="b",c!~"d.*"}`.
///
/// # Errors
/// What is wrong and where, e.g. `expected a quoted value after c!~ at byte 12`.
pub fn parse(text: &str) -> Result<Selector, String> {
    let text = text.trim();
    let (name, rest) = match text.find('{') {
        Some(i) => (
            text.get(..i).unwrap_or_default().trim(),
            text.get(i..).unwrap_or_default(),
        ),
        None => (text, ""),
    };
    if name.is_empty() {
        return Err(
            "expected a metric name, e.g. service.health.status{criticality=\"critical\"}".into(),
        );
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-' | '/')))
    {
        return Err(format!("unexpected {bad:?} in metric name {name:?}"));
    }
    let mut matchers = Vec::new();
    if !rest.is_empty() {
        let body = rest
            .strip_prefix('{')
            .and_then(|r| r.strip_suffix('}'))
            .ok_or_else(|| format!("expected label matchers in braces, got {rest:?}"))?;
        let mut chars = body.char_indices().peekable();
        loop {
            while chars
                .next_if(|(_, c)| c.is_whitespace() || *c == ',')
                .is_some()
            {}
            let Some(&(start, _)) = chars.peek() else {
                break;
            };
            let mut end = start;
            while let Some((i, c)) =
                chars.next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            {
                end = i + c.len_utf8();
            }
            let label = body.get(start..end).unwrap_or_default().to_string();
            if label.is_empty() {
                return Err(format!("expected a label name at byte {start} of {body:?}"));
            }
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            let op = match (chars.next().map(|(_, c)| c), chars.peek().map(|(_, c)| *c)) {
                (Some('='), Some('~')) => {
                    chars.next();
                    MatchOp::Regex
                }
                (Some('='), _) => MatchOp::Equal,
                (Some('!'), Some('=')) => {
                    chars.next();
                    MatchOp::NotEqual
                }
                (Some('!'), Some('~')) => {
                    chars.next();
                    MatchOp::NotRegex
                }
                _ => return Err(format!("expected =, !=, =~ or !~ after {label}")),
            };
            while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!(
                    "expected a quoted value after {label}{}",
                    op.as_str()
                ));
            }
            let mut value = String::new();
            let mut closed = false;
            while let Some((_, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(other) => value.push(other),
                        None => break,
                    },
                    '"' => {
                        closed = true;
                        break;
                    }
                    c => value.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated value of {label}"));
            }
            if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
                regex::Regex::new(&format!("^(?:{value})$"))
                    .map_err(|e| format!("bad regex for {label}: {e}"))?;
            }
            matchers.push(LabelMatch {
                name: label,
                op,
                value,
            });
        }
    }
    Ok(Selector {
        metric: name.to_string(),
        matchers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_and_matchers() {
        let s = parse("service.health.status").unwrap();
        assert_eq!(s.metric, "service.health.status");
        assert!(s.matchers.is_empty());
        let s = parse(r#"service.health.status{criticality="critical", service!="x",job=~"a|b" , le!~"\"q\""}"#).unwrap();
        assert_eq!(s.matchers.len(), 4);
        assert_eq!(
            s.matchers[0],
            LabelMatch {
                name: "criticality".into(),
                op: MatchOp::Equal,
                value: "critical".into()
            }
        );
        assert_eq!(s.matchers[1].op, MatchOp::NotEqual);
        assert_eq!(s.matchers[2].op, MatchOp::Regex);
        assert_eq!(s.matchers[3].value, "\"q\"");
        assert_eq!(parse(&s.to_string()).unwrap(), s);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        for (text, want) in [
            ("", "metric name"),
            ("{a=\"b\"}", "metric name"),
            ("m{a}", "after a"),
            ("m{a=b}", "quoted value"),
            ("m{a=\"b}", "unterminated"),
            ("m{a=~\"(\"}", "bad regex"),
            ("m{a=\"b\"", "braces"),
            ("m x", "unexpected"),
        ] {
            let err = parse(text).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
