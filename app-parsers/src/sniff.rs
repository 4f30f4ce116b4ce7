//! Format detection from the first pages of a file.
//!
//! Sniffing reads at most a few pages (the SQL Server file header page, page 1
//! and boot page 9; the ESE header; the PST header) and never trusts a length
//! field further than the file. It tells the CLI and GUI which parser to use
//! and gives the operator the version and page size up front.
//!
//! Signatures (see `../shared/docs/formats/`):
//! - SQL Server data file: page 0 is a file-header page (header version 1,
//!   type 15) and page 1 a PFS page (type 11); the primary file (.mdf) has its
//!   boot page (type 13) at page 9, whose record starts with `dbi_version`.
//! - SQL Server log file: same file-header page 0, then a VLF header (byte
//!   0xAB) at 8 KiB.
//! - ESE: signature 0x89ABCDEF at offset 4, format version at 8, state at 52,
//!   format revision at 232, page size at 236.
//! - PST/OST: `!BDN` at 0, client magic at 8 (`SM` PST, `SO` OST, `AB` PAB),
//!   `wVer` at 10 (14/15 ANSI, 23 Unicode, 36 Unicode with 4 KiB pages).

use std::fmt;

use serde::Serialize;

use crate::error::{Error, Location, Result};
use crate::source::{Source, SourceExt};

/// SQL Server page size: fixed for every version.
pub const SQLSERVER_PAGE_SIZE: u32 = 8192;
/// SQL Server page types we look for (formats/sqlserver-mdf.md §1).
const MDF_PAGE_FILE_HEADER: u8 = 15;
const MDF_PAGE_PFS: u8 = 11;
const MDF_PAGE_BOOT: u8 = 13;
/// The boot page of a primary data file.
const MDF_BOOT_PAGE: u64 = 9;
/// Every SQL Server page starts with a 96-byte header.
const MDF_PAGE_HEADER_LEN: usize = 96;
/// The primary data file's id (page header offset 36 of its pages).
const MDF_PRIMARY_FILE_ID: u16 = 1;
/// First byte of a log file's VLF header.
const LDF_VLF_MAGIC: u8 = 0xAB;
/// ESE header signature at offset 4 (formats/ese.md).
const ESE_SIGNATURE: u32 = 0x89AB_CDEF;
/// Smallest ESE header we read (page size field at 236).
const ESE_HEADER_MIN: u64 = 240;
/// PST header magic `!BDN`.
const PST_MAGIC: &[u8; 4] = b"!BDN";

/// Shutdown state of an ESE database (header offset 52).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EseState {
    /// 1: created, never cleanly shut down.
    JustCreated,
    /// 2: dirty shutdown — on-disk data may lack committed transactions.
    DirtyShutdown,
    /// 3: clean shutdown.
    CleanShutdown,
    /// 4: being converted.
    BeingConverted,
    /// 5: force detach.
    ForceDetach,
    /// Any other value.
    Other(u32),
}

impl From<u32> for EseState {
    fn from(v: u32) -> Self {
        match v {
            1 => EseState::JustCreated,
            2 => EseState::DirtyShutdown,
            3 => EseState::CleanShutdown,
            4 => EseState::BeingConverted,
            5 => EseState::ForceDetach,
            o => EseState::Other(o),
        }
    }
}

impl fmt::Display for EseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EseState::JustCreated => f.write_str("just created"),
            EseState::DirtyShutdown => f.write_str("dirty shutdown"),
            EseState::CleanShutdown => f.write_str("clean shutdown"),
            EseState::BeingConverted => f.write_str("being converted"),
            EseState::ForceDetach => f.write_str("force detach"),
            EseState::Other(v) => write!(f, "state {v}"),
        }
    }
}

/// Which Outlook client wrote a PST-family file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PstClient {
    /// Personal Storage Table (.pst).
    Pst,
    /// Offline Storage Table (.ost).
    Ost,
    /// Personal address book (.pab).
    Pab,
}

/// Layout generation of a PST-family file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PstEncoding {
    /// 32-bit ANSI (Outlook 97–2002).
    Ansi,
    /// 64-bit Unicode, 512-byte pages.
    Unicode,
    /// 64-bit Unicode with 4 KiB pages (OST 2013+).
    Unicode4k,
}

/// What a file is, with the facts an operator wants first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "format")]
pub enum Sniffed {
    /// A SQL Server data file (.mdf primary or .ndf secondary).
    SqlServerData {
        /// True for the primary file (has a boot page).
        primary: bool,
        /// `dbi_version` from the boot page (primary files only).
        internal_version: Option<u16>,
        /// `dbi_createVersion` from the boot page.
        create_version: Option<u16>,
        /// Database name from the boot page.
        database_name: Option<String>,
    },
    /// A SQL Server transaction log (.ldf).
    SqlServerLog,
    /// An ESE (JET Blue) database: Exchange .edb, AD, SRUM, Windows Search.
    Ese {
        /// File format version (0x620 for every modern file).
        format_version: u32,
        /// File format revision.
        format_revision: u32,
        /// Page size in bytes.
        page_size: u32,
        /// Shutdown state.
        state: EseState,
    },
    /// An Outlook data file.
    Pst {
        /// PST, OST or PAB.
        client: PstClient,
        /// ANSI, Unicode or Unicode with 4 KiB pages.
        encoding: PstEncoding,
        /// `wVer` from the header.
        version: u16,
    },
    /// Not a format kairos reads; `hint` says what it looks like when known.
    Unknown {
        /// E.g. "gzip-compressed data", "ZIP archive (Office document?)".
        hint: Option<&'static str>,
    },
}

impl Sniffed {
    /// Short format name, as the CLI prints it.
    pub fn format_name(&self) -> &'static str {
        match self {
            Sniffed::SqlServerData { primary: true, .. } => "SQL Server data file (primary, .mdf)",
            Sniffed::SqlServerData { primary: false, .. } => {
                "SQL Server data file (secondary, .ndf)"
            }
            Sniffed::SqlServerLog => "SQL Server transaction log (.ldf)",
            Sniffed::Ese { .. } => "ESE database (JET Blue)",
            Sniffed::Pst {
                client: PstClient::Ost,
                ..
            } => "Outlook offline storage (.ost)",
            Sniffed::Pst {
                client: PstClient::Pab,
                ..
            } => "Outlook personal address book (.pab)",
            Sniffed::Pst { .. } => "Outlook personal storage (.pst)",
            Sniffed::Unknown { .. } => "unknown",
        }
    }

    /// Human version string, if the format has one.
    pub fn version(&self) -> Option<String> {
        match self {
            Sniffed::SqlServerData {
                internal_version: Some(v),
                create_version,
                ..
            } => {
                let created = create_version
                    .filter(|c| c != v)
                    .map(|c| format!(", created by {} ({c})", sqlserver_product(c)))
                    .unwrap_or_default();
                Some(format!(
                    "{} (internal version {v}{created})",
                    sqlserver_product(*v)
                ))
            }
            Sniffed::Ese {
                format_version,
                format_revision,
                ..
            } => Some(format!(
                "0x{format_version:x} revision 0x{format_revision:x}"
            )),
            Sniffed::Pst {
                encoding, version, ..
            } => Some(format!(
                "{} (wVer {version})",
                match encoding {
                    PstEncoding::Ansi => "ANSI",
                    PstEncoding::Unicode => "Unicode",
                    PstEncoding::Unicode4k => "Unicode, 4 KiB pages",
                }
            )),
            _ => None,
        }
    }

    /// Page size in bytes, if the format is paged.
    pub fn page_size(&self) -> Option<u32> {
        match self {
            Sniffed::SqlServerData { .. } | Sniffed::SqlServerLog => Some(SQLSERVER_PAGE_SIZE),
            Sniffed::Ese { page_size, .. } => Some(*page_size),
            Sniffed::Pst {
                encoding: PstEncoding::Unicode4k,
                ..
            } => Some(4096),
            Sniffed::Pst { .. } => Some(512),
            Sniffed::Unknown { .. } => None,
        }
    }
}

/// The SQL Server product for an internal database version
/// (formats/sqlserver-mdf.md §8).
pub fn sqlserver_product(internal_version: u16) -> &'static str {
    match internal_version {
        0..=538 => "SQL Server before 2000",
        539 => "SQL Server 2000",
        611 | 612 => "SQL Server 2005",
        655 => "SQL Server 2008",
        660 | 661 => "SQL Server 2008 R2",
        706 => "SQL Server 2012",
        782 => "SQL Server 2014",
        801..=851 => "SQL Server 2016 pre-release",
        852 => "SQL Server 2016",
        868 | 869 => "SQL Server 2017",
        895..=904 => "SQL Server 2019",
        950..=957 => "SQL Server 2022",
        958.. => "SQL Server after 2022",
        _ => "SQL Server (unlisted version)",
    }
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// Detects the format of `src` from its first pages.
///
/// Returns `Ok(Sniffed::Unknown)` for data that is none of the formats, and an
/// error when the data starts like a known format but is cut short or has an
/// impossible header field (so "truncated ESE database" is distinguishable
/// from "not a database").
pub fn sniff(src: &dyn Source) -> Result<Sniffed> {
    let mut head = [0u8; 512];
    let n = src.read_at(0, &mut head)?;
    let head = &head[..n];
    if head.len() >= 4 && &head[..4] == PST_MAGIC {
        return sniff_pst(src, head);
    }
    if head.len() >= 8 && u32_at(head, 4) == ESE_SIGNATURE {
        return sniff_ese(src, head);
    }
    if head.len() >= 40 && head[0] == 1 && head[1] == MDF_PAGE_FILE_HEADER && u32_at(head, 32) == 0
    {
        return sniff_sqlserver(src, u16_at(head, 36));
    }
    Ok(Sniffed::Unknown {
        hint: guess_other(head),
    })
}

fn sniff_pst(src: &dyn Source, head: &[u8]) -> Result<Sniffed> {
    let mut h = [0u8; 12];
    src.read_exact_at(0, &mut h)?;
    let client = match &h[8..10] {
        b"SM" => PstClient::Pst,
        b"SO" => PstClient::Ost,
        b"AB" => PstClient::Pab,
        other => {
            return Err(Error::corrupt(
                src.name(),
                Location::Offset(8),
                "PST client magic (wMagicClient)",
                format!("{other:02x?} is not SM, SO or AB"),
            ));
        }
    };
    let version = u16_at(&h, 10);
    let (encoding, header_len) = match version {
        14 | 15 => (PstEncoding::Ansi, 512),
        21..=23 => (PstEncoding::Unicode, 564),
        36 => (PstEncoding::Unicode4k, 564),
        v => {
            return Err(Error::corrupt(
                src.name(),
                Location::Offset(10),
                "PST version (wVer)",
                format!("{v} is not an ANSI (14/15) or Unicode (23/36) file version"),
            ));
        }
    };
    let _ = head;
    if src.len() < header_len {
        return Err(Error::Truncated {
            source_name: src.name().to_owned(),
            offset: 0,
            wanted: header_len,
            len: src.len(),
        });
    }
    Ok(Sniffed::Pst {
        client,
        encoding,
        version,
    })
}

fn sniff_ese(src: &dyn Source, head: &[u8]) -> Result<Sniffed> {
    if (head.len() as u64) < ESE_HEADER_MIN {
        return Err(Error::Truncated {
            source_name: src.name().to_owned(),
            offset: 0,
            wanted: ESE_HEADER_MIN,
            len: src.len(),
        });
    }
    let page_size = u32_at(head, 236);
    let format_version = u32_at(head, 8);
    let format_revision = u32_at(head, 232);
    let state = EseState::from(u32_at(head, 52));
    // Before revision 0x11 the page size field may be 0, meaning 4 KiB.
    let page_size = if page_size == 0 { 4096 } else { page_size };
    if !matches!(page_size, 2048 | 4096 | 8192 | 16384 | 32768) {
        return Err(Error::corrupt(
            src.name(),
            Location::Offset(236),
            "ESE page size",
            format!("{page_size} is not 2, 4, 8, 16 or 32 KiB"),
        ));
    }
    // The header and its shadow copy take the first two pages; a database
    // needs at least those.
    let min = 2 * u64::from(page_size);
    if src.len() < min {
        return Err(Error::Truncated {
            source_name: src.name().to_owned(),
            offset: 0,
            wanted: min,
            len: src.len(),
        });
    }
    Ok(Sniffed::Ese {
        format_version,
        format_revision,
        page_size,
        state,
    })
}

fn sniff_sqlserver(src: &dyn Source, file_id: u16) -> Result<Sniffed> {
    let page_size = SQLSERVER_PAGE_SIZE;
    // A data or log file has at least its header page and the next one.
    let second = src.read_page(1, page_size)?;
    if second[0] == LDF_VLF_MAGIC {
        return Ok(Sniffed::SqlServerLog);
    }
    if second[0] != 1 || second[1] != MDF_PAGE_PFS {
        return Err(Error::corrupt(
            src.name(),
            Location::page(1),
            "page type",
            format!(
                "page 1 of a SQL Server file must be a PFS page (type {MDF_PAGE_PFS}) or a log VLF header; found type {}",
                second[1]
            ),
        ));
    }
    // File id 1 is the primary file; only it has a boot page.
    if file_id != MDF_PRIMARY_FILE_ID {
        return Ok(Sniffed::SqlServerData {
            primary: false,
            internal_version: None,
            create_version: None,
            database_name: None,
        });
    }
    let boot = src.read_page(MDF_BOOT_PAGE, page_size)?;
    if boot[0] != 1 || boot[1] != MDF_PAGE_BOOT {
        return Err(Error::corrupt(
            src.name(),
            Location::page(MDF_BOOT_PAGE),
            "page type",
            format!(
                "the primary data file's page 9 must be the boot page (type {MDF_PAGE_BOOT}); found type {}",
                boot[1]
            ),
        ));
    }
    // The boot record is the page's first record, right after the 96-byte
    // header; its fixed data starts 4 bytes in (formats/sqlserver-mdf.md
    // §5.1). The slot array is not trusted here: files created by SQL Server
    // 2000 and upgraded carry a slot entry that does not point at it.
    let data = MDF_PAGE_HEADER_LEN + 4;
    let internal_version = u16_at(&boot, data);
    let create_version = u16_at(&boot, data + 2);
    let name_units: Vec<u16> = boot[data + 48..data + 48 + 256]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let name = String::from_utf16_lossy(&name_units);
    // The name field is padded with 0x20 bytes, which read as U+2020 in UTF-16.
    let name = name.trim_end_matches(['\0', ' ', '\u{2020}']).to_owned();
    Ok(Sniffed::SqlServerData {
        primary: true,
        internal_version: Some(internal_version),
        create_version: Some(create_version),
        database_name: (!name.is_empty()).then_some(name),
    })
}

fn guess_other(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some("gzip-compressed data: decompress it first")
    } else if head.starts_with(b"PK\x03\x04") {
        Some("ZIP archive (Office document?)")
    } else if head.starts_with(b"%PDF") {
        Some("PDF document")
    } else if head.starts_with(b"SQLite format 3\0") {
        Some("SQLite database")
    } else if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        Some("OLE compound file (.msg, .doc, .xls?)")
    } else if !head.is_empty() && std::str::from_utf8(head).is_ok_and(|s| !s.contains('\0')) {
        Some("text")
    } else if head.is_empty() {
        Some("empty file")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::MemSource;

    fn ese_header(page_size: u32, state: u32) -> Vec<u8> {
        let mut h = vec![0u8; page_size as usize * 2];
        h[4..8].copy_from_slice(&ESE_SIGNATURE.to_le_bytes());
        h[8..12].copy_from_slice(&0x620u32.to_le_bytes());
        h[52..56].copy_from_slice(&state.to_le_bytes());
        h[232..236].copy_from_slice(&0x14u32.to_le_bytes());
        h[236..240].copy_from_slice(&page_size.to_le_bytes());
        h
    }

    #[test]
    fn ese_header_fields() {
        let s = sniff(&MemSource::new("x.edb", ese_header(8192, 2))).expect("sniff");
        assert_eq!(
            s,
            Sniffed::Ese {
                format_version: 0x620,
                format_revision: 0x14,
                page_size: 8192,
                state: EseState::DirtyShutdown
            }
        );
        assert_eq!(s.version().as_deref(), Some("0x620 revision 0x14"));
    }

    #[test]
    fn ese_bad_page_size_and_truncation_are_errors() {
        let mut h = ese_header(8192, 3);
        h[236..240].copy_from_slice(&12345u32.to_le_bytes());
        let e = sniff(&MemSource::new("x.edb", h)).expect_err("bad page size");
        assert_eq!(
            e.to_string(),
            "x.edb: offset 236: invalid ESE page size: 12345 is not 2, 4, 8, 16 or 32 KiB"
        );
        let mut h = ese_header(32768, 3);
        h.truncate(40_000);
        let e = sniff(&MemSource::new("y.edb", h)).expect_err("truncated");
        assert!(matches!(e, Error::Truncated { .. }), "{e}");
    }

    #[test]
    fn pst_header_variants() {
        for (magic, ver, client, enc) in [
            (b"SM", 23u16, PstClient::Pst, PstEncoding::Unicode),
            (b"SM", 14, PstClient::Pst, PstEncoding::Ansi),
            (b"SO", 36, PstClient::Ost, PstEncoding::Unicode4k),
        ] {
            let mut h = vec![0u8; 1024];
            h[..4].copy_from_slice(PST_MAGIC);
            h[8..10].copy_from_slice(magic);
            h[10..12].copy_from_slice(&ver.to_le_bytes());
            let s = sniff(&MemSource::new("p", h)).expect("sniff");
            assert_eq!(
                s,
                Sniffed::Pst {
                    client,
                    encoding: enc,
                    version: ver
                }
            );
        }
        let mut h = vec![0u8; 1024];
        h[..4].copy_from_slice(PST_MAGIC);
        h[8..10].copy_from_slice(b"SM");
        h[10..12].copy_from_slice(&99u16.to_le_bytes());
        assert!(sniff(&MemSource::new("p", h)).is_err());
    }

    #[test]
    fn random_and_empty_data_are_unknown() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let data: Vec<u8> = (0..10_000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert_eq!(
            sniff(&MemSource::new("r", data)).expect("sniff"),
            Sniffed::Unknown { hint: None }
        );
        assert_eq!(
            sniff(&MemSource::new("e", Vec::new())).expect("sniff"),
            Sniffed::Unknown {
                hint: Some("empty file")
            }
        );
    }

    #[test]
    fn every_prefix_of_a_header_errors_or_sniffs_without_panic() {
        let h = ese_header(4096, 3);
        for cut in 0..h.len() {
            let _ = sniff(&MemSource::new("cut", h[..cut].to_vec()));
        }
    }
}
