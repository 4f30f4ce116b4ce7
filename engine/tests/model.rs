//! Model-checked history: random write histories (partial blocks, extends,
//! truncates, zero blocks, duplicate content, several streams, scan
//! captures, removals and recreations) at random timestamps; for 200 random instants per history the
//! engine's `View` — and `restore` for some of them — must equal an
//! in-memory reference model byte for byte.

mod common;

use common::Model;
use kairos_engine::{Change, RestoreOptions, Store, StoreError, StoreOptions, WriteEvent};
use kairos_parsers::{Source, SourceExt};
use proptest::prelude::*;

const BS: u64 = 4096;

#[derive(Debug, Clone)]
enum Step {
    /// Ingest a batch of events.
    Events(Vec<(usize, u64, Ev)>),
    /// Scan-capture the stream's content after applying these edits.
    Capture(usize, u64, Vec<(u64, u8, u64)>, Option<u64>),
}

#[derive(Debug, Clone)]
enum Ev {
    Write {
        offset: u64,
        len: u64,
        fill: u8,
        pattern: bool,
    },
    SetLen(u64),
    Remove,
}

fn ev() -> impl Strategy<Value = Ev> {
    prop_oneof![
        4 => (0..6 * BS, 1..(2 * BS + 100), any::<u8>(), any::<bool>())
            .prop_map(|(offset, len, fill, pattern)| Ev::Write { offset, len, fill, pattern }),
        1 => (0..7 * BS).prop_map(Ev::SetLen),
        1 => Just(Ev::Remove),
        // zero writes: all-zero content
        1 => (0..4u64, 1..3u64).prop_map(|(b, n)| Ev::Write { offset: b * BS, len: n * BS, fill: 0, pattern: false }),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => proptest::collection::vec((0..3usize, 0..3u64, ev()), 1..6).prop_map(Step::Events),
        1 => (0..3usize, 1..3u64, proptest::collection::vec((0..8 * BS, any::<u8>(), 1..BS), 0..4), proptest::option::of(0..8 * BS))
            .prop_map(|(s, dt, edits, len)| Step::Capture(s, dt, edits, len)),
    ]
}

fn bytes(len: u64, fill: u8, pattern: bool, salt: u64) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if pattern {
                fill.wrapping_add((i.wrapping_mul(31) ^ salt) as u8)
            } else {
                fill
            }
        })
        .collect()
}

fn run(steps: &[Step], probes: &[u64]) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("store");
    Store::init(
        &root,
        StoreOptions {
            block_size: BS as u32,
            pack_target: 64 << 10,
        },
    )
    .expect("init");
    let mut store = Store::open(&root).expect("open");
    // A content dictionary after a few sampled blocks: longer histories
    // write their first chunks without a dictionary, later ones with it.
    store.set_content_dict_bytes(16 << 10);
    let mut model = Model::default();
    let names = ["alpha", "beta", "gamma"];
    let mut ts: i64 = 1_700_000_000_000_000_000;
    let first = ts;
    let mut salt = 0;
    for step in steps {
        match step {
            Step::Events(list) => {
                let mut evs = Vec::new();
                for (s, dt, e) in list {
                    ts += *dt as i64;
                    salt += 1;
                    let change = match e {
                        Ev::Write {
                            offset,
                            len,
                            fill,
                            pattern,
                        } => Change::Write {
                            offset: *offset,
                            data: bytes(*len, *fill, *pattern, salt),
                        },
                        Ev::SetLen(n) => Change::SetLen(*n),
                        Ev::Remove => Change::Remove,
                    };
                    evs.push(WriteEvent {
                        stream: names[*s].into(),
                        timestamp_ns: ts,
                        change,
                    });
                }
                for e in &evs {
                    model.apply(e);
                }
                store.ingest(&evs).expect("ingest");
            }
            Step::Capture(s, dt, edits, len) => {
                ts += *dt as i64;
                let name = names[*s];
                let mut c = model.current(name);
                for (off, fill, n) in edits {
                    let end = (*off + *n) as usize;
                    if c.len() < end {
                        c.resize(end, 0);
                    }
                    c[*off as usize..end].fill(*fill);
                }
                if let Some(l) = len {
                    c.resize(*l as usize, 0);
                }
                let f = dir.path().join("capture.bin");
                std::fs::write(&f, &c).expect("write capture file");
                store
                    .capture_file(&f, name, Some(ts), &|_, _| {})
                    .expect("capture");
                model.capture(name, ts, c);
            }
        }
    }
    let span = (ts - first + 2) as u64;
    for (i, p) in probes.iter().enumerate() {
        let t = first - 1 + (p % span) as i64;
        for name in names {
            let want = model.at(name, t);
            match (store.view(name, Some(t)), want) {
                (Ok(v), Some(want)) => {
                    prop_assert_eq!(v.len(), want.len() as u64, "{} at {}", name, t);
                    let got = v.read_vec_at(0, v.len()).expect("read view");
                    prop_assert!(got == want, "{} at {}: view differs", name, t);
                    // an unaligned sub-range read
                    if want.len() > 10 {
                        let off = (p % (want.len() as u64 - 5)) as usize;
                        let mut buf = vec![0u8; 7000];
                        let n = v.read_at(off as u64, &mut buf).expect("read_at");
                        prop_assert_eq!(&buf[..n], &want[off..(off + 7000).min(want.len())]);
                    }
                    if i % 20 == 0 {
                        let out = dir.path().join(format!("restore-{i}-{name}"));
                        v.restore_to(&out, RestoreOptions::default(), &|_, _| {})
                            .expect("restore");
                        prop_assert!(
                            std::fs::read(&out).expect("read restore") == want,
                            "restore of {} at {}",
                            name,
                            t
                        );
                    }
                }
                (Err(StoreError::NoVersion { .. } | StoreError::NoStream(_)), None)
                    if !model.removed(name, t) => {}
                (Err(StoreError::Removed { .. }), None) if model.removed(name, t) => {}
                (got, want) => prop_assert!(
                    false,
                    "{name} at {t}: engine {:?} vs model {:?}",
                    got.map(|v| v.len()),
                    want.map(<[u8]>::len)
                ),
            }
        }
    }
    // The same answers after closing and reopening (replay path).
    drop(store);
    let store = Store::open(&root).expect("reopen");
    for name in names {
        if let Some(want) = model.at(name, i64::MAX) {
            let v = store.view(name, None).expect("view");
            prop_assert!(v.read_vec_at(0, v.len()).expect("read") == want);
        }
    }
    // Only live streams are listed; removed ones are listed with `streams_all`.
    let mut live: Vec<String> = store
        .streams()
        .expect("streams")
        .into_iter()
        .map(|s| s.name)
        .collect();
    live.sort();
    let want: Vec<String> = names
        .iter()
        .filter(|n| model.at(n, i64::MAX).is_some())
        .map(|n| (*n).to_owned())
        .collect();
    prop_assert_eq!(live, want);
    for info in store.streams_all().expect("streams_all") {
        prop_assert_eq!(info.removed.is_some(), model.removed(&info.name, i64::MAX));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn views_and_restores_match_the_model(
        steps in proptest::collection::vec(step(), 1..14),
        probes in proptest::collection::vec(any::<u64>(), 200),
    ) {
        run(&steps, &probes)?;
    }
}
