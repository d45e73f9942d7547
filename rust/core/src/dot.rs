//! Graphviz DOT output that stays valid whatever the labels hold and
//! readable on big graphs.
//!
//! Every label is a DOT quoted string with `\` and `"` escaped, newlines as
//! `\n` line breaks, other control characters dropped and non-ASCII kept as
//! UTF-8 (`charset="UTF-8"`). Node ids are generated (`n0`, `n1`, …), so ids
//! never need escaping. Node kinds get distinct shapes and colours; pen
//! width grows with effective weight. With `top_n`, only the `top_n` nodes
//! with the highest score and the edges among them are written.

use rustc_hash::FxHashMap as HashMap;
use std::fmt::Write as _;

use arrow::array::Array;
use arrow::record_batch::RecordBatch;

use crate::columns::{opt_str_col, str_col};
use crate::error::Result;

/// Escape a label for a DOT quoted string, cut to `max_chars` characters.
pub fn escape_label(s: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max_chars * 2) + 8);
    for (n, ch) in s.chars().enumerate() {
        if n >= max_chars {
            out.push('…');
            break;
        }
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

fn push_u(out: &mut String, v: usize) {
    crate::pack::text::push_uint(out, v as u64);
}

fn style(kind: &str) -> &'static str {
    match kind {
        "moment" => "shape=box, style=\"rounded,filled\", fillcolor=\"#cfe2ff\"",
        "resource" => "shape=note, style=filled, fillcolor=\"#fff3cd\"",
        "summary" => "shape=note, style=filled, fillcolor=\"#e2e3e5\"",
        "session" => "shape=ellipse, style=filled, fillcolor=\"#d1e7dd\"",
        "topic" => "shape=hexagon, style=filled, fillcolor=\"#ffd8a8\"",
        "person" => "shape=house, style=filled, fillcolor=\"#f8d7da\"",
        "tool" | "project" => "shape=component, style=filled, fillcolor=\"#e9d8fd\"",
        _ => "shape=ellipse",
    }
}

fn f64s(batch: &RecordBatch, table: &str, name: &str) -> Result<Vec<f64>> {
    let a = crate::columns::f64_array(batch, table, name)?;
    Ok((0..a.len()).map(|i| if a.is_null(i) { 0.0 } else { a.value(i) }).collect())
}

/// Write a DOT digraph.
///
/// - `nodes`: `id`, optional `label`, `kind`, `score` (float64; ranks nodes for `top_n`), `url` (a link for the
///   node, written as `URL` with `target="_top"`: clickable in SVG), `size` (float64, 0–1: the font size);
/// - `edges`: `source_id`, `target_id`, `edge_type`, `weight` (float64, effective).
///
/// Edges whose ends are not in `nodes` get plain nodes labelled with their id.
pub fn to_dot<'a>(nodes: &'a RecordBatch, edges: &'a RecordBatch, top_n: Option<usize>, name: &str) -> Result<String> {
    let nid = str_col(nodes, "nodes", "id")?;
    let nlabel = opt_str_col(nodes, "nodes", "label")?;
    let nkind = opt_str_col(nodes, "nodes", "kind")?;
    let score = if nodes.column_by_name("score").is_some() {
        f64s(nodes, "nodes", "score")?
    } else {
        vec![0.0; nodes.num_rows()]
    };
    // optional: a link per node (a relative URL the caller built), and a size from 0 to 1 (the font grows with it)
    let nurl = if nodes.column_by_name("url").is_some() { opt_str_col(nodes, "nodes", "url")? } else { None };
    let size = if nodes.column_by_name("size").is_some() { Some(f64s(nodes, "nodes", "size")?) } else { None };
    let es = str_col(edges, "edges", "source_id")?;
    let et = str_col(edges, "edges", "target_id")?;
    let ety = str_col(edges, "edges", "edge_type")?;
    let ew = f64s(edges, "edges", "weight")?;

    // which nodes are kept
    let mut order: Vec<usize> = (0..nodes.num_rows()).collect();
    let keep_limit = top_n.unwrap_or(usize::MAX);
    if top_n.is_some() {
        order.sort_by(|&a, &b| score[b].total_cmp(&score[a]).then(a.cmp(&b)));
    }
    let mut index: HashMap<&str, usize> = HashMap::default();
    let mut out = String::with_capacity(64 + edges.num_rows() * 72 + nodes.num_rows() * 64);
    let _ = writeln!(out, "digraph \"{}\" {{", escape_label(name, 200));
    out.push_str("  graph [charset=\"UTF-8\", rankdir=LR, overlap=false, splines=true, fontname=\"Helvetica\"];\n");
    out.push_str("  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=8, color=\"#555555\"];\n");
    for &i in order.iter().take(keep_limit) {
        let Some(id) = nid.get(i) else { continue };
        if index.contains_key(id) {
            continue;
        }
        let k = index.len();
        index.insert(id, k);
        let label = nlabel.as_ref().and_then(|c| c.get(i)).filter(|l| !l.is_empty()).unwrap_or(id);
        let kind = nkind.as_ref().map_or("", |c| c.get_or_empty(i));
        let _ = write!(out, "  n{k} [label=\"{}\", {}", escape_label(label, 60), style(kind));
        if let Some(url) = nurl.as_ref().map(|c| c.get_or_empty(i)).filter(|u| !u.is_empty()) {
            let _ = write!(out, ", URL=\"{}\", target=\"_top\", tooltip=\"{}\"", escape_label(url, 2000), escape_label(label, 200));
        }
        if let Some(sz) = size.as_ref().and_then(|v| v.get(i)) {
            let sz = if sz.is_finite() { sz.clamp(0.0, 1.0) } else { 0.0 };
            let _ = write!(out, ", fontsize={}", (9.0 + 13.0 * sz).round() as u32);
        }
        out.push_str("];\n");
    }
    let max_w = ew.iter().copied().filter(|w| w.is_finite()).fold(0.0f64, f64::max).max(1e-12);
    let restrict = top_n.is_some();
    let mut extra: HashMap<&str, usize> = HashMap::default();
    let mut type_labels: HashMap<&str, String> = HashMap::default();
    let base = index.len();
    for (e, &we) in ew.iter().enumerate() {
        let (s, t) = (es.get_or_empty(e), et.get_or_empty(e));
        let (si, ti) = (index.get(s).copied(), index.get(t).copied());
        let (si, ti) = match (si, ti) {
            (Some(a), Some(b)) => (a, b),
            _ if restrict => continue,
            _ => {
                // ends not described in `nodes`: add plain nodes
                let mut ensure = |id: &'a str, out: &mut String| -> usize {
                    if let Some(&k) = extra.get(id) {
                        return k;
                    }
                    let k = base + extra.len();
                    extra.insert(id, k);
                    let _ = writeln!(out, "  n{k} [label=\"{}\"];", escape_label(id, 60));
                    k
                };
                let a = match si {
                    Some(a) => a,
                    None => ensure(s, &mut out),
                };
                let b = match ti {
                    Some(b) => b,
                    None => ensure(t, &mut out),
                };
                (a, b)
            }
        };
        let w = if we.is_finite() { we.max(0.0) } else { 0.0 };
        // pen width in hundredths, written without float formatting
        let pen = (50.0 + 350.0 * (w / max_w)).round() as u32;
        let et = ety.get_or_empty(e);
        let label = type_labels.entry(et).or_insert_with(|| escape_label(et, 40));
        out.push_str("  n");
        push_u(&mut out, si);
        out.push_str(" -> n");
        push_u(&mut out, ti);
        out.push_str(" [label=\"");
        out.push_str(label);
        out.push_str("\", penwidth=");
        push_u(&mut out, (pen / 100) as usize);
        out.push('.');
        let frac = pen % 100;
        out.push((b'0' + (frac / 10) as u8) as char);
        out.push((b'0' + (frac % 10) as u8) as char);
        out.push_str("];\n");
    }
    out.push_str("}\n");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_labels() {
        assert_eq!(escape_label("a\"b\\c\nd\u{7}é", 100), "a\\\"b\\\\c\\nd\u{e9}");
        assert_eq!(escape_label("abcdef", 3), "abc…");
        assert_eq!(escape_label("\\N", 10), "\\\\N");
    }

    #[test]
    fn nodes_link_and_grow_when_asked() {
        use arrow::array::{Float64Array, StringArray};
        use arrow::datatypes::{DataType, Field, Schema};
        use std::sync::Arc;
        let nodes = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, false),
                Field::new("label", DataType::Utf8, true),
                Field::new("kind", DataType::Utf8, true),
                Field::new("url", DataType::Utf8, true),
                Field::new("size", DataType::Float64, true),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["a", "b"])),
                Arc::new(StringArray::from(vec!["x\" onclick=\"y", "b"])),
                Arc::new(StringArray::from(vec!["topic", "person"])),
                Arc::new(StringArray::from(vec![Some("/graph?node=x%22"), None])),
                Arc::new(Float64Array::from(vec![1.0, f64::NAN])),
            ],
        )
        .unwrap();
        let edges = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("source_id", DataType::Utf8, false),
                Field::new("target_id", DataType::Utf8, false),
                Field::new("edge_type", DataType::Utf8, false),
                Field::new("weight", DataType::Float64, false),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["a"])),
                Arc::new(StringArray::from(vec!["b"])),
                Arc::new(StringArray::from(vec!["related_to"])),
                Arc::new(Float64Array::from(vec![2.0])),
            ],
        )
        .unwrap();
        let dot = to_dot(&nodes, &edges, None, "map").unwrap();
        assert!(dot.contains("URL=\"/graph?node=x%22\", target=\"_top\", tooltip=\"x\\\" onclick=\\\"y\""), "{dot}");
        assert!(dot.contains("fontsize=22") && dot.contains("fontsize=9"), "{dot}");
        assert_eq!(dot.matches("URL=").count(), 1);
    }
}
