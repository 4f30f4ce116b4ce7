//! The boot page (page 9 of the primary file): database version, name and
//! the pointer to the first page of `sysallocunits`. Format notes §5.1, §8.

use kairos_parsers::{Error, Location, Result, Source};

use crate::bytes::{slice, u16_at, u32_at, utf16le};
use crate::page::{Page, PageId, PageType};

/// Page number of the boot page in the primary data file.
pub const BOOT_PAGE: u32 = 9;

/// Offsets inside the boot record's fixed data (record byte 4 onward).
const DBI_VERSION: usize = 4;
const DBI_CREATE_VERSION: usize = 4 + 2;
const DBI_STATUS: usize = 4 + 32;
const DBI_DBNAME: usize = 4 + 48;
const DBI_DBNAME_LEN: usize = 256;
const DBI_DBID: usize = 4 + 308;
const DBI_FIRST_SYS_INDEXES: usize = 4 + 512;

/// Internal versions whose layout this reader was checked against (format
/// notes §8; samples of 611–852 exist) plus the later releases whose page,
/// record and catalog layout is believed unchanged.
const KNOWN_VERSIONS: &[(u16, &str)] = &[
    (611, "SQL Server 2005"),
    (612, "SQL Server 2005 (vardecimal)"),
    (655, "SQL Server 2008"),
    (660, "SQL Server 2008 R2"),
    (661, "SQL Server 2008 R2"),
    (706, "SQL Server 2012"),
    (782, "SQL Server 2014"),
    (851, "SQL Server 2016 pre-release"),
    (852, "SQL Server 2016"),
    (868, "SQL Server 2017"),
    (869, "SQL Server 2017"),
    (904, "SQL Server 2019"),
    (957, "SQL Server 2022"),
];

/// Highest version a sample file exists for; later ones are read with a warning.
const HIGHEST_TESTED_VERSION: u16 = 852;

/// What the boot page says about the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootPage {
    /// `dbi_version`: current internal version.
    pub version: u16,
    /// `dbi_createVersion`: version that created the file.
    pub create_version: u16,
    /// `dbi_status` bits.
    pub status: u32,
    /// `dbi_dbname`.
    pub name: String,
    /// `dbi_dbid`.
    pub dbid: u16,
    /// `dbi_firstSysIndexes`: first page of `sysallocunits`.
    pub first_sys_indexes: PageId,
}

impl BootPage {
    /// Reads and validates page 9 of `src`.
    pub fn read(src: &(impl Source + ?Sized)) -> Result<BootPage> {
        let page = Page::read(src, BOOT_PAGE)?;
        let corrupt = |field: &str, detail: String| {
            Error::corrupt(
                src.name(),
                Location::page(u64::from(BOOT_PAGE)),
                field,
                detail,
            )
        };
        if page.header().page_type != PageType::Boot {
            return Err(corrupt(
                "m_type",
                format!(
                    "{:?}, expected the boot page: not a primary SQL Server data file",
                    page.header().page_type
                ),
            ));
        }
        let rec = page
            .record_bytes(0)
            .ok_or_else(|| corrupt("slot 0", "the boot record is missing".into()))?;
        let field = |name: &str| corrupt(name, "the boot record is too short".into());
        let version = u16_at(rec, DBI_VERSION).ok_or_else(|| field("dbi_version"))?;
        let create_version =
            u16_at(rec, DBI_CREATE_VERSION).ok_or_else(|| field("dbi_createVersion"))?;
        let status = u32_at(rec, DBI_STATUS).ok_or_else(|| field("dbi_status"))?;
        let name_bytes =
            slice(rec, DBI_DBNAME, DBI_DBNAME_LEN).ok_or_else(|| field("dbi_dbname"))?;
        let name = utf16le(name_bytes)
            .trim_end_matches(['\0', ' ', '\u{2020}'])
            .to_owned();
        let dbid = u16_at(rec, DBI_DBID).ok_or_else(|| field("dbi_dbid"))?;
        let first_sys_indexes = PageId::parse(rec, DBI_FIRST_SYS_INDEXES)
            .ok_or_else(|| field("dbi_firstSysIndexes"))?;
        if version < 611 {
            return Err(Error::Unsupported {
                source_name: src.name().to_owned(),
                feature: format!(
                    "database version {version} (SQL Server 2000 or older; 611 = SQL Server 2005 is the oldest read)"
                ),
            });
        }
        if !KNOWN_VERSIONS.iter().any(|(v, _)| *v == version) {
            return Err(Error::Unsupported {
                source_name: src.name().to_owned(),
                feature: format!("database version {version} (not a known SQL Server release)"),
            });
        }
        if first_sys_indexes.is_null() || first_sys_indexes.file != 1 {
            return Err(corrupt(
                "dbi_firstSysIndexes",
                format!("{first_sys_indexes} is not a page of the primary file"),
            ));
        }
        Ok(BootPage {
            version,
            create_version,
            status,
            name,
            dbid,
            first_sys_indexes,
        })
    }

    /// The product name of `version`, e.g. "SQL Server 2008 R2".
    pub fn product(&self) -> &'static str {
        KNOWN_VERSIONS
            .iter()
            .find(|(v, _)| *v == self.version)
            .map_or("unknown SQL Server release", |(_, p)| p)
    }

    /// True when no sample of this version was available to check the reader.
    pub fn is_untested_version(&self) -> bool {
        self.version > HIGHEST_TESTED_VERSION
    }
}
