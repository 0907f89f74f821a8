//! CSV for spreadsheet programs: UTF-8 with a byte-order mark (without it Excel on Windows
//! reads Chinese as GBK and shows garbage), CRLF line ends, RFC 4180 quoting, and cells that
//! a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR at the start) prefixed with
//! `'` — participant names are typed by strangers.

/// The UTF-8 byte-order mark.
pub const BOM: &str = "\u{feff}";

/// A CSV document being written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csv(String);

impl Default for Csv {
    fn default() -> Self {
        Csv::new()
    }
}

impl Csv {
    /// An empty document (just the BOM).
    pub fn new() -> Csv {
        Csv(BOM.to_owned())
    }

    /// Appends a row of text cells.
    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) -> &mut Csv {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            self.0.push_str(&cell_text(cell.as_ref()));
        }
        self.0.push_str("\r\n");
        self
    }

    /// The document.
    pub fn finish(self) -> String {
        self.0
    }
}

/// One cell, quoted when needed and defused when it would start a formula.
pub fn cell_text(value: &str) -> String {
    let defused = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_with_a_bom_and_ends_rows_with_crlf() {
        let mut csv = Csv::new();
        csv.row(&["序号", "姓名", "金额"])
            .row(&["1", "张三", "12.34"]);
        let text = csv.finish();
        assert_eq!(text, "\u{feff}序号,姓名,金额\r\n1,张三,12.34\r\n");
        assert_eq!(&text.as_bytes()[..3], &[0xEF, 0xBB, 0xBF]);
    }

    #[test]
    fn quotes_commas_quotes_and_line_breaks() {
        assert_eq!(cell_text("a,b"), "\"a,b\"");
        assert_eq!(cell_text("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell_text("a\nb"), "\"a\nb\"");
        assert_eq!(cell_text("普通"), "普通");
    }

    #[test]
    fn formulas_typed_as_names_are_defused() {
        assert_eq!(cell_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell_text("+1"), "'+1");
        assert_eq!(cell_text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(cell_text("-3"), "'-3");
    }
}
