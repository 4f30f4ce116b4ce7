//! Shared helpers of the sample-based tests: load a sample (gunzipped in
//! memory), read the oracle files. Missing samples are failures, not skips.

#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};

use kairos_parsers::MemSource;

/// `../shared/samples/ese` from the crate.
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples/ese")
}

/// Reads a file, gunzipping it when its name ends in `.gz`.
pub fn read_maybe_gz(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("sample {}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("gunzip {}: {e}", path.display()));
        out
    } else {
        raw
    }
}

/// The sample `name` (as listed in MANIFEST.tsv) as an in-memory source.
pub fn load(name: &str) -> MemSource {
    MemSource::new(name, read_maybe_gz(&samples().join(name)))
}

/// Every sample file named in MANIFEST.tsv.
pub fn manifest_files() -> Vec<String> {
    let text = std::fs::read_to_string(samples().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let files: Vec<String> = text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    assert!(files.len() >= 18, "MANIFEST lists {} files", files.len());
    files
}

/// One line of `oracle/<file>/tables.tsv`.
#[derive(Debug, Clone)]
pub struct OracleTable {
    pub name: String,
    pub export_file: String,
    pub records: u64,
    pub ok: bool,
}

/// `oracle/<file>/tables.tsv`.
pub fn oracle_tables(file: &str) -> Vec<OracleTable> {
    let path = samples().join("oracle").join(file).join("tables.tsv");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            OracleTable {
                name: f[0].to_owned(),
                export_file: f[1].to_owned(),
                records: f[2].parse().expect("record count"),
                ok: f[3] == "ok",
            }
        })
        .collect()
}

/// The rows of an oracle export file (header first), split on tabs. A
/// trailing empty line is dropped.
pub fn oracle_rows(file: &str, export_file: &str) -> Vec<Vec<String>> {
    let path = samples().join("oracle").join(file).join(export_file);
    let bytes = read_maybe_gz(&path);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    text.split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}
