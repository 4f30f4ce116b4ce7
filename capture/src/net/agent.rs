//! `kairos agent`: capture on the protected host into a local spool
//! journal, and a sender that ships the journal to the server.
//!
//! The capture path (shim, NBD) writes into a [`JournalSink`]; the
//! application's fsync is the journal's fsync, so it never waits for the
//! network and nothing it was told is durable can be lost with the server
//! away. The sender, a thread of its own:
//! 1. connects and authenticates; the server's Welcome says up to which
//!    sequence it already holds this agent's events durably, which becomes
//!    the journal's acknowledged watermark;
//! 2. as soon as the capture path appends an event (and at least every
//!    [`AgentConfig::flush_interval`]) writes what the capture path
//!    buffered into the journal file (so writes the application never
//!    fsyncs still leave at once), reads the unacknowledged
//!    records and sends them in batches of up to [`BATCH_BYTES`]. The local
//!    fsync is not on this path: the application's own fsync pays for it,
//!    and the server's ack makes the events durable there anyway;
//! 3. records each Ack in the journal (which starts again at offset 0 once
//!    fully acknowledged and large; the sender then reads from there).
//!
//! On any error (server gone, connection cut, refusal) it logs, waits and
//! starts again at 1; the server deduplicates what it already has.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::journal::JournalSink;
use crate::net::frame::{BATCH_BYTES, FrameError, Message, VERSION, read_blocking, write_blocking};
use crate::sink::{CaptureError, Result};

/// How the agent reaches its server.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    /// Server address (`host:port`).
    pub server: String,
    /// This agent's name (its streams are `NAME/...`).
    pub agent: String,
    /// This agent's token.
    pub token: Vec<u8>,
    /// How often buffered events are written into the spool and shipped.
    pub flush_interval: Duration,
    /// Wait between reconnection attempts.
    pub retry_delay: Duration,
    /// A server that does not answer within this is considered gone.
    pub io_timeout: Duration,
    /// TLS settings (trusted certificates); `None` is plain TCP.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl AgentConfig {
    /// Defaults: ship every 2 ms, retry every 500 ms, 30 s I/O timeout.
    pub fn new(server: &str, agent: &str, token: &[u8]) -> Self {
        Self {
            server: server.to_owned(),
            agent: agent.to_owned(),
            token: token.to_vec(),
            flush_interval: Duration::from_millis(2),
            retry_delay: Duration::from_millis(500),
            io_timeout: Duration::from_secs(30),
            tls: None,
        }
    }
}

/// The running sender.
#[derive(Debug)]
pub struct Agent {
    sink: Arc<JournalSink>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Agent {
    /// Starts shipping `sink`'s journal to the server.
    pub fn start(config: AgentConfig, sink: Arc<JournalSink>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (sink, stop) = (Arc::clone(&sink), Arc::clone(&stop));
            std::thread::spawn(move || sender(&config, &sink, &stop))
        };
        Self {
            sink,
            stop,
            thread: Some(thread),
        }
    }

    /// The spool the capture path writes into.
    pub fn sink(&self) -> &Arc<JournalSink> {
        &self.sink
    }

    /// True once every event captured so far is acknowledged by the server.
    pub fn drained(&self) -> bool {
        self.sink
            .with(|j| !j.has_pending() && j.acked() >= j.last_seq())
    }

    /// Waits up to `timeout` for [`drained`](Self::drained).
    pub fn wait_drained(&self, timeout: Duration) -> bool {
        let end = Instant::now() + timeout;
        while Instant::now() < end {
            if self.drained() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.drained()
    }

    /// Stops the sender (what is not acknowledged stays in the spool).
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Err(e) = self.sink.with(|j| j.persist_acked()) {
            tracing::warn!("agent: recording the acknowledged sequence: {e}");
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.halt();
    }
}

fn sender(config: &AgentConfig, sink: &JournalSink, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        match session(config, sink, stop) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(
                    "agent {}: server {}: {e}; retrying in {:?} (events stay in the spool)",
                    config.agent,
                    config.server,
                    config.retry_delay
                );
                let end = Instant::now() + config.retry_delay;
                while Instant::now() < end && !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
    }
}

/// The connection to the server: plain TCP or TLS over it.
trait Conn: std::io::Read + std::io::Write + Send {}
impl<T: std::io::Read + std::io::Write + Send> Conn for T {}

fn proto(config: &AgentConfig, detail: impl Into<String>) -> CaptureError {
    CaptureError::Protocol {
        peer: config.server.clone(),
        detail: detail.into(),
    }
}

fn frame_err(config: &AgentConfig) -> impl Fn(FrameError) -> CaptureError + '_ {
    move |e| proto(config, e.to_string())
}

/// One connection: handshake, then ship until stopped or broken.
fn session(config: &AgentConfig, sink: &JournalSink, stop: &AtomicBool) -> Result<()> {
    let addrs: Vec<_> = config
        .server
        .to_socket_addrs()
        .map_err(|e| proto(config, format!("resolving: {e}")))?
        .collect();
    let mut last = proto(config, "address resolves to nothing");
    let mut connected = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, config.io_timeout) {
            Ok(s) => {
                connected = Some(s);
                break;
            }
            Err(e) => last = proto(config, format!("connect {addr}: {e}")),
        }
    }
    let sock = connected.ok_or(last)?;
    let io = |e: std::io::Error| proto(config, e.to_string());
    sock.set_nodelay(true).map_err(io)?;
    sock.set_read_timeout(Some(config.io_timeout)).map_err(io)?;
    sock.set_write_timeout(Some(config.io_timeout))
        .map_err(io)?;
    let mut conn: Box<dyn Conn> = match &config.tls {
        None => Box::new(sock),
        Some(tls) => {
            let name = crate::net::tls::server_name(&config.server)?;
            let client = rustls::ClientConnection::new(Arc::clone(tls), name)
                .map_err(|e| proto(config, format!("TLS: {e}")))?;
            Box::new(rustls::StreamOwned::new(client, sock))
        }
    };
    write_blocking(
        &mut conn,
        &Message::Hello {
            version: VERSION,
            agent: config.agent.clone(),
            token: config.token.clone(),
        },
    )
    .map_err(io)?;
    let durable = match read_blocking(&mut conn).map_err(frame_err(config))? {
        Message::Welcome { durable, .. } => durable,
        Message::Refused(reason) => return Err(proto(config, format!("refused: {reason}"))),
        other => return Err(proto(config, format!("unexpected {other:?}"))),
    };
    let mut offset = 0u64;
    let mut acked = sink.with(|j| -> Result<u64> {
        if durable < j.acked() {
            tracing::warn!(
                "agent {}: server holds sequences up to {durable} but had acknowledged {}; resending what the spool still has",
                config.agent,
                j.acked()
            );
        }
        if j.set_acked(durable)? {
            offset = 0;
        }
        Ok(durable)
    })?;
    tracing::info!(
        "agent {}: connected to {}, server holds up to sequence {durable}",
        config.agent,
        config.server
    );
    loop {
        let (batch, seen) = sink.with(|j| -> Result<_> {
            j.write_pending()?;
            Ok((j.read_from(offset, BATCH_BYTES)?, j.last_seq()))
        })?;
        let Some(last) = batch.last() else {
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            sink.wait_appended(seen, config.flush_interval);
            continue;
        };
        let next_offset = last.next_offset;
        let events: Vec<_> = batch
            .into_iter()
            .filter(|r| r.seq > acked)
            .map(|r| (r.seq, r.event))
            .collect();
        if let Some(&(top, _)) = events.last() {
            write_blocking(&mut conn, &Message::Events(events)).map_err(io)?;
            match read_blocking(&mut conn).map_err(frame_err(config))? {
                Message::Ack(seq) if seq >= top => acked = seq,
                Message::Ack(seq) => {
                    return Err(proto(config, format!("acknowledged {seq}, expected {top}")));
                }
                Message::Refused(reason) => {
                    return Err(proto(config, format!("refused: {reason}")));
                }
                other => return Err(proto(config, format!("unexpected {other:?}"))),
            }
            if sink.with(|j| j.set_acked(acked))? {
                offset = 0;
                continue;
            }
        }
        offset = next_offset;
    }
}
