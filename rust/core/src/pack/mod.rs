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
//!
//! Stages: [`render`] reads the columns and renders one line per item (in
//! parallel for big windows), [`chunks`] lays the lines into chunks and
//! builds the output batches; [`text`] holds the string shaping both use.

mod chunks;
mod render;
pub mod text;

pub use text::{cut, cut_into, squash, squash_into, strip_title};

use arrow::record_batch::RecordBatch;

use crate::error::{CoreError, Result};
use crate::par::join_all;
use crate::cohesion::{asks, bag, Bag};
use crate::segment::{refine, segment, Point, RefineOptions, Segment, Unit};
use crate::tokens::estimate;
use chunks::Rendered;
use render::{read_input, render_line, Input, Line, LineInfo};

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
    /// Refine the time-gap segments by what the items say (topic shifts,
    /// interleaved sessions, resumed sessions); `None`: time gaps and session
    /// boundaries only.
    pub refine: Option<RefineOptions>,
}

impl PackOptions {
    /// Options from the flags' units (minutes for the gap).
    ///
    /// # Errors
    /// A gap that is negative or not a number.
    pub fn new(gap_minutes: f64, max_input_tokens: usize, max_item_chars: usize, tool_max_chars: usize) -> Result<Self> {
        if !gap_minutes.is_finite() || gap_minutes < 0.0 {
            return Err(CoreError::InvalidOption(format!("gap_minutes must be a non-negative number (got {gap_minutes})")));
        }
        Ok(PackOptions {
            gap_us: (gap_minutes * 60_000_000.0).min(i64::MAX as f64) as i64,
            max_input_tokens,
            max_item_chars,
            tool_max_chars,
            refine: Some(RefineOptions::default()),
        })
    }

    /// The topic refinement: off (`enabled` false: time gaps and sessions only), or the defaults with
    /// `window` and `min_depth` for long segments and, when given, `(window, min_depth, min_items,
    /// cue_weight, cue_back, min_split_items)` for one conversation without a pause.
    pub fn with_topics(mut self, enabled: bool, window: usize, min_depth: f64,
                       conversation: Option<(usize, f64, usize, f64, usize, usize)>) -> Self {
        if !enabled {
            self.refine = None;
        } else if let Some(r) = self.refine.as_mut() {
            r.shift.window = window;
            r.shift.min_depth = min_depth;
            if let Some((window, min_depth, min_items, cue_weight, cue_back, min_split_items)) = conversation {
                r.conversation = crate::cohesion::ShiftOptions { window, min_depth, min_items, cue_weight, cue_back };
                r.min_split_items = min_split_items;
            }
        }
        self
    }

    fn check(&self) -> Result<()> {
        if self.max_input_tokens < 64 {
            return Err(CoreError::InvalidOption(format!("max_input_tokens must be at least 64 (got {})", self.max_input_tokens)));
        }
        if self.gap_us < 0 {
            return Err(CoreError::InvalidOption("gap must not be negative".into()));
        }
        Ok(())
    }
}

impl Default for PackOptions {
    fn default() -> Self {
        PackOptions {
            gap_us: 30 * 60 * 1_000_000,
            max_input_tokens: 6000,
            max_item_chars: 1200,
            tool_max_chars: 60,
            refine: Some(RefineOptions::default()),
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


/// Texts read for topic shifts: at most this many characters of each item.
const BAG_CHARS: usize = 2000;

fn head(text: &str) -> &str {
    if text.len() <= BAG_CHARS {
        return text;
    }
    let mut end = BAG_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The bags of terms of every resource (name and content) and message
/// (content; tool outputs count for nothing), two threads for big windows.
fn bags(inp: &Input<'_>, n_res: usize, n_msg: usize) -> Result<(Vec<Bag>, Vec<Bag>)> {
    let r_bag = |i: usize| {
        let name = inp.r_name.as_ref().map_or("", |c| c.get_or_empty(i));
        let content = inp.r_content.as_ref().map_or("", |c| c.get_or_empty(i));
        Bag::sum([&bag(name), &bag(head(content))])
    };
    let m_bag = |j: usize| {
        if inp.m_role.as_ref().map_or("", |c| c.get_or_empty(j)) == "tool" {
            return Bag::default();
        }
        bag(head(inp.m_content.as_ref().map_or("", |c| c.get_or_empty(j))))
    };
    let r: Vec<Bag> = (0..n_res).map(r_bag).collect();
    if n_msg < 4096 {
        return Ok((r, (0..n_msg).map(m_bag).collect()));
    }
    let half = n_msg / 2;
    let parts = std::thread::scope(|sc| {
        let hs = vec![sc.spawn(|| (0..half).map(m_bag).collect::<Vec<_>>()), sc.spawn(|| (half..n_msg).map(m_bag).collect::<Vec<_>>())];
        join_all(hs, "the topic reader")
    })?;
    Ok((r, parts.into_iter().flatten().collect()))
}

/// Every item as a line, in packed order, with its ref number; and each
/// session's `S` number (by first appearance).
fn number_lines(segs: &[Segment], n_sessions: usize, capacity: usize) -> (Vec<LineInfo>, Vec<u32>) {
    let mut lines: Vec<LineInfo> = Vec::with_capacity(capacity);
    let (mut nr, mut ns, mut nm) = (0u32, 0u32, 0u32);
    let mut session_num: Vec<u32> = vec![0; n_sessions];
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
    (lines, session_num)
}

/// Render every line at the default caps (two threads for big windows).
fn render_all(inp: &Input<'_>, lines: &[LineInfo], opts: &PackOptions) -> Result<Vec<Rendered>> {
    let render_range = |range: &[LineInfo]| -> Rendered {
        let mut arena = String::new();
        let mut spans = Vec::with_capacity(range.len());
        let mut sq = String::new();
        for li in range {
            let start = arena.len();
            render_line(inp, li, opts.max_item_chars, opts.tool_max_chars, &mut sq, &mut arena);
            let end = arena.len();
            spans.push((start, end, estimate(&arena[start..end])));
        }
        (arena, spans)
    };
    if lines.len() < 4096 {
        return Ok(vec![render_range(lines)]);
    }
    let per = lines.len().div_ceil(2);
    std::thread::scope(|sc| {
        let handles: Vec<_> = lines.chunks(per).map(|c| sc.spawn(move || render_range(c))).collect();
        join_all(handles, "the packer")
    })
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
pub fn pack(resources: &RecordBatch, sessions: &RecordBatch, messages: &RecordBatch, opts: &PackOptions) -> Result<Packed> {
    opts.check()?;
    let inp = read_input(resources, sessions, messages)?;
    let r_points: Vec<Point> = (0..resources.num_rows()).map(|i| Point { ts: inp.r_ts[i], key: inp.r_id.get_or_empty(i) }).collect();
    let m_points: Vec<Point> = (0..messages.num_rows()).map(|j| Point { ts: inp.m_ts[j], key: inp.m_id.get_or_empty(j) }).collect();
    let mut segs = segment(&r_points, &m_points, &inp.m_session, &inp.s_key, opts.gap_us);
    if let Some(ro) = &opts.refine {
        let (r_bags, m_bags) = bags(&inp, resources.num_rows(), messages.num_rows())?;
        let m_asks: Vec<bool> = (0..messages.num_rows())
            .map(|j| inp.m_role.as_ref().map_or("", |c| c.get_or_empty(j)) == "user"
                && asks(inp.m_content.as_ref().map_or("", |c| c.get_or_empty(j))))
            .collect();
        segs = refine(segs, &r_points, &m_points, &r_bags, &m_bags, &m_asks, ro);
    }
    let (lines, session_num) = number_lines(&segs, inp.s_key.len(), resources.num_rows() + messages.num_rows());
    let parts = render_all(&inp, &lines, opts)?;
    chunks::assemble(&inp, &segs, &lines, &session_num, &parts, opts)
}
