//! Time to first row and export throughput on the largest MDF sample.
//! Run: `cargo bench -p kairos-sqlserver --no-default-features --bench read`.
//! Throughput is in bytes of table pages (every page the IAM chains give
//! the user tables: data, index, LOB), the "table data" an export reads.
//! It also prints how many pages listing the tables reads.

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use kairos_parsers::{CountingSource, MemSource};
use kairos_sqlserver::export::{Format, export_table};
use kairos_sqlserver::page::PAGE_SIZE;
use kairos_sqlserver::{Database, ScanOptions};

const SAMPLE: &str = "mikebrind_northwnd.mdf";

fn sample() -> MemSource {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples/mdf")
        .join(SAMPLE);
    MemSource::new(SAMPLE, std::fs::read(path).expect("sample present"))
}

fn bench(c: &mut Criterion) {
    let src = sample();
    let counting = CountingSource::new(src.clone(), PAGE_SIZE as u32);
    let listed = Database::open(&counting)
        .and_then(|db| db.summaries())
        .expect("list");
    println!(
        "listing {} tables of {SAMPLE} read {} of {} pages",
        listed.len(),
        counting.pages_read(),
        counting.total_pages()
    );
    let mut g = c.benchmark_group("sqlserver");
    g.sample_size(30);
    g.bench_function("open_and_first_row_of_order_details", |b| {
        b.iter(|| {
            let db = Database::open(src.clone()).expect("open");
            let t = db.table("Order Details").expect("table");
            let row = db
                .rows(t, ScanOptions::default())
                .next()
                .expect("a row")
                .expect("row");
            black_box(row);
        });
    });
    g.bench_function("open_and_list_tables", |b| {
        b.iter(|| {
            let db = Database::open(src.clone()).expect("open");
            black_box(db.summaries().expect("summaries"));
        });
    });
    let db = Database::open(src.clone()).expect("open");
    let table_bytes: u64 = db
        .summaries()
        .expect("summaries")
        .iter()
        .map(|s| s.pages)
        .sum::<u64>()
        * PAGE_SIZE as u64;
    for (name, format) in [
        ("csv", Format::Csv),
        ("jsonl", Format::Jsonl),
        ("sql", Format::Sql),
    ] {
        g.throughput(Throughput::Bytes(table_bytes));
        g.bench_function(format!("export_every_table_{name}"), |b| {
            b.iter(|| {
                let db = Database::open(src.clone()).expect("open");
                for t in db.tables() {
                    black_box(
                        export_table(&db, t, format, false, &mut std::io::sink()).expect("export"),
                    );
                }
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
