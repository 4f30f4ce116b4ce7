//! Acceptance: PostgreSQL through the shim. initdb and the server run on the
//! mount point (as the `postgres` user, own data directory and socket);
//! pgbench runs for 30 s with a per-transaction log (completion time of each
//! committed transaction). For 5 random instants, the data directory
//! restored from the store at that instant starts (crash recovery) and
//! `pgbench_history` holds at least every transaction committed before the
//! instant, and at most those plus the ones in flight.
//!
//! Needs Debian `postgresql` (server, pgbench, psql) and runs as root (FUSE,
//! `runuser`). The store holds files only: empty directories of the data
//! directory are recreated from the live tree after restore, and the stale
//! `postmaster.pid` is removed, as an operator restoring a crash-consistent
//! copy does.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kairos_capture::now_ns;
use rand::Rng;

fn pg_bin() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is not installed (Debian postgresql)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("pgbench").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no PostgreSQL with pgbench under /usr/lib/postgresql")
}

fn as_postgres(bin: &Path, args: &[&str]) -> Output {
    let out = Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(bin)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}{}",
        bin.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn chown_postgres(p: &Path) {
    assert!(
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(p)
            .status()
            .unwrap()
            .success()
    );
}

fn start(bin: &Path, data: &Path, sock: &Path, port: &str) {
    let opts = format!("-k {} -p {port} -c listen_addresses=''", sock.display());
    as_postgres(
        &bin.join("pg_ctl"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-o",
            &opts,
            "-w",
            "-t",
            "120",
            "-l",
            sock.join("server.log").to_str().unwrap(),
            "start",
        ],
    );
}

fn stop(bin: &Path, data: &Path) {
    as_postgres(
        &bin.join("pg_ctl"),
        &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
    );
}

fn dirs_below(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                out.push(e.path().strip_prefix(root).unwrap().to_owned());
                stack.push(e.path());
            }
        }
    }
    out
}

#[test]
fn postgres_pgbench_through_the_shim_restores_at_5_random_instants() {
    let bin = pg_bin();
    let fx = common::ShimFixture::mount_store();
    let sock = fx.root.path().join("sock");
    std::fs::create_dir_all(&sock).unwrap();
    chown_postgres(&sock);
    let port = (54_000 + std::process::id() % 1000).to_string();
    let data = fx.mnt.join("pgdata");
    std::fs::create_dir(&data).unwrap();
    chown_postgres(&data);
    as_postgres(
        &bin.join("initdb"),
        &[
            "-D",
            data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
    );
    start(&bin, &data, &sock, &port);
    let conn = ["-h", sock.to_str().unwrap(), "-p", &port];
    as_postgres(
        &bin.join("pgbench"),
        &[&conn[..], &["-i", "-s", "2", "postgres"]].concat(),
    );

    let logs = fx.root.path().join("pgbench-log");
    std::fs::create_dir_all(&logs).unwrap();
    chown_postgres(&logs);
    let prefix = logs.join("tx");
    let t_start = now_ns();
    as_postgres(
        &bin.join("pgbench"),
        &[
            &conn[..],
            &[
                "-T",
                "30",
                "-c",
                "4",
                "-j",
                "2",
                "-l",
                "--log-prefix",
                prefix.to_str().unwrap(),
                "postgres",
            ],
        ]
        .concat(),
    );
    let t_end = now_ns();
    stop(&bin, &data);

    // Completion instants of committed transactions, from pgbench's log:
    // `client tx_no latency_us script epoch_s epoch_us`.
    let mut committed: Vec<i64> = Vec::new();
    for e in std::fs::read_dir(&logs).unwrap() {
        for line in std::fs::read_to_string(e.unwrap().path()).unwrap().lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (s, us): (i64, i64) = (f[4].parse().unwrap(), f[5].parse().unwrap());
            committed.push(s * 1_000_000_000 + us * 1000);
        }
    }
    committed.sort_unstable();
    assert!(
        committed.len() > 100,
        "pgbench committed only {} transactions",
        committed.len()
    );
    let clients = 4usize;

    let skeleton = dirs_below(&fx.src.join("pgdata"));
    let mut rng = rand::rng();
    for k in 0..5 {
        let at = rng.random_range(t_start..t_end);
        let before = committed.partition_point(|&t| t <= at);
        let restored = fx.restore_store_at(at);
        let pgdata = restored.path().join("pgdata");
        for d in &skeleton {
            std::fs::create_dir_all(pgdata.join(d)).unwrap();
        }
        let _ = std::fs::remove_file(pgdata.join("postmaster.pid"));
        std::fs::set_permissions(
            restored.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        chown_postgres(&pgdata);
        std::fs::set_permissions(&pgdata, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        start(&bin, &pgdata, &sock, &port);
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--", "psql", "-At"])
            .args(conn)
            .args(["-c", "SELECT count(*) FROM pgbench_history", "postgres"])
            .output()
            .unwrap();
        stop(&bin, &pgdata);
        let rows: usize = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or_else(|_| {
                panic!(
                    "instant {k}: query failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        eprintln!(
            "instant {k}: {before} transactions committed before it, {rows} rows in pgbench_history"
        );
        assert!(
            rows >= before,
            "instant {k}: {rows} rows but {before} transactions committed before it"
        );
        assert!(
            rows <= before + clients,
            "instant {k}: {rows} rows, only {before} committed (+{clients} in flight)"
        );
    }
}
