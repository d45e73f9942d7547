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
//!  M1 09:10 user: How should the pruning step …
//!  M2 09:11 assistant: Use alpha = 1.2 … [calls: search_docs(query=…)]
//!  M3 09:11 tool: {"hits": … [… 812 chars cut …] …}
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

use arrow::array::{ArrayRef, Int64Array, LargeStringArray, StringArray, StringBuilder, UInt32Array};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
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
            tool_max_chars: 60,
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

/// Collapse whitespace runs (and NUL bytes) into single spaces and trim.
pub fn squash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    squash_into(&mut out, text);
    out
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0)
}

/// [`squash`] appending to `out` (no allocation when `out` has room).
///
/// ASCII input takes a byte-level path copying whole words; other text goes
/// char by char with Unicode's definition of whitespace.
pub fn squash_into(out: &mut String, text: &str) {
    let bytes = text.as_bytes();
    // fast path: text that is already canonical (no leading/trailing space,
    // no double space, no other whitespace byte) is copied as is
    if !bytes.is_empty()
        && bytes[0] != b' '
        && bytes[bytes.len() - 1] != b' '
        && memchr::memchr3(b'\n', b'\t', b'\r', bytes).is_none()
        && memchr::memchr3(0, 0x0b, 0x0c, bytes).is_none()
        && memchr::memmem::find(bytes, b"  ").is_none()
        && (bytes.is_ascii() || !text.chars().any(|c| !c.is_ascii() && c.is_whitespace()))
    {
        out.push_str(text);
        return;
    }
    if bytes.is_ascii() {
        // Copy maximal runs: a single ' ' between two words is already
        // canonical, so only other whitespace bytes or runs break a copy.
        let n = bytes.len();
        let mut i = 0usize;
        while i < n && is_ws(bytes[i]) {
            i += 1;
        }
        let mut start = i;
        while i < n {
            if is_ws(bytes[i]) {
                if bytes[i] == b' ' && i + 1 < n && !is_ws(bytes[i + 1]) {
                    i += 1;
                    continue;
                }
                out.push_str(&text[start..i]);
                let mut j = i;
                while j < n && is_ws(bytes[j]) {
                    j += 1;
                }
                if j < n {
                    out.push(' ');
                }
                start = j;
                i = j;
            } else {
                i += 1;
            }
        }
        out.push_str(&text[start..n]);
        return;
    }
    let base = out.len();
    let mut pending_space = false;
    for ch in text.chars() {
        if ch.is_whitespace() || ch == '\0' {
            pending_space = out.len() > base;
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(ch);
        }
    }
}

/// Cut `text` (already squashed) to `cap` characters: head (2/3) and tail
/// (1/3) around a marker naming how many characters were cut.
pub fn cut(text: &str, cap: usize) -> String {
    let mut s = String::with_capacity(text.len().min(cap * 4 + 40));
    cut_into(&mut s, text, cap);
    s
}

/// [`cut`] appending to `out`.
pub fn cut_into(out: &mut String, text: &str, cap: usize) {
    if text.len() <= cap {
        out.push_str(text); // fewer bytes than cap means fewer chars too
        return;
    }
    let ascii = text.is_ascii();
    let n = if ascii { text.len() } else { text.chars().count() };
    if n <= cap {
        out.push_str(text);
        return;
    }
    let head_n = cap * 2 / 3;
    let tail_n = cap - head_n;
    let cut_n = n - head_n - tail_n;
    let (head, tail): (&str, &str) = if ascii {
        (&text[..head_n], &text[n - tail_n..])
    } else {
        let hb = text.char_indices().nth(head_n).map_or(text.len(), |(i, _)| i);
        let tb = text.char_indices().nth(n - tail_n).map_or(text.len(), |(i, _)| i);
        (&text[..hb], &text[tb..])
    };
    let head = head.trim();
    let tail = tail.trim();
    out.push_str(head);
    if !head.is_empty() {
        out.push(' ');
    }
    out.push_str("[… ");
    push_uint(out, cut_n as u64);
    out.push_str(" chars cut …]");
    if !tail.is_empty() {
        out.push(' ');
        out.push_str(tail);
    }
}

/// Append a decimal integer without going through `fmt`.
pub(crate) fn push_uint(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for &b in &buf[i..] {
        out.push(b as char);
    }
}

/// Append `HH:MM` (UTC) of an epoch-microsecond instant.
fn push_hm(out: &mut String, us: i64) {
    let secs = us.div_euclid(1_000_000).rem_euclid(86_400);
    let (h, m) = ((secs / 3600) as u8, ((secs % 3600) / 60) as u8);
    for d in [b'0' + h / 10, b'0' + h % 10, b':', b'0' + m / 10, b'0' + m % 10] {
        out.push(d as char);
    }
}

/// A resource's content without a leading copy of its title (commit subjects
/// and note headings repeat the name the line already shows).
pub fn strip_title<'a>(content: &'a str, name: &str) -> &'a str {
    if name.is_empty() {
        return content;
    }
    let body = content.strip_prefix("# ").unwrap_or(content);
    match body.strip_prefix(name) {
        Some(rest) if rest.is_empty() || rest.starts_with([' ', ':', '.', '-', '\u{2014}']) => {
            rest.trim_start_matches([' ', ':', '.', '-', '\u{2014}'])
        }
        _ => content,
    }
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

/// A line to render: what, in which session and segment, and its ref number.
#[derive(Clone, Copy)]
struct LineInfo {
    line: Line,
    sess: Option<usize>,
    seg: usize,
    num: u32,
}

/// Render one item line into `out`: ref, time, kind/role, name, content cut
/// to `cap` characters (tool outputs to `tool_cap`), tool calls, newline.
fn render_line(inp: &Input<'_>, li: &LineInfo, cap: usize, tool_cap: usize, sq: &mut String, out: &mut String) {
    sq.clear();
    match li.line {
        Line::Resource(i) => {
            squash_into(sq, inp.r_content.as_ref().map_or("", |c| c.get_or_empty(i)));
            let rtype = inp.r_type.as_ref().map_or("", |c| c.get_or_empty(i));
            let name = inp.r_name.as_ref().map_or("", |c| c.get_or_empty(i));
            out.push('R');
            push_uint(out, li.num as u64);
            out.push(' ');
            push_hm(out, inp.r_ts[i]);
            if !rtype.is_empty() {
                out.push(' ');
                squash_into(out, rtype);
            }
            if !name.is_empty() {
                out.push_str(" \"");
                out.push_str(&quote(name));
                out.push('"');
            }
            out.push_str(": ");
            let body = if name.is_empty() { sq.as_str() } else { strip_title(sq, &squash(name)) };
            cut_into(out, body, cap);
            out.push('\n');
        }
        Line::Message(j) => {
            squash_into(sq, inp.m_content.as_ref().map_or("", |c| c.get_or_empty(j)));
            let role = inp.m_role.as_ref().map_or("", |c| c.get_or_empty(j));
            let tools = inp.m_tools.as_ref().map_or("", |c| c.get_or_empty(j));
            let c = if role == "tool" { cap.min(tool_cap) } else { cap };
            out.push_str(" M");
            push_uint(out, li.num as u64);
            out.push(' ');
            push_hm(out, inp.m_ts[j]);
            out.push(' ');
            if role.is_empty() {
                out.push_str("unknown");
            } else {
                squash_into(out, role);
            }
            out.push_str(": ");
            cut_into(out, sq, c);
            if !tools.is_empty() {
                out.push_str(&tool_calls_text(tools, tool_cap.min(cap)));
            }
            out.push('\n');
        }
    }
}

/// Chunk assembly straight into one contiguous values buffer, which becomes
/// the `text` column without another copy.
struct Builder {
    budget: usize,
    values: String,
    offsets: Vec<i64>,
    chunks_tokens: Vec<u32>,
    chunks_items: Vec<u32>,
    chunks_segments: Vec<Vec<String>>,
    cur_tokens: usize,
    cur_items: u32,
    cur_segments: Vec<String>,
    cur_seg: Option<usize>,
    cur_session: Option<usize>,
}
impl Builder {
    fn cur_start(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) as usize
    }
    fn flush(&mut self) {
        if self.values.len() == self.cur_start() {
            return;
        }
        self.offsets.push(self.values.len() as i64);
        self.chunks_tokens.push(self.cur_tokens as u32);
        self.chunks_items.push(self.cur_items);
        self.chunks_segments.push(std::mem::take(&mut self.cur_segments));
        self.cur_tokens = 0;
        self.cur_items = 0;
        self.cur_seg = None;
        self.cur_session = None;
    }
    fn chunk_index(&self) -> u32 {
        (self.offsets.len() - 1) as u32
    }
    fn push(&mut self, text: &str, tokens: usize) {
        self.values.push_str(text);
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

    // 1. flatten into lines, in packed order, and number the refs
    let mut lines: Vec<LineInfo> = Vec::with_capacity(resources.num_rows() + messages.num_rows());
    let (mut nr, mut ns, mut nm) = (0u32, 0u32, 0u32);
    let mut session_num: Vec<u32> = vec![0; inp.s_key.len()];
    for (gi, seg) in segs.iter().enumerate() {
        for u in &seg.units {
            match u {
                Unit::Resource(i) => {
                    nr += 1;
                    lines.push(LineInfo { line: Line::Resource(*i), sess: None, seg: gi, num: nr });
                }
                Unit::Run { session, messages } => {
                    if session_num[*session] == 0 {
                        ns += 1;
                        session_num[*session] = ns;
                    }
                    for &j in messages {
                        nm += 1;
                        lines.push(LineInfo { line: Line::Message(j), sess: Some(*session), seg: gi, num: nm });
                    }
                }
            }
        }
    }

    // 2. render every line at the default caps, in parallel (2 threads)
    let render_range = |range: &[LineInfo]| -> (String, Vec<(usize, usize, usize)>) {
        let mut arena = String::new();
        let mut spans = Vec::with_capacity(range.len());
        let mut sq = String::new();
        for li in range {
            let start = arena.len();
            render_line(&inp, li, opts.max_item_chars, opts.tool_max_chars, &mut sq, &mut arena);
            let end = arena.len();
            spans.push((start, end, estimate(&arena[start..end])));
        }
        (arena, spans)
    };
    let threads = if lines.len() >= 4096 { 2 } else { 1 };
    let per = lines.len().div_ceil(threads).max(1);
    type Rendered = (String, Vec<(usize, usize, usize)>);
    let parts: Vec<Rendered> = if threads > 1 {
        std::thread::scope(|sc| {
            let handles: Vec<_> = lines.chunks(per).map(|c| sc.spawn(move || render_range(c))).collect();
            handles.into_iter().map(|h| h.join().unwrap_or_else(|_| (String::new(), Vec::new()))).collect()
        })
    } else {
        vec![render_range(&lines)]
    };
    if parts.iter().map(|p| p.1.len()).sum::<usize>() != lines.len() {
        return Err(CoreError::InvalidOption("a render thread failed".into()));
    }

    // 3. assemble chunks sequentially
    let n_rows = lines.len();
    let mut it_ref = StringBuilder::with_capacity(n_rows, n_rows * 6);
    let mut it_kind = StringBuilder::with_capacity(n_rows, n_rows * 8);
    let mut it_id = StringBuilder::with_capacity(n_rows, n_rows * 16);
    let mut it_seg = StringBuilder::with_capacity(n_rows, n_rows * 4);
    let mut it_chunk: Vec<u32> = Vec::with_capacity(n_rows);
    let mut it_ts: Vec<i64> = Vec::with_capacity(n_rows);
    let mut it_sref = StringBuilder::with_capacity(n_rows, n_rows * 4);
    let mut sg_ref = Vec::with_capacity(segs.len());
    let mut sg_start = Vec::with_capacity(segs.len());
    let mut sg_end = Vec::with_capacity(segs.len());
    let mut sg_n = vec![0u32; segs.len()];
    let mut sg_first: Vec<Option<u32>> = vec![None; segs.len()];
    let mut sg_last = vec![0u32; segs.len()];
    let mut seg_started = vec![false; segs.len()];
    let mut session_listed = vec![false; inp.s_key.len()];
    let mut session_shown_in: Vec<Option<usize>> = vec![None; inp.s_key.len()];
    let spans_of = parts.iter().flat_map(|(arena, spans)| spans.iter().map(move |sp| (arena.as_str(), *sp)));

    let mut b = Builder {
        budget: opts.max_input_tokens,
        values: String::with_capacity(parts.iter().map(|p| p.0.len()).sum::<usize>() + segs.len() * 64 + 1024),
        offsets: vec![0],
        chunks_tokens: Vec::new(),
        chunks_items: Vec::new(),
        chunks_segments: Vec::new(),
        cur_tokens: 0,
        cur_items: 0,
        cur_segments: Vec::new(),
        cur_seg: None,
        cur_session: None,
    };
    let spans_text: Vec<(String, String)> = segs
        .iter()
        .enumerate()
        .map(|(gi, seg)| {
            let gref = format!("G{}", gi + 1);
            let span = if timefmt::day(seg.start) == timefmt::day(seg.end) {
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
            (gref, span)
        })
        .collect();
    let mut text = String::new();
    let mut sq = String::new();
    let mut iref = String::new();
    let mut sref_buf = String::new();
    for (li, (arena, (start, end, tok0))) in lines.iter().zip(spans_of) {
        let gi = li.seg;
        let (gref, span) = &spans_text[gi];
        let sess = li.sess;
        let headers = |b: &Builder, started: bool| -> (Option<String>, Option<String>) {
            let new_seg = b.cur_seg != Some(gi);
            let sh = new_seg.then(|| {
                if started {
                    format!("## {gref} (continued) {span} UTC\n")
                } else {
                    format!("## {gref} {span} UTC\n")
                }
            });
            let ssh = match sess {
                Some(s) if new_seg || b.cur_session != Some(s) => {
                    let name = inp.s_name.get(s).copied().unwrap_or("");
                    let mut h = format!("S{} session", session_num[s]);
                    if !name.is_empty() {
                        h.push_str(" \"");
                        h.push_str(&quote(name));
                        h.push('"');
                    }
                    if session_shown_in[s] == Some(gi) {
                        h.push_str(" (continued)");
                    }
                    h.push_str(":\n");
                    Some(h)
                }
                _ => None,
            };
            (sh, ssh)
        };
        let head_tok = |h: &(Option<String>, Option<String>)| {
            h.0.as_deref().map_or(0, estimate) + h.1.as_deref().map_or(0, estimate)
        };
        let mut line_text: &str = &arena[start..end];
        let mut tok = tok0;
        let mut hd = headers(&b, seg_started[gi]);
        if b.cur_tokens + tok + head_tok(&hd) > b.budget && b.cur_items > 0 {
            b.flush();
            hd = headers(&b, seg_started[gi]);
        }
        let avail = b.budget.saturating_sub(b.cur_tokens + head_tok(&hd));
        if tok > avail {
            // cut the content until the line fits an otherwise empty chunk
            let mut cap = avail.min(opts.max_item_chars);
            loop {
                text.clear();
                render_line(&inp, li, cap, opts.tool_max_chars.min(cap), &mut sq, &mut text);
                tok = estimate(&text);
                if tok <= avail {
                    break;
                }
                if cap == 0 {
                    return Err(CoreError::InvalidOption(format!(
                        "max_input_tokens {} is too small to hold an item ({tok} tokens with its headers)",
                        opts.max_input_tokens
                    )));
                }
                cap = cap * 3 / 4;
            }
            line_text = &text;
        }
        let (sh, ssh) = hd;
        if let Some(h) = sh {
            let t = estimate(&h);
            b.push(&h, t);
            b.cur_seg = Some(gi);
            b.cur_session = None;
            b.cur_segments.push(gref.clone());
            seg_started[gi] = true;
        }
        if let Some(h) = ssh {
            let t = estimate(&h);
            b.push(&h, t);
            b.cur_session = sess;
        }
        if let Some(s) = sess {
            session_shown_in[s] = Some(gi);
        } else {
            b.cur_session = None; // a resource line ends the session block
        }
        b.push(line_text, tok);
        b.cur_items += 1;
        let ci = b.chunk_index();
        sg_n[gi] += 1;
        sg_first[gi].get_or_insert(ci);
        sg_last[gi] = ci;
        let (kind, id, ts) = match li.line {
            Line::Resource(i) => ("resource", inp.r_id.get_or_empty(i), inp.r_ts[i]),
            Line::Message(j) => ("message", inp.m_id.get_or_empty(j), inp.m_ts[j]),
        };
        if let Some(s) = sess {
            sref_buf.clear();
            sref_buf.push('S');
            push_uint(&mut sref_buf, session_num[s] as u64);
            if !session_listed[s] {
                session_listed[s] = true;
                it_ref.append_value(&sref_buf);
                it_kind.append_value("session");
                it_id.append_value(inp.s_key[s]);
                it_seg.append_value(gref);
                it_chunk.push(ci);
                it_ts.push(ts);
                it_sref.append_null();
            }
        }
        iref.clear();
        iref.push(if sess.is_some() { 'M' } else { 'R' });
        push_uint(&mut iref, li.num as u64);
        it_ref.append_value(&iref);
        it_kind.append_value(kind);
        it_id.append_value(id);
        it_seg.append_value(gref);
        it_chunk.push(ci);
        it_ts.push(ts);
        if sess.is_some() {
            it_sref.append_value(&sref_buf);
        } else {
            it_sref.append_null();
        }
    }
    for (gi, seg) in segs.iter().enumerate() {
        sg_ref.push(spans_text[gi].0.clone());
        sg_start.push(seg.start);
        sg_end.push(seg.end);
    }
    let sg_first: Vec<u32> = sg_first.iter().map(|f| f.unwrap_or(0)).collect();
    b.flush();

    let n_chunks = (b.offsets.len() - 1) as u32;
    let text_col = LargeStringArray::try_new(
        OffsetBuffer::new(ScalarBuffer::from(std::mem::take(&mut b.offsets))),
        Buffer::from_vec(std::mem::take(&mut b.values).into_bytes()),
        None,
    )?;
    let chunks = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("chunk", DataType::UInt32, false),
            Field::new("text", DataType::LargeUtf8, false),
            Field::new("est_tokens", DataType::UInt32, false),
            Field::new("n_items", DataType::UInt32, false),
            Field::new("segments", DataType::Utf8, false),
        ])),
        vec![
            Arc::new(UInt32Array::from_iter_values(0..n_chunks)) as ArrayRef,
            Arc::new(text_col),
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
            Arc::new(it_ref.finish()) as ArrayRef,
            Arc::new(it_kind.finish()),
            Arc::new(it_id.finish()),
            Arc::new(it_seg.finish()),
            Arc::new(UInt32Array::from(it_chunk)),
            Arc::new(Int64Array::from(it_ts)),
            Arc::new(it_sref.finish()),
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

