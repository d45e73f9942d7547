//! Packer tests: unit cases and proptest properties (every item in exactly
//! one chunk, order kept, budgets hold, refs resolve, deterministic).

use std::sync::Arc;

use arrow::array::{Array, AsArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, UInt32Type};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use rem_core::pack::{cut, pack, squash, PackOptions};
use rem_core::tokens::estimate;

const MIN: i64 = 60_000_000;
const T0: i64 = 1_763_283_600_000_000;

fn resources(rows: &[(String, i64, String)]) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("ts", DataType::Int64, false),
            Field::new("content", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.as_str()))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.1))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2.as_str()))),
        ],
    )
    .unwrap()
}

fn sessions(ids: &[String]) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from_iter_values(ids.iter()))],
    )
    .unwrap()
}

fn messages(rows: &[(String, String, String, i64, String)]) -> RecordBatch {
    RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("session_id", DataType::Utf8, false),
            Field::new("role", DataType::Utf8, true),
            Field::new("ts", DataType::Int64, false),
            Field::new("content", DataType::Utf8, true),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0.as_str()))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1.as_str()))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.2.as_str()))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.3))),
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.4.as_str()))),
        ],
    )
    .unwrap()
}

fn strs(b: &RecordBatch, name: &str) -> Vec<String> {
    let c = b.column_by_name(name).unwrap();
    if let Some(a) = c.as_string_opt::<i64>() {
        return (0..a.len()).map(|i| a.value(i).to_string()).collect();
    }
    let a = c.as_string::<i32>();
    (0..a.len()).map(|i| a.value(i).to_string()).collect()
}

fn u32s(b: &RecordBatch, name: &str) -> Vec<u32> {
    let c = b.column_by_name(name).unwrap();
    c.as_primitive::<UInt32Type>().values().to_vec()
}

#[test]
fn squash_and_cut() {
    assert_eq!(squash("  a \n\t b  "), "a b");
    assert_eq!(cut("abcdefghij", 20), "abcdefghij");
    assert_eq!(cut("abcdefghij", 6), "abcd [… 4 chars cut …] ij");
}

#[test]
fn one_session_one_chunk_layout() {
    let m = messages(&[
        ("m1".into(), "s1".into(), "user".into(), T0, "hello".into()),
        ("m2".into(), "s1".into(), "assistant".into(), T0 + MIN, "hi  there".into()),
    ]);
    let out = pack(&resources(&[]), &sessions(&["s1".into()]), &m, &PackOptions::default()).unwrap();
    let text = strs(&out.chunks, "text");
    assert_eq!(
        text,
        vec!["## G1 2025-11-16 09:00-09:01 UTC\nS1 session:\n M1 09:00 user: hello\n M2 09:01 assistant: hi there\n"]
    );
    assert_eq!(strs(&out.items, "ref"), vec!["S1", "M1", "M2"]);
}

#[test]
fn a_long_segment_continues_with_headers() {
    let rows: Vec<_> = (0..40)
        .map(|i| (format!("m{i:02}"), "s1".to_string(), "user".to_string(), T0 + i * MIN, "word ".repeat(40)))
        .collect();
    let opts = PackOptions { max_input_tokens: 200, ..PackOptions::default() };
    let out = pack(&resources(&[]), &sessions(&["s1".into()]), &messages(&rows), &opts).unwrap();
    let text = strs(&out.chunks, "text");
    assert!(text.len() > 1);
    assert!(text[1].starts_with("## G1 (continued)"));
    assert!(text[1].contains("S1 session (continued):"));
    for (t, n) in text.iter().zip(u32s(&out.chunks, "est_tokens")) {
        assert!(estimate(t) as u32 <= n && n <= 200);
    }
}

#[test]
fn missing_column_is_an_error_not_a_panic() {
    let bad = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(vec!["r"]))],
    )
    .unwrap();
    let err = pack(&bad, &sessions(&[]), &messages(&[]), &PackOptions::default()).err().unwrap();
    assert!(err.to_string().contains("no column 'ts'"));
}

#[test]
fn string_views_and_timestamps_are_accepted() {
    use arrow::array::{StringViewArray, TimestampMicrosecondArray};
    let r = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8View, false),
            Field::new("ts", DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into())), false),
        ])),
        vec![
            Arc::new(StringViewArray::from(vec!["r1"])),
            Arc::new(TimestampMicrosecondArray::from(vec![T0]).with_timezone("UTC")),
        ],
    )
    .unwrap();
    let out = pack(&r, &sessions(&[]), &messages(&[]), &PackOptions::default()).unwrap();
    assert_eq!(strs(&out.items, "ref"), vec!["R1"]);
}

fn text_strategy() -> impl Strategy<Value = String> {
    prop::collection::vec(prop_oneof!["[a-z]{1,12}", Just("日本".to_string()), Just("\n".to_string()), Just("é".to_string())], 0..80)
        .prop_map(|v| v.join(" "))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn every_item_once_budget_holds_order_kept(
        res in prop::collection::vec((0i64..600, text_strategy()), 0..20),
        msgs in prop::collection::vec((0usize..3, 0i64..600, text_strategy()), 0..40),
        budget in 64usize..1500,
        gap in 0i64..90,
    ) {
        let r: Vec<_> = res.iter().enumerate().map(|(i, (t, c))| (format!("r{i:03}"), T0 + t * MIN, c.clone())).collect();
        let m: Vec<_> = msgs.iter().enumerate().map(|(i, (s, t, c))| (format!("m{i:03}"), format!("s{s}"), "user".to_string(), T0 + t * MIN, c.clone())).collect();
        let opts = PackOptions { max_input_tokens: budget, gap_us: gap * MIN, ..PackOptions::default() };
        let s = sessions(&["s0".into(), "s1".into(), "s2".into()]);
        let out = pack(&resources(&r), &s, &messages(&m), &opts).unwrap();
        // budgets
        for (t, n) in strs(&out.chunks, "text").iter().zip(u32s(&out.chunks, "est_tokens")) {
            prop_assert!(estimate(t) as u32 <= n);
            prop_assert!(n as usize <= budget);
        }
        // every resource / message exactly once
        let kinds = strs(&out.items, "kind");
        let ids = strs(&out.items, "id");
        let mut got: Vec<String> = kinds.iter().zip(ids.iter()).filter(|(k, _)| *k != "session").map(|(_, i)| i.clone()).collect();
        got.sort();
        let mut want: Vec<String> = r.iter().map(|x| x.0.clone()).chain(m.iter().map(|x| x.0.clone())).collect();
        want.sort();
        prop_assert_eq!(got, want);
        // refs appear in their chunk's text, in order, and chunk indexes never go back
        let refs = strs(&out.items, "ref");
        let chunk_of = u32s(&out.items, "chunk");
        let texts = strs(&out.chunks, "text");
        let mut last_chunk = 0u32;
        for ((rf, k), c) in refs.iter().zip(kinds.iter()).zip(chunk_of.iter()) {
            prop_assert!(*c >= last_chunk);
            last_chunk = *c;
            if k != "session" {
                let needle = format!("{rf} ");
                prop_assert!(texts[*c as usize].contains(&needle));
            }
        }
        // deterministic
        let again = pack(&resources(&r), &s, &messages(&m), &opts).unwrap();
        prop_assert_eq!(strs(&again.chunks, "text"), texts);
        // segments account for every item
        let n_seg: u32 = u32s(&out.segments, "n_items").iter().sum();
        prop_assert_eq!(n_seg as usize, r.len() + m.len());
    }
}
