//! What a SOURCE argument names: a file, or — with `--store` — a stream of
//! the store as of `--at`, read in place through an engine view. Every
//! reader command (sql, ese, mail) opens its input here, so `--at` means the
//! same everywhere, `mark:NAME` included.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use kairos_parsers::{FileSource, Source};

use crate::args::Global;

/// A file, or stream `name` of the store as of `--at` (an engine view).
pub fn open(name: &str, global: &Global) -> Result<Arc<dyn Source>> {
    let Some(dir) = &global.store else {
        if global.at.is_some() {
            bail!("--at needs --store: without a store, {name} is a file as it is now");
        }
        return Ok(Arc::new(FileSource::open(name)?));
    };
    let store = kairos_engine::Store::open_read(dir)
        .with_context(|| format!("opening store {}", dir.display()))?;
    let at = match &global.at {
        Some(spec) => Some(store.resolve_time(spec)?),
        None => None,
    };
    Ok(Arc::new(store.view(name, at)?))
}
