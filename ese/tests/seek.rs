//! Keyed lookups: normalized keys recomputed from column values equal the
//! keys the engine stored (real engine-written files), a seek finds every
//! record the scan finds and reads O(depth) pages, and on generated tables
//! seeks agree with scans for present and absent keys.

mod common;

use std::sync::Arc;

use kairos_ese::{Database, Table, Value, key};
use kairos_parsers::{CountingSource, Source};

/// Key values of `values` in primary-key order.
fn key_values(t: &Table, values: &[Value]) -> Vec<Value> {
    t.primary_key
        .iter()
        .map(|s| {
            let i = t
                .columns
                .iter()
                .position(|c| c.id == s.column)
                .expect("key column");
            values[i].clone()
        })
        .collect()
}

/// Tables whose key columns all have a normalization.
fn keyed_tables<S: Source>(db: &Database<S>) -> Vec<&Table> {
    db.tables()
        .iter()
        .filter(|t| {
            !t.primary_key.is_empty()
                && t.primary_key.iter().all(|s| {
                    t.columns
                        .iter()
                        .any(|c| c.id == s.column && key::is_supported(c.coltyp))
                })
        })
        .collect()
}

/// Depth of a tree (1 = the root is a leaf), following first children.
fn depth<S: Source>(db: &Database<S>, root: u32) -> usize {
    let mut pgno = root;
    let mut depth = 1;
    loop {
        let page = db.page(pgno).expect("page");
        if page.is_leaf() {
            return depth;
        }
        let node = page.node(db.source_name(), 1).expect("node");
        pgno = u32::from_le_bytes(node.data[..4].try_into().expect("child"));
        depth += 1;
    }
}

#[test]
fn recomputed_keys_equal_stored_keys_in_real_files() {
    let mut checked_records = 0usize;
    let mut checked_tables = 0usize;
    for f in common::manifest_files() {
        let db = Database::open(common::load(&f)).expect("open");
        let tables = keyed_tables(&db);
        // the catalog's (ObjidTable, Type, Id) key is integer-only
        // (AD's temp.edb names its catalog differently)
        assert_eq!(
            tables.iter().any(|t| t.name == "MSysObjects"),
            db.table("MSysObjects").is_ok(),
            "{f}"
        );
        for t in tables {
            checked_tables += 1;
            for r in db.records(t) {
                let r = r.expect("record");
                let kv = key_values(t, &r.values());
                let computed = db.primary_key(t, &kv).expect("normalize");
                let stored = r.key();
                // the engine may truncate keys at its key-most limit
                assert!(
                    computed == stored || (!stored.is_empty() && computed.starts_with(&stored)),
                    "{f}: {} at {:?}: values {kv:?}: computed {computed:02x?}, stored {stored:02x?}",
                    t.name,
                    r.location()
                );
                checked_records += 1;
            }
        }
    }
    assert!(checked_tables > 50, "{checked_tables} tables");
    assert!(checked_records > 1000, "{checked_records} records");
}

#[test]
fn seek_finds_every_scanned_record_in_real_files() {
    let (mut found_by_seek, mut damaged) = (0usize, 0usize);
    for f in common::manifest_files() {
        let db = Database::open(common::load(&f)).expect("open");
        for t in keyed_tables(&db) {
            for r in db.records(t) {
                let r = r.expect("record");
                let kv = key_values(t, &r.values());
                match db.seek(t, &kv) {
                    Ok(Some(found)) => {
                        assert_eq!(found.location(), r.location(), "{f}: {}: {kv:?}", t.name);
                        found_by_seek += 1;
                    }
                    Ok(None) => panic!("{f}: {}: {kv:?} not found", t.name),
                    // A dirty file's branch may point at a page reused by
                    // another tree; the scan skipped it as damage too.
                    Err(e) => {
                        assert!(e.is_damage(), "{f}: {}: {kv:?}: {e}", t.name);
                        assert!(
                            !db.damage().is_empty(),
                            "{f}: {e} but the scan saw no damage"
                        );
                        damaged += 1;
                    }
                }
            }
        }
    }
    assert!(
        found_by_seek > 1000,
        "{found_by_seek} found, {damaged} on damaged paths"
    );
    assert!(
        damaged * 100 < found_by_seek,
        "{found_by_seek} found, {damaged} on damaged paths"
    );
}

#[test]
fn a_seek_reads_at_most_depth_plus_two_pages() {
    // the deepest integer-keyed table among the samples
    let mut best: Option<(String, String, usize)> = None;
    for f in common::manifest_files() {
        let db = Database::open(common::load(&f)).expect("open");
        for t in keyed_tables(&db) {
            let d = depth(&db, t.fdp);
            if best.as_ref().is_none_or(|b| d > b.2) {
                best = Some((f.clone(), t.name.clone(), d));
            }
        }
    }
    let (file, table, depth) = best.expect("a keyed table");
    assert!(
        depth >= 2,
        "{file}/{table}: depth {depth}: want a multi-level tree"
    );

    let plain = Database::open(common::load(&file)).expect("open");
    let t = plain.table(&table).expect("table");
    let keys: Vec<Vec<Value>> = plain
        .records(t)
        .map(|r| key_values(t, &r.expect("record").values()))
        .collect();
    let page_size = plain.header().page_size;
    // first, middle and last record, each from a fresh (cold) database
    for kv in [&keys[0], &keys[keys.len() / 2], &keys[keys.len() - 1]] {
        let counting = Arc::new(CountingSource::new(common::load(&file), page_size));
        let db = Database::open(Arc::clone(&counting)).expect("open");
        let before = counting.pages_read();
        let t = db.table(&table).expect("table");
        let r = db.seek(t, kv).expect("seek").expect("found");
        assert_eq!(key_values(t, &r.values()), *kv);
        let read = counting.pages_read() - before;
        assert!(
            read <= depth as u64 + 2,
            "{file}/{table}: seek of {kv:?} read {read} pages, depth {depth}"
        );
    }
}

#[test]
fn unsupported_keys_and_wrong_arity_are_errors() {
    let db = Database::open(common::load("dissect_basic.edb")).expect("open");
    let mso = db.table("MSysObjects").expect("catalog");
    // (ObjidTable, Type, Id): two values are a prefix, not a key
    assert!(db.seek(mso, &[Value::Long(2), Value::Short(1)]).is_err());
    assert!(
        db.seek(mso, &[Value::Short(2), Value::Short(1), Value::Long(2)])
            .is_err()
    );
    let locales = db.table("MSysLocales").expect("locales");
    let err = db
        .seek(locales, &[Value::Binary(vec![1])])
        .err()
        .expect("binary keys are not supported yet");
    assert!(err.to_string().contains("not supported"), "{err}");
}

#[test]
fn prefix_ranges_equal_filtered_scans_in_real_files() {
    for f in common::manifest_files() {
        let db = Database::open(common::load(&f)).expect("open");
        let Ok(mso) = db.table("MSysObjects") else {
            continue;
        };
        let rows: Vec<(Value, (u32, usize))> = db
            .records(mso)
            .map(|r| {
                let r = r.expect("record");
                (r.get("ObjidTable").expect("column"), r.location())
            })
            .collect();
        let mut objids: Vec<i32> = rows
            .iter()
            .filter_map(|(v, _)| match v {
                Value::Long(x) => Some(*x),
                _ => None,
            })
            .collect();
        objids.dedup();
        // one absent objid past the last
        objids.push(objids.last().copied().unwrap_or(0) + 1);
        for objid in objids {
            let want: Vec<(u32, usize)> = rows
                .iter()
                .filter(|(v, _)| *v == Value::Long(objid))
                .map(|(_, l)| *l)
                .collect();
            let got: Vec<(u32, usize)> = db
                .records_from(mso, &[Value::Long(objid)])
                .expect("range")
                .map(|r| r.expect("record").location())
                .collect();
            assert_eq!(got, want, "{f}: objid {objid}");
        }
    }
}

mod generated {
    use std::collections::BTreeSet;
    use std::sync::Arc;

    use kairos_ese::{Database, Value};
    use kairos_parsers::{CountingSource, MemSource};
    use kairos_sample_data::ese_writer::{
        ColumnSpec, ColumnType, DatabaseSpec, TableSpec, Value as W, write_database,
    };
    use proptest::prelude::*;

    /// A table keyed by (Long part, Short id) with a payload sized to
    /// spread the rows over many pages.
    fn database(keys: &BTreeSet<(i32, i16)>, payload: usize, page_size: u32) -> MemSource {
        let spec = DatabaseSpec {
            page_size,
            signature: 7,
            created_unix: 1_700_000_000,
            tables: vec![TableSpec {
                name: "T".into(),
                columns: vec![
                    ColumnSpec::new("Part", ColumnType::Long),
                    ColumnSpec::new("Id", ColumnType::Short),
                    ColumnSpec::new("Payload", ColumnType::Binary),
                ],
                primary_key: vec!["Part".into(), "Id".into()],
                rows: keys
                    .iter()
                    .map(|&(p, i)| vec![W::I32(p), W::I16(i), W::Bytes(vec![0x5a; payload])])
                    .collect(),
            }],
        };
        MemSource::new("gen.edb", write_database(&spec).expect("write"))
    }

    fn pair(r: &kairos_ese::Record<'_, MemSource>) -> (i32, i16) {
        match (r.get("Part"), r.get("Id")) {
            (Some(Value::Long(p)), Some(Value::Short(i))) => (p, i),
            other => panic!("unexpected key values {other:?}"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn seek_agrees_with_scan(
            keys in proptest::collection::btree_set((-3i32..3, any::<i16>()), 1..400),
            probes in proptest::collection::vec((-4i32..4, any::<i16>()), 1..40),
            payload in 1usize..200,
        ) {
            let db = Database::open(database(&keys, payload, 4096)).expect("open");
            let t = db.table("T").expect("table");
            let scanned: Vec<(i32, i16)> = db.records(t).map(|r| pair(&r.expect("record"))).collect();
            prop_assert_eq!(scanned.iter().copied().collect::<BTreeSet<_>>(), keys.clone());
            for &(p, i) in keys.iter().chain(&probes) {
                let found = db.seek(t, &[Value::Long(p), Value::Short(i)]).expect("seek");
                prop_assert_eq!(found.as_ref().map(pair), keys.contains(&(p, i)).then_some((p, i)));
            }
            for p in -4..4 {
                let got: Vec<(i32, i16)> = db
                    .records_from(t, &[Value::Long(p)])
                    .expect("range")
                    .map(|r| pair(&r.expect("record")))
                    .collect();
                let want: Vec<(i32, i16)> = scanned.iter().copied().filter(|k| k.0 == p).collect();
                prop_assert_eq!(got, want);
            }
            prop_assert!(db.damage().is_empty(), "{:?}", db.damage());
        }
    }

    #[test]
    fn a_seek_in_a_three_level_tree_reads_at_most_five_pages() {
        let keys: BTreeSet<(i32, i16)> = (0..8000).map(|n| (n / 1000, (n % 1000) as i16)).collect();
        let src = database(&keys, 250, 4096);
        let plain = Database::open(src.clone()).expect("open");
        let t = plain.table("T").expect("table");
        let depth = super::depth(&plain, t.fdp);
        assert!(depth >= 3, "depth {depth}");
        for probe in [(0, 0), (1, 500), (7, 999), (2, 1000), (8, 0)] {
            let counting = Arc::new(CountingSource::new(src.clone(), 4096));
            let db = Database::open(Arc::clone(&counting)).expect("open");
            let before = counting.pages_read();
            let t = db.table("T").expect("table");
            let found = db
                .seek(t, &[Value::Long(probe.0), Value::Short(probe.1)])
                .expect("seek")
                .map(|r| (r.get("Part"), r.get("Id")));
            assert_eq!(
                found,
                keys.contains(&probe)
                    .then_some((Some(Value::Long(probe.0)), Some(Value::Short(probe.1))))
            );
            let read = counting.pages_read() - before;
            assert!(
                read <= depth as u64 + 2,
                "{probe:?}: {read} pages, depth {depth}"
            );
        }
    }
}
