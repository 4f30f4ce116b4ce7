//! `kairos mount`: `cat MOUNT/at/<T>/stream` equals `kairos restore` at T
//! (and the content that was captured), `latest/` is the newest version,
//! and a stream that did not exist yet at T, or was removed at T, is absent.
#![allow(clippy::unwrap_used)]

mod capture_common;

use std::process::Command;

use capture_common::{Proc, init_store, kairos};

fn capture(store: &std::path::Path, file: &std::path::Path) {
    capture_as(store, file, "data/f");
}

fn capture_as(store: &std::path::Path, file: &std::path::Path, stream: &str) {
    let out = kairos()
        .arg("--store")
        .arg(store)
        .arg("capture")
        .arg(file)
        .args(["--stream", stream])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "capture: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn rfc3339_now() -> String {
    jiff::Timestamp::now().to_string()
}

#[test]
fn cat_through_the_mount_equals_restore_at_the_same_instant() {
    assert!(
        std::path::Path::new("/dev/fuse").exists(),
        "/dev/fuse is missing: kairos mount needs FUSE"
    );
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    init_store(&store);
    let file = dir.path().join("f.bin");

    let before = rfc3339_now();
    std::thread::sleep(std::time::Duration::from_millis(5));
    let v1: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&file, &v1).unwrap();
    capture(&store, &file);
    let t1 = rfc3339_now();
    let mut v2 = v1.clone();
    v2[5000..9000].fill(0xEE);
    v2.extend_from_slice(&[1, 2, 3]);
    std::fs::write(&file, &v2).unwrap();
    capture(&store, &file);
    capture_as(&store, &file, "data/g");
    let t2 = rfc3339_now();
    // data/g is unlinked (as the shim records it) after t2.
    std::thread::sleep(std::time::Duration::from_millis(5));
    {
        use kairos_engine::{Change, Store, WriteEvent};
        let st = Store::open(&store).unwrap();
        let now = i64::try_from(jiff::Timestamp::now().as_nanosecond()).unwrap();
        st.ingest(&[WriteEvent {
            stream: "data/g".into(),
            timestamp_ns: now,
            change: Change::Remove,
        }])
        .unwrap();
    }
    let t3 = rfc3339_now();

    let mnt = dir.path().join("mnt");
    std::fs::create_dir_all(&mnt).unwrap();
    let mut cmd = kairos();
    cmd.arg("--store").arg(&store).arg("mount").arg(&mnt);
    let (mut mount, _) = Proc::start(cmd, "mounted read-only");

    for (t, want) in [(&t1, &v1), (&t2, &v2)] {
        let via_mount = std::fs::read(mnt.join("at").join(t).join("data/f")).unwrap();
        let out = dir.path().join("restored");
        let r = kairos()
            .arg("--store")
            .arg(&store)
            .args(["restore", "data/f", "--force", "--at", t, "-o"])
            .arg(&out)
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "restore: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let restored = std::fs::read(&out).unwrap();
        assert!(via_mount == restored, "at {t}: mount and restore differ");
        assert!(via_mount == *want, "at {t}: not the captured content");
        // The same with sha256sum, as an operator would check it.
        let sum = |p: &std::path::Path| {
            let o = Command::new("sha256sum").arg(p).output().unwrap();
            String::from_utf8_lossy(&o.stdout)
                .split(' ')
                .next()
                .unwrap()
                .to_owned()
        };
        assert_eq!(sum(&mnt.join("at").join(t).join("data/f")), sum(&out));
    }
    assert!(std::fs::read(mnt.join("latest/data/f")).unwrap() == v2);
    let listed: Vec<String> = std::fs::read_dir(mnt.join("at").join(&t1).join("data"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(listed, ["f"]);
    let ls = |dir: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    assert_eq!(ls(&mnt.join("at").join(&t2).join("data")), ["f", "g"]);
    assert!(std::fs::read(mnt.join("at").join(&t2).join("data/g")).unwrap() == v2);
    assert_eq!(
        ls(&mnt.join("at").join(&t3).join("data")),
        ["f"],
        "removed at t3"
    );
    assert!(!mnt.join("at").join(&t3).join("data/g").exists());
    assert_eq!(ls(&mnt.join("latest/data")), ["f"]);
    assert!(
        !mnt.join("at").join(&before).join("data/f").exists(),
        "no version before the first capture"
    );
    assert!(
        std::fs::write(mnt.join("latest/data/f"), b"x").is_err(),
        "read-only"
    );
    mount.term();
    // Already unmounted by SIGTERM; this only guards against a stale mount.
    let _ = Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(&mnt)
        .stderr(std::process::Stdio::null())
        .status();
}
