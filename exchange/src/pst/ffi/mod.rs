//! The only unsafe code of kairos-exchange: a binding of libpff (the libyal
//! C library, LGPL-3.0+, dynamically linked) and a safe wrapper around it.
//!
//! Why C: libpff is the most battle-tested PST/OST reader, and its recovery
//! of deleted and orphaned items is what operators ask for. Why unsafe is
//! allowed here and nowhere else: calling C and handing it callbacks cannot
//! be done without it. Everything outside this module uses [`PffFile`],
//! [`PffItem`], [`RecordSet`] and [`RecordEntry`], which free their C handles
//! on drop and turn libpff errors into [`kairos_parsers::Error`] carrying the
//! libpff message, the function that failed and the last file offset libpff
//! read.
//!
//! libpff reads through a libbfio handle built by [`io_handle`] on top of a
//! [`Source`], so engine views (point-in-time streams) are read in place.
#![allow(unsafe_code)]

mod io_handle;
mod sys;

use std::ffi::CStr;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use kairos_parsers::{Error, Location, Result, Source};
use libc::c_int;

use io_handle::{IoShared, IoState};

/// Largest buffer kairos lets libpff fill in one call. libpff has already
/// allocated the value itself, so this only guards against a size field
/// libpff did not validate.
const MAX_VALUE_BYTES: usize = 1 << 31;

/// An open PST/OST/PAB file.
pub struct PffFile {
    file: *mut sys::PffFile,
    io: *mut sys::BfioHandle,
    name: String,
    shared: Arc<IoShared>,
}

// SAFETY: libpff (built with multi-thread support) does not tie a file handle
// to the thread that opened it. `PffFile` is not `Sync`, and every item
// borrows it, so all libpff calls on one file happen on one thread at a time;
// callers that share a file across threads put it behind a `Mutex`.
unsafe impl Send for PffFile {}

impl PffFile {
    /// Opens `source` read-only through libpff.
    pub fn open(source: Arc<dyn Source>) -> Result<Self> {
        let name = source.name().to_owned();
        let shared = Arc::new(IoShared::default());
        let io_state = io_handle::into_raw(IoState::new(source, Arc::clone(&shared)));
        let mut io: *mut sys::BfioHandle = ptr::null_mut();
        let mut berr: *mut sys::BfioError = ptr::null_mut();
        // SAFETY: all pointers are valid; on success libbfio owns `io_state`.
        let rc = unsafe {
            sys::libbfio_handle_initialize(
                &raw mut io,
                io_state,
                Some(io_handle::free_io),
                Some(io_handle::clone_io),
                Some(io_handle::open_io),
                Some(io_handle::close_io),
                Some(io_handle::read_io),
                Some(io_handle::write_io),
                Some(io_handle::seek_io),
                Some(io_handle::exists_io),
                Some(io_handle::exists_io),
                Some(io_handle::size_io),
                sys::LIBBFIO_FLAG_IO_HANDLE_MANAGED,
                &raw mut berr,
            )
        };
        if rc != 1 {
            // SAFETY: `berr` is null or a libbfio error we own.
            unsafe { sys::libbfio_error_free(&raw mut berr) };
            io_handle::free_raw(io_state);
            return Err(Error::Unsupported {
                source_name: name,
                feature: "reading through libbfio (libbfio_handle_initialize failed)".into(),
            });
        }
        let mut this = PffFile {
            file: ptr::null_mut(),
            io,
            name,
            shared,
        };
        let mut err = ptr::null_mut();
        // SAFETY: out-pointer valid; on failure `file` stays null.
        let rc = unsafe { sys::libpff_file_initialize(&raw mut this.file, &raw mut err) };
        this.check(rc, err, "libpff_file_initialize")?;
        let mut err = ptr::null_mut();
        // SAFETY: `file` and `io` are live handles.
        let rc = unsafe {
            sys::libpff_file_open_file_io_handle(
                this.file,
                this.io,
                sys::LIBPFF_OPEN_READ,
                &raw mut err,
            )
        };
        this.check(rc, err, "libpff_file_open_file_io_handle (file header)")?;
        Ok(this)
    }

    /// The source's human name (used in every error).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Turns a libpff status into `Ok(true)` (1), `Ok(false)` (0, "not
    /// available") or an error naming `what` (anything else). Frees `err`.
    fn check(&self, rc: c_int, mut err: *mut sys::PffError, what: &str) -> Result<bool> {
        let message = if err.is_null() {
            None
        } else {
            let mut buf = vec![0u8; 2048];
            // SAFETY: `err` is a live libpff error; the buffer is writable.
            let n = unsafe {
                sys::libpff_error_backtrace_sprint(err, buf.as_mut_ptr().cast(), buf.len())
            };
            // SAFETY: we own `err` and free it exactly once.
            unsafe { sys::libpff_error_free(&raw mut err) };
            (n > 0).then(|| {
                CStr::from_bytes_until_nul(&buf).map_or_else(
                    |_| String::from_utf8_lossy(&buf).into_owned(),
                    |c| c.to_string_lossy().into_owned(),
                )
            })
        };
        match rc {
            1.. => Ok(true),
            0 => Ok(false),
            _ => Err(self.error(what, message.as_deref().unwrap_or("failed"))),
        }
    }

    /// The error for a failed libpff call: the source's own read error when
    /// there was one (a damaged chunk says so), else libpff's message at the
    /// last offset it read.
    fn error(&self, what: &str, message: &str) -> Error {
        if let Some(e) = self
            .shared
            .read_error
            .lock()
            .ok()
            .and_then(|mut e| e.take())
        {
            return e;
        }
        let detail = message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        Error::corrupt(
            self.name.clone(),
            Location::Offset(self.shared.last_offset.load(Ordering::Relaxed)),
            what,
            format!("libpff: {detail}"),
        )
    }

    /// Runs a libpff getter that yields one byte.
    fn byte(
        &self,
        what: &str,
        f: unsafe extern "C" fn(*mut sys::PffFile, *mut u8, *mut *mut sys::PffError) -> c_int,
    ) -> Result<Option<u8>> {
        let mut v = 0u8;
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc = unsafe { f(self.file, &raw mut v, &raw mut err) };
        Ok(self.check(rc, err, what)?.then_some(v))
    }

    /// `'p'` PST, `'o'` OST, `'a'` PAB.
    pub fn content_type(&self) -> Result<Option<u8>> {
        self.byte(
            "libpff_file_get_content_type",
            sys::libpff_file_get_content_type,
        )
    }

    /// 32 (ANSI), 64 (Unicode) or 65 (Unicode, 4 KiB pages).
    pub fn file_type(&self) -> Result<Option<u8>> {
        self.byte("libpff_file_get_type", sys::libpff_file_get_type)
    }

    /// 0 none, 1 compressible (permute), 2 high (cyclic).
    pub fn encryption_type(&self) -> Result<Option<u8>> {
        self.byte(
            "libpff_file_get_encryption_type",
            sys::libpff_file_get_encryption_type,
        )
    }

    /// Wraps an item pointer libpff handed out (null → `None`).
    fn item(&self, raw: *mut sys::PffItem, found: bool) -> Option<PffItem<'_>> {
        (found && !raw.is_null()).then_some(PffItem { raw, file: self })
    }

    /// The message store (NID 0x21) property context.
    pub fn message_store(&self) -> Result<Option<PffItem<'_>>> {
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc =
            unsafe { sys::libpff_file_get_message_store(self.file, &raw mut raw, &raw mut err) };
        let found = self.check(rc, err, "libpff_file_get_message_store")?;
        Ok(self.item(raw, found))
    }

    /// The root folder (NID 0x122).
    pub fn root_folder(&self) -> Result<Option<PffItem<'_>>> {
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc = unsafe { sys::libpff_file_get_root_folder(self.file, &raw mut raw, &raw mut err) };
        let found = self.check(rc, err, "libpff_file_get_root_folder")?;
        Ok(self.item(raw, found))
    }

    /// The allocated item with node id `nid`, if the node B-tree has it.
    pub fn item_by_id(&self, nid: u32) -> Result<Option<PffItem<'_>>> {
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc = unsafe {
            sys::libpff_file_get_item_by_identifier(self.file, nid, &raw mut raw, &raw mut err)
        };
        let found = self.check(rc, err, &format!("item {nid}"))?;
        Ok(self.item(raw, found))
    }

    /// Scans unallocated space for deleted items (libpff's recovery, default
    /// flags: only unallocated data, as `pffexport -m all` does).
    pub fn recover_items(&self) -> Result<()> {
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live.
        let rc = unsafe { sys::libpff_file_recover_items(self.file, 0, &raw mut err) };
        self.check(rc, err, "libpff_file_recover_items")?;
        Ok(())
    }

    /// Number of items [`PffFile::recover_items`] found.
    pub fn recovered_count(&self) -> Result<usize> {
        let mut n: c_int = 0;
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc = unsafe {
            sys::libpff_file_get_number_of_recovered_items(self.file, &raw mut n, &raw mut err)
        };
        self.check(rc, err, "libpff_file_get_number_of_recovered_items")?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Recovered item number `index` (0-based).
    pub fn recovered_item(&self, index: usize) -> Result<Option<PffItem<'_>>> {
        let Ok(i) = c_int::try_from(index) else {
            return Ok(None);
        };
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc = unsafe {
            sys::libpff_file_get_recovered_item_by_index(self.file, i, &raw mut raw, &raw mut err)
        };
        let found = self.check(rc, err, &format!("recovered item {index}"))?;
        Ok(self.item(raw, found))
    }

    /// Number of orphan items (allocated nodes no folder refers to).
    pub fn orphan_count(&self) -> Result<usize> {
        let mut n: c_int = 0;
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc = unsafe {
            sys::libpff_file_get_number_of_orphan_items(self.file, &raw mut n, &raw mut err)
        };
        self.check(rc, err, "libpff_file_get_number_of_orphan_items")?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Orphan item number `index` (0-based).
    pub fn orphan_item(&self, index: usize) -> Result<Option<PffItem<'_>>> {
        let Ok(i) = c_int::try_from(index) else {
            return Ok(None);
        };
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `file` is live; out-pointers valid.
        let rc = unsafe {
            sys::libpff_file_get_orphan_item_by_index(self.file, i, &raw mut raw, &raw mut err)
        };
        let found = self.check(rc, err, &format!("orphan item {index}"))?;
        Ok(self.item(raw, found))
    }
}

impl Drop for PffFile {
    fn drop(&mut self) {
        let mut err = ptr::null_mut();
        // SAFETY: handles are live or null; each is freed once; errors freed.
        unsafe {
            if !self.file.is_null() {
                sys::libpff_file_close(self.file, &raw mut err);
                sys::libpff_error_free(&raw mut err);
                sys::libpff_file_free(&raw mut self.file, &raw mut err);
                sys::libpff_error_free(&raw mut err);
            }
            if !self.io.is_null() {
                let mut berr = ptr::null_mut();
                sys::libbfio_handle_free(&raw mut self.io, &raw mut berr);
                sys::libbfio_error_free(&raw mut berr);
            }
        }
    }
}

/// Calls a libpff "get size" + "get bytes" pair and returns the bytes (with
/// the trailing NUL libpff counts in string sizes left to the caller).
macro_rules! sized_value {
    ($self:expr, $what:expr, $size_fn:path, $data_fn:path, $handle:expr) => {{
        let mut size: usize = 0;
        let mut err = ptr::null_mut();
        // SAFETY: the handle is live; out-pointers valid.
        let rc = unsafe { $size_fn($handle, &raw mut size, &raw mut err) };
        if !$self.file.check(rc, err, $what)? || size == 0 {
            Ok(None)
        } else if size > MAX_VALUE_BYTES {
            Err($self
                .file
                .error($what, &format!("value of {size} bytes is too large")))
        } else {
            let mut buf = vec![0u8; size];
            let mut err = ptr::null_mut();
            // SAFETY: the buffer holds exactly `size` writable bytes.
            let rc = unsafe { $data_fn($handle, buf.as_mut_ptr(), size, &raw mut err) };
            if $self.file.check(rc, err, $what)? {
                Ok(Some(buf))
            } else {
                Ok(None)
            }
        }
    }};
}

/// Strips the terminating NUL libpff puts on UTF-8 strings and validates.
fn utf8(mut bytes: Vec<u8>) -> String {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A libpff item: folder, message, attachment or recipient list. Borrows its
/// file, so it cannot outlive it.
pub struct PffItem<'f> {
    raw: *mut sys::PffItem,
    file: &'f PffFile,
}

impl Drop for PffItem<'_> {
    fn drop(&mut self) {
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is a live item we own; freed once.
        unsafe {
            sys::libpff_item_free(&raw mut self.raw, &raw mut err);
            sys::libpff_error_free(&raw mut err);
        }
    }
}

impl<'f> PffItem<'f> {
    fn count(
        &self,
        what: &str,
        f: unsafe extern "C" fn(*mut sys::PffItem, *mut c_int, *mut *mut sys::PffError) -> c_int,
    ) -> Result<usize> {
        let mut n: c_int = 0;
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe { f(self.raw, &raw mut n, &raw mut err) };
        self.file.check(rc, err, what)?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn sub(
        &self,
        what: &str,
        index: usize,
        f: unsafe extern "C" fn(
            *mut sys::PffItem,
            c_int,
            *mut *mut sys::PffItem,
            *mut *mut sys::PffError,
        ) -> c_int,
    ) -> Result<Option<PffItem<'f>>> {
        let Ok(i) = c_int::try_from(index) else {
            return Ok(None);
        };
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe { f(self.raw, i, &raw mut raw, &raw mut err) };
        let found = self.file.check(rc, err, what)?;
        Ok(self.file.item(raw, found))
    }

    fn one(
        &self,
        what: &str,
        f: unsafe extern "C" fn(
            *mut sys::PffItem,
            *mut *mut sys::PffItem,
            *mut *mut sys::PffError,
        ) -> c_int,
    ) -> Result<Option<PffItem<'f>>> {
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe { f(self.raw, &raw mut raw, &raw mut err) };
        let found = self.file.check(rc, err, what)?;
        Ok(self.file.item(raw, found))
    }

    /// The node id (NID) of the item; 0 for items without one.
    pub fn identifier(&self) -> Result<u32> {
        let mut id = 0u32;
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe { sys::libpff_item_get_identifier(self.raw, &raw mut id, &raw mut err) };
        self.file.check(rc, err, "libpff_item_get_identifier")?;
        Ok(id)
    }

    /// libpff's `LIBPFF_ITEM_TYPE_*` (see [`crate::pst`] for the values used).
    pub fn item_type(&self) -> Result<u8> {
        let mut t = 0u8;
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe { sys::libpff_item_get_type(self.raw, &raw mut t, &raw mut err) };
        self.file.check(rc, err, "libpff_item_get_type")?;
        Ok(t)
    }

    /// Number of record sets: 1 for a folder or message, one per recipient
    /// in a recipient list.
    pub fn record_set_count(&self) -> Result<usize> {
        self.count(
            "libpff_item_get_number_of_record_sets",
            sys::libpff_item_get_number_of_record_sets,
        )
    }

    /// Record set `index` (the item's MAPI properties, or one table row).
    pub fn record_set(&self, index: usize) -> Result<Option<RecordSet<'_>>> {
        let Ok(i) = c_int::try_from(index) else {
            return Ok(None);
        };
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe {
            sys::libpff_item_get_record_set_by_index(self.raw, i, &raw mut raw, &raw mut err)
        };
        let found = self
            .file
            .check(rc, err, "libpff_item_get_record_set_by_index")?;
        Ok((found && !raw.is_null()).then_some(RecordSet {
            raw,
            file: self.file,
        }))
    }

    /// A folder's display name.
    pub fn folder_name(&self) -> Result<Option<String>> {
        let v: Result<Option<Vec<u8>>> = sized_value!(
            self,
            "libpff_folder_get_utf8_name",
            sys::libpff_folder_get_utf8_name_size,
            sys::libpff_folder_get_utf8_name,
            self.raw
        );
        Ok(v?.map(utf8))
    }

    /// Number of sub-folders (rows of the hierarchy table).
    pub fn sub_folder_count(&self) -> Result<usize> {
        self.count(
            "libpff_folder_get_number_of_sub_folders",
            sys::libpff_folder_get_number_of_sub_folders,
        )
    }

    /// Sub-folder `index`.
    pub fn sub_folder(&self, index: usize) -> Result<Option<PffItem<'f>>> {
        self.sub(
            "libpff_folder_get_sub_folder",
            index,
            sys::libpff_folder_get_sub_folder,
        )
    }

    /// Number of messages (rows of the contents table).
    pub fn sub_message_count(&self) -> Result<usize> {
        self.count(
            "libpff_folder_get_number_of_sub_messages",
            sys::libpff_folder_get_number_of_sub_messages,
        )
    }

    /// Message `index` of a folder.
    pub fn sub_message(&self, index: usize) -> Result<Option<PffItem<'f>>> {
        self.sub(
            "libpff_folder_get_sub_message",
            index,
            sys::libpff_folder_get_sub_message,
        )
    }

    /// Number of attachments of a message.
    pub fn attachment_count(&self) -> Result<usize> {
        self.count(
            "libpff_message_get_number_of_attachments",
            sys::libpff_message_get_number_of_attachments,
        )
    }

    /// Attachment `index` of a message.
    pub fn attachment(&self, index: usize) -> Result<Option<PffItem<'f>>> {
        self.sub(
            "libpff_message_get_attachment",
            index,
            sys::libpff_message_get_attachment,
        )
    }

    /// The recipient table of a message (one record set per recipient).
    pub fn recipients(&self) -> Result<Option<PffItem<'f>>> {
        self.one(
            "libpff_message_get_recipients",
            sys::libpff_message_get_recipients,
        )
    }

    /// The plain-text body as UTF-8 (libpff converts code pages).
    pub fn plain_text_body(&self) -> Result<Option<String>> {
        let v: Result<Option<Vec<u8>>> = sized_value!(
            self,
            "libpff_message_get_plain_text_body",
            sys::libpff_message_get_plain_text_body_size,
            sys::libpff_message_get_plain_text_body,
            self.raw
        );
        Ok(v?.map(utf8))
    }

    /// The HTML body bytes as stored (charset per the HTML itself / code page).
    pub fn html_body(&self) -> Result<Option<Vec<u8>>> {
        let v: Result<Option<Vec<u8>>> = sized_value!(
            self,
            "libpff_message_get_html_body",
            sys::libpff_message_get_html_body_size,
            sys::libpff_message_get_html_body,
            self.raw
        );
        Ok(v?.map(|mut b| {
            while b.last() == Some(&0) {
                b.pop();
            }
            b
        }))
    }

    /// libpff's attachment type: `b'd'` data, `b'i'` embedded item,
    /// `b'r'` reference, 0 undefined.
    pub fn attachment_type(&self) -> Result<u8> {
        let mut t: c_int = 0;
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe { sys::libpff_attachment_get_type(self.raw, &raw mut t, &raw mut err) };
        self.file.check(rc, err, "libpff_attachment_get_type")?;
        Ok(u8::try_from(t).unwrap_or(0))
    }

    /// The bytes of a by-value attachment (`None` when it has no data).
    pub fn attachment_data(&self) -> Result<Option<Vec<u8>>> {
        let what = "libpff_attachment_data_read_buffer";
        let mut size = 0u64;
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc =
            unsafe { sys::libpff_attachment_get_data_size(self.raw, &raw mut size, &raw mut err) };
        if !self
            .file
            .check(rc, err, "libpff_attachment_get_data_size")?
        {
            return Ok(None);
        }
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        if size > MAX_VALUE_BYTES {
            return Err(self
                .file
                .error(what, &format!("attachment of {size} bytes is too large")));
        }
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live.
        let pos = unsafe {
            sys::libpff_attachment_data_seek_offset(self.raw, 0, libc::SEEK_SET, &raw mut err)
        };
        self.file.check(
            if pos < 0 { -1 } else { 1 },
            err,
            "libpff_attachment_data_seek_offset",
        )?;
        let mut buf = vec![0u8; size];
        let mut done = 0;
        while done < size {
            let mut err = ptr::null_mut();
            // SAFETY: the slice `buf[done..]` is writable for `size - done` bytes.
            let n = unsafe {
                sys::libpff_attachment_data_read_buffer(
                    self.raw,
                    buf[done..].as_mut_ptr(),
                    size - done,
                    &raw mut err,
                )
            };
            if n <= 0 {
                self.file.check(if n < 0 { -1 } else { 1 }, err, what)?;
                break;
            }
            done += n.unsigned_abs();
        }
        buf.truncate(done);
        Ok(Some(buf))
    }

    /// The embedded message of an attachment of type `b'i'`.
    pub fn attached_item(&self) -> Result<Option<PffItem<'f>>> {
        self.one(
            "libpff_attachment_get_item",
            sys::libpff_attachment_get_item,
        )
    }
}

/// One set of MAPI properties (a property context, or one table row).
pub struct RecordSet<'f> {
    raw: *mut sys::PffRecordSet,
    file: &'f PffFile,
}

impl Drop for RecordSet<'_> {
    fn drop(&mut self) {
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is a live record set we own; freed once.
        unsafe {
            sys::libpff_record_set_free(&raw mut self.raw, &raw mut err);
            sys::libpff_error_free(&raw mut err);
        }
    }
}

impl RecordSet<'_> {
    /// The property with id `prop_id` (the upper 16 bits of a property tag),
    /// whatever its type.
    pub fn entry(&self, prop_id: u16) -> Result<Option<RecordEntry<'_>>> {
        let mut raw = ptr::null_mut();
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc = unsafe {
            sys::libpff_record_set_get_entry_by_type(
                self.raw,
                u32::from(prop_id),
                0,
                &raw mut raw,
                sys::LIBPFF_ENTRY_VALUE_FLAG_MATCH_ANY_VALUE_TYPE,
                &raw mut err,
            )
        };
        let found = self
            .file
            .check(rc, err, &format!("property 0x{prop_id:04X}"))?;
        Ok((found && !raw.is_null()).then_some(RecordEntry {
            raw,
            file: self.file,
            prop_id,
        }))
    }
}

/// One MAPI property value.
pub struct RecordEntry<'f> {
    raw: *mut sys::PffRecordEntry,
    file: &'f PffFile,
    prop_id: u16,
}

impl Drop for RecordEntry<'_> {
    fn drop(&mut self) {
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is a live entry we own; freed once.
        unsafe {
            sys::libpff_record_entry_free(&raw mut self.raw, &raw mut err);
            sys::libpff_error_free(&raw mut err);
        }
    }
}

impl RecordEntry<'_> {
    fn what(&self) -> String {
        format!("property 0x{:04X}", self.prop_id)
    }

    /// The MAPI property type (0x0003 int32, 0x001F UTF-16 string, ...).
    pub fn value_type(&self) -> Result<u32> {
        let mut t = 0u32;
        let mut err = ptr::null_mut();
        // SAFETY: `raw` is live; out-pointers valid.
        let rc =
            unsafe { sys::libpff_record_entry_get_value_type(self.raw, &raw mut t, &raw mut err) };
        self.file.check(rc, err, &self.what())?;
        Ok(t)
    }

    /// The value's bytes as stored (little-endian numbers, UTF-16LE strings).
    pub fn data(&self) -> Result<Vec<u8>> {
        let what = self.what();
        let v: Result<Option<Vec<u8>>> = sized_value!(
            self,
            &what,
            sys::libpff_record_entry_get_data_size,
            sys::libpff_record_entry_get_data,
            self.raw
        );
        Ok(v?.unwrap_or_default())
    }

    /// A string property as UTF-8 (8-bit strings through the file's code page).
    pub fn utf8(&self) -> Result<String> {
        let what = self.what();
        let v: Result<Option<Vec<u8>>> = sized_value!(
            self,
            &what,
            sys::libpff_record_entry_get_data_as_utf8_string_size,
            sys::libpff_record_entry_get_data_as_utf8_string,
            self.raw
        );
        Ok(v?.map(utf8).unwrap_or_default())
    }
}
