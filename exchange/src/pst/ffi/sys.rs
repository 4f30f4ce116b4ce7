//! Hand-written declarations of the libpff 20180714 and libbfio 20170123 C
//! functions kairos calls (from `/usr/include/libpff.h` and
//! `/usr/include/libbfio.h`). Only what is used is declared; every function
//! returns 1 on success, 0 for "not available" and -1 on error unless noted.

use libc::{c_char, c_int, size_t, ssize_t};

/// Opaque `libpff_file_t`.
#[repr(C)]
pub struct PffFile {
    _private: [u8; 0],
}
/// Opaque `libpff_item_t` (folders, messages, attachments, recipients).
#[repr(C)]
pub struct PffItem {
    _private: [u8; 0],
}
/// Opaque `libpff_record_set_t`.
#[repr(C)]
pub struct PffRecordSet {
    _private: [u8; 0],
}
/// Opaque `libpff_record_entry_t`.
#[repr(C)]
pub struct PffRecordEntry {
    _private: [u8; 0],
}
/// Opaque `libpff_error_t` (a libcerror error).
#[repr(C)]
pub struct PffError {
    _private: [u8; 0],
}
/// Opaque `libbfio_handle_t`.
#[repr(C)]
pub struct BfioHandle {
    _private: [u8; 0],
}
/// Opaque `libbfio_error_t`.
#[repr(C)]
pub struct BfioError {
    _private: [u8; 0],
}

/// `LIBPFF_OPEN_READ`.
pub const LIBPFF_OPEN_READ: c_int = 0x01;
/// `LIBPFF_ENTRY_VALUE_FLAG_MATCH_ANY_VALUE_TYPE`: look a property up by id
/// whatever its type.
pub const LIBPFF_ENTRY_VALUE_FLAG_MATCH_ANY_VALUE_TYPE: u8 = 0x01;
/// `LIBBFIO_FLAG_IO_HANDLE_MANAGED` (libbfio frees the io handle through our
/// free callback) with `LIBBFIO_FLAG_IO_HANDLE_CLONE_BY_FUNCTION` (0x00).
pub const LIBBFIO_FLAG_IO_HANDLE_MANAGED: u8 = 0x01;

/// The callback table `libbfio_handle_initialize` takes; `io_handle` is our
/// boxed state cast to `intptr_t *`.
pub type FreeFn = unsafe extern "C" fn(*mut *mut isize, *mut *mut BfioError) -> c_int;
pub type CloneFn = unsafe extern "C" fn(*mut *mut isize, *mut isize, *mut *mut BfioError) -> c_int;
pub type OpenFn = unsafe extern "C" fn(*mut isize, c_int, *mut *mut BfioError) -> c_int;
pub type CloseFn = unsafe extern "C" fn(*mut isize, *mut *mut BfioError) -> c_int;
pub type ReadFn = unsafe extern "C" fn(*mut isize, *mut u8, size_t, *mut *mut BfioError) -> ssize_t;
pub type WriteFn =
    unsafe extern "C" fn(*mut isize, *const u8, size_t, *mut *mut BfioError) -> ssize_t;
pub type SeekFn = unsafe extern "C" fn(*mut isize, i64, c_int, *mut *mut BfioError) -> i64;
pub type ExistsFn = unsafe extern "C" fn(*mut isize, *mut *mut BfioError) -> c_int;
pub type SizeFn = unsafe extern "C" fn(*mut isize, *mut u64, *mut *mut BfioError) -> c_int;

#[link(name = "bfio")]
unsafe extern "C" {
    pub fn libbfio_handle_initialize(
        handle: *mut *mut BfioHandle,
        io_handle: *mut isize,
        free_io_handle: Option<FreeFn>,
        clone_io_handle: Option<CloneFn>,
        open: Option<OpenFn>,
        close: Option<CloseFn>,
        read: Option<ReadFn>,
        write: Option<WriteFn>,
        seek_offset: Option<SeekFn>,
        exists: Option<ExistsFn>,
        is_open: Option<ExistsFn>,
        get_size: Option<SizeFn>,
        flags: u8,
        error: *mut *mut BfioError,
    ) -> c_int;
    pub fn libbfio_handle_free(handle: *mut *mut BfioHandle, error: *mut *mut BfioError) -> c_int;
    pub fn libbfio_error_free(error: *mut *mut BfioError);
}

#[link(name = "pff")]
unsafe extern "C" {
    pub fn libpff_error_free(error: *mut *mut PffError);
    pub fn libpff_error_backtrace_sprint(
        error: *mut PffError,
        string: *mut c_char,
        size: size_t,
    ) -> c_int;

    pub fn libpff_file_initialize(file: *mut *mut PffFile, error: *mut *mut PffError) -> c_int;
    pub fn libpff_file_free(file: *mut *mut PffFile, error: *mut *mut PffError) -> c_int;
    pub fn libpff_file_open_file_io_handle(
        file: *mut PffFile,
        file_io_handle: *mut BfioHandle,
        access_flags: c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_close(file: *mut PffFile, error: *mut *mut PffError) -> c_int;
    pub fn libpff_file_recover_items(
        file: *mut PffFile,
        recovery_flags: u8,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_content_type(
        file: *mut PffFile,
        content_type: *mut u8,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_type(file: *mut PffFile, t: *mut u8, error: *mut *mut PffError)
    -> c_int;
    pub fn libpff_file_get_encryption_type(
        file: *mut PffFile,
        t: *mut u8,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_message_store(
        file: *mut PffFile,
        item: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_root_folder(
        file: *mut PffFile,
        item: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_item_by_identifier(
        file: *mut PffFile,
        identifier: u32,
        item: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_number_of_recovered_items(
        file: *mut PffFile,
        n: *mut c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_recovered_item_by_index(
        file: *mut PffFile,
        index: c_int,
        item: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_number_of_orphan_items(
        file: *mut PffFile,
        n: *mut c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_file_get_orphan_item_by_index(
        file: *mut PffFile,
        index: c_int,
        item: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;

    pub fn libpff_item_free(item: *mut *mut PffItem, error: *mut *mut PffError) -> c_int;
    pub fn libpff_item_get_identifier(
        item: *mut PffItem,
        id: *mut u32,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_item_get_type(item: *mut PffItem, t: *mut u8, error: *mut *mut PffError)
    -> c_int;
    pub fn libpff_item_get_number_of_record_sets(
        item: *mut PffItem,
        n: *mut c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_item_get_record_set_by_index(
        item: *mut PffItem,
        index: c_int,
        set: *mut *mut PffRecordSet,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_record_set_free(set: *mut *mut PffRecordSet, error: *mut *mut PffError) -> c_int;
    pub fn libpff_record_set_get_entry_by_type(
        set: *mut PffRecordSet,
        entry_type: u32,
        value_type: u32,
        entry: *mut *mut PffRecordEntry,
        flags: u8,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_record_entry_free(
        entry: *mut *mut PffRecordEntry,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_record_entry_get_value_type(
        entry: *mut PffRecordEntry,
        value_type: *mut u32,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_record_entry_get_data_size(
        entry: *mut PffRecordEntry,
        size: *mut size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_record_entry_get_data(
        entry: *mut PffRecordEntry,
        data: *mut u8,
        size: size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_record_entry_get_data_as_utf8_string_size(
        entry: *mut PffRecordEntry,
        size: *mut size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_record_entry_get_data_as_utf8_string(
        entry: *mut PffRecordEntry,
        data: *mut u8,
        size: size_t,
        error: *mut *mut PffError,
    ) -> c_int;

    pub fn libpff_folder_get_utf8_name_size(
        item: *mut PffItem,
        size: *mut size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_folder_get_utf8_name(
        item: *mut PffItem,
        data: *mut u8,
        size: size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_folder_get_number_of_sub_folders(
        item: *mut PffItem,
        n: *mut c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_folder_get_sub_folder(
        item: *mut PffItem,
        index: c_int,
        sub: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_folder_get_number_of_sub_messages(
        item: *mut PffItem,
        n: *mut c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_folder_get_sub_message(
        item: *mut PffItem,
        index: c_int,
        sub: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;

    pub fn libpff_message_get_number_of_attachments(
        item: *mut PffItem,
        n: *mut c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_message_get_attachment(
        item: *mut PffItem,
        index: c_int,
        sub: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_message_get_recipients(
        item: *mut PffItem,
        sub: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_message_get_plain_text_body_size(
        item: *mut PffItem,
        size: *mut size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_message_get_plain_text_body(
        item: *mut PffItem,
        data: *mut u8,
        size: size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_message_get_html_body_size(
        item: *mut PffItem,
        size: *mut size_t,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_message_get_html_body(
        item: *mut PffItem,
        data: *mut u8,
        size: size_t,
        error: *mut *mut PffError,
    ) -> c_int;

    pub fn libpff_attachment_get_type(
        item: *mut PffItem,
        t: *mut c_int,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_attachment_get_data_size(
        item: *mut PffItem,
        size: *mut u64,
        error: *mut *mut PffError,
    ) -> c_int;
    pub fn libpff_attachment_data_read_buffer(
        item: *mut PffItem,
        data: *mut u8,
        size: size_t,
        error: *mut *mut PffError,
    ) -> ssize_t;
    pub fn libpff_attachment_data_seek_offset(
        item: *mut PffItem,
        offset: i64,
        whence: c_int,
        error: *mut *mut PffError,
    ) -> i64;
    pub fn libpff_attachment_get_item(
        item: *mut PffItem,
        sub: *mut *mut PffItem,
        error: *mut *mut PffError,
    ) -> c_int;
}
