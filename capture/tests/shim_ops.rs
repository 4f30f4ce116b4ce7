//! File operations through the shim (create, write, append, truncate,
//! extend, rename of files and directories, rename over an existing file,
//! unlink, fallocate punch) captured exactly: after each step the real source
//! directory is read back (an independent record of what the application
//! did), and the contents rebuilt from the captured events at that instant
//! must equal it, file for file.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::Path;

use kairos_capture::{Replay, now_ns};

/// File contents by relative path.
type Snapshot = BTreeMap<String, Vec<u8>>;

fn snapshot(dir: &Path) -> Snapshot {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_str().unwrap().to_owned();
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn every_operation_is_captured_as_the_real_directory_saw_it() {
    let fx = common::ShimFixture::mount();
    let m = |p: &str| fx.mnt.join(p);
    let mut steps: Vec<(&str, i64, Snapshot)> = Vec::new();
    let mut record = |what: &'static str| {
        let at = now_ns();
        steps.push((what, at, snapshot(&fx.src)));
    };

    fs::write(m("a.txt"), b"hello world").unwrap();
    record("create+write");
    OpenOptions::new()
        .append(true)
        .open(m("a.txt"))
        .unwrap()
        .write_all(b", appended")
        .unwrap();
    record("append");
    fs::create_dir_all(m("d/sub")).unwrap();
    fs::write(m("d/sub/b.bin"), vec![7u8; 300_000]).unwrap();
    record("nested file larger than one event");
    let f = OpenOptions::new()
        .write(true)
        .open(m("d/sub/b.bin"))
        .unwrap();
    f.write_all_at(b"XYZ", 123_456).unwrap();
    f.set_len(200_000).unwrap();
    record("overwrite + truncate");
    f.set_len(250_000).unwrap();
    f.sync_all().unwrap();
    drop(f);
    record("extend");
    // fallocate(2) through the mount: punch a hole (reads back as zeros),
    // then preallocate past the end (the file grows).
    let fallocate = |args: &[&str]| {
        let st = std::process::Command::new("fallocate")
            .args(args)
            .arg(m("d/sub/b.bin"))
            .status()
            .unwrap();
        assert!(st.success(), "fallocate {args:?}");
    };
    fallocate(&["-p", "-o", "4096", "-l", "16384"]);
    record("punch hole");
    fallocate(&["-l", "400000"]);
    record("preallocate past the end");
    fs::rename(m("a.txt"), m("d/a-renamed.txt")).unwrap();
    record("rename file");
    fs::write(m("c.txt"), b"will be replaced").unwrap();
    fs::write(m("new.txt"), b"replacement").unwrap();
    fs::rename(m("new.txt"), m("c.txt")).unwrap();
    record("rename over existing");
    fs::rename(m("d"), m("e")).unwrap();
    record("rename directory");
    fs::remove_file(m("c.txt")).unwrap();
    record("unlink");
    fs::write(m("empty"), b"").unwrap();
    fs::write(m("trunc.txt"), b"0123456789").unwrap();
    fs::write(m("trunc.txt"), b"ab").unwrap(); // O_TRUNC open
    record("empty file, O_TRUNC rewrite");

    let events = fx.events();
    let last = steps.last().unwrap().2.clone();
    for (what, at, want) in &steps {
        let got = Replay::at(&events, *at, 1 << 30).streams;
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "after {what}: same files"
        );
        for (name, bytes) in want {
            assert!(got[name] == *bytes, "after {what}: {name} differs");
        }
    }
    // The real directory ends as the mount showed it.
    assert_eq!(snapshot(&fx.mnt), last);
    // An unlinked file keeps its history: c.txt is in the log before removal.
    assert!(events.iter().any(|e| e.stream == "c.txt"));
}

/// Unlinked and renamed-away files vanish from the store at that instant
/// and come back only when recreated, with their new content alone: the
/// directory restored from the store at each step equals the real one.
#[test]
fn unlinked_files_vanish_from_the_store_and_restore_at_their_removal() {
    let fx = common::ShimFixture::mount_store();
    let m = |p: &str| fx.mnt.join(p);
    let mut steps: Vec<(&str, i64, Snapshot)> = Vec::new();
    let mut record = |what: &'static str| {
        let at = now_ns();
        steps.push((what, at, snapshot(&fx.src)));
    };
    fs::write(m("wal1"), vec![0xAA; 50_000]).unwrap();
    fs::write(m("keep"), b"kept").unwrap();
    fs::create_dir(m("d")).unwrap();
    fs::write(m("d/x"), vec![3u8; 9000]).unwrap();
    record("created");
    fs::remove_file(m("wal1")).unwrap();
    record("unlinked");
    fs::rename(m("d/x"), m("d/y")).unwrap();
    record("renamed");
    fs::write(m("wal1"), b"second life").unwrap();
    record("recreated shorter");
    fs::remove_file(m("d/y")).unwrap();
    record("unlinked the renamed file");

    for (what, at, want) in &steps {
        let dir = fx.restore_store_at(*at);
        assert_eq!(&snapshot(dir.path()), want, "restore after {what}");
    }
    let last = &steps.last().unwrap().2;
    assert_eq!(
        fx.store_streams()
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>(),
        last.keys().cloned().collect(),
        "live streams"
    );
    // The history before the removal is kept.
    let first = &steps[0];
    let store = fx.store.as_ref().unwrap();
    let old = store.with_store(|s| {
        use kairos_parsers::{Source, SourceExt};
        let v = s.view("wal1", Some(first.1)).unwrap();
        v.read_vec_at(0, v.len()).unwrap()
    });
    assert!(old == first.2["wal1"]);
    let removed = store.with_store(|s| s.view("d/x", None).map(|_| ()));
    assert!(removed.unwrap_err().to_string().contains("was removed at"));
}
