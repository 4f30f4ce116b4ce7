//! An NBD server exporting one volume whose every write is captured.
//!
//! Protocol: the NBD "fixed newstyle" handshake, as in the protocol document
//! of the NBD project (`doc/proto.md`). Supported options: `EXPORT_NAME`,
//! `INFO`, `GO`, `LIST`, `ABORT`, `STRUCTURED_REPLY`; everything else (TLS,
//! metadata contexts) is answered `NBD_REP_ERR_UNSUP`. Commands: `READ`,
//! `WRITE` (with `FUA`), `FLUSH`, `TRIM`, `WRITE_ZEROES`, `DISC`.
//!
//! Replies are simple unless the client negotiated structured replies; then
//! every reply is a single structured chunk flagged DONE: a READ of
//! all-zero bytes is one `OFFSET_HOLE` chunk (nothing but its length goes
//! over the wire: the unwritten parts of a volume are cheap to read), any
//! other READ one `OFFSET_DATA` chunk, an error an `ERROR` chunk whose
//! message says what failed, everything else `NONE`.
//!
//! The volume's live bytes are kept in an image file; each WRITE lands there
//! and becomes a write event in the same critical section (so the event
//! order is the order of the bytes in the image). FLUSH and FUA return only
//! after the image is fsynced and the sink's `sync` returned: a flushed
//! write is in the store. TRIM and WRITE_ZEROES are zero writes (the store
//! keeps zero blocks for free).

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::event::{MAX_WRITE_DATA, WriteEvent, now_ns};
use crate::sink::{CaptureError, EventSink, Result};

// Handshake magics and flags (doc/proto.md, "Newstyle negotiation").
const NBDMAGIC: u64 = 0x4e42_444d_4147_4943;
const IHAVEOPT: u64 = 0x4948_4156_454F_5054;
const OPT_REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
const FLAG_FIXED_NEWSTYLE: u16 = 1 << 0;
const FLAG_NO_ZEROES: u16 = 1 << 1;
const CLIENT_NO_ZEROES: u32 = 1 << 1;

const OPT_EXPORT_NAME: u32 = 1;
const OPT_ABORT: u32 = 2;
const OPT_LIST: u32 = 3;
const OPT_INFO: u32 = 6;
const OPT_GO: u32 = 7;
const OPT_STRUCTURED_REPLY: u32 = 8;

const REP_ACK: u32 = 1;
const REP_SERVER: u32 = 2;
const REP_INFO: u32 = 3;
const REP_ERR_UNSUP: u32 = (1 << 31) + 1;
const REP_ERR_INVALID: u32 = (1 << 31) + 3;
const REP_ERR_UNKNOWN: u32 = (1 << 31) + 6;

const INFO_EXPORT: u16 = 0;
const INFO_BLOCK_SIZE: u16 = 3;

// Transmission flags.
const TF_HAS_FLAGS: u16 = 1 << 0;
const TF_SEND_FLUSH: u16 = 1 << 2;
const TF_SEND_FUA: u16 = 1 << 3;
const TF_SEND_TRIM: u16 = 1 << 5;
const TF_SEND_WRITE_ZEROES: u16 = 1 << 6;
const TF_CAN_MULTI_CONN: u16 = 1 << 8;
const TRANSMISSION_FLAGS: u16 = TF_HAS_FLAGS
    | TF_SEND_FLUSH
    | TF_SEND_FUA
    | TF_SEND_TRIM
    | TF_SEND_WRITE_ZEROES
    | TF_CAN_MULTI_CONN;

const REQUEST_MAGIC: u32 = 0x2560_9513;
const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
const STRUCTURED_REPLY_MAGIC: u32 = 0x668e_33ef;
const REPLY_FLAG_DONE: u16 = 1 << 0;
const REPLY_TYPE_NONE: u16 = 0;
const REPLY_TYPE_OFFSET_DATA: u16 = 1;
const REPLY_TYPE_OFFSET_HOLE: u16 = 2;
const REPLY_TYPE_ERROR: u16 = (1 << 15) + 1;
const CMD_FLAG_FUA: u16 = 1 << 0;

const CMD_READ: u16 = 0;
const CMD_WRITE: u16 = 1;
const CMD_DISC: u16 = 2;
const CMD_FLUSH: u16 = 3;
const CMD_TRIM: u16 = 4;
const CMD_WRITE_ZEROES: u16 = 6;

const EIO: u32 = 5;
const EINVAL: u32 = 22;
const ENOSPC: u32 = 28;
const ENOTSUP: u32 = 95;

/// Largest READ/WRITE payload accepted (advertised as the maximum block
/// size); a WRITE above it closes the connection, since its payload cannot be
/// skipped safely.
pub const MAX_PAYLOAD: u32 = 32 << 20;
/// Largest option payload during the handshake.
const MAX_OPTION: u32 = 64 << 10;
/// A client that stalls during the handshake is dropped after this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A volume: the image holding its live bytes and the sink capturing its
/// writes.
pub struct Volume {
    stream: String,
    image: File,
    image_path: PathBuf,
    size: u64,
    sink: Arc<dyn EventSink>,
    /// Serialises "write the image, submit the event" so events are in the
    /// image's order even with several connections.
    write_lock: Mutex<()>,
}

impl std::fmt::Debug for Volume {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Volume")
            .field("stream", &self.stream)
            .field("image", &self.image_path)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Volume {
    /// Opens (creating, sparse) the image at `image_path` with `size` bytes.
    /// An existing image keeps its contents; one larger than `size` is
    /// refused rather than silently cut.
    pub fn open(
        image_path: &Path,
        size: u64,
        stream: &str,
        sink: Arc<dyn EventSink>,
    ) -> Result<Self> {
        crate::event::validate_stream_name(stream)?;
        let image = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(image_path)
            .map_err(CaptureError::io(image_path, "open volume image"))?;
        let len = image
            .metadata()
            .map_err(CaptureError::io(image_path, "stat"))?
            .len();
        if len > size {
            return Err(CaptureError::Io {
                path: image_path.to_owned(),
                op: "open volume image",
                source: io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("image holds {len} bytes, more than --size {size}"),
                ),
            });
        }
        if len < size {
            image
                .set_len(size)
                .map_err(CaptureError::io(image_path, "extend volume image"))?;
        }
        Ok(Self {
            stream: stream.to_owned(),
            image,
            image_path: image_path.to_owned(),
            size,
            sink,
            write_lock: Mutex::new(()),
        })
    }

    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Reads `buf.len()` bytes at `offset` from the live image.
    pub fn read(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.image
            .read_exact_at(buf, offset)
            .map_err(CaptureError::io(&self.image_path, "read"))
    }

    /// Writes `data` at `offset` and captures it.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        let _order = self
            .write_lock
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.image
            .write_all_at(data, offset)
            .map_err(CaptureError::io(&self.image_path, "write"))?;
        let ts = now_ns();
        for (i, piece) in data.chunks(MAX_WRITE_DATA).enumerate() {
            let at = offset + (i * MAX_WRITE_DATA) as u64;
            self.sink.submit(WriteEvent::write(
                self.stream.clone(),
                ts,
                at,
                piece.to_vec(),
            ))?;
        }
        Ok(())
    }

    /// Writes `len` zero bytes at `offset` (TRIM, WRITE_ZEROES).
    pub fn zero(&self, offset: u64, len: u64) -> Result<()> {
        let zeros = vec![0u8; MAX_WRITE_DATA.min(len as usize)];
        let mut at = offset;
        let end = offset + len;
        while at < end {
            let n = ((end - at) as usize).min(zeros.len());
            self.write(at, &zeros[..n])?;
            at += n as u64;
        }
        Ok(())
    }

    /// Makes every write so far durable: image fsync, then sink sync.
    pub fn flush(&self) -> Result<()> {
        self.image
            .sync_data()
            .map_err(CaptureError::io(&self.image_path, "fsync"))?;
        self.sink.sync()
    }
}

/// Accepts NBD clients on `listener` forever, one thread per connection.
pub fn serve(listener: &TcpListener, volume: &Arc<Volume>) -> Result<()> {
    let addr = listener
        .local_addr()
        .map_or_else(|_| "listener".to_owned(), |a| a.to_string());
    tracing::info!(
        "nbd: exporting stream {} ({} bytes) on {addr}",
        volume.stream,
        volume.size
    );
    for conn in listener.incoming() {
        let conn = match conn {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("nbd: accept on {addr}: {e}");
                continue;
            }
        };
        let peer = conn
            .peer_addr()
            .map_or_else(|_| "?".to_owned(), |a| a.to_string());
        let volume = Arc::clone(volume);
        std::thread::spawn(move || match serve_connection(&conn, &volume) {
            Ok(()) => tracing::info!("nbd: {peer} disconnected"),
            Err(e) => tracing::warn!("nbd: {peer}: connection dropped: {e}"),
        });
    }
    Ok(())
}

/// Runs the handshake and transmission phase for one client.
pub fn serve_connection(conn: &TcpStream, volume: &Volume) -> io::Result<()> {
    conn.set_nodelay(true)?;
    conn.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    let mut rd = BufReader::new(conn.try_clone()?);
    let mut wr = BufWriter::new(conn.try_clone()?);
    let Some(structured) = handshake(&mut rd, &mut wr, volume)? else {
        return Ok(());
    };
    conn.set_read_timeout(None)?;
    let mut replies = Replies { wr, structured };
    transmission(&mut rd, &mut replies, volume)
}

fn protocol_error(detail: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, detail.into())
}

fn read_u16(r: &mut impl Read) -> io::Result<u16> {
    let mut b = [0u8; 2];
    r.read_exact(&mut b)?;
    Ok(u16::from_be_bytes(b))
}

fn read_u32(r: &mut impl Read) -> io::Result<u32> {
    let mut b = [0u8; 4];
    r.read_exact(&mut b)?;
    Ok(u32::from_be_bytes(b))
}

fn read_u64(r: &mut impl Read) -> io::Result<u64> {
    let mut b = [0u8; 8];
    r.read_exact(&mut b)?;
    Ok(u64::from_be_bytes(b))
}

fn option_reply(w: &mut impl Write, option: u32, reply: u32, data: &[u8]) -> io::Result<()> {
    w.write_all(&OPT_REPLY_MAGIC.to_be_bytes())?;
    w.write_all(&option.to_be_bytes())?;
    w.write_all(&reply.to_be_bytes())?;
    w.write_all(&(data.len() as u32).to_be_bytes())?;
    w.write_all(data)?;
    w.flush()
}

/// `Some(structured replies negotiated)` when the client chose the export
/// and transmission starts, `None` when it aborted.
fn handshake(rd: &mut impl Read, wr: &mut impl Write, volume: &Volume) -> io::Result<Option<bool>> {
    wr.write_all(&NBDMAGIC.to_be_bytes())?;
    wr.write_all(&IHAVEOPT.to_be_bytes())?;
    wr.write_all(&(FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES).to_be_bytes())?;
    wr.flush()?;
    let client_flags = read_u32(rd)?;
    let no_zeroes = client_flags & CLIENT_NO_ZEROES != 0;
    let mut structured = false;
    loop {
        if read_u64(rd)? != IHAVEOPT {
            return Err(protocol_error("option without IHAVEOPT magic"));
        }
        let option = read_u32(rd)?;
        let len = read_u32(rd)?;
        if len > MAX_OPTION {
            return Err(protocol_error(format!("option {option} of {len} bytes")));
        }
        let mut data = vec![0u8; len as usize];
        rd.read_exact(&mut data)?;
        match option {
            OPT_EXPORT_NAME => {
                if !export_matches(&data, volume) {
                    return Err(protocol_error("unknown export name"));
                }
                wr.write_all(&volume.size.to_be_bytes())?;
                wr.write_all(&TRANSMISSION_FLAGS.to_be_bytes())?;
                if !no_zeroes {
                    wr.write_all(&[0u8; 124])?;
                }
                wr.flush()?;
                return Ok(Some(structured));
            }
            OPT_ABORT => {
                option_reply(wr, option, REP_ACK, &[])?;
                return Ok(None);
            }
            OPT_STRUCTURED_REPLY => {
                if data.is_empty() {
                    structured = true;
                    option_reply(wr, option, REP_ACK, &[])?;
                } else {
                    option_reply(wr, option, REP_ERR_INVALID, &[])?;
                }
            }
            OPT_LIST => {
                let mut d = (volume.stream.len() as u32).to_be_bytes().to_vec();
                d.extend_from_slice(volume.stream.as_bytes());
                option_reply(wr, option, REP_SERVER, &d)?;
                option_reply(wr, option, REP_ACK, &[])?;
            }
            OPT_INFO | OPT_GO => {
                let Some(name) = parse_info_request(&data) else {
                    option_reply(wr, option, REP_ERR_INVALID, &[])?;
                    continue;
                };
                if !export_matches(name, volume) {
                    option_reply(wr, option, REP_ERR_UNKNOWN, &[])?;
                    continue;
                }
                let mut export = INFO_EXPORT.to_be_bytes().to_vec();
                export.extend_from_slice(&volume.size.to_be_bytes());
                export.extend_from_slice(&TRANSMISSION_FLAGS.to_be_bytes());
                option_reply(wr, option, REP_INFO, &export)?;
                let mut bs = INFO_BLOCK_SIZE.to_be_bytes().to_vec();
                bs.extend_from_slice(&1u32.to_be_bytes());
                bs.extend_from_slice(&4096u32.to_be_bytes());
                bs.extend_from_slice(&MAX_PAYLOAD.to_be_bytes());
                option_reply(wr, option, REP_INFO, &bs)?;
                option_reply(wr, option, REP_ACK, &[])?;
                if option == OPT_GO {
                    return Ok(Some(structured));
                }
            }
            _ => option_reply(wr, option, REP_ERR_UNSUP, &[])?,
        }
    }
}

/// The export name of an INFO/GO request, if the request is well formed.
fn parse_info_request(data: &[u8]) -> Option<&[u8]> {
    let len = u32::from_be_bytes(data.get(0..4)?.try_into().ok()?) as usize;
    let name = data.get(4..4usize.checked_add(len)?)?;
    let n = u16::from_be_bytes(data.get(4 + len..6 + len)?.try_into().ok()?) as usize;
    (data.len() == 6 + len + 2 * n).then_some(name)
}

/// The default export ("") and the stream's name both select the volume.
fn export_matches(name: &[u8], volume: &Volume) -> bool {
    name.is_empty() || name == volume.stream.as_bytes()
}

/// The reply side of a connection in transmission: simple replies, or one
/// structured chunk per reply once the client negotiated them.
struct Replies<W: Write> {
    wr: W,
    structured: bool,
}

impl<W: Write> Replies<W> {
    fn simple(&mut self, handle: u64, error: u32, data: &[u8]) -> io::Result<()> {
        self.wr.write_all(&SIMPLE_REPLY_MAGIC.to_be_bytes())?;
        self.wr.write_all(&error.to_be_bytes())?;
        self.wr.write_all(&handle.to_be_bytes())?;
        if error == 0 {
            self.wr.write_all(data)?;
        }
        self.wr.flush()
    }

    /// One structured chunk, flagged as the reply's last. `head` and `data`
    /// are the payload, sent back to back.
    fn chunk(&mut self, handle: u64, kind: u16, head: &[u8], data: &[u8]) -> io::Result<()> {
        let len = u32::try_from(head.len() + data.len())
            .map_err(|_| protocol_error("reply chunk over 4 GiB"))?;
        self.wr.write_all(&STRUCTURED_REPLY_MAGIC.to_be_bytes())?;
        self.wr.write_all(&REPLY_FLAG_DONE.to_be_bytes())?;
        self.wr.write_all(&kind.to_be_bytes())?;
        self.wr.write_all(&handle.to_be_bytes())?;
        self.wr.write_all(&len.to_be_bytes())?;
        self.wr.write_all(head)?;
        self.wr.write_all(data)?;
        self.wr.flush()
    }

    /// Success without data.
    fn done(&mut self, handle: u64) -> io::Result<()> {
        if self.structured {
            self.chunk(handle, REPLY_TYPE_NONE, &[], &[])
        } else {
            self.simple(handle, 0, &[])
        }
    }

    /// Failure with `errno`; a structured reply also carries `message`.
    fn error(&mut self, handle: u64, errno: u32, message: &str) -> io::Result<()> {
        if self.structured {
            // The message is a string of at most 4096 bytes (doc/proto.md).
            let mut end = message.len().min(4096);
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            let mut head = errno.to_be_bytes().to_vec();
            head.extend_from_slice(&(end as u16).to_be_bytes());
            self.chunk(handle, REPLY_TYPE_ERROR, &head, &message.as_bytes()[..end])
        } else {
            self.simple(handle, errno, &[])
        }
    }

    /// The bytes read at `offset`.
    fn data(&mut self, handle: u64, offset: u64, data: &[u8]) -> io::Result<()> {
        if !self.structured {
            return self.simple(handle, 0, data);
        }
        if data.is_empty() {
            return self.chunk(handle, REPLY_TYPE_NONE, &[], &[]);
        }
        let mut head = offset.to_be_bytes().to_vec();
        if data.iter().all(|&b| b == 0) {
            // `data` is at most MAX_PAYLOAD long, so the length fits.
            head.extend_from_slice(&(data.len() as u32).to_be_bytes());
            self.chunk(handle, REPLY_TYPE_OFFSET_HOLE, &head, &[])
        } else {
            self.chunk(handle, REPLY_TYPE_OFFSET_DATA, &head, data)
        }
    }

    /// The reply to a request that ran `result`.
    fn outcome(&mut self, handle: u64, result: &Result<()>) -> io::Result<()> {
        match result {
            Ok(()) => self.done(handle),
            Err(e) => self.error(handle, errno_of(e), &e.to_string()),
        }
    }
}

fn errno_of(e: &CaptureError) -> u32 {
    tracing::warn!("nbd: request failed: {e}");
    match e {
        CaptureError::Io { source, .. } if source.raw_os_error() == Some(28) => ENOSPC,
        _ => EIO,
    }
}

/// The error reply to a request outside the volume.
fn out_of_range(offset: u64, len: u32, size: u64) -> String {
    format!("{len} bytes at offset {offset} reach past the end of the volume ({size} bytes)")
}

fn transmission<W: Write>(
    rd: &mut impl Read,
    replies: &mut Replies<W>,
    volume: &Volume,
) -> io::Result<()> {
    let mut buf = Vec::new();
    loop {
        let magic = match read_u32(rd) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        };
        if magic != REQUEST_MAGIC {
            return Err(protocol_error(format!("bad request magic {magic:#x}")));
        }
        let flags = read_u16(rd)?;
        let cmd = read_u16(rd)?;
        let handle = read_u64(rd)?;
        let offset = read_u64(rd)?;
        let len = read_u32(rd)?;
        let in_range = offset
            .checked_add(u64::from(len))
            .is_some_and(|end| end <= volume.size);
        let flush_if_fua = || {
            if flags & CMD_FLAG_FUA == 0 {
                Ok(())
            } else {
                volume.flush()
            }
        };
        match cmd {
            CMD_WRITE => {
                if len > MAX_PAYLOAD {
                    return Err(protocol_error(format!("write of {len} bytes")));
                }
                buf.resize(len as usize, 0);
                rd.read_exact(&mut buf)?;
                if !in_range {
                    replies.error(handle, ENOSPC, &out_of_range(offset, len, volume.size))?;
                    continue;
                }
                let result = volume.write(offset, &buf).and_then(|()| flush_if_fua());
                replies.outcome(handle, &result)?;
            }
            CMD_READ => {
                if !in_range || len > MAX_PAYLOAD {
                    replies.error(handle, EINVAL, &out_of_range(offset, len, volume.size))?;
                    continue;
                }
                buf.resize(len as usize, 0);
                match volume.read(offset, &mut buf) {
                    Ok(()) => replies.data(handle, offset, &buf)?,
                    Err(e) => replies.error(handle, errno_of(&e), &e.to_string())?,
                }
            }
            CMD_FLUSH => replies.outcome(handle, &volume.flush())?,
            CMD_TRIM | CMD_WRITE_ZEROES => {
                if !in_range {
                    replies.error(handle, ENOSPC, &out_of_range(offset, len, volume.size))?;
                    continue;
                }
                let result = volume
                    .zero(offset, u64::from(len))
                    .and_then(|()| flush_if_fua());
                replies.outcome(handle, &result)?;
            }
            CMD_DISC => {
                // Flush on disconnect so a clean client exit loses nothing.
                if let Err(e) = volume.flush() {
                    tracing::warn!("nbd: flush at disconnect: {e}");
                }
                return Ok(());
            }
            _ => replies.error(handle, ENOTSUP, &format!("command {cmd} not supported"))?,
        }
    }
}
