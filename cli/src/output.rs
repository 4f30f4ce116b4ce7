//! Where exports go. Operators hate restores that overwrite live data and
//! half-written files after an error, so every export to a file goes through
//! [`write`]: it refuses an existing file unless `--force`, writes a
//! temporary file beside the target, syncs it, and renames it into place only
//! when the whole export succeeded.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Runs `fill` against `output` (a file, written atomically) or standard
/// output, and returns what `fill` returned plus a name for the target.
pub fn write<T>(
    output: Option<&Path>,
    force: bool,
    fill: impl FnOnce(&mut dyn Write) -> Result<T>,
) -> Result<(T, String)> {
    let Some(path) = output else {
        let stdout = std::io::stdout();
        let mut w = BufWriter::new(stdout.lock());
        let value = fill(&mut w)?;
        w.flush().context("writing standard output")?;
        return Ok((value, "standard output".into()));
    };
    if !force && path.exists() {
        bail!("{} exists; use --force to overwrite it", path.display());
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".kairos-export-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let mut w = BufWriter::new(tmp);
    let value = fill(&mut w)?;
    let tmp = w
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .and_then(|tmp| tmp.as_file().sync_all().map(|()| tmp))
        .with_context(|| format!("writing {}", path.display()))?;
    let persisted = if force {
        tmp.persist(path)
    } else {
        tmp.persist_noclobber(path)
    };
    persisted.map_err(|e| {
        if e.error.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("{} exists; use --force to overwrite it", path.display())
        } else {
            anyhow::anyhow!("{}: {}", path.display(), e.error)
        }
    })?;
    Ok((value, path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .expect("read dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn failed_export_leaves_nothing_and_existing_files_are_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("orders.csv");
        let err = write(Some(&out), false, |w| -> Result<()> {
            w.write_all(b"partial")?;
            bail!("page 323 unreadable")
        })
        .expect_err("fill failed");
        assert!(err.to_string().contains("page 323"), "{err}");
        assert!(entries(dir.path()).is_empty(), "no partial or temp file");

        std::fs::write(&out, b"live data").expect("seed");
        let err = write(Some(&out), false, |w| Ok(w.write_all(b"new")?)).expect_err("exists");
        assert!(err.to_string().contains("use --force"), "{err}");
        assert_eq!(std::fs::read(&out).expect("read"), b"live data");

        let ((), target) = write(Some(&out), true, |w| Ok(w.write_all(b"new")?)).expect("force");
        assert_eq!(target, out.display().to_string());
        assert_eq!(std::fs::read(&out).expect("read"), b"new");
        assert_eq!(entries(dir.path()), vec!["orders.csv".to_owned()]);
    }
}
