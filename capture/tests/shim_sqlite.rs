//! Acceptance: SQLite in WAL mode commits numbered transactions through the
//! shim's mount point; for 20 random instants, the data directory rebuilt
//! from the captured events at that instant opens, passes
//! `PRAGMA integrity_check`, and holds every transaction committed before
//! the instant (and none that had not started).
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use kairos_capture::now_ns;
use rand::Rng;

/// The payload of row `n`, as an SQL expression over `n`: varied lengths so
/// rows spill over pages and the WAL grows unevenly.
const PAYLOAD: &str = "replace(printf('%.*c', 50 + (n * 37) % 3000, 'x'), 'x', n || ',')";

#[test]
fn sqlite_wal_through_the_shim_restores_at_20_random_instants() {
    sqlite_wal_restores_at_20_random_instants(false);
}

/// The same with the kernel's writeback cache: instants between commits may
/// lag the application, but every commit (an fsync of the WAL) is captured
/// before it returns, and whatever an instant shows is a database SQLite
/// recovers.
#[test]
fn sqlite_wal_through_the_shim_with_writeback_cache_restores_at_20_random_instants() {
    sqlite_wal_restores_at_20_random_instants(true);
}

fn sqlite_wal_restores_at_20_random_instants(writeback_cache: bool) {
    let fx = common::ShimFixture::mount_store_with(writeback_cache);
    let db = fx.mnt.join("app/data.db");
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();

    let mut sqlite = Command::new("sqlite3")
        .arg(&db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("sqlite3 CLI must be installed (Debian sqlite3)");
    let mut input = sqlite.stdin.take().unwrap();
    let mut output = BufReader::new(sqlite.stdout.take().unwrap());
    let mut ask = |sql: &str| -> String {
        writeln!(input, "{sql}\nSELECT 'ok-done';").unwrap();
        input.flush().unwrap();
        let mut all = String::new();
        loop {
            let mut line = String::new();
            assert!(output.read_line(&mut line).unwrap() > 0, "sqlite3 exited");
            if line.trim() == "ok-done" {
                return all;
            }
            all.push_str(&line);
        }
    };
    assert_eq!(ask("PRAGMA journal_mode=WAL;").trim(), "wal");
    ask("PRAGMA synchronous=FULL; CREATE TABLE t(n INTEGER PRIMARY KEY, payload TEXT NOT NULL);");

    let start = now_ns();
    let total = 400u64;
    let mut committed_at = Vec::new();
    for n in 1..=total {
        ask(&format!(
            "BEGIN; INSERT INTO t(n, payload) SELECT {n}, {PAYLOAD} FROM (SELECT {n} AS n); COMMIT;"
        ));
        committed_at.push(now_ns());
        if n % 97 == 0 {
            // Move WAL frames into the main file as a busy application would.
            ask("PRAGMA wal_checkpoint(TRUNCATE);");
        }
        if n % 50 == 0 {
            ask("DELETE FROM t WHERE n < 0; VACUUM;");
        }
    }
    drop(input);
    assert!(sqlite.wait().unwrap().success());
    let end = now_ns();

    // The writes reached the real files under the source directory.
    let real = Command::new("sqlite3")
        .arg(fx.src.join("app/data.db"))
        .arg("SELECT count(*) FROM t;")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&real.stdout).trim(),
        total.to_string()
    );

    let streams = fx.store_streams_all();
    assert!(
        streams.iter().any(|s| s == "app/data.db-wal"),
        "the WAL file was captured: {streams:?}"
    );
    // The live streams are the files the application left (SQLite removes
    // its WAL when the last connection closes).
    let mut left: Vec<String> = std::fs::read_dir(fx.src.join("app"))
        .unwrap()
        .map(|e| format!("app/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    left.sort();
    let mut live = fx.store_streams();
    live.sort();
    assert_eq!(live, left, "live streams");
    let mut rng = rand::rng();
    let mut instants: Vec<i64> = (0..20).map(|_| rng.random_range(start..end)).collect();
    instants.sort_unstable();
    for at in instants {
        let committed = committed_at.iter().filter(|&&t| t <= at).count() as u64;
        eprintln!("instant {at}: {committed} transactions committed before it");
        let dir = fx.restore_store_at(at);
        let out = Command::new("sqlite3")
            .arg(dir.path().join("app/data.db"))
            .arg(format!(
                "PRAGMA integrity_check; SELECT count(*) FROM t WHERE n <= {committed} AND payload = {PAYLOAD}; SELECT coalesce(max(n), 0) FROM t;"
            ))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "instant {at}: restored database does not open: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.first(),
            Some(&"ok"),
            "instant {at}: integrity_check: {text}"
        );
        assert_eq!(
            lines.get(1).and_then(|l| l.parse::<u64>().ok()),
            Some(committed),
            "instant {at}: every transaction committed before it is present, intact"
        );
        let max: u64 = lines.get(2).and_then(|l| l.parse().ok()).unwrap();
        assert!(
            max <= committed + 1,
            "instant {at}: row {max} present but only {committed} committed"
        );
    }
}
