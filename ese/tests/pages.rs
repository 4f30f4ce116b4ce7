//! Page-level properties on real samples: every page of a clean database
//! passes its checksum (XOR and ECC, small and 16/32 KiB pages — so the
//! checksum port is exact), and opening a database and listing its tables
//! reads only a small part of the file (laziness, counted with
//! `CountingSource`).

mod common;

use kairos_ese::Database;
use kairos_parsers::{CountingSource, Source};

/// Clean-shutdown samples: every page we read verifies.
#[test]
fn every_page_of_clean_samples_passes_its_checksum() {
    for file in [
        "dissect_basic.edb",
        "dissect_multi.edb",
        "sfese_decompress_test2.edb",
        "dfirmuseum_srum-w11-clean_SRUDB.dat",
        "dfirmuseum_srum-srv2022_SRUDB.dat",
        "goese_ual-hyperv_03A01CC5-91BB-4936-B685-63697785D39E.mdb",
        "dfirmuseum_winsearch-w10-clean_Windows.edb.gz",
        "dissect_large.edb.gz",
    ] {
        let db = Database::open(common::load(file)).expect("open");
        let mut rows = 0;
        for t in db.tables() {
            for r in db.records(t) {
                let _ = r.expect("record").values();
                rows += 1;
            }
        }
        assert!(rows > 0, "{file}");
        assert!(db.damage().is_empty(), "{file}: {:?}", db.damage());
    }
}

/// Opening reads the header and the catalog only: a small fraction of the
/// file. Reading one table adds only that table's pages.
#[test]
fn opening_and_listing_tables_reads_few_pages() {
    let src = common::load("dfirmuseum_winsearch-w10-clean_Windows.edb.gz");
    let counting = CountingSource::new(src, 32 * 1024);
    let db = Database::open(&counting).expect("open");
    let total = counting.total_pages();
    let after_open = counting.pages_read();
    assert!(
        after_open * 100 < total * 5,
        "open read {after_open} of {total} pages"
    );
    assert_eq!(db.tables().len(), 23);
    // one small table's records add a handful of pages, not the file
    let t = db.table("SystemIndex_GthrPth").expect("table");
    assert_eq!(db.records(t).count(), 190);
    let after_table = counting.pages_read();
    assert!(
        after_table * 100 < total * 10,
        "open + one table read {after_table} of {total} pages"
    );
    assert!(counting.len() > 0);
}
