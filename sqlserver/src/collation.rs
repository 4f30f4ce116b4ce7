//! Collation id → code page for char/varchar/text data (format notes §6).
//!
//! `syscolpars.collationid` packs a SQL sort order id in its top byte (SQL
//! collations such as `SQL_Latin1_General_CP1_CI_AS` = sort id 52) and a
//! Windows collation family in its low 12 bits (`Latin1_General` = 8); the
//! bits between are comparison flags. The code page is not stored in the
//! file, so it comes from these tables. An unknown collation decodes as
//! Windows-1252 and is reported once per table.

use encoding_rs::Encoding;

use crate::value::Value;

/// A single-byte or multi-byte Windows code page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodePage(pub u16);

impl CodePage {
    /// Windows-1252 (Latin-1 superset), the default of English installs.
    pub const WINDOWS_1252: CodePage = CodePage(1252);

    /// The code page of a `collationid`; the flag is false when the id is
    /// not in the tables (1252 is used then).
    pub fn from_collation(collation_id: u32) -> (CodePage, bool) {
        let sort_id = (collation_id >> 24) as u8;
        let family = collation_id & 0xFFF;
        let cp = if sort_id != 0 {
            sql_sort_order_code_page(sort_id)
        } else {
            windows_family_code_page(family)
        };
        match cp {
            Some(cp) => (CodePage(cp), true),
            None => (CodePage::WINDOWS_1252, collation_id == 0),
        }
    }

    /// Decodes `bytes` in this code page; code pages without a decoder
    /// (OEM 437/850) decode ASCII and give an error value otherwise.
    pub fn decode(self, bytes: &[u8]) -> Value {
        if let Some(enc) = self.encoding() {
            let (text, _, _) = enc.decode(bytes);
            return Value::Text(text.into_owned());
        }
        if bytes.is_ascii() {
            return Value::Text(String::from_utf8_lossy(bytes).into_owned());
        }
        Value::Error(format!("code page {} is not supported yet", self.0))
    }

    fn encoding(self) -> Option<&'static Encoding> {
        let label = match self.0 {
            65001 => "utf-8",
            932 => "shift_jis",
            936 => "gbk",
            949 => "euc-kr",
            950 => "big5",
            874 => "windows-874",
            cp @ 1250..=1258 => return Encoding::for_label(format!("windows-{cp}").as_bytes()),
            _ => return None,
        };
        Encoding::for_label(label.as_bytes())
    }
}

/// SQL collation sort order ids (SQL Server "SQL collation" list).
fn sql_sort_order_code_page(sort_id: u8) -> Option<u16> {
    Some(match sort_id {
        30..=34 => 437,
        40..=49 | 55..=61 => 850,
        50..=54 | 71..=76 | 183..=186 => 1252,
        80..=96 => 1250,
        104..=108 => 1251,
        112..=124 => 1253,
        128..=130 => 1254,
        136..=138 => 1255,
        144..=146 => 1256,
        152..=160 => 1257,
        192..=193 => 932,
        194..=197 => 949,
        198..=199 => 936,
        200..=201 => 950,
        _ => return None,
    })
}

/// Windows collation families met in real files.
fn windows_family_code_page(family: u32) -> Option<u16> {
    Some(match family {
        8 => 1252, // Latin1_General
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collations_seen_in_real_files() {
        // SQL_Latin1_General_CP1_CI_AS, Latin1_General_CI_AS, a BIN family.
        for id in [0x3400_D008, 0x0000_D008, 0x0001_0008, 0x0000_F008] {
            assert_eq!(
                CodePage::from_collation(id),
                (CodePage(1252), true),
                "{id:#x}"
            );
        }
        assert_eq!(
            CodePage::from_collation(0x0000_0FFF),
            (CodePage(1252), false)
        );
        assert_eq!(
            CodePage(1252).decode(&[0x80, b'A']),
            Value::Text("€A".into())
        );
        assert_eq!(CodePage(1250).decode(&[0x8A]), Value::Text("Š".into()));
        assert_eq!(CodePage(850).decode(b"abc"), Value::Text("abc".into()));
        assert!(CodePage(850).decode(&[0x99]).is_error());
    }
}
