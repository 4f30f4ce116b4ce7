//! The capture commands: `shim`, `nbd` (capture into the local store),
//! `serve` (the backup server) and `agent` (capture on a protected host,
//! shipped to a server). Thin wrappers over `kairos_capture`; the GUI calls
//! the same library.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use kairos_capture::journal::JournalOptions;
use kairos_capture::mount::{self, StoreFs};
use kairos_capture::nbd::{self, Volume};
use kairos_capture::net::agent::{Agent, AgentConfig};
use kairos_capture::net::server::{Server, ServerConfig};
use kairos_capture::net::tls;
use kairos_capture::net::tokens::Tokens;
use kairos_capture::shim::{self, Shim};
use kairos_capture::sink::submit_file;
use kairos_capture::{EventSink, Journal, JournalSink, StoreSink, now_ns};
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
        /// Let the kernel cache writes and send them in large batches
        /// (faster small writes; instants between fsyncs may lag the
        /// application, each fsync and close stays exact).
        #[arg(long)]
        writeback_cache: bool,
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
    /// Backup server: agents authenticate with their token and ship write events into the store.
    Serve {
        /// Address to listen on, e.g. 0.0.0.0:7070 (port 0: any free port).
        #[arg(long)]
        listen: String,
        /// File of `NAME TOKEN` lines, one per agent.
        #[arg(long)]
        tokens: PathBuf,
        /// Serve TLS with this certificate chain (PEM); needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// Private key (PEM) of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Read-only FUSE view of the store: latest/<stream> and at/<TIME>/<stream>.
    Mount {
        /// Where to mount it.
        mountpoint: PathBuf,
    },
    /// Capture on this host into a spool journal and ship it to a backup server.
    Agent {
        /// The server's address (host:port).
        #[arg(long)]
        server: String,
        /// File holding this agent's `NAME TOKEN` line.
        #[arg(long)]
        token: PathBuf,
        /// Spool journal directory (events wait here while the server is away).
        #[arg(long)]
        spool: PathBuf,
        /// Zero-filled space the spool keeps written ahead of its end, so
        /// bursts up to this size overwrite existing disk blocks instead of
        /// allocating new ones (suffixes K, M, G; 0: none).
        #[arg(long, value_parser = parse_size, default_value = "64M")]
        spool_reserve: u64,
        /// Connect with TLS, trusting the certificates in this PEM file (the
        /// server's self-signed certificate or its CA).
        #[arg(long)]
        tls_ca: Option<PathBuf>,
        /// What to capture.
        #[command(subcommand)]
        what: AgentCapture,
    },
}

/// What an agent captures. Stream names get the agent's name in front.
#[derive(Debug, Subcommand)]
pub enum AgentCapture {
    /// A FUSE passthrough of SOURCE_DIR at MOUNTPOINT (streams NAME/<relative path>).
    Shim {
        /// The directory holding the protected files.
        source_dir: PathBuf,
        /// Where applications open them instead.
        mountpoint: PathBuf,
        /// Let the kernel cache writes and send them in large batches
        /// (faster small writes; instants between fsyncs may lag the
        /// application, each fsync and close stays exact).
        #[arg(long)]
        writeback_cache: bool,
    },
    /// An NBD export (stream NAME/<stream>).
    Nbd {
        /// Stream name of the volume (under the agent's name).
        #[arg(long)]
        stream: String,
        /// Volume size in bytes (suffixes K, M, G, T).
        #[arg(long, value_parser = parse_size)]
        size: u64,
        /// Address to listen on.
        #[arg(long)]
        listen: String,
        /// Image file holding the live bytes (default: <stream>.img).
        #[arg(long)]
        image: Option<PathBuf>,
    },
    /// Ship FILE's current contents once (stream NAME/<stream>), then exit when acknowledged.
    Capture {
        /// The file.
        file: PathBuf,
        /// Stream name under the agent's name (default: the file name).
        #[arg(long)]
        stream: Option<String>,
    },
}

/// Parses a byte count with an optional K/M/G/T suffix.
fn parse_size(input: &str) -> Result<u64, String> {
    let text = input.trim();
    let (num, mult) = match text.char_indices().last() {
        Some((at, suffix)) if suffix.is_ascii_alphabetic() => {
            let mult = match suffix.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix {suffix:?} (use K, M, G or T)")),
            };
            (&text[..at], mult)
        }
        _ => (text, 1),
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .filter(|&n| n > 0)
        .ok_or_else(|| {
            format!("invalid size {input:?}: expected a positive byte count like 1073741824 or 1G")
        })
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
            writeback_cache,
        } => run_shim(
            &store_sink(global)?,
            &source_dir,
            &mountpoint,
            None,
            writeback_cache,
        ),
        CaptureCommand::Nbd {
            stream,
            size,
            listen,
            image,
        } => run_nbd(&store_sink(global)?, &stream, size, &listen, image),
        CaptureCommand::Serve {
            listen,
            tokens,
            tls_cert,
            tls_key,
        } => {
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(tls::server_config(&cert, &key)?),
                _ => None,
            };
            run_serve(global, &listen, &tokens, tls)
        }
        CaptureCommand::Mount { mountpoint } => run_mount(global, &mountpoint),
        CaptureCommand::Agent {
            server,
            token,
            spool,
            spool_reserve,
            tls_ca,
            what,
        } => {
            let tls = tls_ca.as_deref().map(tls::client_config).transpose()?;
            let options = JournalOptions {
                reserve: spool_reserve,
                ..JournalOptions::default()
            };
            run_agent(&server, &token, &spool, options, tls, what)
        }
    }
}

fn run_serve(
    global: &Global,
    listen: &str,
    tokens: &Path,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<()> {
    let dir = global
        .store
        .as_deref()
        .context("no store given: use --store DIR or set KAIROS_STORE")?;
    let tokens = Tokens::load(tokens)?;
    let store = Store::open(dir).with_context(|| format!("opening store {}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the server runtime")?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let addr = listener.local_addr()?;
        let mode = if tls.is_some() { " (TLS)" } else { "" };
        eprintln!("kairos: serving store {}{mode} on {addr}", dir.display());
        let server = Server::new(store, tokens, ServerConfig::default());
        let stop = async {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = signal(SignalKind::terminate())?;
            tokio::select! {
                r = tokio::signal::ctrl_c() => r,
                _ = term.recv() => Ok(()),
            }
        };
        tokio::select! {
            r = server.run(listener, tls) => r.context("server stopped"),
            r = stop => r.context("waiting for signals"),
        }
    })
}

fn run_agent(
    server: &str,
    token: &Path,
    spool: &Path,
    options: JournalOptions,
    tls: Option<Arc<rustls::ClientConfig>>,
    what: AgentCapture,
) -> Result<()> {
    let tokens = Tokens::load(token)?;
    let (name, secret) = tokens.single().with_context(|| {
        format!(
            "{}: an agent's token file holds exactly one `NAME TOKEN` line",
            token.display()
        )
    })?;
    let journal = Journal::open_with(spool, options)
        .with_context(|| format!("opening spool {}", spool.display()))?;
    let sink = Arc::new(JournalSink::new(journal));
    let mut config = AgentConfig::new(server, name, secret);
    config.tls = tls;
    let agent = Agent::start(config, Arc::clone(&sink));
    let dyn_sink: Arc<dyn EventSink> = sink.clone();
    let result = match what {
        AgentCapture::Shim {
            source_dir,
            mountpoint,
            writeback_cache,
        } => run_shim(
            &dyn_sink,
            &source_dir,
            &mountpoint,
            Some(name.to_owned()),
            writeback_cache,
        ),
        AgentCapture::Nbd {
            stream,
            size,
            listen,
            image,
        } => {
            let image =
                image.unwrap_or_else(|| PathBuf::from(format!("{}.img", stream.replace('/', "_"))));
            run_nbd(
                &dyn_sink,
                &format!("{name}/{stream}"),
                size,
                &listen,
                Some(image),
            )
        }
        AgentCapture::Capture { file, stream } => {
            let stream = match stream {
                Some(s) => s,
                None => file
                    .file_name()
                    .and_then(|n| n.to_str())
                    .map(str::to_owned)
                    .context("the file has no UTF-8 name; give --stream")?,
            };
            submit_file(sink.as_ref(), &file, &format!("{name}/{stream}"), now_ns())
                .and_then(|()| sink.sync())
                .with_context(|| format!("capturing {}", file.display()))?;
            if !agent.wait_drained(Duration::from_mins(10)) {
                bail!(
                    "the server did not acknowledge within 10 minutes; the events stay in the spool for the next run"
                );
            }
            Ok(())
        }
    };
    // Give the sender a moment to ship what the last fsync made durable.
    if !agent.wait_drained(Duration::from_secs(5)) {
        eprintln!(
            "kairos: some events are not acknowledged yet; they stay in the spool and are sent at the next start"
        );
    }
    agent.stop();
    result
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
            let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) else {
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
    std::fs::read_to_string("/proc/self/mounts")
        .is_ok_and(|m| m.lines().any(|l| l.split(' ').nth(1) == canon.to_str()))
}

/// Mounts the shim and serves until SIGINT/SIGTERM or an external unmount.
pub fn run_shim(
    sink: &Arc<dyn EventSink>,
    source: &Path,
    mountpoint: &Path,
    prefix: Option<String>,
    writeback_cache: bool,
) -> Result<()> {
    let shim = Shim::new(source, prefix, Arc::clone(sink))
        .with_context(|| format!("shim over {}", source.display()))?
        .writeback_cache(writeback_cache);
    let n = shim
        .baseline()
        .with_context(|| format!("recording the current contents of {}", source.display()))?;
    tracing::info!("shim: baseline of {n} existing files recorded");
    install_stop_handler()?;
    let session = shim::spawn(shim, mountpoint).with_context(|| mount_failed(mountpoint))?;
    eprintln!(
        "kairos: capturing writes to {} made through {} (Ctrl-C or `fusermount3 -u` to stop)",
        source.display(),
        mountpoint.display()
    );
    wait_unmount(mountpoint);
    drop(session);
    sink.sync()
        .context("making the last captured writes durable")?;
    Ok(())
}

fn mount_failed(mountpoint: &Path) -> String {
    format!(
        "mounting at {} (needs /dev/fuse and fusermount3 from Debian fuse3)",
        mountpoint.display()
    )
}

/// Returns on SIGINT/SIGTERM or once the mount point was unmounted.
fn wait_unmount(mountpoint: &Path) {
    let mut seen = false;
    while !STOP.load(Ordering::SeqCst) {
        let mounted = is_mounted(mountpoint);
        if seen && !mounted {
            break;
        }
        seen |= mounted;
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Mounts the store read-only until SIGINT/SIGTERM or an external unmount.
fn run_mount(global: &Global, mountpoint: &Path) -> Result<()> {
    let dir = global
        .store
        .as_deref()
        .context("no store given: use --store DIR or set KAIROS_STORE")?;
    let store =
        Store::open_read(dir).with_context(|| format!("opening store {}", dir.display()))?;
    install_stop_handler()?;
    let session =
        mount::spawn(StoreFs::new(store), mountpoint).with_context(|| mount_failed(mountpoint))?;
    eprintln!(
        "kairos: store {} mounted read-only at {} (latest/, at/<TIME>/; Ctrl-C or `fusermount3 -u` to stop)",
        dir.display(),
        mountpoint.display()
    );
    wait_unmount(mountpoint);
    drop(session);
    Ok(())
}

/// Serves an NBD export until SIGINT/SIGTERM.
pub fn run_nbd(
    sink: &Arc<dyn EventSink>,
    stream: &str,
    size: u64,
    listen: &str,
    image: Option<PathBuf>,
) -> Result<()> {
    let image = image.unwrap_or_else(|| PathBuf::from(format!("{}.img", stream.replace('/', "_"))));
    let volume = Arc::new(
        Volume::open(&image, size, stream, Arc::clone(sink))
            .with_context(|| format!("volume {stream}"))?,
    );
    let listener = TcpListener::bind(listen).with_context(|| format!("listening on {listen}"))?;
    install_stop_handler()?;
    eprintln!(
        "kairos: NBD export {stream} ({size} bytes, image {}) on {}",
        image.display(),
        listener
            .local_addr()
            .map_or_else(|_| listen.to_owned(), |a| a.to_string())
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
