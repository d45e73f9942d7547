//! Times `pack` alone on 50,000 synthetic messages (~400 chars each) in 2,500
//! sessions over 24 hours: `cargo run --release --example pack_bench`.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use rem_core::pack::{pack, PackOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n = 50_000usize;
    let t0 = 1_767_225_600_000_000i64;
    let step = 86_400_000_000i64 / n as i64;
    let ids: Vec<String> = (0..n).map(|i| format!("m{i}")).collect();
    let sids: Vec<String> = (0..n).map(|i| format!("s{}", i / 20)).collect();
    let roles: Vec<&str> = (0..n).map(|i| ["user", "assistant", "tool", "assistant"][i % 4]).collect();
    let content: Vec<String> = (0..n)
        .map(|i| {
            let s = format!("{:032x} lorem ipsum dolor sit amet ", i * 2_654_435_761).repeat(12);
            if std::env::var("EMPTY").is_ok() { String::new() } else { s[..200 + (i * 7919) % 400].to_string() }
        })
        .collect();
    let ts: Vec<i64> = (0..n as i64).map(|i| t0 + i * step).collect();
    let m = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("session_id", DataType::Utf8, false),
            Field::new("role", DataType::Utf8, false),
            Field::new("content", DataType::Utf8, false),
            Field::new("ts", DataType::Int64, false),
        ])),
        vec![
            Arc::new(StringArray::from_iter_values(ids.iter())),
            Arc::new(StringArray::from_iter_values(sids.iter())),
            Arc::new(StringArray::from_iter_values(roles.iter())),
            Arc::new(StringArray::from_iter_values(content.iter())),
            Arc::new(Int64Array::from(ts)),
        ],
    )?;
    let sess_ids: Vec<String> = (0..n / 20).map(|i| format!("s{i}")).collect();
    let s = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from_iter_values(sess_ids.iter()))],
    )?;
    let r = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, false), Field::new("ts", DataType::Int64, false)])),
        vec![Arc::new(StringArray::from(Vec::<&str>::new())), Arc::new(Int64Array::from(Vec::<i64>::new()))],
    )?;
    let opts = PackOptions::default();
    let mut best = f64::MAX;
    for _ in 0..10 {
        let t = Instant::now();
        let out = pack(&r, &s, &m, &opts)?;
        best = best.min(t.elapsed().as_secs_f64());
        assert!(out.chunks.num_rows() > 0);
    }
    println!("pack of {n} messages: best {:.1} ms", best * 1000.0);
    Ok(())
}
