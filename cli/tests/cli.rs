//! The `kairos` binary as an operator runs it: exit codes, one-line errors.

mod common;

use common::{run, samples};

#[test]
fn sniff_reports_format_version_and_page_size() {
    let f = samples().join("mdf/itsligo_northwnd.mdf");
    let (code, out, err) = run(&["sniff", f.to_str().expect("utf8")]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("SQL Server data file (primary, .mdf)"),
        "{out}"
    );
    assert!(
        out.contains("SQL Server 2008 (internal version 655)"),
        "{out}"
    );
    assert!(out.contains("page size: 8192"), "{out}");

    let f = samples().join("ese/goese_qmgr.db");
    let (code, out, _) = run(&["--json", "sniff", f.to_str().expect("utf8")]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["format"], "ese");
    assert_eq!(v["page_size"], 16384);
    assert_eq!(v["state"], "dirty_shutdown");
}

#[test]
fn sniff_truncated_or_random_file_is_one_line_error_exit_1() {
    let dir = tempfile::tempdir().expect("tmp");
    let cut = dir.path().join("cut.mdf");
    let full = std::fs::read(samples().join("mdf/itsligo_pubs.mdf")).expect("sample");
    std::fs::write(&cut, &full[..30_000]).expect("write");
    let mut x: u32 = 12345;
    let random: Vec<u8> = (0..65_536)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 16) as u8
        })
        .collect();
    let rand = dir.path().join("random.bin");
    std::fs::write(&rand, random).expect("write");
    let cut_ese = dir.path().join("cut.edb");
    let ese = std::fs::read(samples().join("ese/dissect_basic.edb")).expect("sample");
    std::fs::write(&cut_ese, &ese[..5000]).expect("write");

    for (file, needle) in [
        (&cut, "truncated"),
        (&rand, "not a SQL Server, ESE or PST/OST file"),
        (&cut_ese, "truncated"),
    ] {
        let name = file.to_str().expect("utf8");
        let (code, out, err) = run(&["sniff", name]);
        assert_eq!(code, 1, "{name}: {out} {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(err.contains(name) && err.contains(needle), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    let (code, _, err) = run(&["sniff", "/nonexistent/file.mdf"]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/file.mdf"), "{err}");
}

#[test]
fn bad_time_is_a_usage_error_exit_1() {
    let (code, _, err) = run(&["--at", "yesterday", "sniff", "x"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(
        err.contains("yesterday") && err.contains("RFC 3339"),
        "{err}"
    );
    let (code, out, _) = run(&["--version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("kairos "), "{out}");
    let (code, out, _) = run(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("--store") && out.contains("--at") && out.contains("sniff"),
        "{out}"
    );
}
