//! `kairos mail ls|export` as an operator runs it, on the PST/OST samples:
//! listing and export, overwrite protection, corrupt input (each damaged
//! file in its own `kairos` process, so a fault inside libpff — C code —
//! fails that one case with a clear message instead of the test suite), and
//! reading through the store at two instants.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kairos_parsers::{ExportKind, FieldValue, ItemPath, ItemStatus, ItemTree, MemSource};

fn kairos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
}

fn pst_samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/pst")
}

fn pst_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(pst_samples())
        .expect("PST samples")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pst" || e == "ost"))
        .collect();
    v.sort();
    assert!(v.len() >= 12, "PST samples missing");
    v
}

/// Exit code (None: killed by a signal), stdout, stderr; a run over
/// `limit` is killed and reported as a hang.
fn run_limited(args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = kairos()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kairos");
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = out.read_to_end(&mut s);
        s
    });
    let ereader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err.read_to_end(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("kairos {args:?} did not finish within {limit:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let out = String::from_utf8_lossy(&reader.join().expect("join")).into_owned();
    let err = String::from_utf8_lossy(&ereader.join().expect("join")).into_owned();
    (status.code(), out, err)
}

fn run(args: &[&str]) -> (i32, String, String) {
    let (code, out, err) = run_limited(args, Duration::from_mins(2));
    (code.unwrap_or(-1), out, err)
}

#[test]
fn ls_and_export_a_message_and_an_attachment() {
    let f = pst_samples().join("pstsdk_sample1.pst");
    let f = f.to_str().expect("utf8");
    let (code, out, err) = run(&["mail", "ls", f]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "one mailbox: {out}");
    assert!(out.starts_with("sample1\tmailbox\tlive"), "{out}");

    let (code, out, err) = run(&["mail", "ls", "-r", f]);
    assert_eq!(code, 0, "{err}");
    let msg_line = out
        .lines()
        .find(|l| l.contains("\tmessage\tlive"))
        .expect("a live message");
    let msg_path = msg_line.split('\t').next().expect("path");
    assert!(
        msg_path.starts_with("sample1/Top of Outlook data file/Sample1/Here is a sample message [")
    );
    assert!(
        out.lines().any(|l| l.contains("\trecovered\t")),
        "recovered listed: {out}"
    );

    let (code, out, _) = run(&["--json", "mail", "ls", f, "sample1"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    let names: Vec<&str> = v
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(names.contains(&"Top of Outlook data file") && names.contains(&"Recovered"));

    let dir = tempfile::tempdir().expect("tmp");
    let eml = dir.path().join("m.eml");
    let eml_s = eml.to_str().expect("utf8");
    let (code, _, err) = run(&["mail", "export", f, msg_path, "-o", eml_s]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&eml).expect("eml");
    assert!(
        text.contains("Subject: Here is a sample message\r\n"),
        "{text}"
    );
    // Never overwrite without --force.
    let (code, _, err) = run(&["mail", "export", f, msg_path, "-o", eml_s]);
    assert_eq!(code, 1);
    assert!(err.contains("exists") && err.contains("--force"), "{err}");
    let (code, _, err) = run(&["mail", "export", f, msg_path, "-o", eml_s, "--force"]);
    assert_eq!(code, 0, "{err}");

    let att = format!("{msg_path}/1_leah_thumper.jpg");
    let jpg = dir.path().join("a.jpg");
    let (code, _, err) = run(&["mail", "export", f, &att, "-o", jpg.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    let oracle = pst_samples().join(
        "oracle/pstsdk_sample1.pst/pff.export/Top of Outlook data file/Sample1/Message00001/Attachments/1_leah_thumper.jpg",
    );
    assert_eq!(
        std::fs::read(&jpg).expect("jpg"),
        std::fs::read(oracle).expect("oracle")
    );

    let (code, _, err) = run(&["mail", "ls", f, "sample1/No such folder"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not found") && err.contains("No such folder"),
        "{err}"
    );
}

/// Truncated and bit-flipped copies of every sample, each listed and
/// exported by its own kairos process: a clear one-line error or a
/// (partial) listing, never a signal, a panic or a hang.
#[test]
fn corrupt_samples_never_crash_the_cli() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut cases = 0;
    let mut failures = Vec::new();
    for file in pst_files() {
        let data = std::fs::read(&file).expect("sample");
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let len = data.len();
        let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
        for cut in [0, 100, 512, 4096, 17_408, len / 3, len / 2, len - 1000] {
            variants.push((format!("cut{cut}"), data[..cut.min(len)].to_vec()));
        }
        // Flip bytes in the header, the B-tree pages and data blocks.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ len as u64;
        for i in 0..10 {
            let mut d = data.clone();
            for _ in 0..24 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = if i < 3 {
                    (x % 600) as usize
                } else {
                    (x % len as u64) as usize
                };
                d[at] ^= 1 << (x % 8);
            }
            variants.push((format!("flip{i}"), d));
        }
        for (tag, bytes) in variants {
            let path = dir.path().join(format!("{tag}_{name}"));
            std::fs::write(&path, &bytes).expect("write");
            let p = path.to_str().expect("utf8");
            let (code, out, err) = run_limited(&["mail", "ls", "-r", p], Duration::from_mins(1));
            cases += 1;
            match code {
                None => failures.push(format!(
                    "{tag}_{name}: killed by a signal (fault in libpff?)"
                )),
                Some(0) => {}
                Some(1) => {
                    let last = err.trim_end().lines().last().unwrap_or("");
                    if !last.starts_with("kairos: ") || !err.contains(p) {
                        failures.push(format!("{tag}_{name}: unclear error: {err}"));
                    }
                }
                Some(c) => failures.push(format!("{tag}_{name}: exit {c}: {err}")),
            }
            if err.contains("panicked") {
                failures.push(format!("{tag}_{name}: panic: {err}"));
            }
            // Export every message the damaged file still lists.
            for line in out.lines().filter(|l| l.contains("\tmessage\t")).take(5) {
                let item = line.split('\t').next().expect("path");
                let o = dir.path().join("out.eml");
                let (code, _, err) = run_limited(
                    &[
                        "mail",
                        "export",
                        p,
                        item,
                        "-o",
                        o.to_str().expect("utf8"),
                        "--force",
                    ],
                    Duration::from_mins(1),
                );
                if !matches!(code, Some(0 | 1)) || err.contains("panicked") {
                    failures.push(format!("{tag}_{name} export {item}: {code:?} {err}"));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(cases >= 200, "{cases}");
}

/// A recursive listing with the export result of every message: what must
/// stay identical between a direct read and a read through the store.
fn snapshot(tree: &dyn ItemTree) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![ItemPath::root()];
    while let Some(p) = stack.pop() {
        let Ok(children) = tree.children(&p) else {
            out.push(format!("{p}: unlistable"));
            continue;
        };
        for item in children {
            let fields: Vec<String> = item.fields.iter().map(|f| f.value.to_string()).collect();
            let mut line = format!("{} {:?} {}", item.path, item.status, fields.join("|"));
            if item.exports.contains(&ExportKind::Eml) {
                let mut eml = Vec::new();
                match tree.export(&item.path, ExportKind::Eml, &mut eml) {
                    Ok(()) => {
                        line.push_str(" eml=");
                        line.push_str(&eml.len().to_string());
                    }
                    Err(_) => line.push_str(" eml=error"),
                }
            }
            out.push(line);
            if item.has_children {
                stack.push(item.path);
            }
        }
    }
    out
}

#[test]
fn mail_through_the_store_at_two_instants() {
    let sample = pst_samples().join("pstsdk_sample1.pst");
    let data = std::fs::read(&sample).expect("sample");
    let direct =
        kairos_exchange::open_tree(Arc::new(MemSource::new("sample", data.clone()))).expect("open");
    let baseline = snapshot(direct.as_ref());

    // Find an 8 KiB block whose damage harms some items but not the file
    // as a whole (not the header or the B-tree roots).
    let block = 8192;
    let (damaged, damaged_snapshot) = (1..data.len() / block)
        .rev()
        .find_map(|b| {
            let mut d = data.clone();
            d[b * block..(b + 1) * block].fill(0);
            let tree =
                kairos_exchange::open_tree(Arc::new(MemSource::new("sample", d.clone()))).ok()?;
            let snap = snapshot(tree.as_ref());
            let changed = snap.iter().filter(|l| !baseline.contains(l)).count();
            (changed > 0 && snap.len() >= baseline.len() - 1).then_some((d, snap))
        })
        .expect("a block whose damage is visible in some items");
    assert!(
        damaged_snapshot
            .iter()
            .any(|l| l.contains("Damaged") || l.contains("eml=error") || l.contains("unlistable")),
        "the damage is reported: {damaged_snapshot:#?}"
    );

    let dir = tempfile::tempdir().expect("tmp");
    let store = dir.path().join("store");
    let work = dir.path().join("sample.pst");
    let s = store.to_str().expect("utf8");
    let w = work.to_str().expect("utf8");
    let (code, _, err) = run(&["init", s]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&work, &data).expect("write");
    let t1 = "2026-11-24T10:00:00Z";
    let t2 = "2026-11-24T11:00:00Z";
    let (code, _, err) = run(&[
        "--store", s, "capture", w, "--stream", "mail.pst", "--at", t1,
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(&work, &damaged).expect("write");
    let (code, _, err) = run(&[
        "--store", s, "capture", w, "--stream", "mail.pst", "--at", t2,
    ]);
    assert_eq!(code, 0, "{err}");

    // Every sample, captured at T1, lists through the store exactly as the
    // file does (the unreadable one fails the same way).
    for file in pst_files() {
        let f = file.to_str().expect("utf8");
        let stream = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let (code, _, err) = run(&["--store", s, "capture", f, "--stream", &stream, "--at", t1]);
        assert_eq!(code, 0, "{err}");
        let (dcode, direct, _) = run(&["mail", "ls", "-r", f]);
        let (vcode, viewed, _) = run(&["--store", s, "--at", t1, "mail", "ls", "-r", &stream]);
        assert_eq!((vcode, &viewed), (dcode, &direct), "{stream}");
    }

    // At T1 the store listing equals the direct listing of the original.
    std::fs::write(&work, &data).expect("write");
    let (code, direct_ls, err) = run(&["mail", "ls", "-r", w]);
    assert_eq!(code, 0, "{err}");
    let (code, at_t1, err) = run(&["--store", s, "--at", t1, "mail", "ls", "-r", "mail.pst"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(at_t1, direct_ls);

    // At T2 it equals the direct listing of the damaged file: the damaged
    // items are reported, every other item lists and exports.
    std::fs::write(&work, &damaged).expect("write");
    let (_, direct_damaged, _) = run(&["mail", "ls", "-r", w]);
    let (_, at_t2, _) = run(&["--store", s, "--at", t2, "mail", "ls", "-r", "mail.pst"]);
    assert_eq!(at_t2, direct_damaged);
    assert_ne!(at_t2, at_t1);
    let unchanged: Vec<&String> = baseline
        .iter()
        .filter(|l| damaged_snapshot.contains(l))
        .collect();
    assert!(!unchanged.is_empty(), "other items survive");
    let tmp = dir.path().join("x.eml");
    for line in at_t2.lines().filter(|l| l.contains("\tmessage\tlive")) {
        let item = line.split('\t').next().expect("path");
        let (code, _, err) = run(&[
            "--store",
            s,
            "--at",
            t2,
            "mail",
            "export",
            "mail.pst",
            item,
            "-o",
            tmp.to_str().expect("utf8"),
            "--force",
        ]);
        assert_eq!(code, 0, "{item}: {err}");
    }
    // And the field values the store shows at T1 are the file's.
    let tree = kairos_exchange::open_tree(Arc::new(MemSource::new("s", data))).expect("open");
    let boxes = tree.children(&ItemPath::root()).expect("root");
    assert!(matches!(boxes[0].status, ItemStatus::Live));
    assert!(
        boxes[0]
            .fields
            .iter()
            .any(|f| matches!(&f.value, FieldValue::Text(t) if t.contains("PST")))
    );
}
