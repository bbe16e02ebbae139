//! The mix file the plugin writes when QEMU exits and `host bench-infer`
//! reads: one line per segment and part that executed anything.
//!
//! ```text
//! # qemu-insn-mix 1
//! segment part instructions mul_long pair_acc neon_other load_q store_q load_narrow store_narrow branch scalar
//! 2 0 1234567 ...
//! 2 - 4321 ...
//! ```
//!
//! `part` is `-` for work outside any part (core 0's serial steps, idle
//! cores). Class columns count instructions, except `load_q` and `store_q`,
//! which count 128-bit registers moved.

use crate::classify::CLASSES;
use std::fmt::Write as _;

pub const MAGIC: &str = "# qemu-insn-mix 1";

/// Counts of one segment and part.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    pub segment: u8,
    /// `None`: outside any part.
    pub part: Option<u8>,
    pub instructions: u64,
    /// Indexed like [`CLASSES`].
    pub classes: [u64; CLASSES.len()],
}

pub fn header() -> String {
    let mut h = String::from("segment part instructions");
    for c in CLASSES {
        h.push(' ');
        h.push_str(c.name());
    }
    h
}

pub fn write(rows: &[Row]) -> String {
    let mut out = format!("{MAGIC}\n{}\n", header());
    for r in rows {
        let part = r.part.map_or("-".to_string(), |p| p.to_string());
        let _ = write!(out, "{} {part} {}", r.segment, r.instructions);
        for c in r.classes {
            let _ = write!(out, " {c}");
        }
        out.push('\n');
    }
    out
}

/// Why a mix file could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Not a mix file, or one from another version of the plugin.
    Header,
    /// Line `n` (1-based) is not a row of the header's columns.
    Row(usize),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Header => write!(f, "not a mix file of this version (expected \"{MAGIC}\" and its columns)"),
            ParseError::Row(n) => write!(f, "line {n} is not a row of the mix table"),
        }
    }
}

impl std::error::Error for ParseError {}

pub fn parse(text: &str) -> Result<Vec<Row>, ParseError> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) || lines.next() != Some(header().as_str()) {
        return Err(ParseError::Header);
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            let bad = || ParseError::Row(i + 3);
            let mut fields = line.split(' ');
            let segment = fields.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let part = match fields.next().ok_or_else(bad)? {
                "-" => None,
                p => Some(p.parse().map_err(|_| bad())?),
            };
            let instructions = fields.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            let mut classes = [0u64; CLASSES.len()];
            for c in classes.iter_mut() {
                *c = fields.next().and_then(|s| s.parse().ok()).ok_or_else(bad)?;
            }
            if fields.next().is_some() {
                return Err(bad());
            }
            Ok(Row { segment, part, instructions, classes })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_the_file() {
        let rows = vec![
            Row { segment: 2, part: Some(3), instructions: 99, classes: [1, 2, 3, 4, 5, 6, 7, 8, 9] },
            Row { segment: 0, part: None, instructions: 5, classes: [0, 0, 0, 0, 0, 0, 0, 1, 4] },
        ];
        assert_eq!(parse(&write(&rows)).unwrap(), rows);
    }

    #[test]
    fn refuses_other_files_and_bad_rows() {
        assert_eq!(parse("segment part\n"), Err(ParseError::Header));
        let text = write(&[]) + "2 x 1 0 0 0 0 0 0 0 0 0\n";
        assert_eq!(parse(&text), Err(ParseError::Row(3)));
        let text = write(&[]) + "2 1 1 0 0\n";
        assert_eq!(parse(&text), Err(ParseError::Row(3)));
    }
}
