//! Store behaviour: dedup, zero blocks, locking, time order, torn tails,
//! index rebuild, corruption, retention.

mod common;

use std::path::{Path, PathBuf};

use common::Model;
use kairos_engine::entry::Entry;
use kairos_engine::pack::{self, RecordKind};
use kairos_engine::{Change, Policy, RestoreOptions, Store, StoreError, StoreOptions, WriteEvent};
use kairos_parsers::{Error as SourceError, Source, SourceExt};
use rand::{Rng, RngCore, SeedableRng};

const BS: usize = 8192;
const SEC: i64 = 1_000_000_000;
const T0: i64 = 1_750_000_000 * SEC;

fn new_store(dir: &Path, pack_target: u64) -> (PathBuf, Store) {
    let root = dir.join("store");
    Store::init(
        &root,
        StoreOptions {
            block_size: BS as u32,
            pack_target,
        },
    )
    .expect("init");
    let s = Store::open(&root).expect("open");
    (root, s)
}

fn random_blocks(rng: &mut impl RngCore, n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n * BS];
    rng.fill_bytes(&mut v);
    v
}

fn capture(
    store: &mut Store,
    dir: &Path,
    stream: &str,
    ts: i64,
    content: &[u8],
) -> kairos_engine::CaptureReport {
    let f = dir.join(format!("{stream}.bin"));
    std::fs::write(&f, content).expect("write file");
    store
        .capture_file(&f, stream, Some(ts), &|_, _| {})
        .expect("capture")
}

/// The stream's bytes at `at`, or `None` if it is removed then.
fn read_live(store: &Store, stream: &str, at: i64) -> Option<Vec<u8>> {
    match store.view(stream, Some(at)) {
        Ok(v) => Some(v.read_vec_at(0, v.len()).expect("read view")),
        Err(StoreError::Removed { .. }) => None,
        Err(e) => panic!("view {stream} at {at}: {e}"),
    }
}

fn read_all(store: &Store, stream: &str, at: i64) -> Vec<u8> {
    let v = store.view(stream, Some(at)).expect("view");
    v.read_vec_at(0, v.len()).expect("read view")
}

#[test]
fn same_content_is_stored_once_and_zero_blocks_cost_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, mut store) = new_store(dir.path(), 1 << 30);
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let data = random_blocks(&mut rng, 64); // incompressible: 64 × 8 KiB
    let empty = store.pack_bytes().expect("size");
    let a = capture(&mut store, dir.path(), "a", T0, &data);
    assert_eq!(a.ack.new_chunks, 64);
    let after_a = store.pack_bytes().expect("size");
    assert!(
        after_a - empty >= 64 * BS as u64,
        "random blocks cannot shrink"
    );
    // The same content in another stream: no new chunk, only metadata.
    let b = capture(&mut store, dir.path(), "b", T0 + SEC, &data);
    assert_eq!(b.ack.new_chunks, 0);
    let after_b = store.pack_bytes().expect("size");
    assert!(
        after_b - after_a < 64 * 80,
        "second copy added {} bytes",
        after_b - after_a
    );
    // A new version of a with one block changed: one chunk.
    let mut v2 = data.clone();
    v2[5 * BS..6 * BS].fill(0xAB);
    let a2 = capture(&mut store, dir.path(), "a", T0 + 2 * SEC, &v2);
    assert_eq!((a2.blocks_changed, a2.ack.new_chunks), (1, 1));
    let after_a2 = store.pack_bytes().expect("size");
    assert!(
        after_a2 - after_b < 1024,
        "one repetitive block added {} bytes",
        after_a2 - after_b
    );
    // A duplicate of an earlier version's block (block 0 of a copied to block 9): stored once.
    let mut v3 = v2.clone();
    v3.copy_within(0..BS, 9 * BS);
    let a3 = capture(&mut store, dir.path(), "a", T0 + 3 * SEC, &v3);
    assert_eq!((a3.blocks_changed, a3.ack.new_chunks), (1, 0));
    // 1000 zero blocks: no chunk, no payload.
    let before_z = store.pack_bytes().expect("size");
    let z = capture(
        &mut store,
        dir.path(),
        "zeros",
        T0 + 4 * SEC,
        &vec![0u8; 1000 * BS],
    );
    assert_eq!(z.ack.new_chunks, 0);
    assert!(
        store.pack_bytes().expect("size") - before_z < 200,
        "zero file cost bytes"
    );
    assert_eq!(
        read_all(&store, "zeros", T0 + 4 * SEC),
        vec![0u8; 1000 * BS]
    );
    assert_eq!(read_all(&store, "a", T0), data);
    assert_eq!(read_all(&store, "a", T0 + 3 * SEC - 1), v2);
    assert_eq!(read_all(&store, "b", i64::MAX), data);
}

#[test]
fn second_writer_is_refused_with_the_pid() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, _store) = new_store(dir.path(), 1 << 20);
    let err = Store::open(&root).expect_err("second writer");
    assert!(matches!(err, StoreError::Locked { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("store is locked by pid {}", std::process::id())),
        "{msg}"
    );
    // (Readers in other processes are not refused: see the CLI tests. In
    // one process, libmdbx allows one environment per store: share the Store.)
}

#[test]
fn captures_cannot_go_back_in_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, mut store) = new_store(dir.path(), 1 << 20);
    capture(&mut store, dir.path(), "db", T0 + 10 * SEC, b"hello");
    let f = dir.path().join("db.bin");
    for t in [T0, T0 + 10 * SEC] {
        let err = store
            .capture_file(&f, "db", Some(t), &|_, _| {})
            .expect_err("back in time");
        let msg = err.to_string();
        assert!(
            msg.contains("\"db\"") && msg.contains("cannot go back in time"),
            "{msg}"
        );
    }
    let ev = WriteEvent {
        stream: "db".into(),
        timestamp_ns: T0,
        change: Change::SetLen(3),
    };
    assert!(matches!(
        store.ingest(&[ev]),
        Err(StoreError::BackInTime { .. })
    ));
    // The refused batches left nothing behind.
    assert_eq!(store.streams().expect("streams")[0].versions, 1);
    assert_eq!(read_all(&store, "db", i64::MAX), b"hello");
}

#[test]
fn torn_tail_is_discarded_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, store) = new_store(dir.path(), 1 << 30);
    let ev = |ts, b: u8| WriteEvent {
        stream: "s".into(),
        timestamp_ns: ts,
        change: Change::Write {
            offset: 100,
            data: vec![b; 20_000],
        },
    };
    store.ingest(&[ev(T0, 1)]).expect("ingest");
    drop(store);
    let packs = root.join("packs");
    let id = *pack::list_packs(&packs)
        .expect("list")
        .last()
        .expect("a pack");
    let path = pack::pack_path(&packs, id);
    let good_len = std::fs::metadata(&path).expect("stat").len();
    // An interrupted batch: a whole chunk record without a commit, then half a record.
    {
        let mut w = pack::PackWriter::reopen(&path, id, good_len).expect("reopen");
        w.append(RecordKind::Chunk, &[&[9u8; 300]]).expect("append");
        w.sync().expect("sync");
    }
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.extend_from_slice(&[2, 0, 0, 0, 255, 0, 0]);
    std::fs::write(&path, &bytes).expect("write");
    let store = Store::open(&root).expect("reopen after crash");
    assert_eq!(
        std::fs::metadata(&path).expect("stat").len(),
        good_len,
        "tail cut"
    );
    store
        .ingest(&[ev(T0 + SEC, 2)])
        .expect("ingest after recovery");
    let mut want = vec![0u8; 100];
    want.resize(20_100, 2);
    assert_eq!(read_all(&store, "s", i64::MAX), want);
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

/// A history with several streams, partial writes, truncates, removals and
/// recreations, marks, prune and gc.
fn busy_history(dir: &Path, store: &mut Store) -> (Model, Vec<i64>) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let mut model = Model::default();
    let mut instants = Vec::new();
    let mut ts = T0;
    for i in 0..40 {
        ts += SEC * rng.random_range(1..5000);
        let stream = ["x", "y", "z"][i % 3];
        let mut evs = Vec::new();
        for _ in 0..rng.random_range(1..5) {
            let change = if rng.random_ratio(1, 15) {
                Change::Remove
            } else if rng.random_ratio(1, 6) {
                Change::SetLen(rng.random_range(0..40 * BS as u64))
            } else {
                let len = rng.random_range(1..3 * BS);
                let mut data = vec![0u8; len];
                if rng.random_ratio(3, 4) {
                    data.fill(rng.random());
                    data[0] = rng.random();
                }
                Change::Write {
                    offset: rng.random_range(0..30 * BS as u64),
                    data,
                }
            };
            evs.push(WriteEvent {
                stream: stream.into(),
                timestamp_ns: ts,
                change,
            });
        }
        for e in &evs {
            model.apply(e);
        }
        store.ingest(&evs).expect("ingest");
        instants.push(ts);
        if i % 7 == 0 {
            ts += SEC;
            let mut c = model.current(stream);
            c.extend_from_slice(&random_blocks(&mut rng, 2));
            capture(store, dir, stream, ts, &c);
            model.capture(stream, ts, c);
            instants.push(ts);
        }
        if i == 20 {
            store.mark("half", None, Some(ts)).expect("mark");
        }
    }
    // The history exercises removals and recreation after them.
    assert!(
        model
            .streams
            .values()
            .any(|h| h.windows(2).any(|w| w[0].1.is_none() && w[1].1.is_some())),
        "no stream was removed and recreated"
    );
    (model, instants)
}

#[test]
fn rebuilt_index_gives_identical_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 48 << 10);
    let (model, instants) = busy_history(dir.path(), &mut store);
    let last = *instants.last().expect("instants");
    store
        .prune(
            &Policy {
                keep_all: 3600 * SEC,
                hourly: 6 * 3600 * SEC,
                daily: 0,
            },
            last,
        )
        .expect("prune");
    store.gc().expect("gc");
    // more writes after gc, into a fresh pack
    let model2 = {
        let ev = WriteEvent {
            stream: "x".into(),
            timestamp_ns: last + SEC,
            change: Change::Write {
                offset: 5,
                data: vec![7; 9000],
            },
        };
        store.ingest(std::slice::from_ref(&ev)).expect("ingest");
        let mut m = model.clone();
        m.apply(&ev);
        m
    };
    let before = store.index_rows().expect("rows");
    let streams_before = store.streams().expect("streams");
    let marks_before = store.marks().expect("marks");
    drop(store);
    let store = Store::rebuild_index(&root).expect("rebuild");
    assert_eq!(store.index_rows().expect("rows"), before);
    assert_eq!(store.streams().expect("streams"), streams_before);
    assert_eq!(store.marks().expect("marks"), marks_before);
    for s in ["x", "y", "z"] {
        for tl in store
            .timeline(s, i64::MIN, i64::MAX)
            .expect("timeline")
            .instants
        {
            assert_eq!(
                read_live(&store, s, tl.ts).as_deref(),
                model2.at(s, tl.ts),
                "{s} at {}",
                tl.ts
            );
        }
    }
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

#[test]
#[allow(clippy::many_single_char_names)]
fn flipped_pack_byte_is_named_and_contained() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 1 << 30);
    let mut rng = rand::rngs::StdRng::seed_from_u64(3);
    let a = random_blocks(&mut rng, 40);
    let b = random_blocks(&mut rng, 8);
    capture(&mut store, dir.path(), "a", T0, &a);
    capture(&mut store, dir.path(), "b", T0 + SEC, &b);
    // Stream a's 40 new blocks are stored as groups of GROUP_BYTES in block
    // order: the second group record holds the blocks after the first group.
    let per_group = kairos_engine::chunk::GROUP_BYTES / BS;
    let packs = root.join("packs");
    let id = pack::list_packs(&packs).expect("list")[0];
    let path = pack::pack_path(&packs, id);
    let (f, len) = pack::open_pack(&path, id).expect("open");
    let groups: Vec<_> = pack::scan(&f, &path, len)
        .records
        .into_iter()
        .filter(|r| r.kind == RecordKind::Group)
        .collect();
    let victim = groups[1];
    let hit = per_group..2 * per_group;
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[(victim.end() - 300) as usize] ^= 0x10;
    std::fs::write(&path, &bytes).expect("write");
    drop(store);
    let store = Store::open_read(&root).expect("open");
    let report = store.verify(&|_, _| {}).expect("verify");
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let p = &report.problems[0];
    assert_eq!(p.pack.as_deref(), Some(path.as_path()));
    assert_eq!(p.offset, Some(victim.offset));
    let mut affected: Vec<(&str, u64, i64)> = p
        .affected
        .iter()
        .map(|a| (a.stream.as_str(), a.block, a.instant))
        .collect();
    affected.sort_unstable();
    let want: Vec<(&str, u64, i64)> = hit.clone().map(|b| ("a", b as u64, T0)).collect();
    assert_eq!(affected, want);
    // Reading a damaged block fails with an error naming the pack and offset;
    // blocks of other groups still read.
    let v = store.view("a", None).expect("view");
    assert!(
        v.read_vec_at(0, (per_group * BS) as u64)
            .expect("first group")
            == a[..per_group * BS]
    );
    let err = v.read_vec_at(0, v.len()).expect_err("damaged");
    assert!(
        matches!(err, SourceError::Damaged { offset, .. } if offset == (per_group * BS) as u64),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()) && msg.contains(&victim.offset.to_string()),
        "{msg}"
    );
    let out = dir.path().join("a.out");
    let err = v
        .restore_to(&out, RestoreOptions::default(), &|_, _| {})
        .expect_err("restore fails");
    assert!(err.to_string().contains("damaged"), "{err}");
    assert!(!out.exists(), "no partial output");
    let rep = v
        .restore_to(
            &out,
            RestoreOptions {
                force: false,
                allow_damaged: true,
            },
            &|_, _| {},
        )
        .expect("restore --allow-damaged");
    assert_eq!(
        rep.bad_blocks.iter().map(|b| b.block).collect::<Vec<_>>(),
        hit.clone().map(|b| b as u64).collect::<Vec<_>>()
    );
    let got = std::fs::read(&out).expect("read");
    assert!(got[..hit.start * BS] == a[..hit.start * BS]);
    assert!(got[hit.start * BS..hit.end * BS].iter().all(|&x| x == 0));
    assert!(got[hit.end * BS..] == a[hit.end * BS..]);
    // Unaffected stream restores exactly.
    let out_b = dir.path().join("b.out");
    store
        .view("b", None)
        .expect("view")
        .restore_to(&out_b, RestoreOptions::default(), &|_, _| {})
        .expect("restore b");
    assert_eq!(std::fs::read(&out_b).expect("read"), b);
    // Existing output without --force is refused.
    let err = store
        .view("b", None)
        .expect("view")
        .restore_to(&out_b, RestoreOptions::default(), &|_, _| {})
        .expect_err("exists");
    assert!(err.to_string().contains("--force"), "{err}");
}

#[test]
fn prune_and_gc_shrink_the_store_and_keep_what_the_policy_keeps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 256 << 10);
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let hour = 3600 * SEC;
    let mut model = Model::default();
    let mut content = random_blocks(&mut rng, 16);
    let start = T0;
    let mut ts = start;
    // every 3 hours for 100 days, two random blocks change
    while ts < start + 100 * 24 * hour {
        for _ in 0..2 {
            let b = rng.random_range(0..16);
            rng.fill_bytes(&mut content[b * BS..(b + 1) * BS]);
        }
        capture(&mut store, dir.path(), "db", ts, &content);
        model.capture("db", ts, content.clone());
        ts += 3 * hour;
    }
    let now = ts;
    let none = Policy {
        keep_all: 0,
        hourly: 0,
        daily: 0,
    };
    let err = store.prune(&none, now).expect_err("keeps nothing");
    assert!(err.to_string().contains("keeps nothing"), "{err}");
    let before = store.pack_bytes().expect("size");
    let all_before = store
        .timeline("db", i64::MIN, i64::MAX)
        .expect("timeline")
        .instants
        .len();
    let policy = Policy {
        keep_all: 24 * hour,
        hourly: 7 * 24 * hour,
        daily: 90 * 24 * hour,
    };
    let rep = store.prune(&policy, now).expect("prune");
    assert!(rep.instants_dropped > 0);
    let gc = store.gc().expect("gc");
    let after = store.pack_bytes().expect("size");
    assert!(
        after < before * 2 / 3,
        "gc: {before} -> {after} bytes ({gc:?})"
    );
    let kept: Vec<i64> = store
        .timeline("db", i64::MIN, i64::MAX)
        .expect("timeline")
        .instants
        .iter()
        .map(|r| r.ts)
        .collect();
    assert_eq!(kept.len() as u64, all_before as u64 - rep.instants_dropped);
    // What the policy promises: every instant of the last 24 h, one per hour of the last week, one per day of 90 days.
    let recent = model.streams["db"]
        .iter()
        .filter(|(t, _)| now - t <= 24 * hour)
        .count();
    assert_eq!(
        kept.iter().filter(|&&t| now - t <= 24 * hour).count(),
        recent
    );
    assert!(kept.iter().all(|&t| now - t <= 90 * 24 * hour));
    let days = kept.iter().filter(|&&t| now - t > 7 * 24 * hour).count();
    assert!((82..=84).contains(&days), "{days} daily points");
    drop(store);
    let store = Store::open(&root).expect("reopen");
    for &t in &kept {
        assert_eq!(
            read_live(&store, "db", t).as_deref(),
            model.at("db", t),
            "kept instant {t}"
        );
    }
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

#[test]
fn concurrent_ingests_share_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, store) = new_store(dir.path(), 1 << 20);
    let store = std::sync::Arc::new(store);
    let threads = 4;
    let per = 40;
    let event = |t: usize, i: usize| {
        let mut rng = rand::rngs::StdRng::seed_from_u64((t * 1000 + i) as u64);
        let len = rng.random_range(1..2 * BS);
        WriteEvent {
            stream: format!("t{t}"),
            timestamp_ns: T0 + i as i64 * SEC,
            change: Change::Write {
                offset: rng.random_range(0..6 * BS as u64),
                data: vec![rng.random_range(1..=255u8); len],
            },
        }
    };
    let seqs: Vec<u64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..threads)
            .map(|t| {
                let store = &store;
                s.spawn(move || {
                    (0..per)
                        .map(|i| store.ingest(&[event(t, i)]).expect("ingest").seq)
                        .collect::<Vec<u64>>()
                })
            })
            .collect();
        hs.into_iter()
            .flat_map(|h| h.join().expect("thread"))
            .collect()
    });
    assert_eq!(seqs.len(), threads * per);
    drop(store);
    let store = Store::open(&root).expect("reopen");
    let mut model = Model::default();
    for t in 0..threads {
        for i in 0..per {
            model.apply(&event(t, i));
        }
    }
    for t in 0..threads {
        for i in 0..per {
            let at = T0 + i as i64 * SEC;
            let s = format!("t{t}");
            assert_eq!(
                read_live(&store, &s, at).as_deref(),
                model.at(&s, at),
                "{s} at {i}"
            );
        }
    }
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

/// What a power cut does to the index: it falls back to its last synced
/// state while the packs keep every acknowledged batch. Simulated by
/// putting back an old copy of the index: open replays the packs past its
/// watermark and ends with the same rows as the index that kept up.
#[test]
fn an_index_behind_the_packs_catches_up_on_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 40 << 10);
    let (model, instants) = busy_history(dir.path(), &mut store);
    drop(store);
    let old = dir.path().join("old-index");
    std::fs::create_dir(&old).expect("mkdir");
    for f in ["mdbx.dat", "mdbx.lck"] {
        std::fs::copy(root.join("index").join(f), old.join(f)).expect("copy index");
    }
    let store = Store::open(&root).expect("reopen");
    let last = *instants.last().expect("instants");
    let mut model2 = model.clone();
    for i in 1..30i64 {
        let ev = WriteEvent {
            stream: ["x", "y", "q"][i as usize % 3].into(),
            timestamp_ns: last + i * SEC,
            change: Change::Write {
                offset: i as u64 * 3000,
                data: vec![i as u8; 7000],
            },
        };
        store.ingest(std::slice::from_ref(&ev)).expect("ingest");
        model2.apply(&ev);
    }
    let rows = store.index_rows().expect("rows");
    drop(store);
    for f in ["mdbx.dat", "mdbx.lck"] {
        std::fs::copy(old.join(f), root.join("index").join(f)).expect("restore old index");
    }
    let store = Store::open(&root).expect("open with the old index");
    assert!(
        store.index_rows().expect("rows") == rows,
        "replayed index differs"
    );
    for s in ["x", "y", "q"] {
        let at = last + 29 * SEC;
        assert_eq!(read_live(&store, s, at).as_deref(), model2.at(s, at), "{s}");
    }
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

/// Metadata records of every batch in the packs: (record bytes, entries).
fn pack_metadata(root: &Path) -> (u64, Vec<kairos_engine::entry::Entry>) {
    let packs = root.join("packs");
    let mut bytes = 0;
    let mut entries = Vec::new();
    for id in pack::list_packs(&packs).expect("list") {
        let path = pack::pack_path(&packs, id);
        let (f, len) = pack::open_pack(&path, id).expect("open");
        for r in pack::scan(&f, &path, len).records {
            if matches!(r.kind, RecordKind::Entries | RecordKind::Commit) {
                bytes += r.end() - r.offset;
            }
            if r.kind == RecordKind::Entries {
                let (_, payload) = pack::read_record(&f, &path, r.offset, len).expect("record");
                entries.extend(
                    kairos_engine::entry::Entry::decode_all(&payload[8..]).expect("entries"),
                );
            }
        }
    }
    (bytes, entries)
}

#[test]
fn gc_drops_the_metadata_of_pruned_versions_and_rebuild_agrees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 64 << 10);
    let hour = 3600 * SEC;
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let mut model = Model::default();
    // 300 instants, an hour apart, each rewriting 6 of 40 blocks with one
    // of 4 contents: the chunks dedup, the metadata grows with history.
    let patterns: Vec<Vec<u8>> = (0..4).map(|_| random_blocks(&mut rng, 1)).collect();
    let mut ts = T0;
    for _ in 0..300 {
        ts += hour;
        let evs: Vec<WriteEvent> = (0..6)
            .map(|_| WriteEvent {
                stream: "db".into(),
                timestamp_ns: ts,
                change: Change::Write {
                    offset: rng.random_range(0..40u64) * BS as u64,
                    data: patterns[rng.random_range(0..4)].clone(),
                },
            })
            .collect();
        for e in &evs {
            model.apply(e);
        }
        store.ingest(&evs).expect("ingest");
    }
    let (meta_before, _) = pack_metadata(&root);
    let before = store.pack_bytes().expect("size");
    let rep = store
        .prune(
            &Policy {
                keep_all: 24 * hour,
                hourly: 0,
                daily: 30 * 24 * hour,
            },
            ts,
        )
        .expect("prune");
    assert!(rep.instants_dropped > 200, "{rep:?}");
    let kept: Vec<i64> = store
        .timeline("db", i64::MIN, i64::MAX)
        .expect("timeline")
        .instants
        .iter()
        .map(|r| r.ts)
        .collect();
    store.gc().expect("gc");
    let (meta_after, entries) = pack_metadata(&root);
    let after = store.pack_bytes().expect("size");
    assert!(
        meta_after * 3 < meta_before,
        "metadata {meta_before} -> {meta_after} bytes"
    );
    assert!(after < before, "store {before} -> {after} bytes");
    // What is left in the packs states exactly the kept history: one
    // Version per remaining block version, the kept instants only, no
    // superseded batch (Block, Size, Instant or Prune entries).
    let versions = store
        .index_rows()
        .expect("rows")
        .iter()
        .filter(|(t, _, _)| *t == "blocks")
        .count();
    let count = |f: fn(&Entry) -> bool| entries.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, Entry::Version { .. })), versions);
    assert_eq!(
        count(|e| matches!(
            e,
            Entry::Block { .. } | Entry::Size { .. } | Entry::Instant { .. }
        )),
        0
    );
    let instants: Vec<i64> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::InstantRow { ts, .. } => Some(*ts),
            _ => None,
        })
        .collect();
    assert_eq!(instants, kept);
    assert!(!entries.iter().any(|e| matches!(e, Entry::Prune { .. })));
    // More history after gc, then an index rebuild from the packs alone.
    let ev = WriteEvent {
        stream: "db".into(),
        timestamp_ns: ts + hour,
        change: Change::SetLen(3 * BS as u64 + 5),
    };
    store.ingest(std::slice::from_ref(&ev)).expect("ingest");
    model.apply(&ev);
    let rows = store.index_rows().expect("rows");
    drop(store);
    let store = Store::rebuild_index(&root).expect("rebuild");
    assert!(
        store.index_rows().expect("rows") == rows,
        "rebuilt index differs"
    );
    for &t in kept.iter().chain([ts + hour].iter()) {
        assert!(
            read_live(&store, "db", t).as_deref() == model.at("db", t),
            "instant {t}"
        );
    }
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy");
        }
    }
}

/// A gc that wrote its new packs (with the checkpoint) but died before its
/// index commit: the old packs, the old index and the new packs are all
/// there. Opening replays the checkpoint over the index it restates; the
/// answers are those of before the gc, and a rebuild from the packs agrees.
#[test]
fn gc_interrupted_before_its_index_commit_changes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 48 << 10);
    let (model, instants) = busy_history(dir.path(), &mut store);
    let last = *instants.last().expect("instants");
    store
        .prune(
            &Policy {
                keep_all: 3600 * SEC,
                hourly: 6 * 3600 * SEC,
                daily: 0,
            },
            last,
        )
        .expect("prune");
    let rows = store.index_rows().expect("rows");
    let kept = store
        .timeline("x", i64::MIN, i64::MAX)
        .expect("tl")
        .instants;
    drop(store);
    let crashed = dir.path().join("crashed");
    copy_dir(&root, &crashed);
    let old_packs = pack::list_packs(&root.join("packs")).expect("list");
    // gc's first step: seal the active pack.
    let active = *old_packs.last().expect("a pack");
    let path = pack::pack_path(&crashed.join("packs"), active);
    let len = std::fs::metadata(&path).expect("stat").len();
    pack::PackWriter::reopen(&path, active, len)
        .expect("reopen")
        .seal()
        .expect("seal");
    Store::open(&root).expect("open").gc().expect("gc");
    for id in pack::list_packs(&root.join("packs")).expect("list") {
        if !old_packs.contains(&id) {
            std::fs::copy(
                pack::pack_path(&root.join("packs"), id),
                pack::pack_path(&crashed.join("packs"), id),
            )
            .expect("copy new pack");
        }
    }
    let store = Store::open(&crashed).expect("open after the interrupted gc");
    assert!(store.index_rows().expect("rows") == rows);
    let v = store.verify(&|_, _| {}).expect("verify");
    assert!(v.is_clean(), "{:?}", v.problems);
    drop(store);
    let store = Store::rebuild_index(&crashed).expect("rebuild");
    assert!(store.index_rows().expect("rows") == rows);
    for r in kept {
        assert!(read_live(&store, "x", r.ts).as_deref() == model.at("x", r.ts));
    }
    // The next gc cleans up the copies (and forgets the dead chunks).
    let mut store = store;
    store.gc().expect("gc again");
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
    let no_chunks = |r: Vec<kairos_engine::index::DumpRow>| {
        r.into_iter()
            .filter(|(t, _, _)| *t != "chunks")
            .collect::<Vec<_>>()
    };
    assert!(no_chunks(store.index_rows().expect("rows")) == no_chunks(rows));
}

/// An index written by another layout version is rebuilt from the packs by
/// the next writer; a reader is told so instead of misreading it.
#[test]
fn an_index_of_another_format_is_rebuilt_by_the_writer() {
    use kairos_engine::index;
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 1 << 20);
    let (model, instants) = busy_history(dir.path(), &mut store);
    let rows = store.index_rows().expect("rows");
    drop(store);
    {
        let db = index::open(&root.join("index"), true).expect("open index");
        let txn = db.begin_rw_txn().expect("txn");
        let t = index::Tables::open(&txn).expect("tables");
        index::set_meta_u64(&txn, &t, "format", 1).expect("set format");
        txn.commit().expect("commit");
    }
    let err = Store::open_read(&root).expect_err("stale index");
    assert!(err.to_string().contains("format 1"), "{err}");
    let store = Store::open(&root).expect("writer rebuilds");
    assert!(store.index_rows().expect("rows") == rows);
    let last = *instants.last().expect("instants");
    assert!(read_live(&store, "x", last).as_deref() == model.at("x", last));
    drop(store);
    Store::open_read(&root).expect("reader after the rebuild");
}

/// Flipped bytes and cut-short packs at many offsets: opening (with
/// recovery), verify, reads and an index rebuild never panic, and a store
/// that opens either reports a problem in verify or reads back exactly.
#[test]
fn damaged_packs_never_panic_and_never_read_wrong() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 24 << 10);
    // A content dictionary from the first few sampled pages: damage must
    // also hit content Dict records and the groups Run entries name.
    store.set_content_dict_bytes(16 << 10);
    let mut rng = rand::rngs::StdRng::seed_from_u64(77);
    let mut model = Model::default();
    let mut ts = T0;
    for i in 0..12u64 {
        ts += SEC;
        let stream = ["p", "q"][i as usize % 2];
        let mut content = model.current(stream);
        content.resize(6 * BS, 0);
        let b = rng.random_range(0..6);
        let fresh: Vec<u8> = (0..2).flat_map(|_| corpus_page(&mut rng)).collect();
        let end = ((b + 2) * BS).min(content.len());
        content[b * BS..end].copy_from_slice(&fresh[..end - b * BS]);
        capture(&mut store, dir.path(), stream, ts, &content);
        model.capture(stream, ts, content);
    }
    drop(store);
    assert_eq!(dict_records(&root), 1, "the content dictionary");
    let runs = pack_metadata(&root).1;
    assert!(runs.iter().any(|e| matches!(e, Entry::Run { .. })));
    let packs = pack::list_packs(&root.join("packs")).expect("list");
    let mut positions: Vec<(u32, u64, bool)> = Vec::new();
    for &id in &packs {
        let len = std::fs::metadata(pack::pack_path(&root.join("packs"), id))
            .expect("stat")
            .len();
        for k in 0..14u64 {
            positions.push((id, len * k / 14, true));
        }
        positions.push((id, len / 2, false));
        positions.push((id, len - 3, false));
    }
    let check = |store: &Store, what: &str| {
        let report = store.verify(&|_, _| {}).expect("verify runs");
        if report.is_clean() {
            for (s, history) in &model.streams {
                for (t, want) in history {
                    let got = store.view(s, Some(*t)).and_then(|v| {
                        v.read_vec_at(0, v.len())
                            .map_err(|e| StoreError::Invalid(e.to_string()))
                    });
                    assert!(
                        got.as_deref().ok() == want.as_deref(),
                        "{what}: verify is clean but {s} at {t} reads wrong"
                    );
                }
            }
        } else {
            for s in model.streams.keys() {
                if let Ok(v) = store.view(s, None) {
                    let _ = v.read_vec_at(0, v.len());
                }
            }
        }
    };
    for (n, &(id, at, flip)) in positions.iter().enumerate() {
        let copy = dir.path().join(format!("damaged{n}"));
        copy_dir(&root, &copy);
        let path = pack::pack_path(&copy.join("packs"), id);
        let mut bytes = std::fs::read(&path).expect("read");
        if flip {
            bytes[at as usize] ^= 0x20;
        } else {
            bytes.truncate(at as usize);
        }
        std::fs::write(&path, &bytes).expect("write");
        let what = format!("pack {id} {} at {at}", if flip { "flip" } else { "cut" });
        if let Ok(store) = Store::open(&copy) {
            check(&store, &what);
        }
        // A rebuild cannot tell damage in the newest pack (cut short, or a
        // record failing its crc) from a torn tail: replay discards
        // everything from there with a log line (DESIGN §5), acknowledged
        // or not. The index, which knows what was acknowledged, is what
        // reports it (checked above), so the newest pack's damage is not
        // followed by a rebuild here.
        let newest = packs.last() == Some(&id);
        if n % 3 == 0
            && !newest
            && let Ok(store) = Store::rebuild_index(&copy)
        {
            check(&store, &format!("{what}, rebuilt"));
        }
        std::fs::remove_dir_all(&copy).expect("clean up");
    }
}

fn text_page(rng: &mut impl Rng) -> Vec<u8> {
    let words = [
        "invoice ",
        "customer ",
        "street ",
        "paid ",
        "total ",
        "order ",
        "2026 ",
    ];
    let mut p = Vec::with_capacity(BS);
    while p.len() < BS {
        p.extend_from_slice(words[rng.random_range(0..words.len())].as_bytes());
        p.extend_from_slice(rng.random_range(0..1000u32).to_string().as_bytes());
    }
    p.truncate(BS);
    p
}

/// An 8 KiB slice of a fixed 192 KiB text corpus: pages far apart repeat
/// rows, as in a database file — what a content dictionary captures and a
/// 64 KiB trained one cannot hold.
fn corpus_page(rng: &mut impl Rng) -> Vec<u8> {
    static CORPUS: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let corpus = CORPUS.get_or_init(|| {
        let mut crng = rand::rngs::StdRng::seed_from_u64(4321);
        (0..24).flat_map(|_| text_page(&mut crng)).collect()
    });
    let at = rng.random_range(0..corpus.len() - BS);
    corpus[at..at + BS].to_vec()
}

/// A page of binary records drawn from a vocabulary of 256 random 64-byte
/// fragments shared by all such pages: what a dictionary trained on them
/// captures, and one trained on text does not.
fn binary_page(rng: &mut impl Rng) -> Vec<u8> {
    let mut vocab_rng = rand::rngs::StdRng::seed_from_u64(1234);
    let vocab: Vec<[u8; 64]> = (0..256)
        .map(|_| {
            let mut f = [0u8; 64];
            vocab_rng.fill_bytes(&mut f);
            f
        })
        .collect();
    let mut p = Vec::with_capacity(BS);
    while p.len() < BS {
        p.extend_from_slice(&vocab[rng.random_range(0..vocab.len())]);
    }
    p.truncate(BS);
    p
}

/// Pages written one here, one there (each its own frame, where the
/// dictionary matters most).
fn scattered(stream: &str, ts: i64, pages: Vec<Vec<u8>>) -> Vec<WriteEvent> {
    pages
        .into_iter()
        .enumerate()
        .map(|(i, data)| WriteEvent {
            stream: stream.into(),
            timestamp_ns: ts,
            change: Change::Write {
                offset: (i as u64 * 2) * BS as u64,
                data,
            },
        })
        .collect()
}

fn dict_records(root: &Path) -> usize {
    let packs = root.join("packs");
    pack::list_packs(&packs)
        .expect("list")
        .into_iter()
        .map(|id| {
            let path = pack::pack_path(&packs, id);
            let (f, len) = pack::open_pack(&path, id).expect("open");
            pack::scan(&f, &path, len)
                .records
                .iter()
                .filter(|r| r.kind == RecordKind::Dict)
                .count()
        })
        .sum()
}

/// The dictionary is retrained when new data stops looking like what it
/// was trained on: text pages first, then binary ones.
#[test]
fn a_new_dictionary_takes_over_when_the_data_drifts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 1 << 30);
    store.set_dict_check_bytes(u64::MAX);
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let mut model = Model::default();
    let ingest = |store: &Store, evs: Vec<WriteEvent>, model: &mut Model| {
        for e in &evs {
            model.apply(e);
        }
        store.ingest(&evs).expect("ingest")
    };
    let text: Vec<Vec<u8>> = (0..400).map(|_| text_page(&mut rng)).collect();
    ingest(&store, scattered("t", T0, text), &mut model);
    assert_eq!(
        dict_records(&root),
        1,
        "first dictionary, from the text pages"
    );
    // Binary pages with the text dictionary (no drift check yet).
    let bin1: Vec<Vec<u8>> = (0..400).map(|_| binary_page(&mut rng)).collect();
    let before = ingest(&store, scattered("b", T0 + SEC, bin1), &mut model);
    assert_eq!(dict_records(&root), 1);
    // Now checked: more binary pages of the same kind get a dictionary of their own.
    store.set_dict_check_bytes(1 << 20);
    let bin2: Vec<Vec<u8>> = (0..400).map(|_| binary_page(&mut rng)).collect();
    let after = ingest(&store, scattered("b", T0 + 2 * SEC, bin2), &mut model);
    assert_eq!(dict_records(&root), 2, "drift detected");
    assert!(
        after.stored_bytes * 100 < before.stored_bytes * 95,
        "binary pages: {} bytes with the text dictionary, {} with their own",
        before.stored_bytes,
        after.stored_bytes
    );
    // More of the same: no third dictionary.
    let bin3: Vec<Vec<u8>> = (0..400).map(|_| binary_page(&mut rng)).collect();
    ingest(&store, scattered("b", T0 + 3 * SEC, bin3), &mut model);
    assert_eq!(dict_records(&root), 2, "no drift, no new dictionary");
    let rows = store.index_rows().expect("rows");
    drop(store);
    let store = Store::rebuild_index(&root).expect("rebuild");
    assert!(store.index_rows().expect("rows") == rows);
    for (s, history) in &model.streams {
        for (t, want) in history {
            assert!(read_live(&store, s, *t) == *want, "{s} at {t}");
        }
    }
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

/// BLAKE3 of every stream at each of `instants`, as lines of text (what a
/// fresh process must read back identically).
fn digest(store: &Store, streams: &[&str], instants: &[i64]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for s in streams {
        for &t in instants {
            let h = read_live(store, s, t).map(|b| blake3::hash(&b).to_hex().to_string());
            let _ = writeln!(out, "{s} {t} {h:?}");
        }
    }
    out
}

const CONTENT_STREAMS: [&str; 2] = ["runs", "scattered"];
const CONTENT_INSTANTS: [i64; 4] = [T0, T0 + SEC, T0 + 2 * SEC, T0 + 3 * SEC];

#[test]
#[ignore = "the child process of the content dictionary test, which runs it with --ignored"]
fn content_dictionary_child() {
    let root = std::env::var("KAIROS_CONTENT_CHILD").expect("KAIROS_CONTENT_CHILD");
    let store = Store::open_read(Path::new(&root)).expect("open read");
    print!("{}", digest(&store, &CONTENT_STREAMS, &CONTENT_INSTANTS));
}

/// Once the writer's sample of new pages is full, a content dictionary
/// (record kind byte 2, zstd-compressed) takes over: chunks written with it
/// read back here, after a rebuild, after gc, and in a fresh process; a
/// corrupt dictionary length is refused with an error naming it.
#[test]
fn a_content_dictionary_takes_over_and_reads_everywhere() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 1 << 30);
    store.set_content_dict_bytes(1 << 20);
    let mut rng = rand::rngs::StdRng::seed_from_u64(77);
    let mut model = Model::default();
    let mut last = None;
    for (i, &ts) in CONTENT_INSTANTS.iter().enumerate() {
        // A run of consecutive pages (groups) and scattered single pages.
        let run: Vec<u8> = (0..300).flat_map(|_| corpus_page(&mut rng)).collect();
        let mut evs = vec![WriteEvent {
            stream: "runs".into(),
            timestamp_ns: ts,
            change: Change::Write {
                offset: (i * 100 * BS) as u64,
                data: run,
            },
        }];
        evs.extend(scattered(
            "scattered",
            ts,
            (0..60).map(|_| corpus_page(&mut rng)).collect(),
        ));
        for e in &evs {
            model.apply(e);
        }
        last = Some(store.ingest(&evs).expect("ingest"));
    }
    assert_eq!(
        dict_records(&root),
        2,
        "a trained dictionary, then the content one"
    );
    assert!(last.expect("acks").new_chunks > 0);
    let check = |store: &Store, what: &str| {
        for s in CONTENT_STREAMS {
            for t in CONTENT_INSTANTS {
                assert!(
                    read_live(store, s, t).as_deref() == model.at(s, t),
                    "{what}: {s} at {t}"
                );
            }
        }
    };
    check(&store, "writer");
    // The runs' versions are Run entries (one per group), the scattered
    // pages' single-member groups too; a Block entry only where a slice
    // repeats a stored one.
    let entries = pack_metadata(&root).1;
    let runs = entries
        .iter()
        .filter(|e| matches!(e, Entry::Run { .. }))
        .count();
    let blocks = entries
        .iter()
        .filter(|e| matches!(e, Entry::Block { .. }))
        .count();
    assert!(
        runs >= 4 * (300 / 16 + 60) && blocks * 50 < runs,
        "{runs} runs, {blocks} blocks"
    );
    let want = digest(&store, &CONTENT_STREAMS, &CONTENT_INSTANTS);
    let rows = store.index_rows().expect("rows");
    drop(store);
    // A fresh process loads the dictionary from its record.
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "content_dictionary_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KAIROS_CONTENT_CHILD", &root)
        .output()
        .expect("run child");
    let got = String::from_utf8_lossy(&out.stdout);
    assert!(got.contains(&want), "child read:\n{got}\nwant:\n{want}");
    let mut store = Store::rebuild_index(&root).expect("rebuild");
    assert!(
        store.index_rows().expect("rows") == rows,
        "rebuild gives identical rows"
    );
    check(&store, "rebuilt");
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
    // gc recompresses groups with dead members using the content dictionary.
    let policy = Policy {
        keep_all: SEC / 2,
        ..Policy::default()
    };
    assert!(
        store
            .prune(&policy, T0 + 3 * SEC)
            .expect("prune")
            .instants_dropped
            > 0
    );
    assert!(store.gc().expect("gc").chunks_dropped > 0);
    for s in CONTENT_STREAMS {
        let t = T0 + 3 * SEC;
        assert!(
            read_live(&store, s, t).as_deref() == model.at(s, t),
            "after gc: {s}"
        );
    }
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
    drop(store);
    // A corrupt length in the content dictionary's record (crc made to
    // match) is refused before it is allocated, naming the dictionary.
    let packs = root.join("packs");
    for id in pack::list_packs(&packs).expect("list") {
        let path = pack::pack_path(&packs, id);
        let (f, len) = pack::open_pack(&path, id).expect("open");
        for r in pack::scan(&f, &path, len).records {
            let mut bytes = std::fs::read(&path).expect("read pack");
            let at = r.offset as usize;
            let end = at + 8 + r.payload_len as usize;
            if r.kind != RecordKind::Dict || bytes[at + 12] != 2 {
                continue;
            }
            bytes[at + 13..at + 17].copy_from_slice(&u32::MAX.to_le_bytes());
            let crc = crc32fast::hash(&bytes[at..end]);
            bytes[end..end + 4].copy_from_slice(&crc.to_le_bytes());
            std::fs::write(&path, &bytes).expect("write pack");
        }
    }
    let store = Store::open_read(&root).expect("open");
    let report = store.verify(&|_, _| {}).expect("verify");
    let text = format!("{:?}", report.problems);
    assert!(
        !report.is_clean()
            && text.contains("content dictionary of 4294967295 bytes is larger than"),
        "{text}"
    );
    // Pages of a small vocabulary without long-range repetition: the
    // trained dictionary's entropy tables do better, and the content
    // dictionary loses its trial on held-out pages.
    let other = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(other.path(), 1 << 30);
    store.set_content_dict_bytes(1 << 20);
    for (i, &ts) in CONTENT_INSTANTS.iter().enumerate() {
        let run: Vec<u8> = (0..300).flat_map(|_| text_page(&mut rng)).collect();
        let ev = WriteEvent {
            stream: "vocab".into(),
            timestamp_ns: ts,
            change: Change::Write {
                offset: (i * 300 * BS) as u64,
                data: run,
            },
        };
        store.ingest(&[ev]).expect("ingest");
    }
    assert_eq!(dict_records(&root), 1, "only the trained dictionary");
}

/// Several `Store` values for one store in one process share its index
/// environment (libmdbx opens it once per process).
#[test]
fn handles_in_one_process_share_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, writer) = new_store(dir.path(), 1 << 20);
    let ev = |ts: i64, b: u8| WriteEvent {
        stream: "s".into(),
        timestamp_ns: ts,
        change: Change::Write {
            offset: 0,
            data: vec![b; 3000],
        },
    };
    writer.ingest(&[ev(T0, 1)]).expect("ingest");
    let reader = Store::open_read(&root).expect("reader beside the writer");
    assert_eq!(read_all(&reader, "s", i64::MAX), vec![1u8; 3000]);
    writer.ingest(&[ev(T0 + SEC, 2)]).expect("ingest");
    assert_eq!(read_all(&reader, "s", i64::MAX), vec![2u8; 3000]);
    let err = Store::open(&root).expect_err("one writer");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    drop(writer);
    // The reader keeps the environment; a new writer takes it over.
    let writer = Store::open(&root).expect("writer again");
    writer.ingest(&[ev(T0 + 2 * SEC, 3)]).expect("ingest");
    assert_eq!(read_all(&reader, "s", i64::MAX), vec![3u8; 3000]);
    assert_eq!(read_all(&reader, "s", T0), vec![1u8; 3000]);
    let err = Store::rebuild_index(&root).expect_err("in use");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    drop(writer);
    let err = Store::rebuild_index(&root).expect_err("reader still open");
    assert!(err.to_string().contains("in this process"), "{err}");
    drop(reader);
    // A read-only environment cannot become a writer's.
    let reader = Store::open_read(&root).expect("reader alone");
    let err = Store::open(&root).expect_err("reader holds a read-only environment");
    assert!(err.to_string().contains("in this process"), "{err}");
    drop(reader);
    let store = Store::rebuild_index(&root).expect("rebuild once alone");
    assert_eq!(read_all(&store, "s", T0 + SEC), vec![2u8; 3000]);
}

/// Packs written before groups (format version 1) hold one `Chunk` record
/// per chunk: a store made of such records (built here record by record)
/// opens, reads back, verifies and rebuilds; a version the reader does not
/// know is refused by its header.
#[test]
fn packs_with_single_chunk_records_still_read() {
    use kairos_engine::chunk;
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    Store::init(&root, StoreOptions::default()).expect("init");
    let mut rng = rand::rngs::StdRng::seed_from_u64(4);
    let blocks: Vec<Vec<u8>> = (0..3)
        .map(|i| {
            let mut b = random_blocks(&mut rng, 1);
            b[..BS / 2].fill(i);
            b
        })
        .collect();
    let mut w = pack::PackWriter::create(&root.join("packs"), 1).expect("pack");
    let mut entries = 1u64.to_le_bytes().to_vec();
    Entry::Stream {
        id: 1,
        block_size: BS as u32,
        name: "old".into(),
    }
    .encode(&mut entries);
    for (i, b) in blocks.iter().enumerate() {
        let hash = chunk::block_hash(b);
        let frame = chunk::compress(b, None).expect("zstd");
        let head = chunk::encode_header(&hash, b.len() as u32, 0);
        w.append(RecordKind::Chunk, &[&head, &frame])
            .expect("chunk");
        Entry::Block {
            stream: 1,
            block: i as u64,
            ts: T0,
            hash,
        }
        .encode(&mut entries);
    }
    Entry::Size {
        stream: 1,
        ts: T0,
        size: 3 * BS as u64,
    }
    .encode(&mut entries);
    w.append(RecordKind::Entries, &[&entries]).expect("entries");
    let mut commit = 1u64.to_le_bytes().to_vec();
    commit.extend_from_slice(&T0.to_le_bytes());
    commit.extend_from_slice(&5u64.to_le_bytes());
    w.append(RecordKind::Commit, &[&commit]).expect("commit");
    w.seal().expect("seal");
    // Such packs carry format version 1 in their header.
    let path = pack::pack_path(&root.join("packs"), 1);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    let want = blocks.concat();
    let store = Store::open(&root).expect("open");
    assert!(read_all(&store, "old", T0) == want);
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
    drop(store);
    let store = Store::rebuild_index(&root).expect("rebuild");
    assert!(read_all(&store, "old", T0) == want);
    let out = dir.path().join("old.out");
    store
        .view("old", None)
        .expect("view")
        .restore_to(&out, RestoreOptions::default(), &|_, _| {})
        .expect("restore");
    assert!(std::fs::read(&out).expect("read") == want);
    drop(store);
    let unknown = pack::PACK_VERSION + 1;
    bytes[8..12].copy_from_slice(&unknown.to_le_bytes());
    std::fs::write(&path, &bytes).expect("write");
    let err = Store::rebuild_index(&root).expect_err("unknown pack version");
    assert!(
        err.to_string().contains(&format!("version {unknown}")),
        "{err}"
    );
}

/// An unlinked stream is absent from its removal on, a later write starts a
/// new life from zeros, and all of it survives prune, gc and a rebuild.
#[test]
fn a_removed_stream_is_absent_until_recreated_and_survives_gc_and_rebuild() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, mut store) = new_store(dir.path(), 48 << 10);
    let ev = |ts: i64, change: Change| WriteEvent {
        stream: "wal/0001".into(),
        timestamp_ns: ts,
        change,
    };
    let old = vec![0xAB; 3 * BS + 100];
    store
        .ingest(&[ev(
            T0,
            Change::Write {
                offset: 0,
                data: old.clone(),
            },
        )])
        .expect("write");
    store
        .ingest(&[ev(T0 + SEC, Change::Remove)])
        .expect("remove");
    // A second removal records nothing.
    store
        .ingest(&[ev(T0 + 2 * SEC, Change::Remove)])
        .expect("remove again");
    store
        .ingest(&[ev(
            T0 + 3 * SEC,
            Change::Write {
                offset: BS as u64 + 10,
                data: vec![1; 20],
            },
        )])
        .expect("recreate");
    // Hourly prune an hour later keeps all three instants (they are within keep_all).
    store
        .prune(
            &Policy {
                keep_all: 3600 * SEC,
                hourly: 0,
                daily: 0,
            },
            T0 + 60 * SEC,
        )
        .expect("prune");
    store.gc().expect("gc");
    let mut new_life = vec![0u8; BS + 30];
    new_life[BS + 10..].fill(1);
    let check = |store: &Store| {
        assert_eq!(read_live(store, "wal/0001", T0), Some(old.clone()));
        assert_eq!(read_live(store, "wal/0001", T0 + SEC), None);
        assert_eq!(read_live(store, "wal/0001", T0 + 2 * SEC + 5), None);
        // No byte of the old life leaks into the new one.
        assert_eq!(
            read_live(store, "wal/0001", T0 + 3 * SEC),
            Some(new_life.clone())
        );
        let err = store.view("wal/0001", Some(T0 + SEC)).expect_err("removed");
        assert!(err.to_string().contains("was removed at"), "{err}");
        let tl = store
            .timeline("wal/0001", i64::MIN, i64::MAX)
            .expect("timeline");
        assert_eq!(tl.removals, vec![T0 + SEC]);
        assert_eq!(tl.instants.len(), 3);
        assert_eq!(store.streams_at(T0 + SEC).expect("streams_at"), vec![]);
        let at0 = store.streams_at(T0).expect("streams_at");
        assert_eq!(at0.len(), 1);
        assert_eq!(at0[0].size, old.len() as u64);
        let live = store.streams().expect("streams");
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].removed, None);
    };
    check(&store);
    drop(store);
    check(&Store::rebuild_index(&root).expect("rebuild"));
    // Removed again: gone from `streams`, listed by `streams_all` with its time.
    let store = Store::open(&root).expect("open");
    store
        .ingest(&[ev(T0 + 4 * SEC, Change::Remove)])
        .expect("remove");
    assert!(store.streams().expect("streams").is_empty());
    let all = store.streams_all().expect("streams_all");
    assert_eq!(all[0].removed, Some(T0 + 4 * SEC));
    assert_eq!(all[0].size, 0);
    assert!(store.verify(&|_, _| {}).expect("verify").is_clean());
}

#[test]
#[ignore = "the child process of the abrupt-exit test, which runs it with --ignored"]
fn abrupt_exit_child() {
    let root = std::env::var("KAIROS_ABRUPT_CHILD").expect("KAIROS_ABRUPT_CHILD");
    let store = Store::open(Path::new(&root)).expect("open");
    for i in 0..40u8 {
        let ev = WriteEvent {
            stream: "abrupt".into(),
            timestamp_ns: T0 + i64::from(i) * SEC,
            change: Change::Write {
                offset: u64::from(i) * 5000,
                data: vec![i + 1; 9000],
            },
        };
        store.ingest(std::slice::from_ref(&ev)).expect("ingest");
    }
    println!("acknowledged");
    // No drop, no clean close of the index: like a writer killed after its acks.
    std::process::exit(0);
}

/// A writer that stops without closing (killed after its acks) leaves the
/// index's newest commits unsynced; a reader opened next (`kairos cat`
/// after the shim died) must still open the store and see every
/// acknowledged write.
#[test]
fn a_reader_after_a_writer_stopped_abruptly_sees_every_ack() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root, store) = new_store(dir.path(), 1 << 30);
    drop(store);
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "abrupt_exit_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("KAIROS_ABRUPT_CHILD", &root)
        .output()
        .expect("run child");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("acknowledged"),
        "child: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut model = Model::default();
    for i in 0..40u8 {
        model.apply(&WriteEvent {
            stream: "abrupt".into(),
            timestamp_ns: T0 + i64::from(i) * SEC,
            change: Change::Write {
                offset: u64::from(i) * 5000,
                data: vec![i + 1; 9000],
            },
        });
    }
    let store = Store::open_read(&root).expect("open for reading after the abrupt stop");
    assert_eq!(
        read_live(&store, "abrupt", T0 + 39 * SEC).as_deref(),
        model.at("abrupt", T0 + 39 * SEC)
    );
}
