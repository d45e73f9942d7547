//! Text shaping for the packed lines: whitespace collapsed, long contents
//! cut around a visible marker, titles not repeated, tool calls compressed.

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

pub(super) fn quote(name: &str) -> String {
    let n = squash(name).replace('"', "'");
    cut(&n, 120)
}

/// Compress an OpenAI-style `tool_calls` JSON array into `name(args…)` forms.
pub(super) fn tool_calls_text(raw: &str, cap: usize) -> String {
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

