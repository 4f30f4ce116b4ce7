//! The store commands end to end through the `kairos` binary.

use std::path::Path;
use std::process::{Command, Output};

fn kairos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(args)
        .env_remove("KAIROS_STORE")
        .output()
        .expect("run kairos")
}

fn ok(args: &[&str]) -> String {
    let o = kairos(args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fails(args: &[&str]) -> String {
    let o = kairos(args);
    assert_eq!(o.status.code(), Some(1), "{args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn capture_restore_cat_mark_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let file = dir.path().join("db.bin");
    ok(&["init", s(&store)]);
    let v1: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &v1).expect("write");
    ok(&[
        "--store",
        s(&store),
        "capture",
        s(&file),
        "--stream",
        "db",
        "--at",
        "2026-11-24T10:00:00Z",
    ]);
    let mut v2 = v1.clone();
    v2[100_000..100_010].fill(9);
    v2.truncate(250_000);
    std::fs::write(&file, &v2).expect("write");
    ok(&[
        "--store",
        s(&store),
        "capture",
        s(&file),
        "--stream",
        "db",
        "--at",
        "2026-11-24T11:00:00Z",
    ]);
    // back in time: refused with a clear one-line error
    let err = fails(&[
        "--store",
        s(&store),
        "capture",
        s(&file),
        "--stream",
        "db",
        "--at",
        "2026-11-24T10:30:00Z",
    ]);
    assert!(err.contains("cannot go back in time"), "{err}");
    ok(&[
        "--store",
        s(&store),
        "mark",
        "before-edit",
        "--at",
        "2026-11-24T10:15:00Z",
    ]);
    let out = dir.path().join("out.bin");
    ok(&[
        "--store",
        s(&store),
        "restore",
        "db",
        "--at",
        "mark:before-edit",
        "-o",
        s(&out),
    ]);
    assert_eq!(std::fs::read(&out).expect("read"), v1);
    let err = fails(&["--store", s(&store), "restore", "db", "-o", s(&out)]);
    assert!(err.contains("--force"), "{err}");
    ok(&[
        "--store",
        s(&store),
        "restore",
        "db",
        "-o",
        s(&out),
        "--force",
    ]);
    assert_eq!(std::fs::read(&out).expect("read"), v2);
    let cat = kairos(&[
        "--store",
        s(&store),
        "cat",
        "db",
        "--at",
        "2026-11-24T10:59:59Z",
    ]);
    assert!(cat.status.success());
    assert_eq!(cat.stdout, v1);
    let json: serde_json::Value =
        serde_json::from_str(&ok(&["--store", s(&store), "--json", "streams"])).expect("json");
    assert_eq!(json[0]["name"], "db");
    assert_eq!(json[0]["versions"], 2);
    assert_eq!(json[0]["size"], 250_000);
    let tl: serde_json::Value =
        serde_json::from_str(&ok(&["--store", s(&store), "--json", "timeline", "db"]))
            .expect("json");
    assert_eq!(tl["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(tl["marks"][0]["name"], "before-edit");
    assert!(ok(&["--store", s(&store), "verify"]).contains("clean"));
    assert!(ok(&["--store", s(&store), "verify", "--rebuild-index"]).contains("clean"));
    let err = fails(&["--store", s(&store), "prune"]);
    assert!(err.contains("keeps nothing"), "{err}");
    // a flipped byte in the middle of the pack is named by verify
    let pack = store.join("packs/00000001.pack");
    let mut bytes = std::fs::read(&pack).expect("pack");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    std::fs::write(&pack, &bytes).expect("write pack");
    let o = kairos(&["--store", s(&store), "verify"]);
    assert_eq!(o.status.code(), Some(1));
    let report = String::from_utf8_lossy(&o.stdout);
    assert!(
        report.contains("PROBLEM") && report.contains("00000001.pack offset"),
        "{report}"
    );
}

#[test]
fn second_writer_gets_the_pid_and_readers_still_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let file = dir.path().join("f");
    std::fs::write(&file, b"hello").expect("write");
    ok(&["init", s(&store)]);
    ok(&["--store", s(&store), "capture", s(&file), "--stream", "f"]);
    let writer = kairos_engine::Store::open(&store).expect("hold the writer lock");
    let err = fails(&["--store", s(&store), "capture", s(&file), "--stream", "f"]);
    assert!(
        err.contains(&format!("store is locked by pid {}", std::process::id())),
        "{err}"
    );
    assert!(ok(&["--store", s(&store), "streams"]).contains('f'));
    drop(writer);
    ok(&["--store", s(&store), "capture", s(&file), "--stream", "f"]);
}

/// A removed (unlinked) stream: `streams` leaves it out, `streams --all`
/// shows when it was removed, `streams --at` before the removal lists it,
/// `timeline` shows "removed", `cat` at the removal fails naming it.
#[test]
fn removed_streams_are_listed_only_with_all_and_show_in_the_timeline() {
    use kairos_engine::{Change, Store, StoreOptions, WriteEvent};
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    Store::init(&store, StoreOptions::default()).expect("init");
    let t0 = 1_750_000_000_000_000_000i64;
    let ev = |stream: &str, ts: i64, change: Change| WriteEvent {
        stream: stream.into(),
        timestamp_ns: ts,
        change,
    };
    {
        let st = Store::open(&store).expect("open");
        st.ingest(&[
            ev(
                "keep",
                t0,
                Change::Write {
                    offset: 0,
                    data: vec![1; 10],
                },
            ),
            ev(
                "gone",
                t0,
                Change::Write {
                    offset: 0,
                    data: vec![2; 10],
                },
            ),
        ])
        .expect("ingest");
        st.ingest(&[ev("gone", t0 + 1_000_000_000, Change::Remove)])
            .expect("remove");
    }
    let names = |json: &str| -> Vec<(String, Option<String>)> {
        let v: serde_json::Value = serde_json::from_str(json).expect("json");
        v.as_array()
            .expect("array")
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().expect("name").to_owned(),
                    s["removed_at"].as_str().map(str::to_owned),
                )
            })
            .collect()
    };
    let live = names(&ok(&["--store", s(&store), "--json", "streams"]));
    assert_eq!(live, vec![("keep".to_owned(), None)]);
    let all = names(&ok(&["--store", s(&store), "--json", "streams", "--all"]));
    assert_eq!(all.len(), 2);
    let removed_at = all[1].1.clone().expect("gone has a removal time");
    assert_eq!(all[1].0, "gone");
    let tl: serde_json::Value =
        serde_json::from_str(&ok(&["--store", s(&store), "--json", "timeline", "gone"]))
            .expect("json");
    assert_eq!(tl["removed"], serde_json::json!([removed_at.clone()]));
    let first = tl["versions"][0]["at"].as_str().expect("first").to_owned();
    let text = ok(&["--store", s(&store), "timeline", "gone"]);
    assert!(text.contains(&format!("{removed_at}  removed")), "{text}");
    let before = names(&ok(&[
        "--store",
        s(&store),
        "--json",
        "--at",
        &first,
        "streams",
    ]));
    assert_eq!(before.len(), 2, "both existed at {first}");
    let err = fails(&["--store", s(&store), "--at", &removed_at, "cat", "gone"]);
    assert!(err.contains("was removed at"), "{err}");
    assert!(ok(&["--store", s(&store), "--at", &first, "cat", "gone"]).len() == 10);
}

/// `restore DIR-PREFIX -o OUT` writes every stream under the prefix that
/// exists at the instant as a file tree; it never replaces OUT without
/// `--force`, and streams outside the prefix stay out.
#[test]
fn restore_of_a_prefix_writes_the_directory_as_of_the_instant() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    ok(&["init", s(&store)]);
    let capture = |name: &str, bytes: &[u8], at: &str| {
        let f = dir.path().join("input.bin");
        std::fs::write(&f, bytes).expect("write input");
        ok(&[
            "--store",
            s(&store),
            "capture",
            s(&f),
            "--stream",
            name,
            "--at",
            at,
        ]);
    };
    let a1: Vec<u8> = (0..20_000u32).map(|i| (i % 253) as u8).collect();
    let b1 = vec![7u8; 9_000];
    capture("pg/base/a", &a1, "2026-11-24T10:00:00Z");
    capture("pg/b", &b1, "2026-11-24T10:00:00Z");
    capture("other/c", b"outside", "2026-11-24T10:00:00Z");
    let mut a2 = a1.clone();
    a2[5..9].fill(1);
    capture("pg/base/a", &a2, "2026-11-24T11:00:00Z");
    capture("pg/late", b"new at eleven", "2026-11-24T11:00:00Z");

    let out = dir.path().join("restored");
    let said = ok(&[
        "--store",
        s(&store),
        "--at",
        "2026-11-24T10:30:00Z",
        "restore",
        "pg",
        "-o",
        s(&out),
    ]);
    assert!(said.contains("restored 2 files under pg/"), "{said}");
    assert_eq!(std::fs::read(out.join("base/a")).expect("a"), a1);
    assert_eq!(std::fs::read(out.join("b")).expect("b"), b1);
    assert!(!out.join("late").exists(), "pg/late did not exist yet");
    assert!(!out.join("c").exists() && !out.join("other").exists());

    let err = fails(&["--store", s(&store), "restore", "pg/", "-o", s(&out)]);
    assert!(err.contains("--force"), "{err}");
    ok(&[
        "--store",
        s(&store),
        "restore",
        "pg/",
        "-o",
        s(&out),
        "--force",
    ]);
    assert_eq!(std::fs::read(out.join("base/a")).expect("a"), a2);
    assert_eq!(
        std::fs::read(out.join("late")).expect("late"),
        b"new at eleven"
    );
    // nothing left behind beside OUT
    let stray: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".kairos-restore-")
        })
        .collect();
    assert!(stray.is_empty(), "{stray:?}");

    let err = fails(&[
        "--store",
        s(&store),
        "--at",
        "2026-11-24T09:00:00Z",
        "restore",
        "pg",
        "-o",
        s(&dir.path().join("empty")),
    ]);
    assert!(err.contains("no stream under pg/"), "{err}");
}
