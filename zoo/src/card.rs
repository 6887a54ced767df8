//! A model card as a person reads it (`zoo info`): summary, where the weights came
//! from, a metrics table with the measurement stated once, and the architecture and
//! preprocessing in a few lines. Pure functions over the index entry, so the layout is
//! unit-tested; `zoo info --json` prints the entry itself for machines.

use std::fmt::Write;

use serde_json::Value;

use crate::index::{Metric, VersionEntry};

/// The card of `name@version`. `cached` is the cache manifest's entry when the version
/// is in the cache (for upstream entries it holds the converted files).
pub fn render(name: &str, version: &str, entry: &VersionEntry, cached: Option<&VersionEntry>) -> String {
    let card = &entry.card;
    let mut out = String::new();
    let _ = writeln!(out, "{name}@{version}");
    match &card.description {
        Some(d) => wrap_into(&mut out, d, "  ", 88),
        None => out.push_str("  (no description)\n"),
    }

    out.push_str("\nWeights\n");
    match &entry.upstream {
        Some(up) => {
            let who = card.extra.get("trained_by").and_then(Value::as_str).unwrap_or("the upstream authors");
            let _ = writeln!(out, "  trained by {who}, not here; fetched from the authors' file at pull time:");
            let _ = writeln!(out, "  url:           {}", up.url);
            let _ = writeln!(out, "  git blob sha1: {}", up.git_blob_sha1);
            for (k, v) in &up.source {
                let _ = writeln!(out, "  {:<14} {v}", format!("{k}:"));
            }
            let _ = writeln!(out, "  converted locally by the {:?} converter into model.onnx + model.safetensors + model.json", up.converter);
            if let Some(note) = card.extra.get("index_note").and_then(Value::as_str) {
                wrap_into(&mut out, note, "  ", 88);
            }
        }
        None => {
            out.push_str("  trained here\n");
            if let Some(Value::Object(run)) = card.extra.get("training") {
                for (k, v) in run {
                    wrap_into(&mut out, &format!("{k}: {}", plain(v)), "    ", 88);
                }
            }
            if let Some(d) = &entry.derived {
                let _ = writeln!(
                    out,
                    "  published as weights; {} built from them at pull time by the {:?} converter (`train pull`)",
                    d.files.join(", "),
                    d.converter
                );
            }
        }
    }
    if let Some(t) = &card.training_data {
        out.push_str("  training data: ");
        match t {
            Value::Object(m) => {
                out.push('\n');
                for (k, v) in m {
                    wrap_into(&mut out, &format!("{k}: {}", plain(v)), "    ", 88);
                }
            }
            other => {
                let mut s = String::new();
                wrap_into(&mut s, &plain(other), "    ", 88);
                out.push_str(s.trim_start());
            }
        }
    }
    let _ = writeln!(out, "  license:  {}", card.license.as_deref().unwrap_or("(not stated)"));
    let _ = writeln!(out, "  citation: {}", card.citation.as_deref().unwrap_or("(not stated)"));

    out.push_str("\nMetrics\n");
    render_metrics(&mut out, &card.metrics);

    if let Some(a) = &card.architecture {
        out.push_str("\nArchitecture\n");
        render_architecture(&mut out, a);
    }
    if let Some(p) = &card.preprocessing {
        out.push_str("\nPreprocessing\n");
        render_preprocessing(&mut out, p);
    }

    let shown_extra: Vec<_> = card
        .extra
        .iter()
        .filter(|(k, v)| {
            !matches!(k.as_str(), "trained_by" | "index_note" | "converted" | "derived")
                && !(k.as_str() == "training" && entry.upstream.is_none() && v.is_object())
        })
        .collect();
    if !shown_extra.is_empty() {
        out.push_str("\nOther\n");
        for (k, v) in shown_extra {
            match v {
                Value::Object(m) => {
                    let _ = writeln!(out, "  {k}:");
                    for (k2, v2) in m {
                        wrap_into(&mut out, &format!("{k2}: {}", plain(v2)), "    ", 88);
                    }
                }
                other => wrap_into(&mut out, &format!("{k}: {}", plain(other)), "  ", 88),
            }
        }
    }

    let files = cached.filter(|c| !c.files.is_empty()).unwrap_or(entry);
    out.push_str("\nFiles");
    if files.files.is_empty() {
        out.push_str(": built by the converter at pull time (not yet in the cache)\n");
    } else {
        let _ = writeln!(out, " ({:.1} MB{})", files.total_size() as f64 / 1e6, if cached.is_some() { ", cached" } else { "" });
        for (path, f) in &files.files {
            let _ = writeln!(out, "  {path:<28} {:>9.1} MB  sha256 {}", f.size as f64 / 1e6, f.sha256);
        }
    }
    if let Some(c) = cached.and_then(|c| c.card.extra.get("converted")) {
        let _ = writeln!(out, "  converted here by {} in {} s", plain(&c["converter"]), plain(&c["seconds"]));
    }
    out
}

fn render_metrics(out: &mut String, metrics: &[Metric]) {
    if metrics.is_empty() {
        out.push_str("  none reported\n");
        return;
    }
    // Procedures are shared by most rows: each is written once, rows point at it.
    let mut hows: Vec<&str> = Vec::new();
    for m in metrics {
        if let Some(h) = m.how.as_deref() {
            if !hows.contains(&h) {
                hows.push(h);
            }
        }
    }
    let marker = |m: &Metric| match (m.how.as_deref(), hows.len()) {
        (None, _) | (_, 0 | 1) => String::new(),
        (Some(h), _) => format!(" [{}]", hows.iter().position(|x| *x == h).unwrap_or(0) + 1),
    };
    let width = metrics.iter().map(|m| m.name.len()).max().unwrap_or(0).max(6);
    let _ = writeln!(out, "  {:<width$}  {:>8}  data", "metric", "value");
    for m in metrics {
        let data = m.dataset.as_deref().unwrap_or("-");
        let _ = writeln!(out, "  {:<width$}  {:>8.4}  {data}{}", m.name, m.value, marker(m));
    }
    match hows.as_slice() {
        [] => {}
        [one] => wrap_into(out, &format!("how: {one}"), "  ", 88),
        many => {
            for (i, h) in many.iter().enumerate() {
                wrap_into(out, &format!("[{}] {h}", i + 1), "  ", 88);
            }
        }
    }
}

/// `{first: {block: "autosome", in_channels: 6, ...}, ...}` -> `first  autosome (in_channels 6, ...)`.
fn render_architecture(out: &mut String, a: &Value) {
    let Value::Object(parts) = a else {
        wrap_into(out, &plain(a), "  ", 88);
        return;
    };
    // Blocks in data-flow order where the names say it.
    let mut keys: Vec<&String> = parts.keys().collect();
    let rank = |k: &str| ["first", "core", "final"].iter().position(|x| *x == k).unwrap_or(3);
    keys.sort_by_key(|k| rank(k));
    for k in keys {
        let v = &parts[k];
        let line = match v {
            Value::Object(m) => {
                let block = m.get("block").map(plain).unwrap_or_default();
                let params: Vec<String> =
                    m.iter().filter(|(p, _)| p.as_str() != "block").map(|(p, v)| format!("{p} {}", plain(v))).collect();
                format!("{k:<6} {block} ({})", params.join(", "))
            }
            other => format!("{k:<6} {}", plain(other)),
        };
        wrap_into(out, &line, "  ", 88);
    }
}

fn render_preprocessing(out: &mut String, p: &Value) {
    let get = |k: &str| p.get(k);
    let (Some(length), Some(alphabet)) = (get("length").and_then(Value::as_u64), get("alphabet").and_then(Value::as_str)) else {
        wrap_into(out, &plain(p), "  ", 88);
        return;
    };
    let extra: Vec<String> = get("extra_channels")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(plain).collect())
        .unwrap_or_default();
    let channels = alphabet.len() + extra.len();
    let bases: Vec<String> = alphabet.chars().map(String::from).collect();
    let mut line = format!("input {channels} x {length}: one-hot {}", bases.join(","));
    if !extra.is_empty() {
        line.push_str(&format!(" + {} flag channel(s) ({})", extra.len(), extra.join(", ")));
    }
    line.push_str(if get("case_sensitive").and_then(Value::as_bool).unwrap_or(false) {
        "; case-sensitive (lower-case letters encode as empty columns)"
    } else {
        "; case-insensitive"
    });
    let _ = writeln!(out, "  {line}");
    let padding = get("padding");
    match padding.and_then(|x| x.get("kind")).and_then(Value::as_str) {
        Some("plasmid") => {
            let trim = padding.and_then(|x| x.get("trim_5prime")).map(plain).unwrap_or_default();
            let flank = padding.and_then(|x| x.get("upstream")).and_then(Value::as_str).map_or(0, str::len);
            let _ = writeln!(
                out,
                "  padding: drop the first {trim} nt, prepend the {flank} nt of plasmid 5' of the insert, keep the last {length} nt"
            );
        }
        Some("exact") => {
            let _ = writeln!(out, "  padding: none; sequences must be exactly {length} nt");
        }
        Some("window") => {
            let text = |k: &str| padding.and_then(|x| x.get(k)).and_then(Value::as_str).unwrap_or("");
            let side = |flank: &str, end: &str| match flank.len() {
                0 => "empty columns".to_string(),
                n => format!("the {end} of a {n}-nt flank"),
            };
            let place = match text("align") {
                "start" => format!("at the start; the 3' side is filled with {}", side(text("right_flank"), "start")),
                "end" => format!("at the end; the 5' side is filled with {}", side(text("left_flank"), "end")),
                _ => format!(
                    "centred; filled with {} before and {} after",
                    side(text("left_flank"), "end"),
                    side(text("right_flank"), "start")
                ),
            };
            let longer = match text("longer") {
                "error" => "longer sequences are refused".to_string(),
                _ => format!("longer sequences keep their first {length} nt"),
            };
            let _ = writeln!(out, "  padding: a shorter sequence sits {place}; {longer}");
        }
        _ => {
            let _ = writeln!(out, "  padding: {}", padding.map(plain).unwrap_or_else(|| "(not stated)".into()));
        }
    }
    let n = match get("n_policy").and_then(Value::as_str) {
        Some("zeros") => "all channels 0".to_string(),
        Some("uniform") => format!("{} in each base channel", 1.0 / alphabet.len().max(1) as f64),
        Some(other) => other.to_string(),
        None => "(not stated)".to_string(),
    };
    let _ = writeln!(out, "  N: {n}");
    let scoring = if get("rc_average").and_then(Value::as_bool).unwrap_or(false) {
        "mean of the forward and reverse-complement predictions"
    } else {
        "one pass per record (orientation from the record)"
    };
    let _ = writeln!(out, "  score: {scoring}");
    if let Some(offsets) = get("shifts").and_then(|x| x.get("offsets")).and_then(Value::as_array) {
        let list: Vec<String> = offsets.iter().map(plain).collect();
        let _ = writeln!(
            out,
            "  test-time shifts: {} ({}), each scored as above; all inputs averaged",
            list.len(),
            list.join(", ")
        );
    }
    if let Some(d) = get("training_domain") {
        let num = |k: &str| d.get(k).map(plain).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  training domain: {} nt +/- {} nt, at most {} N; sequences outside it are scored and counted",
            num("length"),
            num("max_length_difference"),
            num("max_n")
        );
    }
    for p in get("postprocessing").and_then(Value::as_array).into_iter().flatten() {
        let name = p.get("name").map(plain).unwrap_or_default();
        let what = p.get("description").map(plain).filter(|d| !d.is_empty()).unwrap_or_else(|| plain(p));
        let _ = writeln!(out, "  optional post-processing '{name}' (only with --postprocess {name}): {what}");
    }
}

/// A JSON value as text: strings without quotes, the rest compact.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

/// Appends `text` wrapped at `width` columns, each line starting with `indent`.
fn wrap_into(out: &mut String, text: &str, indent: &str, width: usize) {
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && indent.len() + line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{indent}{line}");
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::index::Index;

    fn builtin() -> Index {
        Index::load(&std::path::Path::new(crate::BUILTIN_REGISTRY_DIR).join("index.json")).unwrap()
    }

    #[test]
    fn trained_here_card_has_sections_a_table_and_the_how_once() {
        let index = builtin();
        let entry = &index.models["dream-rnn"].versions[&semver::Version::new(0, 1, 0)];
        let text = render("dream-rnn", "0.1.0", entry, None);
        for section in ["\nWeights\n", "\nMetrics\n", "\nArchitecture\n", "\nPreprocessing\n", "\nFiles ("] {
            assert!(text.contains(section), "missing {section:?} in\n{text}");
        }
        assert!(text.contains("trained here"));
        assert!(text.contains("input 6 x 150: one-hot A,G,C,T + 2 flag channel(s) (reverse, singleton)"), "{text}");
        assert!(text.contains("N: all channels 0"));
        assert!(text.contains("drop the first 17 nt, prepend the 150 nt"));
        // Each procedure is written once, however many rows it measured.
        let how = entry.card.metrics[0].how.clone().unwrap();
        assert!(entry.card.metrics.iter().filter(|m| m.how.as_deref() == Some(&how)).count() > 1);
        let first_words: String = how.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        assert_eq!(text.matches(&first_words).count(), 1, "the how appears once:\n{text}");
        assert!(text.contains("dream-public pearson_score"), "{text}");
        assert!(text.contains("0.3043"), "{text}");
        // No raw JSON objects in the human card.
        assert!(!text.contains("{\""), "{text}");
    }

    #[test]
    fn team_preprocessing_window_shifts_domain_and_postprocessing_read_as_sentences() {
        let p: serde_json::Value = serde_json::from_str(
            r#"{"length": 110, "alphabet": "ACGT", "extra_channels": [], "n_policy": "zeros",
                "rc_average": true, "case_sensitive": true,
                "padding": {"kind": "window", "align": "center", "left_flank": "", "right_flank": "GGT", "longer": "keep_start"},
                "shifts": {"offsets": [-2, -1, 0, 1, 2], "left": "AC", "right": "GT"},
                "training_domain": {"length": 110, "max_length_difference": 3, "max_n": 3},
                "postprocessing": [{"name": "team-cdf", "kind": "normal_cdf", "shift": 0.062, "description": "normal CDF of the prediction"}]}"#,
        )
        .unwrap();
        let mut text = String::new();
        render_preprocessing(&mut text, &p);
        for want in [
            "case-sensitive",
            "centred; filled with empty columns before and the start of a 3-nt flank after",
            "longer sequences keep their first 110 nt",
            "test-time shifts: 5 (-2, -1, 0, 1, 2)",
            "training domain: 110 nt +/- 3 nt, at most 3 N",
            "optional post-processing 'team-cdf' (only with --postprocess team-cdf): normal CDF of the prediction",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("{\""), "{text}");
    }

    #[test]
    fn upstream_card_names_the_url_and_hash_and_says_it_was_not_downloaded_here() {
        let index = builtin();
        let model = &index.models["legnet"];
        let (v, entry) = model.versions.iter().next().unwrap();
        let text = render("legnet", &v.to_string(), entry, None);
        let up = entry.upstream.as_ref().unwrap();
        assert!(text.contains(&up.url) && text.contains(&up.git_blob_sha1), "{text}");
        assert!(text.contains("never downloaded"), "{text}");
        assert!(text.contains("N: 0.25 in each base channel"), "{text}");
        assert!(text.contains("built by the converter at pull time"), "{text}");
    }
}
