//! `kairos demo DIR` as a new user runs it: build the store, then run every
//! command of the printed walkthrough and check what each one shows against
//! independent sources (the generator, the sample files, FACTS.tsv, the
//! libpff oracle).

use std::path::{Path, PathBuf};
use std::process::Command;

use kairos_sample_data::demo::DemoOptions;
use kairos_sample_data::exchange::generate_exchange_edb;
use serde_json::Value;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples")
}

/// Runs kairos in `cwd` and returns (exit code, stdout, stderr).
fn run(cwd: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args(args)
        .current_dir(cwd)
        .env_remove("KAIROS_STORE")
        .output()
        .expect("run kairos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

/// Expected row count of a Northwind table from the samples' FACTS.tsv.
fn facts_rows(table: &str) -> usize {
    let facts = std::fs::read_to_string(samples().join("mdf/FACTS.tsv")).expect("FACTS.tsv");
    facts
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|f| f.first() == Some(&"itsligo_northwnd.mdf") && f.get(1) == Some(&table))
        .and_then(|f| f.get(2)?.parse().ok())
        .expect("Northwind row count in FACTS.tsv")
}

/// `MessageDocumentId`s of one JSONL dump.
fn document_ids(jsonl: &str) -> Vec<i64> {
    jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("jsonl row")["MessageDocumentId"]
                .as_i64()
                .expect("MessageDocumentId")
        })
        .collect()
}

/// The version of `stream` in force at `at_ns`.
fn version_at(stream: &Value, at_ns: i64) -> &Value {
    stream["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .rev()
        .find(|v| v["at_ns"].as_i64().expect("at_ns") <= at_ns)
        .expect("a version at or before the instant")
}

#[test]
fn demo_walkthrough_runs_and_tells_the_story() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cwd = tmp.path();
    let store = cwd.join("demo store");
    let (code, out, err) = run(
        cwd,
        &["--json", "demo", s(&store), "--samples", s(&samples())],
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exchange/mailboxes.edb"), "progress: {err}");
    let report: Value = serde_json::from_str(&out).expect("JSON report");
    let streams = report["streams"].as_array().expect("streams");
    let names: Vec<&str> = streams.iter().map(|v| str_of(v, "name")).collect();
    assert_eq!(
        names,
        [
            "exchange/mailboxes.edb",
            "sql/northwind.mdf",
            "outlook/outlook.pst"
        ]
    );
    assert!(report["notes"].as_array().expect("notes").is_empty());

    // Every walkthrough command exits as announced.
    let mut outputs = Vec::new();
    for step in report["walkthrough"].as_array().expect("walkthrough") {
        let args: Vec<&str> = step["args"]
            .as_array()
            .expect("args")
            .iter()
            .map(|a| a.as_str().expect("arg"))
            .collect();
        let (code, out, err) = run(cwd, &args);
        let want = i32::from(!step["succeeds"].as_bool().expect("succeeds"));
        assert_eq!(code, want, "{args:?}: {err}");
        outputs.push((args.join(" "), out, err));
    }
    let output_of = |needle: &str| {
        outputs
            .iter()
            .find(|(cmd, _, _)| cmd.contains(needle))
            .unwrap_or_else(|| panic!("no walkthrough step with {needle}"))
    };

    // The deleted message: present at 14:01, gone at 14:03.
    let d = &report["deleted_message"];
    let doc = d["document_id"].as_i64().expect("document_id");
    let table = str_of(d, "message_table");
    let dump = |at: &str, table: &str| {
        let (code, out, err) = run(
            cwd,
            &[
                "--store",
                s(&store),
                "--at",
                at,
                "ese",
                "dump",
                "exchange/mailboxes.edb",
                table,
                "--format",
                "jsonl",
            ],
        );
        assert_eq!(code, 0, "{err}");
        out
    };
    let before = document_ids(&dump(str_of(d, "present_at"), table));
    let after = document_ids(&dump(str_of(d, "gone_at"), table));
    assert!(before.contains(&doc), "{doc} missing at 14:01: {before:?}");
    assert!(!after.contains(&doc), "{doc} still there at 14:03");
    assert_eq!(before.len(), after.len() + 1);
    let attachment = d["attachments"][0].as_str().expect("attachment name");
    let (_, present, _) = output_of(&format!(
        "dump exchange/mailboxes.edb {}",
        str_of(d, "attachment_table")
    ));
    assert!(
        present.contains(attachment),
        "{attachment} not in the 14:01 dump"
    );
    assert!(!dump(str_of(d, "gone_at"), str_of(d, "attachment_table")).contains(attachment));
    let (_, t_before, _) = output_of(&format!("{} ese tables", str_of(d, "present_at")));
    let (_, t_after, _) = output_of(&format!("{} ese tables", str_of(d, "gone_at")));
    assert!(t_before.contains(table) && t_before != t_after);
    // The same story through `kairos mail`: listed in its folder and
    // exported as EML at 14:01; the export at 14:03 fails (step marked
    // failing above).
    let subject = str_of(d, "subject");
    let (_, listed, _) = output_of(&format!(
        "mail ls exchange/mailboxes.edb {}",
        str_of(d, "folder_item")
    ));
    assert!(listed.contains(subject), "{subject} not listed: {listed}");
    let eml = std::fs::read(cwd.join("deleted-message.eml")).expect("EML exported");
    let parsed = mail_parser::MessageParser::default()
        .parse(&eml)
        .expect("EML parses");
    assert_eq!(parsed.subject(), Some(subject));
    let names: Vec<&str> = parsed
        .attachments()
        .filter_map(mail_parser::MimeHeaders::attachment_name)
        .collect();
    assert_eq!(names, [attachment]);
    assert!(!cwd.join("gone.eml").exists());
    let (_, _, gone_err) = output_of("-o gone.eml");
    assert!(gone_err.contains("not found"), "{gone_err}");

    // Restores equal the captured bytes: every version of every stream by
    // its BLAKE3 in the report, and the first versions against independent
    // sources (the generator, the sample files).
    for (si, stream) in streams.iter().enumerate() {
        for (vi, v) in stream["versions"]
            .as_array()
            .expect("versions")
            .iter()
            .enumerate()
        {
            let out = cwd.join(format!("r{si}-{vi}"));
            let (code, _, err) = run(
                cwd,
                &[
                    "--store",
                    s(&store),
                    "--at",
                    str_of(v, "at"),
                    "restore",
                    str_of(stream, "name"),
                    "-o",
                    s(&out),
                ],
            );
            assert_eq!(code, 0, "{err}");
            let bytes = std::fs::read(&out).expect("restored");
            assert_eq!(blake3::hash(&bytes).to_hex().as_str(), str_of(v, "blake3"));
        }
    }
    let (generated, _) =
        generate_exchange_edb(&DemoOptions::today(None).exchange).expect("generate");
    assert_eq!(std::fs::read(cwd.join("r0-0")).expect("r0-0"), generated);
    let mdf = std::fs::read(samples().join("mdf/itsligo_northwnd.mdf")).expect("mdf");
    assert_eq!(std::fs::read(cwd.join("r1-0")).expect("r1-0"), mdf);
    let pst = std::fs::read(samples().join("pst/aspose_Outlook.pst")).expect("pst");
    assert_eq!(std::fs::read(cwd.join("r2-0")).expect("r2-0"), pst);

    // Marks resolve: the restore at mark:before-cleanup is the version in
    // force at the marker's instant.
    let marks = report["marks"].as_array().expect("marks");
    let mark = marks
        .iter()
        .find(|m| m["name"] == "before-cleanup")
        .expect("before-cleanup");
    let restored = std::fs::read(cwd.join("mailboxes-before-cleanup.edb")).expect("restored");
    let want = version_at(&streams[0], mark["at_ns"].as_i64().expect("at_ns"));
    assert_eq!(
        blake3::hash(&restored).to_hex().as_str(),
        str_of(want, "blake3")
    );
    let (_, timeline, _) = output_of("timeline exchange/mailboxes.edb");
    assert!(timeline.contains("before-cleanup"), "{timeline}");

    // Northwind: the damaged page is named, the other rows exported; the
    // morning instant has every row FACTS.tsv lists.
    let p = &report["damaged_page"];
    let total = facts_rows("Orders");
    assert_eq!(p["rows_total"].as_u64(), Some(total as u64));
    let on_page = p["rows_on_page"].as_u64().expect("rows_on_page") as usize;
    assert!(on_page > 0);
    let (_, _, err) = output_of("-o orders-latest.csv");
    assert!(err.contains(&format!("page {}", p["page"])), "{err}");
    let lines = |f: &str| {
        std::fs::read_to_string(cwd.join(f))
            .expect("export")
            .lines()
            .count()
    };
    assert_eq!(lines("orders-latest.csv"), 1 + total - on_page);
    assert_eq!(lines("orders-morning.csv"), 1 + total);

    // Outlook: scrambled at the latest instant, every oracle folder at the
    // end-of-day marker.
    let (_, listing, _) = output_of("mail ls outlook/outlook.pst --recursive");
    let oracle = std::fs::read_to_string(samples().join("pst/oracle/aspose_Outlook.pst/items.tsv"))
        .expect("oracle");
    let folders = oracle.lines().skip(1).filter_map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        (f.get(6) == Some(&"export")).then(|| f[0])
    });
    for folder in folders {
        let leaf = folder.rsplit('/').next().unwrap_or(folder);
        assert!(listing.contains(leaf), "{leaf} missing from {listing}");
    }
}

#[test]
fn demo_prints_the_walkthrough_and_guards_the_directory() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let cwd = tmp.path();
    let store = cwd.join("store");
    let empty = cwd.join("no-samples");
    std::fs::create_dir(&empty).expect("mkdir");
    let (code, out, err) = run(cwd, &["demo", s(&store), "--samples", s(&empty)]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Try next:"), "{out}");
    assert!(
        out.contains(&format!("kairos --store {} streams", s(&store))),
        "{out}"
    );
    assert!(out.contains("note: sql/northwind.mdf skipped"), "{out}");
    assert!(out.contains("note: outlook/outlook.pst skipped"), "{out}");
    let (code, streams, err) = run(cwd, &["--store", s(&store), "streams"]);
    assert_eq!(code, 0, "{err}");
    assert!(streams.contains("exchange/mailboxes.edb"));
    assert!(!streams.contains("northwind"));

    // A second run needs --force, which replaces only a kairos store.
    let (code, _, err) = run(cwd, &["demo", s(&store), "--samples", s(&empty)]);
    assert_eq!(code, 1);
    assert!(err.contains("--force"), "{err}");
    let (code, _, err) = run(cwd, &["demo", s(&store), "--force", "--samples", s(&empty)]);
    assert_eq!(code, 0, "{err}");
    let other = cwd.join("other");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("keep.txt"), b"mine").expect("write");
    let (code, _, err) = run(cwd, &["demo", s(&other), "--force"]);
    assert_eq!(code, 1);
    assert!(err.contains("no kairos store"), "{err}");
    assert_eq!(
        std::fs::read(other.join("keep.txt")).expect("kept"),
        b"mine"
    );
}
