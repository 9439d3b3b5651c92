//! Shell-style globs (`*`, `?`) as the API's `name=`, `event_type=` and `--type` filters use them.

/// A compiled glob; `*` matches any run of characters (dots included), `?` exactly one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: Vec<char>,
    literal: bool,
}

impl Glob {
    /// Compiles `pattern`; every pattern is valid.
    pub fn new(pattern: &str) -> Self {
        let literal = !pattern.contains(['*', '?']);
        Self {
            pattern: pattern.chars().collect(),
            literal,
        }
    }

    /// Returns whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        if self.literal {
            return self.pattern.iter().copied().eq(text.chars());
        }
        let t: Vec<char> = text.chars().collect();
        // Iterative wildcard match with single backtrack point: O(n*m) worst case, no recursion.
        let (mut p, mut s) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while s < t.len() {
            match self.pattern.get(p) {
                Some('*') => {
                    star = Some((p, s));
                    p += 1;
                }
                Some('?') => {
                    p += 1;
                    s += 1;
                }
                Some(c) if Some(c) == t.get(s) => {
                    p += 1;
                    s += 1;
                }
                _ => match star {
                    Some((sp, ss)) => {
                        p = sp + 1;
                        s = ss + 1;
                        star = Some((sp, ss + 1));
                    }
                    None => return false,
                },
            }
        }
        self.pattern
            .get(p..)
            .is_some_and(|rest| rest.iter().all(|c| *c == '*'))
    }

    /// Returns the glob as an anchored regular expression (for label matchers).
    pub fn to_regex(&self) -> String {
        let mut out = String::new();
        for c in &self.pattern {
            match c {
                '*' => out.push_str(".*"),
                '?' => out.push('.'),
                c if "\\.+()[]{}^$|".contains(*c) => {
                    out.push('\\');
                    out.push(*c);
                }
                c => out.push(*c),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn star_matches_across_dots() {
        let g = Glob::new("plugin.my_plugin.*");
        assert!(g.matches("plugin.my_plugin.requests"));
        assert!(g.matches("plugin.my_plugin.a.b"));
        assert!(!g.matches("plugin.other.requests"));
    }

    #[test]
    fn question_mark_and_literal() {
        assert!(Glob::new("a?c").matches("abc"));
        assert!(!Glob::new("a?c").matches("ac"));
        assert!(Glob::new("user.login").matches("user.login"));
        assert!(!Glob::new("user.login").matches("user.logins"));
        assert!(Glob::new("*").matches(""));
        assert!(Glob::new("*a*b").matches("xxaxxb"));
        assert!(!Glob::new("*a*b").matches("xxaxxbc"));
    }

    #[test]
    fn regex_form_escapes_dots() {
        assert_eq!(Glob::new("a.*").to_regex(), "a\\..*");
    }
}
