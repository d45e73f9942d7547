//! Refs, truncation and chunking: turning segmented activity into the
//! compact text the model reads.
//!
//! Every item gets a short ref in order of appearance — resources `R1…`,
//! sessions `S1…`, messages `M1…`, segments `G1…` — so the model can answer
//! in refs and Python maps them back to ids. Text is packed line by line:
//!
//! ```text
//! ## G1 2026-11-16 09:02-10:40 UTC
//! R1 09:05 commit "Implement Vamana builder": Adds the greedy search …
//! S1 session "DiskANN design chat":
//!   M1 09:10 user: How should the pruning step …
//!   M2 09:11 assistant: Use alpha = 1.2 … [calls: search_docs(query=…)]
//!   M3 09:11 tool: {"hits": … [… 812 chars cut …] …}
//! ```
//!
//! Whitespace runs collapse to one space. Contents longer than their cap are
//! cut to head (2/3) and tail (1/3) around a visible `[… N chars cut …]`
//! marker. Tool outputs and tool-call arguments get a much smaller cap than
//! user/assistant text and resource contents, so they are compressed first.
//! Chunks are filled greedily in order and never exceed `max_input_tokens`
//! (the offline estimate of [`crate::tokens`]); a segment or session that
//! continues into the next chunk repeats its header marked `(continued)`, and
//! an item too large for any chunk is cut further until it fits. Same input,
//! same bytes out.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::columns::{i64_values, opt_str_col, str_col};
use crate::error::{CoreError, Result};
use crate::segment::{segment, Point, Unit};
use crate::timefmt;
use crate::tokens::estimate;

/// Packing options (defaults mirror `rem dream`'s flags).
#[derive(Clone, Debug)]
pub struct PackOptions {
    /// Idle gap that cuts runs and segments, in microseconds (default 30 min).
    pub gap_us: i64,
    /// Token budget of one chunk's text (estimate).
    pub max_input_tokens: usize,
    /// Characters kept of a resource's or a user/assistant/system message's content.
    pub max_item_chars: usize,
    /// Characters kept of a tool message, and of each tool call's arguments.
    pub tool_max_chars: usize,
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            gap_us: 30 * 60 * 1_000_000,
            max_input_tokens: 6000,
            max_item_chars: 1200,
            tool_max_chars: 160,
        }
    }
}

/// The packer's three Arrow outputs.
///
/// - `chunks`: `chunk` u32, `text` utf8, `est_tokens` u32, `n_items` u32,
///   `segments` utf8 (space-separated segment refs present in the chunk).
/// - `items`: `ref`, `kind` (resource|session|message), `id`, `segment`,
///   `chunk` u32, `ts` i64 µs, `session_ref` (messages only). Sessions appear
///   once, at their first appearance.
/// - `segments`: `ref`, `start` i64 µs, `end` i64 µs, `n_items` u32,
///   `first_chunk` u32, `last_chunk` u32.
pub struct Packed {
    pub chunks: RecordBatch,
    pub items: RecordBatch,
    pub segments: RecordBatch,
}

/// Collapse whitespace runs into single spaces and trim.
pub fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(1 << 16));
    let mut pending_space = false;
    for ch in text.chars() {
        if ch.is_whitespace() || ch == '\0' {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
    out
}

/// Cut `text` (already squashed) to `cap` characters: head (2/3) and tail
/// (1/3) around a marker naming how many characters were cut.
pub fn cut(text: &str, cap: usize) -> String {
    let n = text.chars().count();
    if n <= cap {
        return text.to_string();
    }
    let head_n = cap * 2 / 3;
    let tail_n = cap - head_n;
    let head: String = text.chars().take(head_n).collect();
    let tail: String = text.chars().skip(n - tail_n).collect();
    let cut_n = n - head_n - tail_n;
    let mut s = String::with_capacity(head.len() + tail.len() + 32);
    s.push_str(head.trim_end());
    s.push_str(&format!(" [… {cut_n} chars cut …] "));
    s.push_str(tail.trim_start());
    s.trim().to_string()
}

fn quote(name: &str) -> String {
    let n = squash(name).replace('"', "'");
    cut(&n, 120)
}

/// Compress an OpenAI-style `tool_calls` JSON array into `name(args…)` forms.
fn tool_calls_text(raw: &str, cap: usize) -> String {
    let raw = raw.trim();
    if raw.is_empty() || raw == "null" || raw == "[]" {
        return String::new();
    }
    let parsed: Option<Vec<String>> = serde_json::from_str::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .map(|calls| {
            calls
                .iter()
                .map(|c| {
                    let f = c.get("function").unwrap_or(c);
                    let name = f.get("name").and_then(|n| n.as_str()).unwrap_or("call");
                    let args = match f.get("arguments") {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    };
                    format!("{}({})", squash(name), cut(&squash(&args), cap))
                })
                .collect()
        });
    match parsed {
        Some(calls) if !calls.is_empty() => format!(" [calls: {}]", calls.join(", ")),
        Some(_) => String::new(),
        None => format!(" [calls: {}]", cut(&squash(raw), cap)),
    }
}

struct Input<'a> {
    r_id: crate::columns::StrCol<'a>,
    r_name: Option<crate::columns::StrCol<'a>>,
    r_type: Option<crate::columns::StrCol<'a>>,
    r_content: Option<crate::columns::StrCol<'a>>,
    r_ts: Vec<i64>,
    s_name: Vec<&'a str>,
    s_key: Vec<&'a str>,
    m_id: crate::columns::StrCol<'a>,
    m_role: Option<crate::columns::StrCol<'a>>,
    m_content: Option<crate::columns::StrCol<'a>>,
    m_tools: Option<crate::columns::StrCol<'a>>,
    m_ts: Vec<i64>,
    m_session: Vec<usize>,
}

fn read_input<'a>(
    resources: &'a RecordBatch,
    sessions: &'a RecordBatch,
    messages: &'a RecordBatch,
) -> Result<Input<'a>> {
    let s_id = str_col(sessions, "sessions", "id")?;
    let s_name_col = opt_str_col(sessions, "sessions", "name")?;
    let mut s_key: Vec<&str> = Vec::with_capacity(sessions.num_rows());
    let mut s_name: Vec<&str> = Vec::with_capacity(sessions.num_rows());
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(sessions.num_rows());
    for i in 0..sessions.num_rows() {
        let id = s_id.get(i).ok_or_else(|| CoreError::NullValue {
            table: "sessions".into(),
            column: "id".into(),
            row: i,
        })?;
        if index.contains_key(id) {
            continue; // a duplicated session row is the same session
        }
        index.insert(id, s_key.len());
        s_key.push(id);
        s_name.push(s_name_col.as_ref().map_or("", |c| c.get_or_empty(i)));
    }
    let m_sid = str_col(messages, "messages", "session_id")?;
    let mut m_session = Vec::with_capacity(messages.num_rows());
    for j in 0..messages.num_rows() {
        let sid = m_sid.get_or_empty(j);
        let s = match index.get(sid) {
            Some(&s) => s,
            None => {
                // a message whose session row was not supplied: a nameless session
                let s = s_key.len();
                index.insert(sid, s);
                s_key.push(sid);
                s_name.push("");
                s
            }
        };
        m_session.push(s);
    }
    Ok(Input {
        r_id: str_col(resources, "resources", "id")?,
        r_name: opt_str_col(resources, "resources", "name")?,
        r_type: opt_str_col(resources, "resources", "resource_type")?,
        r_content: opt_str_col(resources, "resources", "content")?,
        r_ts: i64_values(resources, "resources", "ts")?,
        s_name,
        s_key,
        m_id: str_col(messages, "messages", "id")?,
        m_role: opt_str_col(messages, "messages", "role")?,
        m_content: opt_str_col(messages, "messages", "content")?,
        m_tools: opt_str_col(messages, "messages", "tool_calls")?,
        m_ts: i64_values(messages, "messages", "ts")?,
        m_session,
    })
}

/// One renderable item line, before its content cap is fixed.
#[derive(Clone, Copy)]
enum Line {
    Resource(usize),
    Message(usize),
}

struct Builder {
    budget: usize,
    chunks_text: Vec<String>,
    chunks_tokens: Vec<u32>,
    chunks_items: Vec<u32>,
    chunks_segments: Vec<Vec<String>>,
    cur: String,
    cur_tokens: usize,
    cur_items: u32,
    cur_segments: Vec<String>,
    cur_seg: Option<usize>,
    cur_session: Option<usize>,
}

impl Builder {
    fn flush(&mut self) {
        if self.cur.is_empty() {
            return;
        }
        self.chunks_text.push(std::mem::take(&mut self.cur));
        self.chunks_tokens.push(self.cur_tokens as u32);
        self.chunks_items.push(self.cur_items);
        self.chunks_segments.push(std::mem::take(&mut self.cur_segments));
        self.cur_tokens = 0;
        self.cur_items = 0;
        self.cur_seg = None;
        self.cur_session = None;
    }
    fn chunk_index(&self) -> u32 {
        self.chunks_text.len() as u32
    }
    fn push(&mut self, text: &str, tokens: usize) {
        self.cur.push_str(text);
        self.cur_tokens += tokens;
    }
}

/// Pack activity into chunks. Inputs (any string layout, `ts` as i64 µs or
/// timestamp[us]):
/// - `resources`: `id`, `ts`, optional `name`, `resource_type`, `content`;
/// - `sessions`: `id`, optional `name`;
/// - `messages`: `id`, `session_id`, `ts`, optional `role`, `content`, `tool_calls`.
///
/// # Errors
/// A missing or mistyped column, a null id or time, or a budget too small to
/// hold one item line.
pub fn pack(
    resources: &RecordBatch,
    sessions: &RecordBatch,
    messages: &RecordBatch,
    opts: &PackOptions,
) -> Result<Packed> {
    if opts.max_input_tokens < 64 {
        return Err(CoreError::InvalidOption(format!(
            "max_input_tokens must be at least 64 (got {})",
            opts.max_input_tokens
        )));
    }
    if opts.gap_us < 0 {
        return Err(CoreError::InvalidOption("gap must not be negative".into()));
    }
    let inp = read_input(resources, sessions, messages)?;
    let r_points: Vec<Point> = (0..resources.num_rows())
        .map(|i| Point { ts: inp.r_ts[i], key: inp.r_id.get_or_empty(i) })
        .collect();
    let m_points: Vec<Point> = (0..messages.num_rows())
        .map(|j| Point { ts: inp.m_ts[j], key: inp.m_id.get_or_empty(j) })
        .collect();
    let segs = segment(&r_points, &m_points, &inp.m_session, &inp.s_key, opts.gap_us);

    // ref counters and outputs
    let (mut nr, mut ns, mut nm) = (0usize, 0usize, 0usize);
    let mut session_ref: Vec<Option<String>> = vec![None; inp.s_key.len()];
    let mut session_listed: Vec<bool> = vec![false; inp.s_key.len()];
    let mut session_shown_in: Vec<Option<usize>> = vec![None; inp.s_key.len()];
    let mut it_ref: Vec<String> = Vec::new();
    let mut it_kind: Vec<&'static str> = Vec::new();
    let mut it_id: Vec<String> = Vec::new();
    let mut it_seg: Vec<String> = Vec::new();
    let mut it_chunk: Vec<u32> = Vec::new();
    let mut it_ts: Vec<i64> = Vec::new();
    let mut it_sref: Vec<Option<String>> = Vec::new();
    let mut sg_ref = Vec::new();
    let mut sg_start = Vec::new();
    let mut sg_end = Vec::new();
    let mut sg_n = Vec::new();
    let mut sg_first = Vec::new();
    let mut sg_last = Vec::new();

    let mut b = Builder {
        budget: opts.max_input_tokens,
        chunks_text: Vec::new(),
        chunks_tokens: Vec::new(),
        chunks_items: Vec::new(),
        chunks_segments: Vec::new(),
        cur: String::new(),
        cur_tokens: 0,
        cur_items: 0,
        cur_segments: Vec::new(),
        cur_seg: None,
        cur_session: None,
    };

    for (gi, seg) in segs.iter().enumerate() {
        let gref = format!("G{}", gi + 1);
        let same_day = timefmt::day(seg.start) == timefmt::day(seg.end);
        let span = if same_day {
            format!("{} {}-{}", timefmt::date(seg.start), timefmt::hm(seg.start), timefmt::hm(seg.end))
        } else {
            format!(
                "{} {}-{} {}",
                timefmt::date(seg.start),
                timefmt::hm(seg.start),
                timefmt::date(seg.end),
                timefmt::hm(seg.end)
            )
        };
        let mut seg_started = false;
        let mut first_chunk: Option<u32> = None;
        let mut n_items = 0u32;
        // flatten the segment into lines with their session context
        let mut lines: Vec<(Line, Option<usize>)> = Vec::new();
        for u in &seg.units {
            match u {
                Unit::Resource(i) => lines.push((Line::Resource(*i), None)),
                Unit::Run { session, messages } => {
                    for &j in messages {
                        lines.push((Line::Message(j), Some(*session)));
                    }
                }
            }
        }
        for (line, sess) in lines {
            // refs are assigned at first appearance, in packed order
            let (iref, kind, id, ts, sref) = match line {
                Line::Resource(i) => {
                    nr += 1;
                    (format!("R{nr}"), "resource", inp.r_id.get_or_empty(i), inp.r_ts[i], None)
                }
                Line::Message(j) => {
                    nm += 1;
                    let s = inp.m_session[j];
                    if session_ref[s].is_none() {
                        ns += 1;
                        session_ref[s] = Some(format!("S{ns}"));
                    }
                    (format!("M{nm}"), "message", inp.m_id.get_or_empty(j), inp.m_ts[j], session_ref[s].clone())
                }
            };
            let render = |cap: usize, tool_cap: usize| -> String {
                match line {
                    Line::Resource(i) => {
                        let rtype = inp.r_type.as_ref().map_or("", |c| c.get_or_empty(i));
                        let name = inp.r_name.as_ref().map_or("", |c| c.get_or_empty(i));
                        let content = inp.r_content.as_ref().map_or("", |c| c.get_or_empty(i));
                        let mut s = format!("{iref} {}", timefmt::hm(inp.r_ts[i]));
                        if !rtype.is_empty() {
                            s.push(' ');
                            s.push_str(&squash(rtype));
                        }
                        if !name.is_empty() {
                            s.push_str(&format!(" \"{}\"", quote(name)));
                        }
                        s.push_str(": ");
                        s.push_str(&cut(&squash(content), cap));
                        s.push('\n');
                        s
                    }
                    Line::Message(j) => {
                        let role = inp.m_role.as_ref().map_or("", |c| c.get_or_empty(j));
                        let content = inp.m_content.as_ref().map_or("", |c| c.get_or_empty(j));
                        let tools = inp.m_tools.as_ref().map_or("", |c| c.get_or_empty(j));
                        let c = if role == "tool" { cap.min(tool_cap) } else { cap };
                        let role = if role.is_empty() { "unknown".to_string() } else { squash(role) };
                        format!(
                            "  {iref} {} {role}: {}{}\n",
                            timefmt::hm(inp.m_ts[j]),
                            cut(&squash(content), c),
                            tool_calls_text(tools, tool_cap.min(cap))
                        )
                    }
                }
            };
            let seg_header = |cont: bool| -> String {
                if cont {
                    format!("## {gref} (continued) {span} UTC\n")
                } else {
                    format!("## {gref} {span} UTC\n")
                }
            };
            let sess_header = |s: usize, cont: bool| -> String {
                let r = session_ref[s].clone().unwrap_or_default();
                let name = inp.s_name.get(s).copied().unwrap_or("");
                let mut h = format!("{r} session");
                if !name.is_empty() {
                    h.push_str(&format!(" \"{}\"", quote(name)));
                }
                if cont {
                    h.push_str(" (continued)");
                }
                h.push_str(":\n");
                h
            };
            // headers this line needs in the chunk being filled
            let headers = |b: &Builder| -> (Option<String>, Option<String>) {
                let new_seg = b.cur_seg != Some(gi);
                let sh = new_seg.then(|| seg_header(seg_started));
                let ssh = match sess {
                    Some(s) if new_seg || b.cur_session != Some(s) => {
                        Some(sess_header(s, session_shown_in[s] == Some(gi)))
                    }
                    _ => None,
                };
                (sh, ssh)
            };
            let head_tok = |h: &(Option<String>, Option<String>)| {
                h.0.as_deref().map_or(0, estimate) + h.1.as_deref().map_or(0, estimate)
            };
            let mut text = render(opts.max_item_chars, opts.tool_max_chars);
            let mut tok = estimate(&text);
            let mut hd = headers(&b);
            if b.cur_tokens + tok + head_tok(&hd) > b.budget && b.cur_items > 0 {
                b.flush();
                hd = headers(&b);
            }
            let avail = b.budget.saturating_sub(b.cur_tokens + head_tok(&hd));
            if tok > avail {
                // cut the content until the line fits an otherwise empty chunk
                let mut cap = avail.min(opts.max_item_chars);
                loop {
                    text = render(cap, opts.tool_max_chars.min(cap));
                    tok = estimate(&text);
                    if tok <= avail {
                        break;
                    }
                    if cap == 0 {
                        return Err(CoreError::InvalidOption(format!(
                            "max_input_tokens {} is too small to hold item {iref} ({tok} tokens with its headers)",
                            opts.max_input_tokens
                        )));
                    }
                    cap = cap * 3 / 4;
                }
            }
            let (sh, ssh) = hd;
            if let Some(h) = sh {
                let t = estimate(&h);
                b.push(&h, t);
                b.cur_seg = Some(gi);
                b.cur_session = None;
                b.cur_segments.push(gref.clone());
                seg_started = true;
            }
            if let Some(h) = ssh {
                let t = estimate(&h);
                b.push(&h, t);
                b.cur_session = sess;
            }
            if let Some(s) = sess {
                session_shown_in[s] = Some(gi);
            } else {
                // a resource line ends the session block
                b.cur_session = None;
            }
            b.push(&text, tok);
            b.cur_items += 1;
            n_items += 1;
            let ci = b.chunk_index();
            first_chunk.get_or_insert(ci);
            // a session's first appearance adds its row to the ref table
            if let (Some(s), Some(sr)) = (sess, &sref) {
                if !session_listed[s] {
                    session_listed[s] = true;
                    it_ref.push(sr.clone());
                    it_kind.push("session");
                    it_id.push(inp.s_key[s].to_string());
                    it_seg.push(gref.clone());
                    it_chunk.push(ci);
                    it_ts.push(ts);
                    it_sref.push(None);
                }
            }
            it_ref.push(iref);
            it_kind.push(kind);
            it_id.push(id.to_string());
            it_seg.push(gref.clone());
            it_chunk.push(ci);
            it_ts.push(ts);
            it_sref.push(sref);
        }
        sg_ref.push(gref.clone());
        sg_start.push(seg.start);
        sg_end.push(seg.end);
        sg_n.push(n_items);
        sg_first.push(first_chunk.unwrap_or(b.chunk_index()));
        sg_last.push(b.chunk_index());
    }
    b.flush();

    let chunks = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("chunk", DataType::UInt32, false),
            Field::new("text", DataType::Utf8, false),
            Field::new("est_tokens", DataType::UInt32, false),
            Field::new("n_items", DataType::UInt32, false),
            Field::new("segments", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(UInt32Array::from_iter_values(0..b.chunks_text.len() as u32)) as ArrayRef,
            Arc::new(StringArray::from_iter_values(b.chunks_text.iter())),
            Arc::new(UInt32Array::from(b.chunks_tokens)),
            Arc::new(UInt32Array::from(b.chunks_items)),
            Arc::new(StringArray::from_iter_values(b.chunks_segments.iter().map(|v| v.join(" ")))),
        ],
    )?;
    let items = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ref", DataType::Utf8, false),
            Field::new("kind", DataType::Utf8, false),
            Field::new("id", DataType::Utf8, false),
            Field::new("segment", DataType::Utf8, false),
            Field::new("chunk", DataType::UInt32, false),
            Field::new("ts", DataType::Int64, false),
            Field::new("session_ref", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(it_ref.iter())) as ArrayRef,
            Arc::new(StringArray::from_iter_values(it_kind.iter())),
            Arc::new(StringArray::from_iter_values(it_id.iter())),
            Arc::new(StringArray::from_iter_values(it_seg.iter())),
            Arc::new(UInt32Array::from(it_chunk)),
            Arc::new(Int64Array::from(it_ts)),
            Arc::new(StringArray::from(it_sref)),
        ],
    )?;
    let segments = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("ref", DataType::Utf8, false),
            Field::new("start", DataType::Int64, false),
            Field::new("end", DataType::Int64, false),
            Field::new("n_items", DataType::UInt32, false),
            Field::new("first_chunk", DataType::UInt32, false),
            Field::new("last_chunk", DataType::UInt32, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(sg_ref.iter())) as ArrayRef,
            Arc::new(Int64Array::from(sg_start)),
            Arc::new(Int64Array::from(sg_end)),
            Arc::new(UInt32Array::from(sg_n)),
            Arc::new(UInt32Array::from(sg_first)),
            Arc::new(UInt32Array::from(sg_last)),
        ],
    )?;
    Ok(Packed { chunks, items, segments })
}

