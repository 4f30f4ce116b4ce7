//! The reader against every real sample in `../shared/samples/mdf`: row
//! counts and spot values of FACTS.tsv, zero per-column errors, CSV exports
//! and LOBs against files derived from Microsoft's creation scripts
//! (`tests/expected/derive.py`), laziness of table listing.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kairos_parsers::{CountingSource, FileSource, MemSource, Source};
use kairos_sqlserver::export::{Format, export_table};
use kairos_sqlserver::page::{PAGE_SIZE, Page, PageType};
use kairos_sqlserver::{Database, ScanOptions, Value};
use sha2::{Digest, Sha256};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/mdf")
}

fn expected(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name)
}

fn open(name: &str) -> Database<FileSource> {
    let path = samples().join(name);
    Database::open(FileSource::open(&path).expect("sample present")).expect("sample opens")
}

fn all_mdf() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(samples())
        .expect("samples directory present")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| {
            Path::new(n)
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("mdf"))
        })
        .collect();
    v.sort();
    assert!(
        v.len() >= 16,
        "expected the 16 MDF samples, found {}",
        v.len()
    );
    v
}

/// The CSV text of a value, unquoted (as FACTS.tsv writes spot values).
fn text_of(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Decimal(s) | Value::Text(s) | Value::DateTime(s) | Value::Guid(s) => {
            s.trim_end().to_owned()
        }
        Value::Binary(b) => format!("{b:?}"),
        Value::Error(e) => format!("<error {e}>"),
    }
}

/// `Col=Value Col2=Value with spaces (comment)` → pairs; quotes stripped.
fn spot_pairs(spot: &str) -> Vec<(String, String)> {
    let spot = spot
        .split(" (")
        .next()
        .unwrap_or("")
        .trim_end_matches(" exists");
    let mut pairs = Vec::new();
    let mut rest = spot;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().to_owned();
        let after = &rest[eq + 1..];
        // The value runs to the next " Word=" or to the end.
        let mut end = after.len();
        for (i, _) in after.match_indices(' ') {
            let tail = &after[i + 1..];
            if let Some(e) = tail.find('=')
                && !tail[..e].is_empty()
                && tail[..e]
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_')
            {
                end = i;
                break;
            }
        }
        let value = after[..end].trim().trim_matches('\'').to_owned();
        pairs.push((key, value));
        rest = &after[end..];
    }
    pairs
}

#[test]
fn facts_row_counts_and_spot_values() {
    let facts = std::fs::read_to_string(samples().join("FACTS.tsv")).expect("FACTS.tsv");
    let mut checked = 0;
    let mut spots = 0;
    for line in facts.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (file, table, rows, spot) = (f[0], f[1], f[2], f.get(4).copied().unwrap_or(""));
        let db = open(file);
        let t = db.table(table).unwrap_or_else(|e| panic!("{file}: {e}"));
        let count = db.count_rows(t).expect("count");
        assert_eq!(
            count.live,
            rows.parse::<u64>().expect("count in FACTS"),
            "{file} {table}"
        );
        assert_eq!(count.damaged, 0, "{file} {table}");
        checked += 1;
        let pairs = spot_pairs(spot);
        if pairs.is_empty() {
            continue;
        }
        let idx: Vec<usize> = pairs
            .iter()
            .map(|(k, _)| {
                t.columns
                    .iter()
                    .position(|c| &c.name == k)
                    .unwrap_or_else(|| panic!("{file} {table}: no column {k}"))
            })
            .collect();
        let found = db
            .rows(t, ScanOptions::default())
            .filter_map(Result::ok)
            .any(|r| {
                pairs
                    .iter()
                    .zip(&idx)
                    .all(|((_, want), &i)| text_of(&r.values[i]) == *want)
            });
        assert!(found, "{file} {table}: no row with {pairs:?}");
        spots += 1;
    }
    assert_eq!(checked, 46, "every FACTS row checked");
    assert!(spots >= 14, "spot values checked: {spots}");
}

/// (table, live rows, ghost records) per file.
type Counts<'a> = Vec<(&'a str, u64, usize)>;

/// Every user table the raw page walk of `tools/mdf_truth.py` finds is
/// listed, with the same live row count and ghost-record count, and no
/// other table is listed.
#[test]
fn tables_and_counts_equal_the_raw_page_walk() {
    let truth = std::fs::read_to_string(expected("mdf_truth.tsv")).expect("mdf_truth.tsv");
    let mut by_file: std::collections::BTreeMap<&str, Counts> = std::collections::BTreeMap::new();
    for line in truth.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let ghosts = f[5]
            .trim_start_matches("ghost_data=")
            .parse()
            .expect("ghosts");
        by_file
            .entry(f[0])
            .or_default()
            .push((f[1], f[2].parse().expect("count"), ghosts));
    }
    assert!(by_file.len() >= 12);
    for (file, tables) in by_file {
        let db = open(file);
        let mut ours: Vec<&str> = db.tables().iter().map(|t| t.name.as_str()).collect();
        let mut theirs: Vec<&str> = tables.iter().map(|(n, _, _)| *n).collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs, "{file}");
        for (name, rows, ghosts) in tables {
            let t = db.table(name).expect("table");
            assert_eq!(db.count_rows(t).expect("count").live, rows, "{file} {name}");
            let opts = ScanOptions {
                include_deleted: true,
                count_only: true,
            };
            let ours = db
                .rows(t, opts)
                .filter_map(Result::ok)
                .filter(|r| r.state == kairos_sqlserver::RowState::Ghost)
                .count();
            assert_eq!(ours, ghosts, "{file} {name}: ghost records");
        }
    }
}

#[test]
fn every_row_of_every_sample_decodes_without_column_errors() {
    let mut total_rows = 0u64;
    let mut tables = 0;
    let mut errors = Vec::new();
    for file in all_mdf() {
        let db = open(&file);
        tables += db.tables().len();
        for t in db.tables() {
            for r in db.rows(t, ScanOptions::default()) {
                match r {
                    Ok(row) => {
                        total_rows += 1;
                        for (c, v) in t.columns.iter().zip(&row.values) {
                            if let Value::Error(e) = v {
                                errors.push(format!("{file} {} {}: {e}", t.name, c.name));
                            }
                        }
                    }
                    Err(e) => errors.push(format!("{file} {}: {e}", t.name)),
                }
            }
        }
    }
    assert!(total_rows > 5_000, "rows decoded: {total_rows}");
    assert!(tables >= 140, "tables listed: {tables}");
    assert_eq!(
        errors.len(),
        0,
        "per-column or page errors: {:#?}",
        &errors[..errors.len().min(20)]
    );
}

#[test]
fn csv_exports_equal_the_creation_scripts() {
    for (file, table, expect) in [
        (
            "itsligo_northwnd.mdf",
            "Customers",
            "northwind_customers.csv",
        ),
        ("itsligo_northwnd.mdf", "Products", "northwind_products.csv"),
        (
            "mikebrind_northwnd.mdf",
            "Customers",
            "northwind_customers.csv",
        ),
        ("itsligo_pubs.mdf", "authors", "pubs_authors.csv"),
        ("itsligo_pubs.mdf", "titles", "pubs_titles.csv"),
    ] {
        let db = open(file);
        let t = db.table(table).expect("table");
        let mut out = Vec::new();
        let report = export_table(&db, t, Format::Csv, false, &mut out).expect("export");
        assert_eq!(report.column_errors, 0);
        assert!(report.damage.is_empty(), "{:?}", report.damage);
        let want = std::fs::read_to_string(expected(expect)).expect("expected file");
        let got = String::from_utf8(out).expect("utf-8");
        assert_eq!(got.lines().count(), want.lines().count(), "{file} {table}");
        for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
            // Fields the script fills with getdate() are not derivable.
            if w.contains("NOT_DERIVABLE") {
                let keep = |l: &str| l.split(',').count();
                assert_eq!(keep(g), keep(w), "{file} {table} line {}", n + 1);
                for (gf, wf) in g.split(',').zip(w.split(',')) {
                    if wf != "NOT_DERIVABLE" {
                        assert_eq!(gf, wf, "{file} {table} line {}", n + 1);
                    }
                }
                continue;
            }
            assert_eq!(g, w, "{file} {table} line {}", n + 1);
        }
        assert!(got.ends_with("\r\n"), "CRLF record ends");
    }
}

#[test]
fn lobs_are_complete() {
    let lobs = std::fs::read_to_string(expected("lobs.tsv")).expect("lobs.tsv");
    let mut checked = 0;
    for line in lobs.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (db_name, table, key, column, size, sha) = (f[0], f[1], f[2], f[3], f[4], f[5]);
        let files: &[&str] = if db_name == "northwind" {
            &["itsligo_northwnd.mdf", "mikebrind_northwnd.mdf"]
        } else {
            &["itsligo_pubs.mdf"]
        };
        for file in files {
            let db = open(file);
            let t = db.table(table).expect("table");
            let ci = t
                .columns
                .iter()
                .position(|c| c.name == column)
                .expect("column");
            let row = db
                .rows(t, ScanOptions::default())
                .filter_map(Result::ok)
                .find(|r| text_of(&r.values[0]) == key)
                .unwrap_or_else(|| panic!("{file} {table} {key}"));
            let bytes = match &row.values[ci] {
                Value::Binary(b) => b.clone(),
                Value::Text(s) => s.as_bytes().to_vec(),
                other => panic!("{file} {table} {key} {column}: {other:?}"),
            };
            assert_eq!(
                bytes.len().to_string(),
                size,
                "{file} {table} {key} {column} size"
            );
            assert_eq!(
                hex(&Sha256::digest(&bytes)),
                sha,
                "{file} {table} {key} {column} hash"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 9 * 2 * 2 + 8 * 2);
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

/// Listing tables reads only the boot page, catalog pages (system tables,
/// object id < 100) and allocation pages (IAM, PFS, GAM, SGAM): never a
/// page of a user table.
#[test]
fn listing_tables_is_lazy() {
    let largest = all_mdf()
        .into_iter()
        .max_by_key(|n| std::fs::metadata(samples().join(n)).map_or(0, |m| m.len()))
        .expect("a sample");
    let file = FileSource::open(samples().join(&largest)).expect("open");
    let counting = CountingSource::new(&file, PAGE_SIZE as u32);
    let db = Database::open(&counting).expect("open");
    let summaries = db.summaries().expect("summaries");
    assert!(summaries.len() >= 10);
    let touched = counting.page_numbers();
    let mut kinds = BTreeSet::new();
    for p in &touched {
        let page = Page::read(&file, *p as u32).expect("page");
        let h = page.header();
        let allowed = match h.page_type {
            PageType::Boot
            | PageType::Iam
            | PageType::Pfs
            | PageType::FileHeader
            | PageType::Other(8 | 9) => true,
            // Catalog rows and their off-row values live in system objects.
            PageType::Data | PageType::TextMix | PageType::Index => h.obj_id < 100,
            _ => false,
        };
        assert!(
            allowed,
            "{largest}: page {p} ({:?}, object {}) read while listing tables",
            h.page_type, h.obj_id
        );
        kinds.insert(format!("{:?}", h.page_type));
    }
    assert!(
        (touched.len() as u64) * 4 < counting.total_pages(),
        "{} of {} pages read",
        touched.len(),
        counting.total_pages()
    );
    assert!(kinds.contains("Iam") && kinds.contains("Boot"), "{kinds:?}");
}

/// A zeroed data page: the scan names it and returns every other row.
#[test]
fn a_zeroed_data_page_is_reported_and_the_rest_is_read() {
    let path = samples().join("itsligo_northwnd.mdf");
    let bytes = std::fs::read(&path).expect("sample");
    let db = open("itsligo_northwnd.mdf");
    let t = db.table("Orders").expect("Orders");
    let rows: Vec<_> = db
        .rows(t, ScanOptions::default())
        .map(|r| r.expect("clean row"))
        .collect();
    assert_eq!(rows.len(), 830);
    // A page in the middle of the leaf chain.
    let victim = rows[rows.len() / 2].rid.page.page;
    let on_victim = rows.iter().filter(|r| r.rid.page.page == victim).count();
    let mut damaged = bytes.clone();
    let off = victim as usize * PAGE_SIZE;
    damaged[off..off + PAGE_SIZE].fill(0);
    let db2 = Database::open(MemSource::new("northwnd@zeroed", damaged)).expect("open damaged");
    let t2 = db2.table("Orders").expect("Orders");
    let mut ok = 0;
    let mut errs = Vec::new();
    for r in db2.rows(t2, ScanOptions::default()) {
        match r {
            Ok(_) => ok += 1,
            Err(e) => errs.push(e.to_string()),
        }
    }
    assert_eq!(ok, 830 - on_victim, "{errs:?}");
    assert!(
        errs.iter().any(|e| e.contains(&format!("page {victim}"))),
        "{errs:?}"
    );
    let _ = db2.source().name();
}

/// Tables with several `bit` columns: the positions `sysrscols` gives
/// (2008+) are the ones SQL Server allocates in column order.
#[test]
fn bit_columns_share_bytes_in_column_order() {
    let db = open("soosinyi92_aspnetdb.mdf");
    let t = db.table("aspnet_Membership").expect("aspnet_Membership");
    let bits: Vec<(i16, u8)> = t
        .columns
        .iter()
        .filter_map(|c| c.layout.as_ref())
        .filter(|l| l.ty == kairos_sqlserver::SqlType::Bit)
        .map(|l| (l.leaf_offset, l.bit_pos))
        .collect();
    assert_eq!(bits.len(), 2, "IsApproved, IsLockedOut");
    assert_eq!(bits[0].0, bits[1].0, "one shared byte");
    assert_eq!((bits[0].1, bits[1].1), (0, 1));
}
