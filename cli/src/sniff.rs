//! `kairos sniff FILE`.

use std::path::Path;

use anyhow::{Result, bail};
use kairos_parsers::{FileSource, Sniffed, sniff};

/// Prints the detected format of `path`.
pub fn run(path: &Path, json: bool) -> Result<()> {
    let src = FileSource::open(path)?;
    // Library errors already name the file, the offset and the field.
    let found = sniff(&src)?;
    if let Sniffed::Unknown { hint } = &found {
        let looks = hint
            .map(|h| format!(" (looks like: {h})"))
            .unwrap_or_default();
        bail!(
            "{}: not a SQL Server, ESE or PST/OST file{looks}",
            path.display()
        );
    }
    if json {
        let mut v = serde_json::to_value(&found)?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("file".into(), path.display().to_string().into());
            obj.insert("format_name".into(), found.format_name().into());
            obj.insert("version".into(), found.version().into());
            obj.insert("page_size".into(), found.page_size().into());
        }
        println!("{v}");
        return Ok(());
    }
    println!("file:      {}", path.display());
    println!("format:    {}", found.format_name());
    if let Some(v) = found.version() {
        println!("version:   {v}");
    }
    if let Some(p) = found.page_size() {
        println!("page size: {p}");
    }
    match &found {
        Sniffed::SqlServerData {
            database_name: Some(name),
            ..
        } => println!("database:  {name}"),
        Sniffed::Ese { state, .. } => println!("state:     {state}"),
        _ => {}
    }
    Ok(())
}
