//! Printing: JSON documents, plain tables, warnings and errors. Keys appear only masked —
//! nothing here ever receives key material, and every sentence passes the one redactor.
//!
//! The terminal is not the model's: text that came from a model (answers, reasoning, OCR
//! Markdown, catalogue entries) has terminal control sequences removed before it is printed —
//! escape sequences (OSC 52 clipboard writes, cursor moves, title changes) and every C0/C1
//! control character but `\n` and `\t`. `--raw` prints it as received; so does `--json` when
//! stdout is not a terminal (a program reads it; JSON escapes C0 controls anyway).

use std::io::IsTerminal;
use std::sync::OnceLock;

use keywheel_core::Error;
use serde::Serialize;

/// How model text is printed, set once from the command line.
#[derive(Debug, Clone, Copy, Default)]
struct Policy {
    raw: bool,
}

static POLICY: OnceLock<Policy> = OnceLock::new();

/// Records `--raw` for the whole process; call once, before any command runs.
pub fn init(raw: bool) {
    let _ = POLICY.set(Policy { raw });
}

fn raw() -> bool {
    POLICY.get().copied().unwrap_or_default().raw
}

/// Whether model text printed as plain text goes out unfiltered (`--raw`).
pub fn text_is_raw() -> bool {
    raw()
}

/// Whether a JSON document goes out unfiltered: `--raw`, or stdout is not a terminal.
pub fn json_is_raw() -> bool {
    raw() || !std::io::stdout().is_terminal()
}

/// A stateful filter for text that arrives in pieces (a streamed answer): an escape sequence
/// split across two pieces is still removed whole. A VT parser (`anstyle-parse`, the one clap
/// uses) tells printable characters from sequences; only printable ones are kept.
pub struct TerminalFilter {
    parser: anstyle_parse::Parser<anstyle_parse::DefaultCharAccumulator>,
    raw: bool,
}

impl std::fmt::Debug for TerminalFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TerminalFilter")
            .field("raw", &self.raw)
            .finish()
    }
}

/// Collects what the parser prints and executes (`\n`, `\t`), dropping every sequence.
struct Keep<'a>(&'a mut String);

impl anstyle_parse::Perform for Keep<'_> {
    fn print(&mut self, c: char) {
        if keep(c) {
            self.0.push(c);
        }
    }

    fn execute(&mut self, byte: u8) {
        if matches!(byte, b'\n' | b'\t') {
            self.0.push(byte as char);
        }
    }
}

impl Default for TerminalFilter {
    /// A filter following the process policy (`--raw` turns it off).
    fn default() -> Self {
        Self {
            parser: anstyle_parse::Parser::default(),
            raw: text_is_raw(),
        }
    }
}

impl TerminalFilter {
    /// A filter that always filters, whatever the policy.
    pub fn strict() -> Self {
        Self {
            parser: anstyle_parse::Parser::default(),
            raw: false,
        }
    }

    /// Filters the next piece of text.
    pub fn push(&mut self, piece: &str) -> String {
        if self.raw {
            return piece.to_string();
        }
        let mut out = String::with_capacity(piece.len());
        let mut keep = Keep(&mut out);
        for b in piece.bytes() {
            self.parser.advance(&mut keep, b);
        }
        out
    }
}

/// Everything but control characters (C0, DEL, C1), and `\n` and `\t`.
fn keep(c: char) -> bool {
    !c.is_control() || c == '\n' || c == '\t'
}

/// `s` with escape sequences and control characters (but `\n`, `\t`) removed.
pub fn terminal_safe(s: &str) -> String {
    TerminalFilter::strict().push(s)
}

/// Model text for a plain-text print: filtered unless `--raw`.
pub fn model_text(s: &str) -> String {
    TerminalFilter::default().push(s)
}

/// A serialized JSON document for stdout: on a terminal, every string in it loses its control
/// sequences (escaped ones too: `\u001b]52;…` is still a clipboard write once a script
/// unescapes it for a terminal); as is under `--raw` or into a pipe.
pub fn json_line(s: &str) -> String {
    if json_is_raw() {
        return s.to_string();
    }
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(mut v) => {
            clean_strings(&mut v);
            let pretty = s.contains('\n');
            let out = if pretty {
                serde_json::to_string_pretty(&v)
            } else {
                serde_json::to_string(&v)
            };
            out.unwrap_or_else(|_| terminal_safe(s))
        }
        Err(_) => terminal_safe(s),
    }
}

/// Applies [`terminal_safe`] to every string (and key) in a JSON value.
fn clean_strings(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::String(s) => *s = terminal_safe(s),
        Value::Array(a) => a.iter_mut().for_each(clean_strings),
        Value::Object(o) => {
            let entries = std::mem::take(o);
            for (k, mut val) in entries {
                clean_strings(&mut val);
                o.insert(terminal_safe(&k), val);
            }
        }
        _ => {}
    }
}

/// Prints one JSON document on stdout.
pub fn json<T: Serialize>(value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{}", json_line(&s)),
        Err(e) => eprintln!("keywheel: could not print JSON: {e}"),
    }
}

/// Prints an error: the sentence on stderr, and with `--json` also
/// `{"error":{"code":…,"message":…}}` on stdout.
/// The sentence is passed through the one redactor ([`keywheel_core::keys::redact`]): an
/// error that quotes what a person typed (`keys rm <a full key>`) never prints the key.
pub fn print_error(e: &Error, as_json: bool) {
    let sentence = sentence(&e.to_string());
    eprintln!("keywheel: {sentence}");
    if as_json {
        let doc = serde_json::json!({ "error": { "code": e.code(), "message": sentence } });
        println!("{doc}");
    }
}

/// A sentence for a person: keys redacted, terminal control sequences removed.
pub fn sentence(s: &str) -> String {
    terminal_safe(&keywheel_core::keys::redact(s))
}

/// Prints warnings (one line each) on stderr.
pub fn warnings(ws: &[String]) {
    for w in ws {
        eprintln!("keywheel: {}", sentence(w));
    }
}

/// A plain text table with left-aligned columns (cells filtered with [`terminal_safe`]).
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| terminal_safe(c)).collect())
        .collect();
    let rows = &rows;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            s.push_str(c);
            if i + 1 < cells.len() {
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    for row in rows {
        out.push('\n');
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// A one-line bar chart of values: `▁▂▅█`.
pub fn sparkline(values: &[u32]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().copied().max().unwrap_or(0);
    values
        .iter()
        .map(|&v| {
            if v == 0 {
                '·'
            } else {
                BARS[((v as usize * 7) / max.max(1) as usize).min(7)]
            }
        })
        .collect()
}

/// A key's state cell: the core's label ([`keywheel_core::pool::KeyView::availability_label`]),
/// and whether this process holds the key.
pub fn availability(k: &keywheel_core::pool::KeyView) -> String {
    if k.available {
        k.availability_label.clone()
    } else {
        format!("{} (not in this process)", k.availability_label)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_sequences_go_and_text_stays() {
        let cases = [
            // OSC 52 clipboard write (BEL- and ST-terminated)
            ("a\x1b]52;c;ZWNobyBwd25lZA==\x07b", "ab"),
            ("a\x1b]52;c;ZWNobw==\x1b\\b", "ab"),
            // window title
            ("\x1b]0;owned\x07title", "title"),
            // cursor moves, clear screen, colours
            ("x\x1b[2J\x1b[1;1Hy\x1b[31mz\x1b[0m", "xyz"),
            // C0 and C1 controls other than \n and \t
            ("a\rb\x08c\x07d\x0be\x0cf\x7fg", "abcdefg"),
            ("a\u{9b}31mb\u{9d}0;t\u{9c}c", "a31mb0;tc"),
            ("keep\tthis\nline ünï 😀", "keep\tthis\nline ünï 😀"),
        ];
        for (input, want) in cases {
            assert_eq!(terminal_safe(input), want, "{input:?}");
        }
    }

    #[test]
    fn a_sequence_split_across_pieces_is_removed_whole() {
        let mut f = TerminalFilter::strict();
        let mut out = String::new();
        for piece in [
            "hel", "lo\x1b", "]52;c;", "ZZZ", "\x07 wor", "ld\x1b[", "2J!",
        ] {
            out.push_str(&f.push(piece));
        }
        assert_eq!(out, "hello world!");
    }

    #[test]
    fn json_strings_are_filtered_escaped_or_not() {
        let mut v =
            serde_json::json!({"text": "a\u{1b}]52;c;Zg==\u{7}b\u{9b}c", "n": [1, "x\u{1b}[2Jy"]});
        clean_strings(&mut v);
        assert_eq!(v, serde_json::json!({"text": "abc", "n": [1, "xy"]}));
    }

    #[test]
    fn table_cells_are_filtered() {
        let t = table(&["A"], &[vec!["m\x1b]0;x\x07odel".into()]]);
        assert_eq!(t, "A\nmodel");
    }
}
