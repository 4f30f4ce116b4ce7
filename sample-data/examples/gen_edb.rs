//! Writes a generated Exchange-schema mailbox database and its manifest.
//!
//! `cargo run -p kairos-sample-data --example gen_edb -- OUT.edb [--page-size 8192|32768] [--seed N] [--bulk N] [--mailboxes N] [--omit MAILBOX:DOC_ID]... [--compress]`
//! writes `OUT.edb` and `OUT.edb.manifest.json`.

use kairos_sample_data::exchange::{ExchangeOptions, generate_exchange_edb};

fn value<T: std::str::FromStr>(
    args: &mut impl Iterator<Item = String>,
    flag: &str,
) -> Result<T, String> {
    let v = args.next().ok_or(format!("{flag} needs a value"))?;
    v.parse().map_err(|_| format!("{flag}: bad value {v:?}"))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut out = None;
    let mut opts = ExchangeOptions::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--page-size" => opts.page_size = value(&mut args, &a)?,
            "--seed" => opts.seed = value(&mut args, &a)?,
            "--bulk" => opts.bulk_messages = value(&mut args, &a)?,
            "--mailboxes" => opts.mailboxes = value(&mut args, &a)?,
            "--compress" => opts.compress_columns = true,
            "--omit" => {
                let v: String = value(&mut args, &a)?;
                let (mb, doc) = v
                    .split_once(':')
                    .ok_or("--omit takes MAILBOX:DOCUMENT_ID")?;
                opts.omit_messages.push((mb.parse()?, doc.parse()?));
            }
            _ if out.is_none() => out = Some(a),
            _ => return Err(format!("unexpected argument {a}").into()),
        }
    }
    let out =
        out.ok_or("usage: gen_edb OUT.edb [--page-size N] [--seed N] [--bulk N] [--mailboxes N] [--omit MAILBOX:DOC_ID] [--compress]")?;
    let (bytes, manifest) = generate_exchange_edb(&opts)?;
    std::fs::write(&out, &bytes)?;
    std::fs::write(
        format!("{out}.manifest.json"),
        serde_json::to_string_pretty(&manifest)?,
    )?;
    eprintln!(
        "wrote {out} ({} bytes, {} pages of {})",
        bytes.len(),
        bytes.len() / opts.page_size as usize,
        opts.page_size
    );
    Ok(())
}
