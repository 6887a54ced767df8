//! Readers for the challenge's data files: index CSVs, leaderboard JSON key files, the
//! truth TSV and prediction files. Every problem names the file and, where there is
//! one, the 1-based line.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::EvalError;

/// Ids are test-set indices written in decimal; "007" and "7" must meet, so purely
/// numeric ids are rewritten in canonical form. Anything else is kept (trimmed) so a
/// user's own benchmark may use names.
pub fn canonical_id(raw: &str) -> String {
    let t = raw.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let stripped = t.trim_start_matches('0');
        if stripped.is_empty() {
            "0".to_string()
        } else {
            stripped.to_string()
        }
    } else {
        t.to_string()
    }
}

pub(crate) fn read_text(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            EvalError::MissingFile {
                path: path.to_path_buf(),
            }
        } else {
            EvalError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

fn parse_err(path: &Path, line: Option<usize>, message: impl Into<String>) -> EvalError {
    EvalError::Parse {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Lines with their 1-based numbers; blank lines are allowed only at the end, because
/// in a file whose line order defines the test index a blank line would silently shift
/// every following index.
fn numbered_lines<'a>(path: &'a Path, text: &'a str) -> Result<Vec<(usize, &'a str)>, EvalError> {
    let all: Vec<&str> = text.lines().collect();
    let last_content = all.iter().rposition(|l| !l.trim().is_empty());
    let Some(last) = last_content else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(last + 1);
    for (i, line) in all[..=last].iter().enumerate() {
        if line.trim().is_empty() {
            return Err(parse_err(path, Some(i + 1), "blank line inside the file"));
        }
        out.push((i + 1, *line));
    }
    Ok(out)
}

/// Splits one CSV record (RFC 4180 quoting: `"a,b"`, `""` for a quote). The challenge's
/// yeast file quotes tags that contain commas. Records spanning lines are not supported.
fn split_csv(line: &str) -> Result<Vec<String>, &'static str> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut in_quotes = false;
    let mut field_start = true;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    in_quotes = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(std::mem::take(&mut cur));
                field_start = true;
                continue;
            }
            '"' if field_start => in_quotes = true,
            _ => cur.push(c),
        }
        field_start = false;
    }
    if in_quotes {
        return Err("unterminated quoted field (fields spanning lines are not supported)");
    }
    fields.push(cur);
    Ok(fields)
}

/// Rows of a CSV with a header, as (line number, fields), plus the positions of the
/// requested columns.
fn read_csv_columns(path: &Path, wanted: &[&str]) -> Result<Vec<(usize, Vec<String>)>, EvalError> {
    let text = read_text(path)?;
    let lines = numbered_lines(path, &text)?;
    let Some(((_, header_line), rows)) = lines.split_first() else {
        return Err(parse_err(
            path,
            None,
            "file is empty (a header row is expected)",
        ));
    };
    let header = split_csv(header_line).map_err(|m| parse_err(path, Some(1), m))?;
    let mut positions = Vec::new();
    for name in wanted {
        let Some(pos) = header.iter().position(|h| h.trim() == *name) else {
            return Err(parse_err(
                path,
                Some(1),
                format!(
                    "header has no column `{name}` (columns: {})",
                    header.join(", ")
                ),
            ));
        };
        positions.push(pos);
    }
    let mut out = Vec::with_capacity(rows.len());
    for &(line_no, line) in rows {
        let fields = split_csv(line).map_err(|m| parse_err(path, Some(line_no), m))?;
        if fields.len() != header.len() {
            return Err(parse_err(
                path,
                Some(line_no),
                format!("{} fields, header has {}", fields.len(), header.len()),
            ));
        }
        let picked = positions.iter().map(|&p| fields[p].clone()).collect();
        out.push((line_no, picked));
    }
    Ok(out)
}

fn parse_index(path: &Path, line: usize, column: &str, raw: &str) -> Result<String, EvalError> {
    let t = raw.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(parse_err(
            path,
            Some(line),
            format!("column `{column}` is `{raw}`, expected a non-negative integer test index"),
        ));
    }
    Ok(canonical_id(t))
}

/// Ids from the `pos` column, duplicates removed (`sorted(unique(pos))` in the
/// reference; order does not affect a correlation).
pub fn read_csv_pos(path: &Path) -> Result<Vec<String>, EvalError> {
    let rows = read_csv_columns(path, &["pos"])?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (line, fields) in rows {
        let id = parse_index(path, line, "pos", &fields[0])?;
        if seen.insert(id.clone()) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The set of `(alt_pos, ref_pos)` tuples, duplicates removed.
pub fn read_csv_pairs(path: &Path) -> Result<Vec<(String, String)>, EvalError> {
    let rows = read_csv_columns(path, &["alt_pos", "ref_pos"])?;
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for (line, fields) in rows {
        let alt = parse_index(path, line, "alt_pos", &fields[0])?;
        let reference = parse_index(path, line, "ref_pos", &fields[1])?;
        let pair = (alt, reference);
        if seen.insert(pair.clone()) {
            out.push(pair);
        }
    }
    Ok(out)
}

fn read_json_object(path: &Path) -> Result<serde_json::Map<String, serde_json::Value>, EvalError> {
    let text = read_text(path)?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| parse_err(path, Some(e.line()), format!("invalid JSON: {e}")))?;
    match value {
        serde_json::Value::Object(map) => Ok(map),
        _ => Err(parse_err(
            path,
            None,
            "expected a JSON object `{\"<id>\": ...}`",
        )),
    }
}

/// Keys of a leaderboard file such as `high_exp_indices.json` (values are ignored).
pub fn read_json_keys(path: &Path) -> Result<Vec<String>, EvalError> {
    let map = read_json_object(path)?;
    let mut out = Vec::with_capacity(map.len());
    for key in map.keys() {
        let id = canonical_id(key);
        if id.is_empty() {
            return Err(parse_err(path, None, "empty key"));
        }
        out.push(id);
    }
    Ok(out)
}

/// Keys `"<alt>,<ref>"` of a leaderboard pair file such as `SNVs_exp_indices.json`.
pub fn read_json_pair_keys(path: &Path) -> Result<Vec<(String, String)>, EvalError> {
    let map = read_json_object(path)?;
    let mut out = Vec::with_capacity(map.len());
    for key in map.keys() {
        let parts: Vec<&str> = key.split(',').collect();
        if parts.len() != 2 || parts.iter().any(|p| p.trim().is_empty()) {
            return Err(parse_err(
                path,
                None,
                format!("key `{key}` is not a pair `\"<alt>,<ref>\"`"),
            ));
        }
        out.push((canonical_id(parts[0]), canonical_id(parts[1])));
    }
    Ok(out)
}

/// One row of the ground-truth file.
#[derive(Debug, Clone, PartialEq)]
pub struct TruthRow {
    pub id: String,
    pub sequence: String,
    pub value: f64,
}

/// Reads a tab-separated truth file. Without an id column the id is the 0-based data
/// row number, which is how the challenge test file defines its indices.
pub fn read_truth_tsv(
    path: &Path,
    header: bool,
    id_column: Option<usize>,
    sequence_column: usize,
    value_column: usize,
) -> Result<Vec<TruthRow>, EvalError> {
    let text = read_text(path)?;
    let lines = numbered_lines(path, &text)?;
    let data = if header {
        lines.get(1..).unwrap_or(&[])
    } else {
        &lines[..]
    };
    let needed = [Some(sequence_column), Some(value_column), id_column]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0)
        + 1;
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(data.len());
    let mut rows = Vec::with_capacity(data.len());
    for (row_index, &(line_no, line)) in data.iter().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < needed {
            return Err(parse_err(
                path,
                Some(line_no),
                format!(
                    "{} tab-separated fields, at least {needed} expected",
                    fields.len()
                ),
            ));
        }
        let id = match id_column {
            Some(c) => canonical_id(fields[c]),
            None => row_index.to_string(),
        };
        if id.is_empty() {
            return Err(parse_err(path, Some(line_no), "empty id"));
        }
        let raw_value = fields[value_column].trim();
        let value: f64 = raw_value.parse().map_err(|_| {
            parse_err(
                path,
                Some(line_no),
                format!("expression `{raw_value}` is not a number"),
            )
        })?;
        if !value.is_finite() {
            return Err(parse_err(
                path,
                Some(line_no),
                format!("expression `{raw_value}` is not finite"),
            ));
        }
        if let Some(first) = seen.insert(id.clone(), line_no) {
            return Err(parse_err(
                path,
                Some(line_no),
                format!("id `{id}` already appeared on line {first}"),
            ));
        }
        rows.push(TruthRow {
            id,
            sequence: fields[sequence_column].trim().to_string(),
            value,
        });
    }
    if rows.is_empty() {
        return Err(parse_err(path, None, "no data rows"));
    }
    Ok(rows)
}

/// Reads predictions keyed by id.
///
/// * `.json`: an object `{"<id>": prediction}` (the challenge leaderboard submission
///   format, e.g. `sample_submission.json`).
/// * anything else: tab-separated `id<TAB>prediction[<TAB>...]` as `infer score` writes
///   it, extra columns ignored. The first line is a header; it is read as data instead
///   when its second field is a number, so a header-less file loses no prediction.
pub fn read_predictions(path: &Path) -> Result<HashMap<String, f64>, EvalError> {
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    if is_json {
        return read_predictions_json(path);
    }
    let text = read_text(path)?;
    let lines = numbered_lines(path, &text)?;
    let mut out: HashMap<String, f64> = HashMap::with_capacity(lines.len());
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    for (i, &(line_no, line)) in lines.iter().enumerate() {
        let fields: Vec<&str> = line.split('\t').collect();
        if i == 0 {
            let looks_like_data = fields.len() >= 2 && fields[1].trim().parse::<f64>().is_ok();
            if !looks_like_data {
                continue;
            }
        }
        if fields.len() < 2 {
            return Err(parse_err(
                path,
                Some(line_no),
                "expected `id<TAB>prediction` (no tab found)",
            ));
        }
        let id = canonical_id(fields[0]);
        if id.is_empty() {
            return Err(parse_err(path, Some(line_no), "empty id"));
        }
        let raw = fields[1].trim();
        let value: f64 = raw.parse().map_err(|_| {
            parse_err(
                path,
                Some(line_no),
                format!("prediction `{raw}` is not a number"),
            )
        })?;
        if !value.is_finite() {
            return Err(parse_err(
                path,
                Some(line_no),
                format!("prediction `{raw}` is not finite"),
            ));
        }
        if let Some(first) = first_line_of.insert(id.clone(), line_no) {
            return Err(parse_err(
                path,
                Some(line_no),
                format!("id `{id}` already predicted on line {first}"),
            ));
        }
        out.insert(id, value);
    }
    if out.is_empty() {
        return Err(parse_err(path, None, "no predictions in file"));
    }
    Ok(out)
}

fn read_predictions_json(path: &Path) -> Result<HashMap<String, f64>, EvalError> {
    let map = read_json_object(path)?;
    let mut out = HashMap::with_capacity(map.len());
    for (key, value) in map {
        let Some(v) = value.as_f64().filter(|v| v.is_finite()) else {
            return Err(parse_err(
                path,
                None,
                format!("prediction for `{key}` is `{value}`, expected a finite number"),
            ));
        };
        let id = canonical_id(&key);
        if out.insert(id.clone(), v).is_some() {
            return Err(parse_err(path, None, format!("id `{id}` appears twice")));
        }
    }
    if out.is_empty() {
        return Err(parse_err(path, None, "no predictions in file"));
    }
    Ok(out)
}

/// Resolves a path from a benchmark definition against the definition's base directory.
pub(crate) fn resolve(base: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        base.join(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting() {
        assert_eq!(split_csv(r#"1,"a,b",c"#).unwrap(), vec!["1", "a,b", "c"]);
        assert_eq!(split_csv(r#""x""y",,"#).unwrap(), vec![r#"x"y"#, "", ""]);
        assert!(split_csv(r#"1,"open"#).is_err());
    }

    #[test]
    fn canonical_ids() {
        assert_eq!(canonical_id(" 007 "), "7");
        assert_eq!(canonical_id("000"), "0");
        assert_eq!(canonical_id("seq_1"), "seq_1");
    }
}
