//! The demo store: one simulated working day that tells kairos's story.
//!
//! [`build_demo`] creates a store and records, with explicit timestamps on
//! the given day (UTC; nothing sleeps), what a protected server would have
//! captured:
//!
//! - `exchange/mailboxes.edb` — a generated Exchange mailbox database
//!   ([`crate::exchange`]): captured at 09:00, new mail arriving through the
//!   morning (more messages in the `Bulk` folder, same seed), marker
//!   `before-cleanup` at 14:00, and at 14:02 a version in which the quarterly
//!   report with its PDF attachment has been deleted (the generator's
//!   `omit_messages`), then more mail at 16:45. Reading the 14:01 instant
//!   gets the message back.
//! - `sql/northwind.mdf` (from the shared samples, when present): captured
//!   at 09:00, and at 23:10 a version in which one leaf page of `Orders` has
//!   been zeroed, as a failing disk would do; the SQL reader names the page
//!   and still exports every other row, and the 09:00 instant has them all.
//! - `outlook/outlook.pst` (from the shared samples, when present): captured
//!   at 09:00, and at 19:40 a version whose every byte has been scrambled,
//!   as ransomware would do; the latest instant is unreadable, the marker
//!   `end-of-day` (18:00) still reads every folder.
//!
//! The [`DemoReport`] lists the streams, versions (with the BLAKE3 of the
//! bytes captured, so a restore can be checked), markers, and a walkthrough
//! of `kairos` command lines; the CLI prints it, the GUI can show it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use jiff::tz::TimeZone;
use kairos_engine::store::CONFIG_FILE;
use kairos_engine::{Store, StoreError, StoreOptions, format_ns};
use kairos_parsers::MemSource;
use kairos_sqlserver::page::PAGE_SIZE;
use kairos_sqlserver::{Database, ScanOptions};
use serde::Serialize;

use crate::ese_writer::WriteError;
use crate::exchange::{ExchangeOptions, Manifest, generate_exchange_edb};

/// Stream of the generated Exchange database.
pub const EXCHANGE_STREAM: &str = "exchange/mailboxes.edb";
/// Stream of the Northwind sample.
pub const SQL_STREAM: &str = "sql/northwind.mdf";
/// Stream of the Outlook sample.
pub const PST_STREAM: &str = "outlook/outlook.pst";
/// The Northwind data file, relative to the samples directory.
pub const NORTHWIND_SAMPLE: &str = "mdf/itsligo_northwnd.mdf";
/// The Outlook file, relative to the samples directory.
pub const PST_SAMPLE: &str = "pst/aspose_Outlook.pst";
/// The table whose page the simulated disk fault zeroes.
const DAMAGED_TABLE: &str = "Orders";

/// What to build.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// The simulated day (UTC).
    pub day: Date,
    /// The shared samples directory (`mdf/`, `pst/`); `None`: no SQL or
    /// Outlook streams.
    pub samples: Option<PathBuf>,
    /// Replace a non-empty target directory — only if it holds a kairos
    /// store, so a mistyped path never deletes unrelated files.
    pub force: bool,
    /// The Exchange database as the day starts (`omit_messages` is set by
    /// the demo). One mailbox keeps the versions identical apart from the
    /// simulated changes: the generator draws later mailboxes from the
    /// same random stream as the first one's bulk messages.
    pub exchange: ExchangeOptions,
    /// Messages arriving in the `Bulk` folder between two versions.
    pub bulk_step: usize,
}

impl DemoOptions {
    /// Today (UTC), small enough to build in a second or two.
    pub fn today(samples: Option<PathBuf>) -> Self {
        DemoOptions {
            day: TimeZone::UTC.to_datetime(jiff::Timestamp::now()).date(),
            samples,
            force: false,
            exchange: ExchangeOptions {
                mailboxes: 1,
                bulk_messages: 60,
                ..ExchangeOptions::default()
            },
            bulk_step: 15,
        }
    }
}

/// Why the demo could not be built.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The target exists and is not empty.
    #[error("{0}: directory is not empty (use --force to replace a kairos store there)")]
    NotEmpty(PathBuf),
    /// `--force` on a directory that is not a kairos store.
    #[error(
        "{0}: directory is not empty and holds no kairos store ({CONFIG_FILE} missing); refusing to delete it even with --force"
    )]
    NotAStore(PathBuf),
    /// A file system operation failed.
    #[error("{path}: {what}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The store refused an operation.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Exchange generator failed.
    #[error("generating the Exchange database: {0}")]
    Generate(#[from] WriteError),
    /// A sample could not be read as expected.
    #[error("{path}: {detail}")]
    Sample {
        /// The sample file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An invalid option (e.g. a time outside the representable range).
    #[error("{0}")]
    Invalid(String),
}

fn io_err(path: &Path, what: &'static str) -> impl FnOnce(io::Error) -> DemoError {
    let path = path.to_path_buf();
    move |source| DemoError::Io { path, what, source }
}

/// One captured version.
#[derive(Clone, Debug, Serialize)]
pub struct DemoVersion {
    /// The instant, RFC 3339 UTC.
    pub at: String,
    /// The instant in ns since the Unix epoch.
    pub at_ns: i64,
    /// What happened to the file.
    pub what: String,
    /// File length.
    pub size: u64,
    /// BLAKE3 of the bytes captured (hex), to check a restore against.
    pub blake3: String,
}

/// One stream and its versions, oldest first.
#[derive(Clone, Debug, Serialize)]
pub struct DemoStream {
    /// Stream name.
    pub name: String,
    /// Where the first version came from.
    pub origin: String,
    /// The versions.
    pub versions: Vec<DemoVersion>,
}

/// One marker.
#[derive(Clone, Debug, Serialize)]
pub struct DemoMark {
    /// Marker name (`--at mark:NAME`).
    pub name: String,
    /// The stream it belongs to, or `None` for the whole store.
    pub stream: Option<String>,
    /// The instant, RFC 3339 UTC.
    pub at: String,
    /// The instant in ns.
    pub at_ns: i64,
    /// Why it was set.
    pub why: String,
}

/// The message the simulated cleanup deleted.
#[derive(Clone, Debug, Serialize)]
pub struct DeletedMessage {
    /// Stream.
    pub stream: String,
    /// `MailboxNumber`.
    pub mailbox: i32,
    /// The mailbox's message table (`Message_N`).
    pub message_table: String,
    /// The mailbox's attachment table (`Attachment_N`).
    pub attachment_table: String,
    /// `MessageDocumentId`.
    pub document_id: i32,
    /// Subject.
    pub subject: String,
    /// Folder path.
    pub folder: String,
    /// Item path of its folder as `kairos mail ls` prints it (mailbox
    /// display name, then folder names).
    pub folder_item: String,
    /// Item path of the message as `kairos mail ls` prints it: the folder's,
    /// then `Subject [MailboxNumber.MessageDocumentId]`.
    pub message_item: String,
    /// Names of its attachments.
    pub attachments: Vec<String>,
    /// An instant at which it is still there (RFC 3339).
    pub present_at: String,
    /// The first instant at which it is gone (RFC 3339).
    pub gone_at: String,
}

/// The page the simulated disk fault zeroed.
#[derive(Clone, Debug, Serialize)]
pub struct DamagedPage {
    /// Stream.
    pub stream: String,
    /// Table (`dbo.` schema).
    pub table: String,
    /// Page number in file 1.
    pub page: u32,
    /// Live rows of the table before the fault.
    pub rows_total: usize,
    /// Live rows that were on the page.
    pub rows_on_page: usize,
    /// An instant before the fault (RFC 3339).
    pub healthy_at: String,
    /// The instant of the damaged version (RFC 3339).
    pub damaged_at: String,
}

/// One command of the walkthrough.
#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// What it shows.
    pub why: String,
    /// Arguments after `kairos`.
    pub args: Vec<String>,
    /// Whether it exits 0 (a few show an error on purpose).
    pub succeeds: bool,
}

impl Step {
    fn new(why: impl Into<String>, args: &[&str]) -> Self {
        Step {
            why: why.into(),
            args: args.iter().map(|&a| a.to_owned()).collect(),
            succeeds: true,
        }
    }

    fn failing(mut self) -> Self {
        self.succeeds = false;
        self
    }

    /// The command line to paste into a POSIX shell.
    pub fn command_line(&self) -> String {
        let mut line = String::from("kairos");
        for a in &self.args {
            line.push(' ');
            line.push_str(&shell_quote(a));
        }
        line
    }
}

/// Quotes `s` for a POSIX shell when it needs it.
fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:=@+-,".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// What [`build_demo`] built.
#[derive(Clone, Debug, Serialize)]
pub struct DemoReport {
    /// The store directory.
    pub store: PathBuf,
    /// The simulated day, `YYYY-MM-DD`.
    pub day: String,
    /// Streams and their versions.
    pub streams: Vec<DemoStream>,
    /// Markers.
    pub marks: Vec<DemoMark>,
    /// The message deleted at 14:02.
    pub deleted_message: DeletedMessage,
    /// The page zeroed at 23:10 (with the samples).
    pub damaged_page: Option<DamagedPage>,
    /// What was left out and why.
    pub notes: Vec<String>,
    /// Commands to run next.
    pub walkthrough: Vec<Step>,
}

/// The instants of the day.
struct Clock {
    day: Date,
}

impl Clock {
    fn ns(&self, hour: i8, minute: i8) -> Result<i64, DemoError> {
        let ts = TimeZone::UTC
            .to_timestamp(self.day.at(hour, minute, 0, 0))
            .map_err(|e| DemoError::Invalid(format!("day {}: {e}", self.day)))?;
        i64::try_from(ts.as_nanosecond())
            .map_err(|_| DemoError::Invalid(format!("day {} is out of range", self.day)))
    }

    fn at(&self, hour: i8, minute: i8) -> Result<String, DemoError> {
        Ok(format_ns(self.ns(hour, minute)?))
    }
}

/// Captures versions of one stream from bytes, through a scratch file.
struct Recorder<'a> {
    store: &'a mut Store,
    scratch: PathBuf,
    progress: &'a mut dyn FnMut(&str),
}

impl Recorder<'_> {
    fn capture(
        &mut self,
        stream: &mut DemoStream,
        at_ns: i64,
        bytes: &[u8],
        what: &str,
    ) -> Result<(), DemoError> {
        fs::write(&self.scratch, bytes).map_err(io_err(&self.scratch, "write scratch copy"))?;
        let report =
            self.store
                .capture_file(&self.scratch, &stream.name, Some(at_ns), &|_, _| {})?;
        let at = format_ns(at_ns);
        (self.progress)(&format!(
            "{at}  {}: {what} ({} of {} blocks changed)",
            stream.name, report.blocks_changed, report.blocks_scanned
        ));
        stream.versions.push(DemoVersion {
            at,
            at_ns,
            what: what.to_owned(),
            size: bytes.len() as u64,
            blake3: blake3::hash(bytes).to_hex().to_string(),
        });
        Ok(())
    }

    fn mark(
        &mut self,
        marks: &mut Vec<DemoMark>,
        name: &str,
        stream: Option<&str>,
        at_ns: i64,
        why: &str,
    ) -> Result<(), DemoError> {
        self.store.mark(name, stream, Some(at_ns))?;
        let at = format_ns(at_ns);
        (self.progress)(&format!("{at}  marker {name}: {why}"));
        marks.push(DemoMark {
            name: name.to_owned(),
            stream: stream.map(str::to_owned),
            at,
            at_ns,
            why: why.to_owned(),
        });
        Ok(())
    }
}

/// Builds the demo store in `dir` and reports what it holds. `progress`
/// receives one line per recorded event.
pub fn build_demo(
    dir: &Path,
    opts: &DemoOptions,
    progress: &mut dyn FnMut(&str),
) -> Result<DemoReport, DemoError> {
    prepare_dir(dir, opts.force)?;
    Store::init(dir, StoreOptions::default())?;
    let mut store = Store::open(dir)?;
    let work = tempfile::tempdir().map_err(io_err(&std::env::temp_dir(), "create scratch dir"))?;
    let clock = Clock { day: opts.day };
    let mut rec = Recorder {
        store: &mut store,
        scratch: work.path().join("version"),
        progress,
    };
    let mut marks = Vec::new();
    let mut notes = Vec::new();
    let (exchange, deleted) = exchange_day(&mut rec, &mut marks, &clock, opts)?;
    let mut streams = vec![exchange];

    let samples = opts.samples.as_deref();
    let mut damaged = None;
    match samples.map(|s| s.join(NORTHWIND_SAMPLE)) {
        Some(path) if path.is_file() => {
            let (stream, page) = northwind_day(&mut rec, &clock, &path)?;
            streams.push(stream);
            damaged = Some(page);
        }
        other => notes.push(skipped(SQL_STREAM, other.as_deref())),
    }
    let mut pst = false;
    match samples.map(|s| s.join(PST_SAMPLE)) {
        Some(path) if path.is_file() => {
            streams.push(pst_day(&mut rec, &clock, &path)?);
            pst = true;
        }
        other => notes.push(skipped(PST_STREAM, other.as_deref())),
    }
    rec.mark(
        &mut marks,
        "end-of-day",
        None,
        clock.ns(18, 0)?,
        if pst || damaged.is_some() {
            "every stream as the office closes, before the evening's damage"
        } else {
            "every stream as the office closes"
        },
    )?;
    drop(rec);
    drop(store);

    let mut report = DemoReport {
        store: dir.to_path_buf(),
        day: opts.day.to_string(),
        streams,
        marks,
        deleted_message: deleted,
        damaged_page: damaged,
        notes,
        walkthrough: Vec::new(),
    };
    report.walkthrough = walkthrough(&report, pst);
    Ok(report)
}

fn skipped(stream: &str, path: Option<&Path>) -> String {
    match path {
        Some(p) => format!("{stream} skipped: {} not found", p.display()),
        None => format!("{stream} skipped: no samples directory given"),
    }
}

/// Refuses a non-empty `dir` unless `force` and it is a kairos store,
/// which is then removed.
fn prepare_dir(dir: &Path, force: bool) -> Result<(), DemoError> {
    if !dir.exists() {
        return Ok(());
    }
    let mut entries = fs::read_dir(dir).map_err(io_err(dir, "read directory"))?;
    if entries.next().is_none() {
        return Ok(());
    }
    if !force {
        return Err(DemoError::NotEmpty(dir.to_path_buf()));
    }
    if !dir.join(CONFIG_FILE).is_file() {
        return Err(DemoError::NotAStore(dir.to_path_buf()));
    }
    fs::remove_dir_all(dir).map_err(io_err(dir, "remove the old store"))
}

/// The quarterly report: the first message with an attachment in the
/// first mailbox's Inbox.
fn quarterly_report(
    manifest: &Manifest,
) -> Option<(
    &crate::exchange::MailboxManifest,
    String,
    &crate::exchange::MessageManifest,
)> {
    let mailbox = manifest.mailboxes.first()?;
    let inbox = mailbox.folders.iter().find(|f| f.name == "Inbox")?;
    let msg = inbox.messages.iter().find(|m| !m.attachments.is_empty())?;
    Some((mailbox, inbox.path.clone(), msg))
}

/// One segment of a `kairos mail` item path (`/` and `%` escaped as the
/// item tree escapes them).
fn item_segment(name: &str) -> String {
    name.replace('%', "%25").replace('/', "%2F")
}

fn exchange_day(
    rec: &mut Recorder<'_>,
    marks: &mut Vec<DemoMark>,
    clock: &Clock,
    opts: &DemoOptions,
) -> Result<(DemoStream, DeletedMessage), DemoError> {
    let mut stream = DemoStream {
        name: EXCHANGE_STREAM.to_owned(),
        origin: "generated Exchange 2013–2019 style mailbox database".to_owned(),
        versions: Vec::new(),
    };
    let mut gen_opts = opts.exchange.clone();
    gen_opts.omit_messages.clear();
    let base = gen_opts.bulk_messages;
    let (bytes, manifest) = generate_exchange_edb(&gen_opts)?;
    let (mailbox, folder, msg) = quarterly_report(&manifest).ok_or_else(|| {
        DemoError::Invalid("the generated mailbox has no Inbox message with an attachment".into())
    })?;
    let folder_item = std::iter::once(mailbox.owner.name.as_str())
        .chain(folder.split('/').filter(|s| !s.is_empty()))
        .map(item_segment)
        .collect::<Vec<_>>()
        .join("/");
    let message_item = format!(
        "{folder_item}/{}",
        item_segment(&format!(
            "{} [{}.{}]",
            msg.subject, mailbox.number, msg.document_id
        ))
    );
    let mailbox = mailbox.number;
    let deleted = DeletedMessage {
        stream: EXCHANGE_STREAM.to_owned(),
        mailbox,
        folder_item,
        message_item,
        message_table: format!("Message_{mailbox}"),
        attachment_table: format!("Attachment_{mailbox}"),
        document_id: msg.document_id,
        subject: msg.subject.clone(),
        folder,
        attachments: msg.attachments.iter().map(|a| a.name.clone()).collect(),
        present_at: clock.at(14, 1)?,
        gone_at: clock.at(14, 3)?,
    };
    rec.capture(
        &mut stream,
        clock.ns(9, 0)?,
        &bytes,
        &format!("the mailbox database as the day starts ({base} bulk messages)"),
    )?;
    let mut bulk = base;
    for (h, m) in [(10, 30), (12, 15)] {
        bulk += opts.bulk_step;
        gen_opts.bulk_messages = bulk;
        let (bytes, _) = generate_exchange_edb(&gen_opts)?;
        rec.capture(
            &mut stream,
            clock.ns(h, m)?,
            &bytes,
            &format!("{} new messages arrived", opts.bulk_step),
        )?;
    }
    rec.mark(
        marks,
        "before-cleanup",
        Some(EXCHANGE_STREAM),
        clock.ns(14, 0)?,
        "the mailbox before the afternoon cleanup",
    )?;
    gen_opts.omit_messages = vec![(mailbox, msg.document_id)];
    let (bytes, _) = generate_exchange_edb(&gen_opts)?;
    rec.capture(
        &mut stream,
        clock.ns(14, 2)?,
        &bytes,
        &format!(
            "cleanup deleted \"{}\" and its attachment(s) {}",
            deleted.subject,
            deleted.attachments.join(", ")
        ),
    )?;
    bulk += opts.bulk_step;
    gen_opts.bulk_messages = bulk;
    let (bytes, _) = generate_exchange_edb(&gen_opts)?;
    rec.capture(
        &mut stream,
        clock.ns(16, 45)?,
        &bytes,
        &format!("{} new messages arrived", opts.bulk_step),
    )?;
    Ok((stream, deleted))
}

fn read_sample(path: &Path) -> Result<Vec<u8>, DemoError> {
    fs::read(path).map_err(io_err(path, "read sample"))
}

fn northwind_day(
    rec: &mut Recorder<'_>,
    clock: &Clock,
    path: &Path,
) -> Result<(DemoStream, DamagedPage), DemoError> {
    let clean = read_sample(path)?;
    let mut stream = DemoStream {
        name: SQL_STREAM.to_owned(),
        origin: path.display().to_string(),
        versions: Vec::new(),
    };
    rec.capture(
        &mut stream,
        clock.ns(9, 0)?,
        &clean,
        "the Northwind database in the morning",
    )?;
    let sample_err = |detail: String| DemoError::Sample {
        path: path.to_path_buf(),
        detail,
    };
    let db = Database::open(MemSource::new(path.display().to_string(), clean.clone()))
        .map_err(|e| sample_err(format!("not readable as a SQL Server data file: {e}")))?;
    let table = db
        .table(DAMAGED_TABLE)
        .map_err(|e| sample_err(format!("no table {DAMAGED_TABLE}: {e}")))?;
    let pages = db
        .rows(table, ScanOptions::default())
        .map(|r| r.map(|row| row.rid.page.page))
        .collect::<Result<Vec<u32>, _>>()
        .map_err(|e| sample_err(format!("reading {DAMAGED_TABLE}: {e}")))?;
    let victim = *pages
        .get(pages.len() / 2)
        .ok_or_else(|| sample_err(format!("table {DAMAGED_TABLE} is empty")))?;
    let rows_on_page = pages.iter().filter(|&&p| p == victim).count();
    let start = victim as usize * PAGE_SIZE;
    let mut damaged = clean;
    damaged
        .get_mut(start..start + PAGE_SIZE)
        .ok_or_else(|| sample_err(format!("page {victim} is past the end of the file")))?
        .fill(0);
    let page = DamagedPage {
        stream: SQL_STREAM.to_owned(),
        table: format!("dbo.{DAMAGED_TABLE}"),
        page: victim,
        rows_total: pages.len(),
        rows_on_page,
        healthy_at: clock.at(9, 0)?,
        damaged_at: clock.at(23, 10)?,
    };
    rec.capture(
        &mut stream,
        clock.ns(23, 10)?,
        &damaged,
        &format!(
            "a disk fault zeroed page {victim} of {} ({rows_on_page} rows)",
            page.table
        ),
    )?;
    Ok((stream, page))
}

fn pst_day(rec: &mut Recorder<'_>, clock: &Clock, path: &Path) -> Result<DemoStream, DemoError> {
    let clean = read_sample(path)?;
    let mut stream = DemoStream {
        name: PST_STREAM.to_owned(),
        origin: path.display().to_string(),
        versions: Vec::new(),
    };
    rec.capture(
        &mut stream,
        clock.ns(9, 0)?,
        &clean,
        "the user's Outlook file in the morning",
    )?;
    // A BLAKE3 keystream stands in for the attacker's cipher: every byte
    // changes, the size does not.
    let mut keystream = blake3::Hasher::new_keyed(&[0x6b; 32]).finalize_xof();
    let mut scrambled = clean;
    let mut key = vec![0u8; scrambled.len()];
    keystream.fill(&mut key);
    for (b, k) in scrambled.iter_mut().zip(&key) {
        *b ^= k;
    }
    rec.capture(
        &mut stream,
        clock.ns(19, 40)?,
        &scrambled,
        "ransomware scrambled every byte of the file",
    )?;
    Ok(stream)
}

fn walkthrough(r: &DemoReport, pst: bool) -> Vec<Step> {
    let end_of_day = r
        .marks
        .iter()
        .find(|m| m.name == "end-of-day")
        .map_or("", |m| m.at.as_str());
    let store = r.store.display().to_string();
    let s = store.as_str();
    let d = &r.deleted_message;
    let mut steps = vec![
        Step::new("the streams and their versions", &["--store", s, "streams"]),
        Step::new(
            "the mailbox database's day: versions and markers",
            &["--store", s, "timeline", EXCHANGE_STREAM],
        ),
        Step::new(
            format!(
                "at {}: {} holds the message (record counts per table)",
                d.present_at, d.message_table
            ),
            &[
                "--store",
                s,
                "--at",
                &d.present_at,
                "ese",
                "tables",
                EXCHANGE_STREAM,
            ],
        ),
        Step::new(
            format!("at {}: one message fewer", d.gone_at),
            &[
                "--store",
                s,
                "--at",
                &d.gone_at,
                "ese",
                "tables",
                EXCHANGE_STREAM,
            ],
        ),
        Step::new(
            format!(
                "the deleted message's attachment {} as of {}",
                d.attachments.join(", "),
                d.present_at
            ),
            &[
                "--store",
                s,
                "--at",
                &d.present_at,
                "ese",
                "dump",
                EXCHANGE_STREAM,
                &d.attachment_table,
                "--format",
                "jsonl",
            ],
        ),
        Step::new(
            format!("at {}: the message in its mailbox folder", d.present_at),
            &[
                "--store",
                s,
                "--at",
                &d.present_at,
                "mail",
                "ls",
                EXCHANGE_STREAM,
                &d.folder_item,
            ],
        ),
        Step::new(
            format!("the deleted message as EML, as of {}", d.present_at),
            &[
                "--store",
                s,
                "--at",
                &d.present_at,
                "mail",
                "export",
                EXCHANGE_STREAM,
                &d.message_item,
                "-o",
                "deleted-message.eml",
            ],
        ),
        Step::new(
            format!("at {}: the message is gone", d.gone_at),
            &[
                "--store",
                s,
                "--at",
                &d.gone_at,
                "mail",
                "export",
                EXCHANGE_STREAM,
                &d.message_item,
                "-o",
                "gone.eml",
            ],
        )
        .failing(),
        Step::new(
            "get the whole database back as it was before the cleanup",
            &[
                "--store",
                s,
                "--at",
                "mark:before-cleanup",
                "restore",
                EXCHANGE_STREAM,
                "-o",
                "mailboxes-before-cleanup.edb",
            ],
        ),
    ];
    if let Some(p) = &r.damaged_page {
        steps.push(Step::new(
            format!("the Northwind tables at {}", p.healthy_at),
            &[
                "--store",
                s,
                "--at",
                &p.healthy_at,
                "sql",
                "tables",
                SQL_STREAM,
            ],
        ));
        steps.push(Step::new(
            format!(
                "latest: {} reports damaged page {} and exports the other rows",
                p.table, p.page
            ),
            &[
                "--store",
                s,
                "sql",
                "export",
                SQL_STREAM,
                &p.table,
                "--format",
                "csv",
                "-o",
                "orders-latest.csv",
            ],
        ));
        steps.push(Step::new(
            format!(
                "{} as of {}: all {} rows",
                p.table, p.healthy_at, p.rows_total
            ),
            &[
                "--store",
                s,
                "--at",
                &p.healthy_at,
                "sql",
                "export",
                SQL_STREAM,
                &p.table,
                "--format",
                "csv",
                "-o",
                "orders-morning.csv",
            ],
        ));
    }
    if pst {
        steps.push(
            Step::new(
                "latest: the scrambled Outlook file cannot be opened",
                &["--store", s, "mail", "ls", PST_STREAM],
            )
            .failing(),
        );
        steps.push(Step::new(
            format!("as of {end_of_day} (marker end-of-day) every folder is there"),
            &[
                "--store",
                s,
                "--at",
                end_of_day,
                "mail",
                "ls",
                PST_STREAM,
                "--recursive",
            ],
        ));
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::{DemoError, DemoOptions, NORTHWIND_SAMPLE, build_demo, shell_quote};

    /// A samples directory whose Northwind file is not a data file: the
    /// error names the file instead of panicking or building half a story.
    #[test]
    fn unreadable_sample_is_named_in_the_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let samples = tmp.path().join("samples");
        let mdf = samples.join(NORTHWIND_SAMPLE);
        std::fs::create_dir_all(mdf.parent().expect("parent")).expect("mkdir");
        std::fs::write(&mdf, vec![0x5a; 64 * 1024]).expect("write");
        let mut opts = DemoOptions::today(Some(samples));
        opts.exchange.bulk_messages = 5;
        opts.bulk_step = 2;
        let err =
            build_demo(&tmp.path().join("store"), &opts, &mut |_| {}).expect_err("garbage sample");
        assert!(matches!(err, DemoError::Sample { .. }), "{err}");
        assert!(err.to_string().contains(NORTHWIND_SAMPLE), "{err}");
    }

    #[test]
    fn shell_quote_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("mark:before-cleanup"), "mark:before-cleanup");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
