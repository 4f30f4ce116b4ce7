//! `kairos sql tables|schema|export` as an operator runs them, on real
//! samples, from files and from a store at two instants.

mod common;

use common::{run, samples};

use std::path::{Path, PathBuf};

use kairos_parsers::FileSource;
use kairos_sqlserver::page::PAGE_SIZE;
use kairos_sqlserver::{Database, ScanOptions};

fn sample(name: &str) -> PathBuf {
    samples().join("mdf").join(name)
}

fn expected(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../sqlserver/tests/expected")
        .join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn tables_lists_rows_counted_on_the_data_pages() {
    let f = sample("itsligo_pubs.mdf");
    let (code, out, err) = run(&["sql", "tables", s(&f)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("dbo.authors\t23\t0\t"), "{out}");
    assert!(out.contains("dbo.roysched\t86\t"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("dbo.")).count(), 11);
    let (code, out, err) = run(&["sql", "tables", "--fast", "--json", s(&f)]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["version"], 655);
    let authors = v["tables"]
        .as_array()
        .expect("tables")
        .iter()
        .find(|t| t["name"] == "authors")
        .expect("authors");
    assert_eq!(authors["rows"], 23);
    assert_eq!(authors["rows_source"], "catalog");
}

#[test]
fn schema_prints_create_table() {
    let (code, out, err) = run(&[
        "sql",
        "schema",
        s(&sample("itsligo_northwnd.mdf")),
        "Order Details",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("CREATE TABLE [dbo].[Order Details] (\n    [OrderID] int NOT NULL,"),
        "{out}"
    );
    assert!(out.contains("[UnitPrice] money NOT NULL"), "{out}");
    let (code, _, err) = run(&[
        "sql",
        "schema",
        s(&sample("itsligo_northwnd.mdf")),
        "NoSuchTable",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("kairos: ") && err.contains("table NoSuchTable not found"),
        "{err}"
    );
}

#[test]
fn export_writes_the_expected_csv_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("customers.csv");
    let f = sample("itsligo_northwnd.mdf");
    let args = [
        "sql",
        "export",
        s(&f),
        "Customers",
        "--format",
        "csv",
        "-o",
        s(&out),
    ];
    let (code, _, err) = run(&args);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exported 91 row(s) of dbo.Customers"), "{err}");
    let want = std::fs::read(expected("northwind_customers.csv")).expect("expected");
    assert_eq!(std::fs::read(&out).expect("written"), want);
    std::fs::write(&out, b"keep me").expect("overwrite for the test");
    let (code, _, err) = run(&args);
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).expect("kept"), b"keep me");
    let mut forced = args.to_vec();
    forced.push("--force");
    let (code, _, err) = run(&forced);
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&out).expect("written"), want);
    // JSONL and SQL to stdout
    let (code, jsonl, _) = run(&["sql", "export", s(&f), "dbo.Shippers", "--format", "jsonl"]);
    assert_eq!(code, 0);
    assert_eq!(jsonl.lines().count(), 3);
    let (code, sql, _) = run(&["sql", "export", s(&f), "Shippers", "--format", "sql"]);
    assert_eq!(code, 0);
    assert_eq!(sql.matches("INSERT INTO [dbo].[Shippers]").count(), 3);
}

#[test]
fn include_deleted_marks_deleted_rows() {
    let f = sample("johndavedecano_ybaros_db.mdf");
    let (code, out, err) = run(&[
        "sql",
        "export",
        s(&f),
        "ClientTBL",
        "--format",
        "csv",
        "--include-deleted",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().expect("header").ends_with(",_row_state"));
    let live = out.lines().filter(|l| l.ends_with(",live")).count();
    let deleted = out.lines().skip(1).count() - live;
    assert_eq!(live, 29);
    assert!(deleted > 0);
    assert!(err.contains(&format!("({deleted} deleted)")), "{err}");
}

/// The acceptance scenario: a sample captured, then a second version with
/// one data page zeroed. The first instant exports fully; the second names
/// the damaged page and still exports every other row.
#[test]
fn store_instants_export_and_report_a_zeroed_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let work = dir.path().join("northwnd.mdf");
    let clean = std::fs::read(sample("itsligo_northwnd.mdf")).expect("sample");
    std::fs::write(&work, &clean).expect("copy");
    let (code, _, err) = run(&["init", s(&store)]);
    assert_eq!(code, 0, "{err}");
    let t1 = "2026-11-24T10:00:00Z";
    let t2 = "2026-11-24T10:05:00Z";
    let (code, _, err) = run(&[
        "--store",
        s(&store),
        "--at",
        t1,
        "capture",
        s(&work),
        "--stream",
        "northwnd",
    ]);
    assert_eq!(code, 0, "{err}");
    // Zero one leaf page of Orders (found through the library).
    let db = Database::open(FileSource::open(&work).expect("open")).expect("db");
    let orders = db.table("Orders").expect("Orders");
    let rows: Vec<_> = db
        .rows(orders, ScanOptions::default())
        .map(|r| r.expect("row"))
        .collect();
    let victim = rows[rows.len() / 2].rid.page.page as usize;
    let lost = rows
        .iter()
        .filter(|r| r.rid.page.page as usize == victim)
        .count();
    let mut damaged = clean.clone();
    damaged[victim * PAGE_SIZE..(victim + 1) * PAGE_SIZE].fill(0);
    std::fs::write(&work, &damaged).expect("damage");
    let (code, _, err) = run(&[
        "--store",
        s(&store),
        "--at",
        t2,
        "capture",
        s(&work),
        "--stream",
        "northwnd",
    ]);
    assert_eq!(code, 0, "{err}");

    let export = |at: &str| {
        run(&[
            "--store",
            s(&store),
            "--at",
            at,
            "sql",
            "export",
            "northwnd",
            "Orders",
            "--format",
            "csv",
        ])
    };
    let (code, out, err) = export(t1);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1 + 830);
    assert!(!err.contains("damaged"), "{err}");
    let (code, out, err) = export(t2);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1 + 830 - lost);
    assert!(err.contains(&format!("page {victim}")), "{err}");
    assert!(err.contains("damaged page(s)"), "{err}");
}
