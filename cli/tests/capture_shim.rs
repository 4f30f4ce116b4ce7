//! `kairos shim` end to end: a file written and fsynced through the mount
//! point is in the store (read back with `kairos cat`) once fsync returned,
//! and a file present before the shim started is recorded as a baseline —
//! with and without the kernel's writeback cache.
#![allow(clippy::unwrap_used)]

mod capture_common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use capture_common::{Proc, init_store, kairos};

fn cat(store: &std::path::Path, stream: &str) -> Vec<u8> {
    let out = kairos()
        .arg("--store")
        .arg(store)
        .args(["cat", stream])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cat {stream}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn kairos_shim_captures_fsynced_writes_and_a_baseline() {
    shim_captures_fsynced_writes_and_a_baseline(&[]);
}

/// With the kernel's writeback cache the write reaches the shim only when
/// the kernel writes it back: fsync must still return after it is stored.
#[test]
fn kairos_shim_with_writeback_cache_captures_fsynced_writes_and_a_baseline() {
    shim_captures_fsynced_writes_and_a_baseline(&["--writeback-cache"]);
}

fn shim_captures_fsynced_writes_and_a_baseline(options: &[&str]) {
    assert!(
        std::path::Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: kairos shim needs FUSE"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = dir.path().join("store");
    init_store(&store);
    let (src, mnt) = (dir.path().join("src"), dir.path().join("mnt"));
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    std::fs::write(src.join("sub/old.txt"), b"was here before").unwrap();

    let mut cmd = kairos();
    cmd.arg("--store")
        .arg(&store)
        .arg("shim")
        .args(options)
        .arg(&src)
        .arg(&mnt);
    let (mut shim, _) = Proc::start(cmd, "kairos: capturing writes");

    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    let mut f = std::fs::File::create(mnt.join("sub/new.bin")).unwrap();
    f.write_all(&payload).unwrap();
    f.sync_all().unwrap(); // returns only once the events are in the store
    drop(f);
    assert_eq!(
        std::fs::read(src.join("sub/new.bin")).unwrap(),
        payload,
        "the real file holds the write"
    );
    // Read from the store while the shim still runs: fsync already made it durable.
    assert_eq!(cat(&store, "sub/new.bin"), payload);
    shim.term();

    assert_eq!(cat(&store, "sub/old.txt"), b"was here before");
}
