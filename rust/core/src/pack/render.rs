//! Reading the activity batches and rendering one item line.

use std::collections::HashMap;

use arrow::record_batch::RecordBatch;

use super::text::{cut_into, push_uint, quote, squash, squash_into, strip_title, tool_calls_text};
use crate::columns::{i64_values, opt_str_col, str_col, StrCol};
use crate::error::{CoreError, Result};
use crate::timefmt::push_hm;

/// The activity columns the packer reads, typed.
pub(super) struct Input<'a> {
    pub(super) r_id: StrCol<'a>,
    pub(super) r_name: Option<StrCol<'a>>,
    pub(super) r_type: Option<StrCol<'a>>,
    pub(super) r_content: Option<StrCol<'a>>,
    pub(super) r_ts: Vec<i64>,
    pub(super) s_name: Vec<&'a str>,
    pub(super) s_key: Vec<&'a str>,
    pub(super) m_id: StrCol<'a>,
    pub(super) m_role: Option<StrCol<'a>>,
    pub(super) m_content: Option<StrCol<'a>>,
    pub(super) m_tools: Option<StrCol<'a>>,
    pub(super) m_ts: Vec<i64>,
    pub(super) m_session: Vec<usize>,
}

pub(super) fn read_input<'a>(
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
pub(super) enum Line {
    Resource(usize),
    Message(usize),
}

/// A line to render: what, in which session and segment, and its ref number.
#[derive(Clone, Copy)]
pub(super) struct LineInfo {
    pub(super) line: Line,
    pub(super) sess: Option<usize>,
    pub(super) seg: usize,
    pub(super) num: u32,
}

/// Render one item line into `out`: ref, time, kind/role, name, content cut
/// to `cap` characters (tool outputs to `tool_cap`), tool calls, newline.
pub(super) fn render_line(inp: &Input<'_>, li: &LineInfo, cap: usize, tool_cap: usize, sq: &mut String, out: &mut String) {
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

