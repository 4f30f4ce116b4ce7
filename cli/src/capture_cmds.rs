//! The capture commands: `shim`, `nbd` (capture into the local store).
//! Thin wrappers over `kairos_capture`; the GUI calls the same library.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Subcommand;
use kairos_capture::nbd::{self, Volume};
use kairos_capture::shim::{self, Shim};
use kairos_capture::{EventSink, StoreSink};
use kairos_engine::Store;

use crate::args::Global;

/// Capture commands (flattened into the top level).
#[derive(Debug, Subcommand)]
pub enum CaptureCommand {
    /// Capture every write made through MOUNTPOINT (a FUSE passthrough of SOURCE_DIR) into the store.
    Shim {
        /// The directory holding the protected files.
        source_dir: PathBuf,
        /// Where applications open them instead.
        mountpoint: PathBuf,
    },
    /// Export a volume over NBD; every write is captured into stream NAME.
    Nbd {
        /// Stream name of the volume.
        #[arg(long)]
        stream: String,
        /// Volume size in bytes (suffixes K, M, G, T: powers of 1024).
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// Address to listen on, e.g. 127.0.0.1:10809.
        #[arg(long)]
        listen: String,
        /// Image file holding the volume's live bytes (default: NAME.img in
        /// the current directory, '/' in NAME replaced by '_').
        #[arg(long)]
        image: Option<PathBuf>,
    },
}

/// Parses a byte count with an optional K/M/G/T suffix.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix {c:?} (use K, M, G or T)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| format!("invalid size {s:?}: expected a positive byte count like 1073741824 or 1G"))
}

fn store_sink(global: &Global) -> Result<Arc<StoreSink>> {
    let dir = global
        .store
        .as_deref()
        .context("no store given: use --store DIR or set KAIROS_STORE")?;
    let store = Store::open(dir).with_context(|| format!("opening store {}", dir.display()))?;
    Ok(Arc::new(StoreSink::new(store)))
}

/// Runs a capture command.
pub fn run(cmd: CaptureCommand, global: &Global) -> Result<()> {
    match cmd {
        CaptureCommand::Shim {
            source_dir,
            mountpoint,
        } => run_shim(store_sink(global)?, &source_dir, &mountpoint, None),
        CaptureCommand::Nbd {
            stream,
            size,
            listen,
            image,
        } => run_nbd(store_sink(global)?, &stream, size, &listen, image),
    }
}

/// Set by SIGINT/SIGTERM: the long-running commands stop cleanly.
static STOP: AtomicBool = AtomicBool::new(false);

fn install_stop_handler() -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the signal listener")?;
    std::thread::spawn(move || {
        rt.block_on(async {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut int), Ok(mut term)) =
                (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
            else {
                return;
            };
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            STOP.store(true, Ordering::SeqCst);
        });
    });
    Ok(())
}

fn is_mounted(mountpoint: &Path) -> bool {
    let Ok(canon) = std::fs::canonicalize(mountpoint) else {
        return false;
    };
    std::fs::read_to_string("/proc/self/mounts").is_ok_and(|m| {
        m.lines()
            .any(|l| l.split(' ').nth(1) == canon.to_str())
    })
}

/// Mounts the shim and serves until SIGINT/SIGTERM or an external unmount.
pub fn run_shim(
    sink: Arc<dyn EventSink>,
    source: &Path,
    mountpoint: &Path,
    prefix: Option<String>,
) -> Result<()> {
    let shim = Shim::new(source, prefix, sink.clone())
        .with_context(|| format!("shim over {}", source.display()))?;
    let n = shim
        .baseline()
        .with_context(|| format!("recording the current contents of {}", source.display()))?;
    tracing::info!("shim: baseline of {n} existing files recorded");
    install_stop_handler()?;
    let session = shim::spawn(shim, mountpoint).with_context(|| {
        format!(
            "mounting the shim at {} (needs /dev/fuse and fusermount3 from Debian fuse3)",
            mountpoint.display()
        )
    })?;
    eprintln!(
        "kairos: capturing writes to {} made through {} (Ctrl-C or `fusermount3 -u` to stop)",
        source.display(),
        mountpoint.display()
    );
    let mut seen = false;
    while !STOP.load(Ordering::SeqCst) {
        let mounted = is_mounted(mountpoint);
        if seen && !mounted {
            break;
        }
        seen |= mounted;
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(session);
    sink.sync().context("making the last captured writes durable")?;
    Ok(())
}

/// Serves an NBD export until SIGINT/SIGTERM.
pub fn run_nbd(
    sink: Arc<dyn EventSink>,
    stream: &str,
    size: u64,
    listen: &str,
    image: Option<PathBuf>,
) -> Result<()> {
    let image = image.unwrap_or_else(|| PathBuf::from(format!("{}.img", stream.replace('/', "_"))));
    let volume = Arc::new(
        Volume::open(&image, size, stream, sink.clone())
            .with_context(|| format!("volume {stream}"))?,
    );
    let listener = TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    install_stop_handler()?;
    eprintln!(
        "kairos: NBD export {stream} ({size} bytes, image {}) on {}",
        image.display(),
        listener.local_addr().map_or_else(|_| listen.to_owned(), |a| a.to_string())
    );
    {
        let volume = Arc::clone(&volume);
        std::thread::spawn(move || nbd::serve(&listener, &volume));
    }
    while !STOP.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(200));
    }
    volume.flush().context("flushing the volume at exit")
}
