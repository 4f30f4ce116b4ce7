//! `kairos serve`: the backup server. Agents connect, authenticate with
//! their token, and stream write events; the server ingests them into the
//! store and acknowledges once they are durable there.
//!
//! Guarantees:
//! - an agent may only write streams named `AGENT/...`; anything else ends
//!   the connection with a log line;
//! - replays are deduplicated by (agent, sequence): the highest sequence
//!   ingested for each agent is kept *in the store itself*, in the stream
//!   `.kairos/agents/AGENT/seq`, written in the same ingest batch as the
//!   events, so "events stored" and "sequence recorded" are one atomic
//!   commit and a crash between them is impossible;
//! - bounded frames ([`MAX_FRAME`](crate::net::frame::MAX_FRAME)) and
//!   timeouts (hello, idle, frame body): garbage, oversized or slow clients
//!   are dropped with a log line and cost the others nothing but a task.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kairos_engine::{Store, StoreError};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::event::{Change, WriteEvent, now_ns};
use crate::net::frame::{FrameError, Message, VERSION, check_length};
use crate::net::tokens::Tokens;
use crate::sink::{CaptureError, Result};
use crate::store_sink::to_engine;

/// Timeouts of the server.
#[derive(Debug, Clone, Copy)]
pub struct ServerConfig {
    /// A new connection must authenticate within this.
    pub hello_timeout: Duration,
    /// An authenticated connection with no frame for this long is dropped.
    pub idle_timeout: Duration,
    /// Once a frame's length arrived, its body must arrive within this.
    pub frame_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            hello_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_mins(5),
            frame_timeout: Duration::from_secs(30),
        }
    }
}

/// The stream holding the highest ingested sequence of `agent`.
pub fn sequence_stream(agent: &str) -> String {
    format!(".kairos/agents/{agent}/seq")
}

/// The backup server.
pub struct Server {
    store: Store,
    tokens: Tokens,
    /// Per agent, the highest sequence durably ingested (`None`: not read
    /// from the store yet). Each agent's slot is locked across that agent's
    /// ingest, so two connections of one agent (a replay racing a lingering
    /// connection) never ingest the same events twice, while different
    /// agents' ingests run at once and share the engine's group commit.
    agents: Mutex<HashMap<String, Arc<Mutex<Option<u64>>>>>,
    config: ServerConfig,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("tokens", &self.tokens)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnError {
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
    #[error("refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Capture(#[from] CaptureError),
}

impl Server {
    /// A server writing into `store` (opened for writing: the server is the
    /// store's single writer) and accepting the agents in `tokens`.
    pub fn new(store: Store, tokens: Tokens, config: ServerConfig) -> Arc<Self> {
        Arc::new(Self {
            store,
            tokens,
            agents: Mutex::new(HashMap::new()),
            config,
        })
    }

    /// Runs `f` on the store (ingests may run meanwhile: what `f` sees is
    /// the store as of some acknowledged ingest).
    pub fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.store)
    }

    /// The durable-sequence slot of `agent`.
    fn slot(&self, agent: &str) -> Arc<Mutex<Option<u64>>> {
        let mut agents = self.agents.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(agents.entry(agent.to_owned()).or_default())
    }

    /// Accepts agents until the listener fails; with `tls`, every
    /// connection must complete a TLS handshake first.
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> std::io::Result<()> {
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        loop {
            let (sock, peer) = match listener.accept().await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = sock.set_nodelay(true);
            let me = Arc::clone(&self);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                match acceptor {
                    None => me.connection(sock, peer).await,
                    Some(acceptor) => {
                        let handshake =
                            tokio::time::timeout(me.config.hello_timeout, acceptor.accept(sock));
                        match handshake.await {
                            Ok(Ok(tls)) => me.connection(tls, peer).await,
                            Ok(Err(e)) => {
                                tracing::warn!("serve: {peer}: TLS handshake failed: {e}");
                            }
                            Err(_) => tracing::warn!("serve: {peer}: TLS handshake timed out"),
                        }
                    }
                }
            });
        }
    }

    async fn connection<S: AsyncRead + AsyncWrite + Unpin>(
        self: Arc<Self>,
        mut sock: S,
        peer: SocketAddr,
    ) {
        let mut agent = None;
        let result = self.converse(&mut sock, &mut agent).await;
        let who = agent.as_deref().unwrap_or("-");
        match result {
            Ok(()) => tracing::info!("serve: {peer} agent {who}: disconnected"),
            Err(ConnError::Refused(reason)) => {
                tracing::warn!("serve: {peer} agent {who}: refused: {reason}");
                let _ = write_frame(&mut sock, &Message::Refused(reason)).await;
            }
            Err(e) => tracing::warn!("serve: {peer} agent {who}: connection dropped: {e}"),
        }
    }

    async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
        self: &Arc<Self>,
        sock: &mut S,
        who: &mut Option<String>,
    ) -> Result<(), ConnError> {
        let hello = read_frame(
            sock,
            self.config.hello_timeout,
            self.config.frame_timeout,
            "hello",
        )
        .await?
        .ok_or(ConnError::Timeout("hello (connection closed)"))?;
        let Message::Hello {
            version,
            agent,
            token,
        } = hello
        else {
            return Err(ConnError::Refused("expected hello".into()));
        };
        if version != VERSION {
            return Err(ConnError::Refused(format!(
                "protocol version {version} not supported (server speaks {VERSION})"
            )));
        }
        if token.is_empty() {
            return Err(ConnError::Refused(format!(
                "agent {agent:?}: missing token"
            )));
        }
        if !self.tokens.check(&agent, &token) {
            return Err(ConnError::Refused(format!(
                "agent {agent:?}: authentication failed (wrong token or unknown agent)"
            )));
        }
        *who = Some(agent.clone());
        let durable = self.durable_of(&agent)?;
        tracing::info!("serve: agent {agent} connected, durable up to sequence {durable}");
        write_frame(
            sock,
            &Message::Welcome {
                version: VERSION,
                durable,
            },
        )
        .await
        .map_err(FrameError::Io)?;
        let prefix = format!("{agent}/");
        loop {
            let Some(msg) = read_frame(
                sock,
                self.config.idle_timeout,
                self.config.frame_timeout,
                "events",
            )
            .await?
            else {
                return Ok(());
            };
            let Message::Events(events) = msg else {
                return Err(ConnError::Refused("expected events".into()));
            };
            if let Some((_, bad)) = events.iter().find(|(_, e)| !e.stream.starts_with(&prefix)) {
                return Err(ConnError::Refused(format!(
                    "stream {:?} is outside agent {agent}'s namespace {prefix}",
                    bad.stream
                )));
            }
            let acked = self.ingest_blocking(&agent, events).await?;
            write_frame(sock, &Message::Ack(acked))
                .await
                .map_err(FrameError::Io)?;
        }
    }

    /// Highest sequence durably ingested for `agent` (0 if none).
    fn durable_of(&self, agent: &str) -> Result<u64> {
        let slot = self.slot(agent);
        let mut durable = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let d = match *durable {
            Some(d) => d,
            None => read_sequence(&self.store, agent)?,
        };
        *durable = Some(d);
        Ok(d)
    }

    async fn ingest_blocking(
        self: &Arc<Self>,
        agent: &str,
        events: Vec<(u64, WriteEvent)>,
    ) -> Result<u64, ConnError> {
        // Ingest blocks (it fsyncs, or waits for the group commit another
        // agent leads): run it off the async workers so other agents keep
        // being served meanwhile.
        let me = Arc::clone(self);
        let agent = agent.to_owned();
        tokio::task::spawn_blocking(move || me.ingest(&agent, &events))
            .await
            .map_err(|e| ConnError::Refused(format!("ingest task failed: {e}")))?
            .map_err(ConnError::from)
    }

    /// Ingests the events of `agent` newer than its durable sequence, with
    /// the new sequence in the same batch. Returns the durable sequence.
    pub fn ingest(&self, agent: &str, events: &[(u64, WriteEvent)]) -> Result<u64> {
        let slot = self.slot(agent);
        let mut durable = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let known = match *durable {
            Some(d) => d,
            None => read_sequence(&self.store, agent)?,
        };
        let fresh: Vec<&(u64, WriteEvent)> = events.iter().filter(|(s, _)| *s > known).collect();
        let Some(&&(last, _)) = fresh.last() else {
            *durable = Some(known);
            return Ok(known);
        };
        let mut batch: Vec<kairos_engine::WriteEvent> =
            fresh.iter().map(|(_, e)| to_engine(e.clone())).collect();
        batch.push(to_engine(WriteEvent {
            stream: sequence_stream(agent),
            ts_ns: now_ns(),
            change: Change::Write {
                offset: 0,
                data: last.to_le_bytes().to_vec(),
            },
        }));
        self.store.ingest(&batch)?;
        *durable = Some(last);
        Ok(last)
    }
}

/// The highest sequence recorded for `agent` in the store.
fn read_sequence(store: &Store, agent: &str) -> Result<u64> {
    use kairos_parsers::SourceExt;
    match store.view(&sequence_stream(agent), None) {
        Ok(view) => {
            let mut b = [0u8; 8];
            view.read_exact_at(0, &mut b)
                .map_err(|e| CaptureError::Protocol {
                    peer: agent.to_owned(),
                    detail: format!("reading the agent's sequence record: {e}"),
                })?;
            Ok(u64::from_le_bytes(b))
        }
        Err(StoreError::NoStream(_) | StoreError::NoVersion { .. }) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// Reads one frame: `Ok(None)` on a clean close before a frame starts.
async fn read_frame<S: AsyncRead + Unpin>(
    sock: &mut S,
    wait: Duration,
    body_timeout: Duration,
    what: &'static str,
) -> Result<Option<Message>, ConnError> {
    let mut len = [0u8; 4];
    match tokio::time::timeout(wait, sock.read_exact(&mut len)).await {
        Err(_) => return Err(ConnError::Timeout(what)),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Ok(Err(e)) => return Err(FrameError::Io(e).into()),
        Ok(Ok(_)) => {}
    }
    let n = check_length(u32::from_be_bytes(len))?;
    let mut body = vec![0u8; n];
    match tokio::time::timeout(body_timeout, sock.read_exact(&mut body)).await {
        Err(_) => return Err(ConnError::Timeout("the rest of a frame")),
        Ok(Err(e)) => return Err(FrameError::Io(e).into()),
        Ok(Ok(_)) => {}
    }
    Ok(Some(Message::decode(&body)?))
}

async fn write_frame<S: AsyncWrite + Unpin>(sock: &mut S, m: &Message) -> std::io::Result<()> {
    sock.write_all(&m.encode()).await?;
    sock.flush().await
}
