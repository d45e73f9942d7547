//! Fuzzing the graph, merge and DOT kernels with proptest: arbitrary ids
//! (empty, NUL, non-ASCII, quotes), null, negative and huge node keys,
//! NaN/infinite/negative weights, extreme timestamps, random traversal
//! options. No input may panic; outputs keep their invariants; the merge plan
//! equals a naive model's; wrong column types are errors, not crashes.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use rem_core::dot::to_dot;
use rem_core::graph::{decay, scores, traverse, Direction, Graph, HalfLives};
use rem_core::merge::merge;

fn id_strategy() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        8 => "[a-e]{1,2}".prop_map(Some),
        1 => Just(Some(String::new())),
        1 => Just(None),
        1 => "\\PC{0,6}".prop_map(Some),
        1 => Just(Some("quote\" back\\slash\nnew\u{0}nul é 日本".to_string())),
    ]
}

fn weight_strategy() -> impl Strategy<Value = Option<f64>> {
    prop_oneof![
        8 => (0.0f64..5.0).prop_map(Some),
        1 => Just(None),
        1 => Just(Some(f64::NAN)),
        1 => Just(Some(f64::INFINITY)),
        1 => Just(Some(-3.0)),
        1 => Just(Some(1e308)),
    ]
}

fn time_strategy() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        8 => (1_700_000_000_000_000i64..1_800_000_000_000_000).prop_map(Some),
        1 => Just(None),
        1 => Just(Some(i64::MIN)),
        1 => Just(Some(i64::MAX)),
        1 => Just(Some(0)),
    ]
}

fn key_strategy() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        // rare bad keys, so most batches build and the kernels run
        400 => (0i64..20).prop_map(Some),
        4 => (0i64..5_000_000).prop_map(Some),
        1 => Just(None),
        1 => Just(Some(-1)),
        1 => Just(Some(u32::MAX as i64)),
        1 => Just(Some(1 << 40)),
    ]
}

type EdgeRow = (Option<String>, Option<String>, Option<String>, Option<f64>, Option<i64>, Option<i64>, Option<i64>);

fn edge_rows() -> impl Strategy<Value = Vec<EdgeRow>> {
    prop::collection::vec(
        (id_strategy(), id_strategy(), prop::sample::select(vec![Some("related_to".to_string()), Some("contains".into()), Some("about".into()), None]).boxed(), weight_strategy(), time_strategy(), key_strategy(), key_strategy()),
        0..60,
    )
}

fn edges_batch(rows: &[EdgeRow]) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>())),
        Arc::new(StringArray::from(rows.iter().map(|r| r.2.clone()).collect::<Vec<_>>())),
        Arc::new(Float64Array::from(rows.iter().map(|r| r.3).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.4).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.5).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.6).collect::<Vec<_>>())),
    ];
    let schema = Schema::new(vec![
        Field::new("source_id", DataType::Utf8, true),
        Field::new("target_id", DataType::Utf8, true),
        Field::new("edge_type", DataType::Utf8, true),
        Field::new("weight", DataType::Float64, true),
        Field::new("reinforced_at", DataType::Int64, true),
        Field::new("source_key", DataType::Int64, true),
        Field::new("target_key", DataType::Int64, true),
    ]);
    RecordBatch::try_new(Arc::new(schema), cols).expect("a well-formed batch")
}

fn half_lives() -> HalfLives {
    let mut by_type = HashMap::new();
    by_type.insert("contains".to_string(), None);
    by_type.insert("related_to".to_string(), Some(336.0));
    HalfLives { by_type, default: Some(0.0) } // a zero half-life must not divide by zero
}

const NOW: i64 = 1_763_283_600_000_000;

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]

    #[test]
    fn graph_kernels_never_panic_and_keep_invariants(rows in edge_rows(), starts in prop::collection::vec(0u32..80, 0..4),
                                                      depth in 0u32..6, dir in 0u8..3, min_w in prop_oneof![Just(0.0f64), 0.0f64..2.0, Just(f64::NAN)],
                                                      types in prop::sample::subsequence(vec!["related_to".to_string(), "contains".into(), "nope".into()], 0..3)) {
        let batch = edges_batch(&rows);
        let Ok(g) = Graph::from_arrow(&batch, &half_lives(), NOW, 24.0) else { return Ok(()) };
        let n = g.n();
        let (pr, _) = g.pagerank(0.85, 1e-9, 100).expect("PageRank of a built graph");
        prop_assert_eq!(pr.len(), n);
        let cc = g.clustering().expect("clustering of a built graph");
        prop_assert!(cc.iter().all(|c| (0.0..=1.0).contains(c)), "clustering outside [0, 1]: {:?}", cc);
        let (deg, hot) = g.degree_and_hot();
        prop_assert_eq!(deg.len(), n);
        prop_assert_eq!(hot.len(), n);
        prop_assert!(g.components() <= n);
        let starts: Vec<u32> = starts.into_iter().filter(|&s| (s as usize) < n).collect();
        let d = [Direction::Out, Direction::In, Direction::Both][dir as usize];
        let r = traverse(&g, &starts, depth, &types, d, min_w);
        prop_assert_eq!(r.node.len(), r.depth.len());
        let mut seen = std::collections::HashSet::new();
        for (k, &node) in r.node.iter().enumerate() {
            prop_assert!((node as usize) < n);
            prop_assert!(seen.insert(node), "a node reached twice");
            prop_assert!(r.depth[k] <= depth);
            if r.parent[k] != u32::MAX {
                prop_assert!((r.parent[k] as usize) < n);
            } else {
                prop_assert_eq!(r.depth[k], 0);
            }
        }
        let (b, _) = scores(&g, 0.85, 1e-6, 100).expect("scores of a built graph");
        prop_assert_eq!(b.num_rows(), n);
        // every node key came from the input, each node once
        let keys: std::collections::HashSet<u32> = g.keys().iter().copied().collect();
        prop_assert_eq!(keys.len(), n);
        for &k in g.keys() {
            prop_assert_eq!(g.index_of(k).map(|i| g.keys()[i as usize]), Some(k));
        }
    }

    #[test]
    fn merge_plan_equals_a_naive_model(batch in prop::collection::vec((0u32..6, 0u32..6, 0usize..3, prop_oneof![8 => 0.0f64..3.0, 1 => Just(f64::NAN), 1 => Just(-1.0)], any::<bool>()), 0..40),
                                       stored in prop::collection::vec((0u32..6, 0u32..6, 0usize..3, prop_oneof![0.0f64..5.0, Just(f64::NAN)], time_strategy().prop_map(|t| t.unwrap_or(0)), 0i64..1000), 0..40)) {
        let types = ["related_to", "contains", "zz"];
        let b = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("source_key", DataType::UInt32, false),
                Field::new("target_key", DataType::UInt32, false),
                Field::new("edge_type", DataType::Utf8, false),
                Field::new("weight", DataType::Float64, false),
                Field::new("reinforce", DataType::Boolean, false),
            ])),
            vec![
                Arc::new(UInt32Array::from(batch.iter().map(|r| r.0).collect::<Vec<_>>())) as ArrayRef,
                Arc::new(UInt32Array::from(batch.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(StringArray::from(batch.iter().map(|r| types[r.2]).collect::<Vec<_>>())),
                Arc::new(Float64Array::from(batch.iter().map(|r| r.3).collect::<Vec<_>>())),
                Arc::new(BooleanArray::from(batch.iter().map(|r| r.4).collect::<Vec<_>>())),
            ],
        ).expect("batch");
        let st = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("rid", DataType::Int64, false),
                Field::new("source_key", DataType::UInt32, false),
                Field::new("target_key", DataType::UInt32, false),
                Field::new("edge_type", DataType::Utf8, false),
                Field::new("weight", DataType::Float64, false),
                Field::new("reinforced_at", DataType::Int64, false),
                Field::new("reinforcement_count", DataType::Int64, false),
            ])),
            vec![
                Arc::new(Int64Array::from((0..stored.len() as i64).map(|i| i * 10).collect::<Vec<_>>())) as ArrayRef,
                Arc::new(UInt32Array::from(stored.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(UInt32Array::from(stored.iter().map(|r| r.1).collect::<Vec<_>>())),
                Arc::new(StringArray::from(stored.iter().map(|r| types[r.2]).collect::<Vec<_>>())),
                Arc::new(Float64Array::from(stored.iter().map(|r| r.3).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(stored.iter().map(|r| r.4).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(stored.iter().map(|r| r.5).collect::<Vec<_>>())),
            ],
        ).expect("stored");
        let hl = half_lives();
        let got = merge(&b, &st, &hl, NOW);
        if batch.iter().any(|r| !(r.3.is_finite() && r.3 >= 0.0)) {
            prop_assert!(got.is_err(), "a bad increment must be refused");
            return Ok(());
        }
        let (ins, upd) = got.expect("a valid batch merges");
        // the naive model: groups in first-appearance order
        let mut order: Vec<(u32, u32, usize)> = Vec::new();
        for r in &batch {
            if !order.contains(&(r.0, r.1, r.2)) {
                order.push((r.0, r.1, r.2));
            }
        }
        let (mut e_ins, mut e_upd) = (Vec::new(), Vec::new());
        for k in &order {
            let rows: Vec<usize> = (0..batch.len()).filter(|&i| (batch[i].0, batch[i].1, batch[i].2) == *k).collect();
            // increments add up (an edge's weight counts its evidence); a known edge gains the reinforcing rows' only
            let inc = rows.iter().map(|&i| batch[i].3).fold(0.0f64, |a, x| a + x);
            let fresh = rows.iter().filter(|&&i| batch[i].4).map(|&i| batch[i].3).fold(0.0f64, |a, x| a + x);
            let reinforce = rows.iter().any(|&i| batch[i].4);
            match stored.iter().position(|s| (s.0, s.1, s.2) == *k) {
                None => e_ins.push((rows[0] as u32, inc)),
                Some(j) if reinforce => {
                    let prev = stored[j].3;
                    let base = if prev.is_finite() && prev > 0.0 { prev } else { 0.0 };
                    let w = decay(base, stored[j].4, NOW, hl.get(types[k.2])) + fresh;
                    e_upd.push((j as i64 * 10, rows[0] as u32, w, stored[j].5 + 1));
                }
                Some(_) => {}
            }
        }
        let col_u32 = |b: &RecordBatch, i: usize| b.column(i).as_any().downcast_ref::<UInt32Array>().expect("u32").values().to_vec();
        let col_f64 = |b: &RecordBatch, i: usize| b.column(i).as_any().downcast_ref::<Float64Array>().expect("f64").values().to_vec();
        let col_i64 = |b: &RecordBatch, i: usize| b.column(i).as_any().downcast_ref::<Int64Array>().expect("i64").values().to_vec();
        prop_assert_eq!(col_u32(&ins, 0), e_ins.iter().map(|x| x.0).collect::<Vec<_>>());
        prop_assert_eq!(col_f64(&ins, 1), e_ins.iter().map(|x| x.1).collect::<Vec<_>>());
        prop_assert_eq!(col_i64(&upd, 0), e_upd.iter().map(|x| x.0).collect::<Vec<_>>());
        prop_assert_eq!(col_u32(&upd, 1), e_upd.iter().map(|x| x.1).collect::<Vec<_>>());
        prop_assert_eq!(col_f64(&upd, 2), e_upd.iter().map(|x| x.2).collect::<Vec<_>>());
        prop_assert_eq!(col_i64(&upd, 3), e_upd.iter().map(|x| x.3).collect::<Vec<_>>());
        prop_assert_eq!(upd.column(0).len() + ins.column(0).len() <= order.len(), true);
    }

    #[test]
    fn dot_writer_never_panics_and_escapes_every_label(rows in edge_rows(), labels in prop::collection::vec(id_strategy(), 0..30),
                                                        scores_v in prop::collection::vec(weight_strategy(), 0..30), top in prop::option::of(0usize..20)) {
        let n = labels.len().min(scores_v.len());
        let ids: Vec<Option<String>> = (0..n).map(|i| Some(["a", "b", "c", "d", "e"][i % 5].to_string())).collect();
        let nodes = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("id", DataType::Utf8, true),
                Field::new("label", DataType::Utf8, true),
                Field::new("kind", DataType::Utf8, true),
                Field::new("score", DataType::Float64, true),
            ])),
            vec![
                Arc::new(StringArray::from(ids)) as ArrayRef,
                Arc::new(StringArray::from(labels[..n].to_vec())),
                Arc::new(StringArray::from((0..n).map(|i| Some(["moment", "topic", "person", "?", ""][i % 5].to_string())).collect::<Vec<_>>())),
                Arc::new(Float64Array::from(scores_v[..n].to_vec())),
            ],
        ).expect("a well-formed batch");
        let edges = edges_batch(&rows);
        let Ok(out) = to_dot(&nodes, &edges, top, "hostile \"name\"\n") else { return Ok(()) };
        prop_assert!(out.starts_with("digraph \""));
        prop_assert!(out.trim_end().ends_with('}'), "unterminated graph");
        // every statement is on its own line: no raw newline, NUL or unescaped quote leaked out of a label
        for line in out.lines().skip(1) {
            prop_assert!(line.is_empty() || line.starts_with("  ") || line == "}", "a label broke a line: {:?}", line);
            prop_assert!(!line.contains('\0'));
        }
    }
}

#[test]
fn wrong_column_types_are_errors_not_panics() {
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("source_id", DataType::Int64, false),
            Field::new("target_id", DataType::Utf8, false),
            Field::new("edge_type", DataType::Utf8, false),
            Field::new("weight", DataType::Utf8, false),
            Field::new("reinforced_at", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Int64Array::from(vec![1])) as ArrayRef,
            Arc::new(StringArray::from(vec!["b"])),
            Arc::new(StringArray::from(vec!["t"])),
            Arc::new(StringArray::from(vec!["heavy"])),
            Arc::new(Int64Array::from(vec![0])),
        ],
    )
    .expect("batch");
    assert!(Graph::from_arrow(&batch, &half_lives(), NOW, 24.0).is_err());
    assert!(merge(&batch, &batch, &half_lives(), NOW).is_err());
    let empty = RecordBatch::new_empty(Arc::new(Schema::new(vec![Field::new("x", DataType::Utf8, true)])));
    assert!(Graph::from_arrow(&empty, &half_lives(), NOW, 24.0).is_err());
    assert!(to_dot(&empty, &empty, None, "g").is_err());
}
