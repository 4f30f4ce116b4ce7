//! `kairos ese tables|dump` as an operator runs them, on real samples.

mod common;

use common::{run, samples};

use std::path::{Path, PathBuf};

fn sample(name: &str) -> PathBuf {
    samples().join("ese").join(name)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `ese tables` lists exactly the oracle's tables and record counts.
#[test]
fn tables_lists_names_and_counts_like_the_oracle() {
    let f = sample("dfirmuseum_srum-w11-clean_SRUDB.dat");
    let (code, out, err) = run(&["ese", "tables", path_str(&f)]);
    assert_eq!(code, 0, "{err}");
    let ours: Vec<(String, String)> = out
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("table\t"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[1].to_owned())
        })
        .collect();
    let oracle = std::fs::read_to_string(sample(
        "oracle/dfirmuseum_srum-w11-clean_SRUDB.dat/tables.tsv",
    ))
    .expect("oracle");
    let theirs: Vec<(String, String)> = oracle
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_owned(), f[2].to_owned())
        })
        .collect();
    assert_eq!(ours, theirs);
}

/// A dirty database lists its tables with the warning on stderr.
#[test]
fn dirty_database_warns_and_lists() {
    let f = sample("goese_qmgr.db");
    let (code, out, err) = run(&["ese", "tables", path_str(&f)]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("dirty shutdown: needs log replay, data as on disk"),
        "{err}"
    );
    assert!(
        out.contains("\nJobs\t") && out.contains("\nFiles\t"),
        "{out}"
    );
    let (code, out, _) = run(&["--json", "ese", "tables", path_str(&f)]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["state"], "dirty shutdown");
    assert_eq!(v["page_size"], 16384);
    assert!(v["tables"].as_array().is_some_and(|t| t.len() >= 6));
}

/// `ese dump` TSV of a table whose oracle export has no caveat equals the
/// oracle byte for byte (integers, text, binary as lowercase hex).
#[test]
fn dump_tsv_equals_oracle_for_plain_table() {
    let f = sample("dfirmuseum_srum-w11-clean_SRUDB.dat");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("idmap.tsv");
    let dump = |extra: &[&str]| {
        let base = [
            "ese",
            "dump",
            path_str(&f),
            "SruDbIdMapTable",
            "-o",
            path_str(&out),
        ];
        run(&[&base[..], extra].concat())
    };
    let (code, _, err) = dump(&[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("SruDbIdMapTable: 1044 records"), "{err}");
    let ours = std::fs::read_to_string(&out).expect("output");
    let theirs = std::fs::read_to_string(sample(
        "oracle/dfirmuseum_srum-w11-clean_SRUDB.dat/export/SruDbIdMapTable.4",
    ))
    .expect("oracle");
    assert_eq!(ours, theirs);
    // no silent overwrite
    let (code, _, err) = dump(&[]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("kairos: ") && err.contains("--force"),
        "{err}"
    );
    let (code, _, err) = dump(&["--force"]);
    assert_eq!(code, 0, "{err}");
}

/// JSONL: one object per record, typed values.
#[test]
fn dump_jsonl_is_typed() {
    let f = sample("dissect_basic.edb");
    let (code, out, err) = run(&["ese", "dump", path_str(&f), "basic", "--format", "jsonl"]);
    assert_eq!(code, 0, "{err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(rows.len(), 2);
    // values from dissect.esedb tests/test_esedb.py::test_basic_types
    assert_eq!(rows[0]["Short"], -1337);
    assert_eq!(rows[0]["IEEESingle"], 1.0);
    assert_eq!(rows[0]["GUID"], "3f360af1-6766-46dc-9af2-0dacf295c2a1");
    assert_eq!(rows[0]["DateTime"], "1999-03-01T00:00:00.000");
    assert_eq!(rows[1]["Bit"], true);
    assert!(rows[1]["GUID"].is_null());
}

/// Errors are one line naming the file or the table.
#[test]
fn errors_are_one_line() {
    let f = sample("dissect_basic.edb");
    let (code, _, err) = run(&["ese", "dump", path_str(&f), "nope"]);
    assert_eq!(code, 1);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("table \"nope\" not found"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let junk = dir.path().join("junk.edb");
    std::fs::write(&junk, vec![0u8; 8192]).expect("write");
    let (code, _, err) = run(&["ese", "tables", path_str(&junk)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("junk.edb") && err.contains("header signature"),
        "{err}"
    );
}

/// Through the engine: two versions of one SRUM database (the dirty copy,
/// then the clean one a moment later) captured into a store; `--store
/// --at` reads each instant in place, without restoring it.
#[test]
fn tables_through_the_engine_at_two_instants() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store_dir = dir.path().join("store");
    kairos_engine::Store::init(&store_dir, kairos_engine::StoreOptions::default()).expect("init");
    let t1: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z
    let t2: i64 = t1 + 3_600_000_000_000; // one hour later
    {
        let mut store = kairos_engine::Store::open(&store_dir).expect("open store");
        let work = dir.path().join("SRUDB.dat");
        for (file, at) in [
            ("dfirmuseum_srum-w11-dirty_SRUDB.dat", t1),
            ("dfirmuseum_srum-w11-clean_SRUDB.dat", t2),
        ] {
            std::fs::copy(sample(file), &work).expect("copy");
            store
                .capture_file(&work, "srum", Some(at), &|_, _| {})
                .expect("capture");
        }
    }
    let s = path_str(&store_dir);
    let (code, out, err) = run(&[
        "--store",
        s,
        "--at",
        "2026-01-01T00:30:00Z",
        "ese",
        "tables",
        "srum",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("dirty shutdown: needs log replay"), "{err}");
    assert!(out.contains("\nSruDbIdMapTable\t1044\t"), "{out}");
    let (code, out, err) = run(&[
        "--store",
        s,
        "--at",
        "2026-01-01T01:30:00Z",
        "ese",
        "tables",
        "srum",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("dirty shutdown"), "{err}");
    assert!(out.contains("clean shutdown"), "{out}");
    assert!(out.contains("\nSruDbIdMapTable\t1044\t"), "{out}");
}
