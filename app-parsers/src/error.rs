//! The error every parser returns.
//!
//! Operators read these messages, so each variant carries what they need to
//! act: the source's human name (a path, or `stream@instant`), the place in it
//! (byte offset or page), and for format errors the field that did not make
//! sense. Variants are coarse on purpose: callers branch on "was the data
//! damaged, truncated, or just unsupported", not on every field.

use std::fmt;

/// Shorthand used by every parser crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in a source a problem was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// A byte offset from the start of the source.
    Offset(u64),
    /// A page of a paged format, optionally with the offset inside the page.
    Page {
        /// Page number as the format numbers it.
        page: u64,
        /// Offset inside the page, when known.
        offset_in_page: Option<u32>,
    },
}

impl Location {
    /// A page without a finer position.
    pub fn page(page: u64) -> Self {
        Location::Page {
            page,
            offset_in_page: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Offset(o) => write!(f, "offset {o}"),
            Location::Page {
                page,
                offset_in_page: None,
            } => write!(f, "page {page}"),
            Location::Page {
                page,
                offset_in_page: Some(o),
            } => write!(f, "page {page} offset {o}"),
        }
    }
}

/// Errors of sources and parsers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The operating system failed a read.
    #[error("{source_name}: I/O error at offset {offset}: {error}")]
    Io {
        /// Human name of the source.
        source_name: String,
        /// Offset of the failed read.
        offset: u64,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
    /// A structure extends past the end of the data: the file is cut short.
    #[error(
        "{source_name}: truncated: needed {wanted} bytes at offset {offset}, but the data is only {len} bytes long"
    )]
    Truncated {
        /// Human name of the source.
        source_name: String,
        /// Where the read started.
        offset: u64,
        /// How many bytes were needed.
        wanted: u64,
        /// The length of the source.
        len: u64,
    },
    /// The storage under the source cannot produce these bytes (for an
    /// engine view: a chunk failed its hash check). The file itself may be fine.
    #[error(
        "{source_name}: bytes {offset}..{end} are damaged in the store: {detail}",
        end = offset + len
    )]
    Damaged {
        /// Human name of the source.
        source_name: String,
        /// First damaged byte.
        offset: u64,
        /// Number of damaged bytes.
        len: u64,
        /// What the storage layer reported (pack, chunk, next step).
        detail: String,
    },
    /// The bytes were read but do not make sense as the format.
    #[error("{source_name}: {at}: invalid {field}: {detail}")]
    Corrupt {
        /// Human name of the source.
        source_name: String,
        /// Where the bad field is.
        at: Location,
        /// The field that failed validation.
        field: String,
        /// Why it is invalid.
        detail: String,
    },
    /// A valid feature of the format that kairos does not decode yet.
    #[error("{source_name}: {feature} is not supported yet")]
    Unsupported {
        /// Human name of the source.
        source_name: String,
        /// What is not supported.
        feature: String,
    },
    /// A named thing (table, item path, column) does not exist in the source.
    #[error("{source_name}: {what} not found")]
    NotFound {
        /// Human name of the source.
        source_name: String,
        /// What was looked for.
        what: String,
    },
}

impl Error {
    /// Builds a [`Error::Corrupt`]; the common case in every format reader.
    pub fn corrupt(
        source_name: impl Into<String>,
        at: Location,
        field: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Error::Corrupt {
            source_name: source_name.into(),
            at,
            field: field.into(),
            detail: detail.into(),
        }
    }

    /// True when the error says the input is damaged or cut short (as opposed
    /// to an OS failure or an unsupported feature). Parsers use this to decide
    /// whether to skip a page and keep reading.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            Error::Truncated { .. } | Error::Damaged { .. } | Error::Corrupt { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_source_place_and_field() {
        let e = Error::corrupt(
            "db.mdf",
            Location::Page {
                page: 9,
                offset_in_page: Some(96),
            },
            "dbi_version",
            "0 is not a SQL Server version",
        );
        assert_eq!(
            e.to_string(),
            "db.mdf: page 9 offset 96: invalid dbi_version: 0 is not a SQL Server version"
        );
        assert!(e.is_damage());
        let d = Error::Damaged {
            source_name: "db@2026-11-24T10:00:00Z".into(),
            offset: 8192,
            len: 8192,
            detail: "chunk failed its hash check".into(),
        };
        assert_eq!(
            d.to_string(),
            "db@2026-11-24T10:00:00Z: bytes 8192..16384 are damaged in the store: chunk failed its hash check"
        );
    }
}
