//! Oracles shared by the integration tests: libesedb's `esedbinfo` /
//! `esedbexport` (Debian libesedb-utils) and dissect.esedb (Python, PyPI).

#![allow(dead_code)] // each test binary uses a subset

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// Lines of tool output that signal a problem.
fn problem_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("unable")
                || l.contains("error")
                || l.contains("fail")
                || l.contains("unsupported")
        })
        .map(str::to_owned)
        .collect()
}

/// Runs `esedbinfo`; asserts exit 0 and no error lines; returns table names.
pub fn esedbinfo_tables(db: &Path) -> Vec<String> {
    let out = Command::new("esedbinfo")
        .arg(db)
        .output()
        .expect("run esedbinfo (libesedb-utils)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "esedbinfo failed: {stderr}");
    let problems = problem_lines(&format!("{stdout}\n{stderr}"));
    assert!(problems.is_empty(), "esedbinfo reported: {problems:?}");
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Table: "))
        .filter_map(|l| {
            let name = l
                .split('\t')
                .find(|s| !s.trim().is_empty() && s.trim().parse::<u32>().is_err())?;
            Some(
                name.rsplit_once(" (")
                    .map_or(name, |(n, _)| n)
                    .trim()
                    .to_owned(),
            )
        })
        .collect()
}

/// A table as esedbexport wrote it.
pub struct Exported {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Exported {
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("column {name} in {:?}", self.header))
    }
}

/// Runs `esedbexport -t`; asserts exit 0 and no error lines; parses the TSVs.
pub fn esedbexport(db: &Path, dir: &Path) -> HashMap<String, Exported> {
    let target = dir.join("export");
    let out = Command::new("esedbexport")
        .arg("-t")
        .arg(&target)
        .arg(db)
        .output()
        .expect("run esedbexport");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "esedbexport failed: {text}");
    let problems = problem_lines(&text);
    assert!(problems.is_empty(), "esedbexport reported: {problems:?}");
    let mut tables = HashMap::new();
    for entry in std::fs::read_dir(dir.join("export.export")).expect("export dir") {
        let path = entry.expect("dir entry").path();
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("file name")
            .to_owned();
        let name = file
            .rsplit_once('.')
            .map_or(file.as_str(), |(n, _)| n)
            .to_owned();
        let text = std::fs::read_to_string(&path).expect("read export");
        let mut lines = text.lines();
        let header = lines
            .next()
            .unwrap_or_default()
            .split('\t')
            .map(str::to_owned)
            .collect();
        let rows = lines
            .map(|l| l.split('\t').map(str::to_owned).collect())
            .collect();
        tables.insert(name, Exported { header, rows });
    }
    tables
}

fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dissect_dump.py")
}

/// Every table of `db` as read by dissect.esedb: table → rows of column → JSON.
pub fn dissect_dump(db: &Path) -> HashMap<String, Vec<HashMap<String, serde_json::Value>>> {
    let out = Command::new("python3")
        .arg(script())
        .arg(db)
        .output()
        .expect("python3 with dissect.esedb (pip install dissect.esedb)");
    assert!(
        out.status.success(),
        "dissect.esedb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("dissect JSON")
}

/// Decompresses compressed RTF blobs with the `compressed_rtf` package.
pub fn decompress_rtf(blobs: &[Vec<u8>]) -> Vec<String> {
    serde_json::from_value(python_filter("--rtf", blobs)).expect("rtf list")
}

/// Parses RFC 5322 messages with Python's `email` package.
pub fn parse_eml(messages: &[Vec<u8>]) -> Vec<serde_json::Value> {
    serde_json::from_value(python_filter("--eml", messages)).expect("eml list")
}

fn python_filter(mode: &str, blobs: &[Vec<u8>]) -> serde_json::Value {
    use std::io::Write;
    let mut child = Command::new("python3")
        .arg(script())
        .arg(mode)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 (with compressed-rtf for --rtf)");
    let hexes: Vec<String> = blobs.iter().map(hex::encode).collect();
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(serde_json::to_string(&hexes).expect("json").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{mode} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON")
}
