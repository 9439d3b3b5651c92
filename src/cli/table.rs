//! A minimal aligned-column table for human output: headers, rows, two spaces between columns.

use std::io::{self, Write};

/// Columns are as wide as their widest cell (in characters); the last column is not padded.
#[derive(Debug)]
pub(crate) struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

const GAP: &str = "  ";

impl Table {
    /// Returns an empty table with these column headers.
    pub(crate) fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; missing cells print empty, extra cells are kept as extra columns.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Writes the header line and every row.
    pub(crate) fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let lines = std::iter::once(&self.headers).chain(&self.rows);
        let columns = lines.clone().map(Vec::len).max().unwrap_or(0);
        let mut widths = vec![0; columns];
        for line in lines.clone() {
            for (w, cell) in widths.iter_mut().zip(line) {
                *w = (*w).max(cell.chars().count());
            }
        }
        for line in lines {
            let mut text = String::new();
            for (i, w) in widths.iter().enumerate() {
                let cell = line.get(i).map_or("", String::as_str);
                if i > 0 {
                    text.push_str(GAP);
                }
                text.push_str(cell);
                if i + 1 < columns {
                    text.extend(std::iter::repeat_n(
                        ' ',
                        w.saturating_sub(cell.chars().count()),
                    ));
                }
            }
            writeln!(out, "{}", text.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(t: &Table) -> String {
        let mut out = Vec::new();
        t.write(&mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn aligns_columns_to_widest_cell() {
        let mut t = Table::new(&["NAME", "TYPE", "VALUE"]);
        t.row(vec!["cpu.usage".into(), "gauge".into(), "0.5".into()]);
        t.row(vec!["x".into(), "counter".into(), "12".into()]);
        assert_eq!(
            render(&t),
            "NAME       TYPE     VALUE\n\
             cpu.usage  gauge    0.5\n\
             x          counter  12\n"
        );
    }

    #[test]
    fn counts_characters_not_bytes() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["héé".into(), "1".into()]);
        assert_eq!(render(&t), "A    B\nhéé  1\n");
    }

    #[test]
    fn empty_trailing_cells_leave_no_trailing_spaces() {
        let mut t = Table::new(&["A", "B"]);
        t.row(vec!["long value".into(), String::new()]);
        t.row(vec!["x".into()]);
        assert_eq!(render(&t), "A           B\nlong value\nx\n");
    }

    #[test]
    fn header_only_table() {
        assert_eq!(render(&Table::new(&["A", "B"])), "A  B\n");
    }
}
