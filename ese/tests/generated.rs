//! Databases written by a different writer: the Exchange-schema generator
//! of `kairos-sample-data` (whose output libesedb also reads), at 8 KiB and
//! 32 KiB pages, with and without compressed long columns. Its manifest says
//! what was written; we must read exactly that: every table with its record
//! count, every page's checksum, every cell decodable, mailbox owners, and
//! every attachment's bytes (BLAKE3 as recorded, through the long-value tree
//! and Xpress/7-bit compression).

use std::collections::BTreeMap;

use kairos_ese::{Database, Value};
use kairos_parsers::MemSource;
use kairos_sample_data::exchange::{ExchangeOptions, generate_exchange_edb};

#[test]
fn generated_exchange_databases_read_back_exactly() {
    for (page_size, compress) in [(8192, false), (32768, false), (8192, true), (32768, true)] {
        let opts = ExchangeOptions {
            page_size,
            compress_columns: compress,
            bulk_messages: 60,
            ..ExchangeOptions::default()
        };
        let (bytes, manifest) = generate_exchange_edb(&opts).expect("generate");
        let label = format!("{page_size}/{compress}");
        let db = Database::open(MemSource::new("generated.edb", bytes)).expect("open");
        assert_eq!(db.header().page_size, page_size);

        let written: BTreeMap<&str, usize> = manifest
            .tables
            .iter()
            .map(|t| (t.name.as_str(), t.records))
            .collect();
        let mut read = BTreeMap::new();
        for t in db.tables() {
            let mut n = 0usize;
            for r in db.records(t) {
                let values = r.expect("record").values();
                for (c, v) in t.columns.iter().zip(&values) {
                    assert!(
                        !matches!(v, Value::Unreadable(_)),
                        "{label}: {}.{}: {v:?}",
                        t.name,
                        c.name
                    );
                }
                n += 1;
            }
            read.insert(t.name.as_str(), n);
        }
        for (name, count) in &written {
            assert_eq!(read.get(name), Some(count), "{label}: table {name}");
        }
        assert!(db.damage().is_empty(), "{label}: {:?}", db.damage());

        // mailbox owners
        let t = db.table("Mailbox").expect("Mailbox");
        let owners: BTreeMap<i32, String> = db
            .records(t)
            .map(|r| {
                let r = r.expect("record");
                let (Some(Value::Long(n)), Some(Value::Text(o))) =
                    (r.get("MailboxNumber"), r.get("MailboxOwnerDisplayName"))
                else {
                    panic!("Mailbox row types")
                };
                (n, o)
            })
            .collect();
        for mb in &manifest.mailboxes {
            assert_eq!(owners.get(&mb.number), Some(&mb.owner.name), "{label}");
        }

        // attachment bytes, by Inid
        let mut hashes = BTreeMap::new();
        for mb in &manifest.mailboxes {
            let t = db
                .table(&format!("Attachment_{}", mb.number))
                .expect("Attachment_N");
            for r in db.records(t) {
                let r = r.expect("record");
                let (Some(Value::LongLong(inid)), Some(Value::Binary(content))) =
                    (r.get("Inid"), r.get("Content"))
                else {
                    panic!("{label}: attachment row types")
                };
                hashes.insert(inid, blake3::hash(&content).to_hex().to_string());
            }
        }
        let mut checked = 0;
        for mb in &manifest.mailboxes {
            for f in &mb.folders {
                for m in &f.messages {
                    for a in &m.attachments {
                        assert_eq!(hashes.get(&a.inid), Some(&a.blake3), "{label}: {}", a.name);
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 0, "{label}: no attachments checked");
    }
}
