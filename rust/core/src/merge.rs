//! Edge reinforce/merge over Arrow: the arithmetic half of REM's edge write.
//!
//! Input: a batch of new edges (`source_key`, `target_key`, `edge_type`,
//! `weight` = the increment, optional `reinforce` flag) and the stored edges
//! that share a (source, target, type) with it (`rid`, the same three keys,
//! `weight`, `reinforced_at` µs, `reinforcement_count`), as DuckDB returns
//! them from one semi-join. Output: which batch rows to insert and which
//! stored rows to update, with their new values and the previous ones (for
//! the revert log). The database is never seen here; Python writes both
//! results back in one transaction.
//!
//! Rules (one row per (source, target, type)):
//! - duplicates within the batch collapse into one, and their increments
//!   add up: an edge's weight counts its evidence (two topics of eight
//!   moments weigh eight, of one moment one); reinforce if any of them says
//!   so, the first row's other values;
//! - an unknown edge is inserted with weight = the sum of the increments, count 1;
//! - a known edge with reinforce: weight = effective weight now (decayed
//!   with its type's half-life from `reinforced_at`) + the sum of the
//!   reinforcing rows' increments, count + 1, `reinforced_at` = now (set by
//!   the writer);
//! - a known edge without reinforce is left alone (asserting an edge twice
//!   does not strengthen it);
//! - if the store already holds duplicates of one key, the first is updated.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, Float64Array, Int64Array, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use rustc_hash::FxHashMap;

use crate::columns::{f64_array, i64_values, str_col, u32_keys};
use crate::error::{CoreError, Result};
use crate::graph::{decay, HalfLives};
use crate::intern::Interner;

struct Group {
    row: u32,
    inc: f64,       // every row's increment, summed (the evidence of a new edge)
    inc_fresh: f64, // the reinforcing rows' increments, summed (new evidence for a known edge)
    reinforce: bool,
    stored: Option<u32>,
}

/// The merge plan: `(inserts, updates)`.
///
/// `inserts`: `row` (u32, the batch row whose values to insert), `weight`.
/// `updates`: `rid` (i64, stored row id), `row` (u32, batch row),
/// `weight`, `reinforcement_count` (new values), `prev_weight`,
/// `prev_reinforced_at` (i64 µs), `prev_count` (old values).
/// Both in order of first appearance in the batch.
pub fn merge(batch: &RecordBatch, stored: &RecordBatch, half_lives: &HalfLives, now_us: i64) -> Result<(RecordBatch, RecordBatch)> {
    let (bs, bt) = (u32_keys(batch, "batch", "source_key")?, u32_keys(batch, "batch", "target_key")?);
    let bty = str_col(batch, "batch", "edge_type")?;
    let bw = f64_array(batch, "batch", "weight")?;
    let reinforce: Option<&BooleanArray> = batch.column_by_name("reinforce").and_then(|c| c.as_any().downcast_ref::<BooleanArray>());
    if batch.column_by_name("reinforce").is_some() && reinforce.is_none() {
        return Err(CoreError::ColumnType {
            table: "batch".into(),
            column: "reinforce".into(),
            found: batch.column_by_name("reinforce").map(|c| c.data_type().to_string()).unwrap_or_default(),
            expected: "bool".into(),
        });
    }
    let n = batch.num_rows();
    if n >= u32::MAX as usize {
        return Err(CoreError::InvalidOption("batch too large (max 4 billion rows)".into()));
    }
    let mut types = Interner::new();
    let mut index: FxHashMap<(u32, u32, u16), u32> = FxHashMap::default();
    index.reserve(n);
    let mut groups: Vec<Group> = Vec::with_capacity(n);
    for i in 0..n {
        if bw.is_null(i) || !bw.value(i).is_finite() || bw.value(i) < 0.0 {
            return Err(CoreError::InvalidValue {
                table: "batch".into(),
                column: "weight".into(),
                row: i,
                message: "the weight increment must be a finite number ≥ 0".into(),
            });
        }
        let t = types.code(bty.get_or_empty(i))?;
        let r = reinforce.is_none_or(|a| a.is_valid(i) && a.value(i));
        let g = *index.entry((bs[i], bt[i], t)).or_insert_with(|| {
            groups.push(Group { row: i as u32, inc: 0.0, inc_fresh: 0.0, reinforce: false, stored: None });
            (groups.len() - 1) as u32
        });
        let grp = &mut groups[g as usize];
        grp.inc += bw.value(i);
        if r {
            grp.inc_fresh += bw.value(i);
        }
        grp.reinforce |= r;
    }
    // stored rows matching a batch key
    let (ss, st) = (u32_keys(stored, "stored", "source_key")?, u32_keys(stored, "stored", "target_key")?);
    let sty = str_col(stored, "stored", "edge_type")?;
    let sw = f64_array(stored, "stored", "weight")?;
    let sat = i64_values(stored, "stored", "reinforced_at")?;
    let scount = i64_values(stored, "stored", "reinforcement_count")?;
    let rid = i64_values(stored, "stored", "rid")?;
    for j in 0..stored.num_rows() {
        let Some(t) = types.find(sty.get_or_empty(j)) else { continue };
        if let Some(&g) = index.get(&(ss[j], st[j], t)) {
            let grp = &mut groups[g as usize];
            if grp.stored.is_none() {
                grp.stored = Some(j as u32);
            }
        }
    }
    let mut ins_row = Vec::new();
    let mut ins_w = Vec::new();
    let (mut u_rid, mut u_row, mut u_w, mut u_c, mut p_w, mut p_at, mut p_c) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for g in &groups {
        match g.stored {
            None => {
                ins_row.push(g.row);
                ins_w.push(g.inc);
            }
            Some(j) if g.reinforce => {
                let j = j as usize;
                let prev = if sw.is_null(j) { 0.0 } else { sw.value(j) };
                let t = bty.get_or_empty(g.row as usize);
                let eff = decay(if prev.is_finite() && prev > 0.0 { prev } else { 0.0 }, sat[j], now_us, half_lives.get(t));
                u_rid.push(rid[j]);
                u_row.push(g.row);
                u_w.push(eff + g.inc_fresh);
                u_c.push(scount[j].saturating_add(1));
                p_w.push(prev);
                p_at.push(sat[j]);
                p_c.push(scount[j]);
            }
            Some(_) => {}
        }
    }
    let inserts = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("row", DataType::UInt32, false), Field::new("weight", DataType::Float64, false)])),
        vec![Arc::new(UInt32Array::from(ins_row)) as ArrayRef, Arc::new(Float64Array::from(ins_w))],
    )?;
    let updates = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("rid", DataType::Int64, false),
            Field::new("row", DataType::UInt32, false),
            Field::new("weight", DataType::Float64, false),
            Field::new("reinforcement_count", DataType::Int64, false),
            Field::new("prev_weight", DataType::Float64, false),
            Field::new("prev_reinforced_at", DataType::Int64, false),
            Field::new("prev_count", DataType::Int64, false),
        ])),
        vec![
            Arc::new(Int64Array::from(u_rid)) as ArrayRef,
            Arc::new(UInt32Array::from(u_row)),
            Arc::new(Float64Array::from(u_w)),
            Arc::new(Int64Array::from(u_c)),
            Arc::new(Float64Array::from(p_w)),
            Arc::new(Int64Array::from(p_at)),
            Arc::new(Int64Array::from(p_c)),
        ],
    )?;
    Ok((inserts, updates))
}
