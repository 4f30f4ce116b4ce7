//! The store commands: `init`, `capture`, `streams`, `timeline`, `restore`,
//! `cat`, `mark`, `verify`, `prune`, `gc`. Each is a thin wrapper over
//! `kairos_engine::Store`; the GUI calls the same functions.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use kairos_engine::{Policy, RestoreOptions, Store, StoreOptions, TimeSpec, format_ns};

use crate::args::Global;

/// Store commands (flattened into the top level).
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Create a store in DIR (new or empty directory).
    Init {
        /// The store directory.
        dir: PathBuf,
        /// Block size of new streams in bytes (power of two, 4096–65536).
        #[arg(long, default_value_t = 8192)]
        block_size: u32,
    },
    /// Record FILE's changed blocks as a new version (at --at, default now).
    Capture {
        /// The file to capture.
        file: PathBuf,
        /// Stream name (default: the file's absolute path).
        #[arg(long)]
        stream: Option<String>,
    },
    /// List streams: name, size, first/last version, number of versions.
    /// Lists the streams that exist now (or at `--at`): removed (unlinked)
    /// ones only with `--all`, with their removal time.
    Streams {
        /// Include removed streams, with when they were removed.
        #[arg(long)]
        all: bool,
    },
    /// Versions (instants) and markers of STREAM over time.
    Timeline {
        /// Stream name.
        stream: String,
        /// Start of the range (same forms as --at).
        #[arg(long, value_parser = parse_time)]
        from: Option<TimeSpec>,
        /// End of the range (same forms as --at).
        #[arg(long, value_parser = parse_time)]
        to: Option<TimeSpec>,
    },
    /// Reconstruct STREAM as of --at (default: latest) into OUT.
    /// STREAM may also be a directory prefix (`pgdata` or `pgdata/`): every
    /// stream under it that exists at the instant is written as a file tree
    /// under OUT, so a whole data directory comes back consistent as of one
    /// instant.
    Restore {
        /// Stream name, or a directory prefix of stream names.
        stream: String,
        /// Output file or directory (written beside it under a temporary
        /// name, then renamed into place).
        #[arg(short, long, value_name = "OUT")]
        output: PathBuf,
        /// Overwrite OUT if it exists.
        #[arg(long)]
        force: bool,
        /// Write damaged blocks as zeros and list them instead of failing.
        #[arg(long)]
        allow_damaged: bool,
    },
    /// Write STREAM as of --at (default: latest) to stdout.
    Cat {
        /// Stream name.
        stream: String,
    },
    /// Record a named point in time (--at, default now), e.g. after an application checkpoint.
    Mark {
        /// Marker name (use it as --at mark:NAME).
        name: String,
        /// The stream it belongs to (default: the whole store).
        #[arg(long)]
        stream: Option<String>,
    },
    /// Check every chunk hash and index entry of the store.
    Verify {
        /// Recreate the index from the pack files first.
        #[arg(long)]
        rebuild_index: bool,
    },
    /// Drop versions the retention policy does not keep (then run `gc`).
    Prune {
        /// Keep every version this recent (e.g. 24h).
        #[arg(long, value_parser = parse_duration, default_value = "0s")]
        keep_all: i64,
        /// Keep the last version of each hour this recent (e.g. 7d).
        #[arg(long, value_parser = parse_duration, default_value = "0s")]
        hourly: i64,
        /// Keep the last version of each day this recent (e.g. 90d).
        #[arg(long, value_parser = parse_duration, default_value = "0s")]
        daily: i64,
    },
    /// Rewrite packs to reclaim chunks no version references any more.
    Gc,
}

fn parse_time(s: &str) -> Result<TimeSpec, String> {
    TimeSpec::parse(s).map_err(|e| e.to_string())
}

/// `24h`, `7d`, `90d`, `0s` → nanoseconds.
fn parse_duration(s: &str) -> Result<i64, String> {
    if s.trim() == "0" {
        return Ok(0);
    }
    match TimeSpec::parse(&format!("-{}", s.trim())) {
        Ok(TimeSpec::Ago(d)) => {
            i64::try_from(d.as_nanos()).map_err(|_| format!("duration {s} is too long"))
        }
        _ => Err(format!(
            "cannot read duration {s:?}: expected e.g. 30m, 24h, 7d, 90d"
        )),
    }
}

fn store_dir(global: &Global) -> Result<&Path> {
    global
        .store
        .as_deref()
        .context("no store given: use --store DIR or set KAIROS_STORE")
}

fn open_write(global: &Global) -> Result<Store> {
    let dir = store_dir(global)?;
    Store::open(dir).with_context(|| format!("opening store {}", dir.display()))
}

fn open_read(global: &Global) -> Result<Store> {
    let dir = store_dir(global)?;
    Store::open_read(dir).with_context(|| format!("opening store {}", dir.display()))
}

fn at(store: &Store, spec: Option<&TimeSpec>) -> Result<Option<i64>> {
    spec.map(|s| store.resolve_time(s))
        .transpose()
        .map_err(Into::into)
}

/// A byte progress bar on a terminal; nothing when stderr is piped.
fn progress(total: u64, what: &str) -> Option<ProgressBar> {
    if !std::io::stderr().is_terminal() || total < 64 << 20 {
        return None;
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message(what.to_owned());
    Some(bar)
}

/// Runs a store command.
pub fn run(cmd: StoreCommand, global: &Global) -> Result<()> {
    match cmd {
        StoreCommand::Init { dir, block_size } => {
            let opts = StoreOptions {
                block_size,
                ..StoreOptions::default()
            };
            Store::init(&dir, opts)?;
            println!("created store {} (block size {block_size})", dir.display());
            Ok(())
        }
        StoreCommand::Capture { file, stream } => capture(global, &file, stream),
        StoreCommand::Streams { all } => streams(global, all),
        StoreCommand::Timeline { stream, from, to } => {
            timeline(global, &stream, from.as_ref(), to.as_ref())
        }
        StoreCommand::Restore {
            stream,
            output,
            force,
            allow_damaged,
        } => restore(
            global,
            &stream,
            &output,
            RestoreOptions {
                force,
                allow_damaged,
            },
        ),
        StoreCommand::Cat { stream } => {
            let store = open_read(global)?;
            let view = store.view(&stream, at(&store, global.at.as_ref())?)?;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            view.write_to(&mut out)?;
            out.flush().context("writing to stdout")?;
            Ok(())
        }
        StoreCommand::Mark { name, stream } => {
            let mut store = open_write(global)?;
            let ts = at(&store, global.at.as_ref())?;
            store.mark(&name, stream.as_deref(), ts)?;
            let ts = store.mark_instant(&name)?.unwrap_or_default();
            println!("marked {name} at {}", format_ns(ts));
            Ok(())
        }
        StoreCommand::Verify { rebuild_index } => verify(global, rebuild_index),
        StoreCommand::Prune {
            keep_all,
            hourly,
            daily,
        } => {
            let mut store = open_write(global)?;
            let now = match global.at.as_ref() {
                Some(s) => store.resolve_time(s)?,
                None => kairos_engine::now_ns(),
            };
            let r = store.prune(
                &Policy {
                    keep_all,
                    hourly,
                    daily,
                },
                now,
            )?;
            println!(
                "pruned {} of {} versions; run `kairos gc` to reclaim their space",
                r.instants_dropped, r.instants_before
            );
            Ok(())
        }
        StoreCommand::Gc => {
            let mut store = open_write(global)?;
            let r = store.gc()?;
            println!(
                "rewrote {} packs, dropped {} chunks: {} -> {} bytes",
                r.packs_rewritten, r.chunks_dropped, r.bytes_before, r.bytes_after
            );
            Ok(())
        }
    }
}

fn capture(global: &Global, file: &Path, stream: Option<String>) -> Result<()> {
    let mut store = open_write(global)?;
    let stream = match stream {
        Some(s) => s,
        None => std::path::absolute(file)
            .with_context(|| format!("{}: cannot make the path absolute", file.display()))?
            .display()
            .to_string(),
    };
    let ts = at(&store, global.at.as_ref())?;
    let size = std::fs::metadata(file).map_or(0, |m| m.len());
    let bar = progress(size, "capture");
    let tick = |done: u64, _total: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let r = store
        .capture_file(file, &stream, ts, &tick)
        .with_context(|| format!("capturing {}", file.display()))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    println!(
        "captured {} as {} at {}: {} blocks, {} changed, {} new chunks ({} bytes stored)",
        file.display(),
        r.stream,
        format_ns(r.instant),
        r.blocks_scanned,
        r.blocks_changed,
        r.ack.new_chunks,
        r.ack.stored_bytes
    );
    Ok(())
}

fn streams(global: &Global, all: bool) -> Result<()> {
    let store = open_read(global)?;
    let list = match (all, at(&store, global.at.as_ref())?) {
        (true, _) => store.streams_all()?,
        (false, Some(t)) => store.streams_at(t)?,
        (false, None) => store.streams()?,
    };
    if global.json {
        let v: Vec<serde_json::Value> = list
            .iter()
            .map(|s| {
                serde_json::json!({
                    "name": s.name,
                    "size": s.size,
                    "block_size": s.block_size,
                    "versions": s.versions,
                    "first": s.first.map(format_ns),
                    "last": s.last.map(format_ns),
                    "removed_at": s.removed.map(format_ns),
                })
            })
            .collect();
        println!("{}", serde_json::Value::Array(v));
        return Ok(());
    }
    println!(
        "{:<32} {:>14} {:>9}  {:<30}  {:<30}{}",
        "STREAM",
        "SIZE",
        "VERSIONS",
        "FIRST",
        "LAST",
        if all { "  REMOVED" } else { "" }
    );
    for s in list {
        println!(
            "{:<32} {:>14} {:>9}  {:<30}  {:<30}{}",
            s.name,
            s.size,
            s.versions,
            s.first.map(format_ns).unwrap_or_default(),
            s.last.map(format_ns).unwrap_or_default(),
            s.removed
                .map(|t| format!("  {}", format_ns(t)))
                .unwrap_or_default()
        );
    }
    Ok(())
}

fn timeline(
    global: &Global,
    stream: &str,
    from: Option<&TimeSpec>,
    to: Option<&TimeSpec>,
) -> Result<()> {
    let store = open_read(global)?;
    let from = at(&store, from)?.unwrap_or(i64::MIN);
    let to = at(&store, to)?.unwrap_or(i64::MAX);
    let tl = store.timeline(stream, from, to)?;
    if global.json {
        let v = serde_json::json!({
            "stream": stream,
            "versions": tl.instants.iter().map(|i| serde_json::json!({
                "at": format_ns(i.ts), "blocks_written": i.blocks, "seq": i.seq,
            })).collect::<Vec<_>>(),
            "removed": tl.removals.iter().map(|&t| format_ns(t)).collect::<Vec<_>>(),
            "marks": tl.marks.iter().map(|m| serde_json::json!({
                "name": m.name, "at": format_ns(m.ts), "stream": m.stream,
            })).collect::<Vec<_>>(),
        });
        println!("{v}");
        return Ok(());
    }
    let mut rows: Vec<(i64, String)> = tl
        .instants
        .iter()
        .map(|i| {
            let what = if tl.removals.contains(&i.ts) {
                "removed".to_owned()
            } else {
                format!("version  {} blocks written", i.blocks)
            };
            (i.ts, format!("{}  {what}", format_ns(i.ts)))
        })
        .collect();
    rows.extend(
        tl.marks
            .iter()
            .map(|m| (m.ts, format!("{}  mark     {}", format_ns(m.ts), m.name))),
    );
    rows.sort();
    for (_, r) in rows {
        println!("{r}");
    }
    Ok(())
}

fn restore(global: &Global, stream: &str, out: &Path, opts: RestoreOptions) -> Result<()> {
    let store = open_read(global)?;
    let instant = at(&store, global.at.as_ref())?;
    let prefix = stream.trim_end_matches('/');
    let under = format!("{prefix}/");
    let streams = store.streams_all()?;
    let is_stream = stream == prefix && streams.iter().any(|s| s.name == stream);
    if !is_stream && (stream.ends_with('/') || streams.iter().any(|s| s.name.starts_with(&under))) {
        return restore_directory(&store, prefix, instant, out, opts);
    }
    let view = store.view(stream, instant)?;
    let bar = progress(kairos_parsers::Source::len(&view), "restore");
    let tick = |done: u64, _total: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let r = view.restore_to(out, opts, &tick)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for b in &r.bad_blocks {
        eprintln!(
            "kairos: damaged block {} (bytes {}..) written as zeros: {}",
            b.block, b.offset, b.detail
        );
    }
    println!(
        "restored {stream} as of {} to {} ({} bytes{})",
        format_ns(r.instant),
        out.display(),
        r.bytes,
        if r.bad_blocks.is_empty() {
            String::new()
        } else {
            format!(", {} damaged blocks zeroed", r.bad_blocks.len())
        }
    );
    Ok(())
}

/// Restores every stream under `prefix/` that exists at `instant` as a file
/// tree: into a temporary directory beside `out`, then renamed into place,
/// so an interrupted restore leaves nothing at `out` and an existing `out`
/// is replaced only with `--force`.
fn restore_directory(
    store: &Store,
    prefix: &str,
    instant: Option<i64>,
    out: &Path,
    opts: RestoreOptions,
) -> Result<()> {
    if opts.allow_damaged {
        bail!(
            "--allow-damaged restores one stream at a time: name the stream, not the directory {prefix}/"
        );
    }
    let exists = out.symlink_metadata().is_ok();
    if exists && !opts.force {
        bail!("{} exists (use --force to replace it)", out.display());
    }
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".kairos-restore-")
        .tempdir_in(parent)
        .with_context(|| format!("creating a temporary directory in {}", parent.display()))?;
    let files = kairos_capture::restore_dir(store, prefix, instant, tmp.path())
        .with_context(|| format!("restoring {prefix}/"))?;
    let when = instant.map_or_else(|| "the latest instant".to_owned(), format_ns);
    if files == 0 {
        bail!("no stream under {prefix}/ exists at {when}");
    }
    if exists {
        let meta = out.symlink_metadata()?;
        if meta.is_dir() {
            std::fs::remove_dir_all(out)
        } else {
            std::fs::remove_file(out)
        }
        .with_context(|| format!("removing {} to replace it", out.display()))?;
    }
    let kept = tmp.keep();
    std::fs::rename(&kept, out)
        .with_context(|| format!("renaming {} to {}", kept.display(), out.display()))?;
    println!(
        "restored {files} files under {prefix}/ as of {when} to {}",
        out.display()
    );
    Ok(())
}

fn verify(global: &Global, rebuild: bool) -> Result<()> {
    let dir = store_dir(global)?;
    let store = if rebuild {
        let s = Store::rebuild_index(dir)
            .with_context(|| format!("rebuilding the index of {}", dir.display()))?;
        println!("index rebuilt from the pack files");
        s
    } else {
        open_read(global)?
    };
    let bar = progress(u64::MAX, "verify");
    let tick = |done: u64, total: u64| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    };
    let r = store.verify(&tick)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    for p in &r.problems {
        let place = match (&p.pack, p.offset) {
            (Some(pack), Some(o)) => format!("{} offset {o}: ", pack.display()),
            (Some(pack), None) => format!("{}: ", pack.display()),
            _ => String::new(),
        };
        println!("PROBLEM {place}{}", p.detail);
        for a in p.affected.iter().take(20) {
            println!(
                "  affects stream {} block {} (version of {})",
                a.stream,
                a.block,
                format_ns(a.instant)
            );
        }
        if p.affected.len() > 20 {
            println!("  ... and {} more block versions", p.affected.len() - 20);
        }
    }
    println!(
        "checked {} packs, {} chunks, {} block versions: {}",
        r.packs,
        r.chunks,
        r.versions,
        if r.is_clean() {
            "clean".to_owned()
        } else {
            format!("{} problems", r.problems.len())
        }
    );
    if !r.is_clean() {
        bail!(
            "verify found {} problems in {}",
            r.problems.len(),
            dir.display()
        );
    }
    Ok(())
}
