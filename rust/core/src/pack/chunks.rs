//! Chunk assembly: item lines, already rendered, are laid into chunks under
//! the token budget, with segment and session headers, and the three output
//! batches are built as the chunks fill.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, LargeStringArray, StringArray, StringBuilder, UInt32Array};
use arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::render::{render_line, Input, Line, LineInfo};
use super::text::{push_uint, quote};
use super::{PackOptions, Packed};
use crate::error::{CoreError, Result};
use crate::segment::Segment;
use crate::timefmt;
use crate::tokens::estimate;

/// The chunk being filled, inside one contiguous values buffer that becomes
/// the `text` column without another copy.
struct Chunks {
    budget: usize,
    values: String,
    offsets: Vec<i64>,
    tokens: Vec<u32>,
    items: Vec<u32>,
    segments: Vec<Vec<String>>,
    cur_tokens: usize,
    cur_items: u32,
    cur_segments: Vec<String>,
    cur_seg: Option<usize>,
    cur_session: Option<usize>,
}

impl Chunks {
    fn cur_start(&self) -> usize {
        self.offsets.last().copied().unwrap_or(0) as usize
    }

    /// Close the current chunk (if it holds anything).
    fn flush(&mut self) {
        if self.values.len() == self.cur_start() {
            return;
        }
        self.offsets.push(self.values.len() as i64);
        self.tokens.push(self.cur_tokens as u32);
        self.items.push(self.cur_items);
        self.segments.push(std::mem::take(&mut self.cur_segments));
        self.cur_tokens = 0;
        self.cur_items = 0;
        self.cur_seg = None;
        self.cur_session = None;
    }

    fn index(&self) -> u32 {
        (self.offsets.len() - 1) as u32
    }

    fn push(&mut self, text: &str, tokens: usize) {
        self.values.push_str(text);
        self.cur_tokens += tokens;
    }
}

/// The `items` batch as it is built: one row per item (and per session, at its first appearance).
struct Items {
    r#ref: StringBuilder,
    kind: StringBuilder,
    id: StringBuilder,
    seg: StringBuilder,
    chunk: Vec<u32>,
    ts: Vec<i64>,
    session_ref: StringBuilder,
}

impl Items {
    fn with_capacity(n: usize) -> Self {
        Items {
            r#ref: StringBuilder::with_capacity(n, n * 6),
            kind: StringBuilder::with_capacity(n, n * 8),
            id: StringBuilder::with_capacity(n, n * 16),
            seg: StringBuilder::with_capacity(n, n * 4),
            chunk: Vec::with_capacity(n),
            ts: Vec::with_capacity(n),
            session_ref: StringBuilder::with_capacity(n, n * 4),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(&mut self, r: &str, kind: &str, id: &str, seg: &str, chunk: u32, ts: i64, session_ref: Option<&str>) {
        self.r#ref.append_value(r);
        self.kind.append_value(kind);
        self.id.append_value(id);
        self.seg.append_value(seg);
        self.chunk.push(chunk);
        self.ts.push(ts);
        self.session_ref.append_option(session_ref);
    }

    fn finish(mut self) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
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
                Arc::new(self.r#ref.finish()) as ArrayRef,
                Arc::new(self.kind.finish()),
                Arc::new(self.id.finish()),
                Arc::new(self.seg.finish()),
                Arc::new(UInt32Array::from(self.chunk)),
                Arc::new(Int64Array::from(self.ts)),
                Arc::new(self.session_ref.finish()),
            ],
        )?)
    }
}

/// `G3` and its span (`2026-11-16 09:02-10:40`, or across two dates), per segment.
fn segment_labels(segs: &[Segment]) -> Vec<(String, String)> {
    segs.iter()
        .enumerate()
        .map(|(gi, seg)| {
            let span = if timefmt::day(seg.start) == timefmt::day(seg.end) {
                format!("{} {}-{}", timefmt::date(seg.start), timefmt::hm(seg.start), timefmt::hm(seg.end))
            } else {
                format!("{} {}-{} {}", timefmt::date(seg.start), timefmt::hm(seg.start), timefmt::date(seg.end), timefmt::hm(seg.end))
            };
            (format!("G{}", gi + 1), span)
        })
        .collect()
}

/// Rendered lines: a text arena per render thread and, per line, its
/// (start, end, estimated tokens) in that arena.
pub(super) type Rendered = (String, Vec<(usize, usize, usize)>);

/// Lay the rendered `lines` into chunks and build the output batches.
pub(super) fn assemble(
    inp: &Input<'_>,
    segs: &[Segment],
    lines: &[LineInfo],
    session_num: &[u32],
    parts: &[Rendered],
    opts: &PackOptions,
) -> Result<Packed> {
    let labels = segment_labels(segs);
    let mut items = Items::with_capacity(lines.len());
    let mut sg_n = vec![0u32; segs.len()];
    let mut sg_first: Vec<Option<u32>> = vec![None; segs.len()];
    let mut sg_last = vec![0u32; segs.len()];
    let mut seg_started = vec![false; segs.len()];
    let mut session_listed = vec![false; inp.s_key.len()];
    let mut session_shown_in: Vec<Option<usize>> = vec![None; inp.s_key.len()];
    let spans_of = parts.iter().flat_map(|(arena, spans)| spans.iter().map(move |sp| (arena.as_str(), *sp)));
    let mut b = Chunks {
        budget: opts.max_input_tokens,
        values: String::with_capacity(parts.iter().map(|p| p.0.len()).sum::<usize>() + segs.len() * 64 + 1024),
        offsets: vec![0],
        tokens: Vec::new(),
        items: Vec::new(),
        segments: Vec::new(),
        cur_tokens: 0,
        cur_items: 0,
        cur_segments: Vec::new(),
        cur_seg: None,
        cur_session: None,
    };
    let mut text = String::new();
    let mut sq = String::new();
    let mut iref = String::new();
    let mut sref = String::new();
    for (li, (arena, (start, end, tok0))) in lines.iter().zip(spans_of) {
        let gi = li.seg;
        let (gref, span) = &labels[gi];
        let sess = li.sess;
        // the headers this line needs in the current chunk: its segment's, its session's
        let headers = |b: &Chunks, started: bool| -> (Option<String>, Option<String>) {
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
        let head_tok = |h: &(Option<String>, Option<String>)| h.0.as_deref().map_or(0, estimate) + h.1.as_deref().map_or(0, estimate);
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
                render_line(inp, li, cap, opts.tool_max_chars.min(cap), &mut sq, &mut text);
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
            b.push(&h, estimate(&h));
            b.cur_seg = Some(gi);
            b.cur_session = None;
            b.cur_segments.push(gref.clone());
            seg_started[gi] = true;
        }
        if let Some(h) = ssh {
            b.push(&h, estimate(&h));
            b.cur_session = sess;
        }
        match sess {
            Some(s) => session_shown_in[s] = Some(gi),
            None => b.cur_session = None, // a resource line ends the session block
        }
        b.push(line_text, tok);
        b.cur_items += 1;
        let ci = b.index();
        sg_n[gi] += 1;
        sg_first[gi].get_or_insert(ci);
        sg_last[gi] = ci;
        let (kind, id, ts) = match li.line {
            Line::Resource(i) => ("resource", inp.r_id.get_or_empty(i), inp.r_ts[i]),
            Line::Message(j) => ("message", inp.m_id.get_or_empty(j), inp.m_ts[j]),
        };
        if let Some(s) = sess {
            sref.clear();
            sref.push('S');
            push_uint(&mut sref, session_num[s] as u64);
            if !session_listed[s] {
                session_listed[s] = true;
                items.push(&sref, "session", inp.s_key[s], gref, ci, ts, None);
            }
        }
        iref.clear();
        iref.push(if sess.is_some() { 'M' } else { 'R' });
        push_uint(&mut iref, li.num as u64);
        items.push(&iref, kind, id, gref, ci, ts, sess.is_some().then_some(sref.as_str()));
    }
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
            Arc::new(UInt32Array::from(b.tokens)),
            Arc::new(UInt32Array::from(b.items)),
            Arc::new(StringArray::from_iter_values(b.segments.iter().map(|v| v.join(" ")))),
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
            Arc::new(StringArray::from_iter_values(labels.iter().map(|l| l.0.as_str()))) as ArrayRef,
            Arc::new(Int64Array::from_iter_values(segs.iter().map(|s| s.start))),
            Arc::new(Int64Array::from_iter_values(segs.iter().map(|s| s.end))),
            Arc::new(UInt32Array::from(sg_n)),
            Arc::new(UInt32Array::from_iter_values(sg_first.iter().map(|f| f.unwrap_or(0)))),
            Arc::new(UInt32Array::from(sg_last)),
        ],
    )?;
    Ok(Packed { chunks, items: items.finish()?, segments })
}
