//! Terminal helpers shared by the table commands (`health`, `alerts`, `rules`, `silence list`):
//! the line width, ANSI colour (only on a terminal, never with `NO_COLOR`), colouring cells after
//! layout, cutting the last column to the line, and small cell formatters.

use std::io::{self, IsTerminal, Write};

use chrono::{DateTime, Utc};

use super::output;
use super::table::Table;

/// The line width assumed when `$COLUMNS` is not set.
const DEFAULT_COLUMNS: usize = 120;
/// Who acts (acknowledges, silences) when neither `--by` nor `$USER` says.
const DEFAULT_USER: &str = "cli";
/// A table's last column (a message, a comment) is cut to what is left of the line, but never
/// below this.
const MIN_LAST_WIDTH: usize = 20;

/// The terminal width tables should fit in, from `$COLUMNS`.
pub(crate) fn terminal_columns() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .unwrap_or(DEFAULT_COLUMNS)
}

/// `$USER` when set and not blank, else `cli`: the default for `--by`.
pub(crate) fn default_user() -> String {
    std::env::var("USER")
        .ok()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| DEFAULT_USER.to_string())
}

// === colour ===

/// Whether text is written with ANSI colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Paint {
    Plain,
    Colour,
}

/// An ANSI colour a word can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Colour {
    Red,
    Yellow,
    Green,
    Dim,
}

impl Colour {
    fn code(self) -> &'static str {
        match self {
            Self::Red => "31",
            Self::Yellow => "33",
            Self::Green => "32",
            Self::Dim => "2",
        }
    }
}

impl Paint {
    /// Colour only on a terminal, and not when `NO_COLOR` is set to anything non-empty
    /// (<https://no-color.org>).
    pub(crate) fn for_stdout() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if io::stdout().is_terminal() && !no_color {
            Self::Colour
        } else {
            Self::Plain
        }
    }

    /// `text` in `colour`; as given when plain or without a colour.
    pub(crate) fn apply(self, colour: Option<Colour>, text: &str) -> String {
        match (self, colour) {
            (Self::Colour, Some(c)) => format!("\x1b[{}m{text}\x1b[0m", c.code()),
            _ => text.to_string(),
        }
    }
}

// === tables ===

/// A cell to colour after layout (colour codes would upset the widths): the column, the word
/// that starts the cell, and its colour.
pub(crate) struct Painted<'a> {
    pub(crate) column: usize,
    pub(crate) word: &'a str,
    pub(crate) colour: Option<Colour>,
}

/// Writes a table of `headers` and `rows`, colouring in each row the cells `painted` names for
/// it (the header stays plain). With `columns`, the last column is cut to fit a line that wide.
pub(crate) fn write_table(
    out: &mut impl Write,
    headers: &[&str],
    mut rows: Vec<Vec<String>>,
    columns: Option<usize>,
    painted: &[Vec<Painted<'_>>],
    paint: Paint,
) -> io::Result<()> {
    let widths = widths(headers, &rows);
    if let Some(columns) = columns {
        cut_last_column(&mut rows, &widths, columns, MIN_LAST_WIDTH);
    }
    let mut table = Table::new(headers);
    for r in rows {
        table.row(r);
    }
    write_painted(out, &table, &widths, painted, paint)
}

/// Column widths of `headers` and `rows`, in characters.
fn widths(headers: &[&str], rows: &[Vec<String>]) -> Vec<usize> {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (w, cell) in widths.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths
}

/// Cuts the last cell of each row to what is left of a `columns`-wide line after the other
/// columns (`widths`, two spaces apart), but never below `min` characters.
fn cut_last_column(rows: &mut [Vec<String>], widths: &[usize], columns: usize, min: usize) {
    let used: usize = widths
        .iter()
        .take(widths.len().saturating_sub(1))
        .map(|w| w + 2)
        .sum();
    let budget = columns.saturating_sub(used).max(min);
    for r in rows {
        if let Some(last) = r.last_mut() {
            *last = output::truncate(last, budget);
        }
    }
}

/// Writes `table`, colouring in each row the cells `painted` names for it (the header stays
/// plain). `widths` are the table's column widths (in characters).
fn write_painted(
    out: &mut impl Write,
    table: &Table,
    widths: &[usize],
    painted: &[Vec<Painted<'_>>],
    paint: Paint,
) -> io::Result<()> {
    let mut text = Vec::new();
    table.write(&mut text)?;
    let text = String::from_utf8_lossy(&text);
    let mut lines = text.lines();
    if let Some(header) = lines.next() {
        writeln!(out, "{header}")?;
    }
    for (line, cells) in lines.zip(painted) {
        let mut line = line.to_string();
        // Right to left, so the offsets of the cells still to colour do not move.
        let mut cells: Vec<&Painted<'_>> = cells.iter().collect();
        cells.sort_by_key(|c| std::cmp::Reverse(c.column));
        for cell in cells {
            let at: usize = widths.iter().take(cell.column).map(|w| w + 2).sum();
            line = paint_word(&line, at, cell.word, cell.colour, paint);
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Colours `word` where it starts `at` characters into `line`; leaves the line as is if it is
/// not there.
fn paint_word(line: &str, at: usize, word: &str, colour: Option<Colour>, paint: Paint) -> String {
    let split = line.char_indices().nth(at).map(|(i, _)| i);
    match split.map(|i| line.split_at(i)) {
        Some((head, tail)) if tail.starts_with(word) => {
            let rest = tail.get(word.len()..).unwrap_or("");
            format!("{head}{}{rest}", paint.apply(colour, word))
        }
        _ => line.to_string(),
    }
}

// === cells ===

/// `s`, or `-` when it is empty.
pub(crate) fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s.to_string()
    }
}

/// Formats how long before `now` the RFC 3339 time `ts` was: `12s ago`, `5m ago`, `3h ago`,
/// `2d ago` (the largest unit, rounded down); a time after `now` is `just now`; other text is
/// shown as given.
pub(crate) fn ago(ts: &str, now: DateTime<Utc>) -> String {
    let Ok(t) = DateTime::parse_from_rfc3339(ts) else {
        return ts.to_string();
    };
    let secs = (now - t.with_timezone(&Utc)).num_seconds();
    match secs {
        ..=0 => "just now".to_string(),
        1..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-12-04T18:00:00.123Z".parse().unwrap()
    }

    #[test]
    fn relative_times() {
        assert_eq!(ago("2026-12-04T18:00:05Z", now()), "just now");
        assert_eq!(ago("2026-12-04T17:59:48Z", now()), "12s ago");
        assert_eq!(ago("2026-12-04T17:55:00Z", now()), "5m ago");
        assert_eq!(ago("2026-12-04T15:00:00Z", now()), "3h ago");
        assert_eq!(ago("2026-12-01T18:00:00Z", now()), "3d ago");
        assert_eq!(ago("a while", now()), "a while");
        assert_eq!(ago("", now()), "");
    }

    #[test]
    fn empty_cells_are_dashes() {
        assert_eq!(or_dash(""), "-");
        assert_eq!(or_dash("x"), "x");
    }

    #[test]
    fn colour_only_when_painting_and_given_one() {
        assert_eq!(
            Paint::Colour.apply(Some(Colour::Red), "x"),
            "\x1b[31mx\x1b[0m"
        );
        assert_eq!(
            Paint::Colour.apply(Some(Colour::Dim), "x"),
            "\x1b[2mx\x1b[0m"
        );
        assert_eq!(Paint::Colour.apply(None, "x"), "x");
        assert_eq!(Paint::Plain.apply(Some(Colour::Green), "x"), "x");
    }

    #[test]
    fn widths_count_characters() {
        let rows = vec![vec!["héé".to_string(), "1".to_string()]];
        assert_eq!(widths(&["A", "BB"], &rows), [3, 2]);
    }

    #[test]
    fn last_column_is_cut_to_the_line_but_not_below_the_minimum() {
        let mut rows = vec![vec!["abc".to_string(), "0123456789".to_string()]];
        cut_last_column(&mut rows, &[3, 10], 12, 4);
        assert_eq!(rows[0][1], "0123...");
        cut_last_column(&mut rows, &[3, 10], 6, 4);
        assert_eq!(rows[0][1], "0...");
    }

    #[test]
    fn painted_cells_keep_their_columns() {
        let mut table = Table::new(&["ID", "STATE", "LEVEL"]);
        table.row(vec!["a".into(), "firing".into(), "critical".into()]);
        table.row(vec!["b".into(), "odd".into(), "info".into()]);
        let widths = [2, 6, 8];
        let painted = vec![
            vec![
                Painted {
                    column: 1,
                    word: "firing",
                    colour: Some(Colour::Red),
                },
                Painted {
                    column: 2,
                    word: "critical",
                    colour: Some(Colour::Yellow),
                },
            ],
            // Not where the word is: left as is.
            vec![Painted {
                column: 2,
                word: "odd",
                colour: Some(Colour::Red),
            }],
        ];
        let mut out = Vec::new();
        write_painted(&mut out, &table, &widths, &painted, Paint::Colour).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID  STATE   LEVEL\n\
             a   \x1b[31mfiring\x1b[0m  \x1b[33mcritical\x1b[0m\n\
             b   odd     info\n"
        );
    }
}
