//! Sniffs every file under `../shared/samples` and checks the detected format
//! against what the manifests say the file is.

use std::io::Read;
use std::path::{Path, PathBuf};

use kairos_parsers::{EseState, MemSource, PstClient, PstEncoding, Sniffed, Source, sniff};

fn samples_dir() -> PathBuf {
    std::env::var_os("KAIROS_SAMPLES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples"),
        PathBuf::from,
    )
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Reads a sample, transparently gunzipping `.gz` files (some ESE samples
/// are stored compressed).
fn load(path: &Path) -> MemSource {
    let raw = std::fs::read(path).expect("read sample");
    let name = path.display().to_string();
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("gunzip sample");
        MemSource::new(name, out)
    } else {
        MemSource::new(name, raw)
    }
}

#[test]
fn every_sample_sniffs_to_its_format() {
    let root = samples_dir();
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(
        files.len() > 50,
        "expected the shared samples at {}",
        root.display()
    );
    let (mut mdf, mut ldf, mut ese, mut pst) = (0, 0, 0, 0);
    for path in &files {
        let rel = path
            .strip_prefix(&root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        let in_fixture_dir =
            rel.contains("/oracle/") || rel.contains("/tools/") || rel.contains("/truth/");
        let base = rel.trim_end_matches(".gz");
        let ext = Path::new(base)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let src = load(path);
        let got = sniff(&src).unwrap_or_else(|e| panic!("{rel}: {e}"));
        match (rel.split('/').next(), ext.as_str(), in_fixture_dir) {
            (Some("mdf"), "mdf", false) => {
                mdf += 1;
                let Sniffed::SqlServerData {
                    primary: true,
                    internal_version: Some(v),
                    ..
                } = got
                else {
                    panic!("{rel}: {got:?}");
                };
                assert!((539..=957).contains(&v), "{rel}: version {v}");
            }
            (Some("mdf"), "ldf", false) => {
                ldf += 1;
                assert_eq!(got, Sniffed::SqlServerLog, "{rel}");
            }
            (Some("ese"), "edb" | "dat" | "mdb" | "db", false) => {
                ese += 1;
                let Sniffed::Ese {
                    format_version: 0x620,
                    page_size,
                    state,
                    ..
                } = got
                else {
                    panic!("{rel}: {got:?}");
                };
                assert!([4096, 8192, 16384, 32768].contains(&page_size), "{rel}");
                if rel.contains("dirty") || rel.contains("qmgr") {
                    assert_eq!(state, EseState::DirtyShutdown, "{rel}");
                }
            }
            (Some("pst"), "pst" | "ost", false) => {
                pst += 1;
                let Sniffed::Pst {
                    client, encoding, ..
                } = got
                else {
                    panic!("{rel}: {got:?}");
                };
                assert_eq!(client == PstClient::Ost, ext == "ost", "{rel}");
                let ansi = rel.contains("sample2") || rel.contains("test_ansi");
                assert_eq!(encoding == PstEncoding::Ansi, ansi, "{rel}");
            }
            _ => assert!(matches!(got, Sniffed::Unknown { .. }), "{rel}: {got:?}"),
        }
        assert!(src.len() > 0 || matches!(got, Sniffed::Unknown { .. }));
    }
    assert_eq!((mdf, ldf), (16, 4), "SQL Server samples");
    assert!(ese >= 15, "ESE samples: {ese}");
    assert!(pst >= 12, "PST samples: {pst}");
}

#[test]
fn versions_match_the_manifest() {
    let manifest =
        std::fs::read_to_string(samples_dir().join("mdf/MANIFEST.tsv")).expect("manifest");
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, version) = (cols[0], cols[6]);
        let Some(expected) = version
            .split(' ')
            .next()
            .and_then(|v| v.parse::<u16>().ok())
        else {
            continue; // log files have no version
        };
        let got = sniff(&load(&samples_dir().join("mdf").join(file))).expect("sniff");
        let Sniffed::SqlServerData {
            internal_version, ..
        } = got
        else {
            panic!("{file}: {got:?}");
        };
        assert_eq!(internal_version, Some(expected), "{file}");
    }
}

#[test]
fn truncated_samples_error_or_sniff_without_panic() {
    let root = samples_dir();
    for rel in [
        "mdf/itsligo_pubs.mdf",
        "ese/dissect_basic.edb",
        "pst/pstsdk_sample1.pst",
    ] {
        let full = load(&root.join(rel));
        for cut in [
            0usize, 1, 3, 4, 8, 11, 12, 100, 239, 240, 511, 512, 4095, 8191, 8192, 8193, 20_000,
            73_728, 81_919,
        ] {
            let cut = cut.min(full.bytes().len());
            let src = MemSource::new(rel, full.bytes()[..cut].to_vec());
            let _ = sniff(&src);
        }
        let cut = MemSource::new(rel, full.bytes()[..20_000.min(full.bytes().len())].to_vec());
        if rel.starts_with("mdf/") {
            let err = sniff(&cut).expect_err("boot page missing");
            assert!(err.to_string().contains("truncated"), "{err}");
        }
    }
}
