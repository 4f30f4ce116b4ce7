//! Separated long values: the per-table long-value (LV) tree.
//!
//! Notes: `../shared/docs/formats/ese.md` §7 (MS engine `lv.hxx`). A record
//! holds a LID (4 bytes, or 8 for LID64) stored little-endian; the LV tree's
//! keys are big-endian: the LID alone for the root node (`LVROOT {u32
//! refcount, u32 size}`), LID + u32 offset for each chunk. A chunk shorter or
//! longer than the span of bytes it covers is compressed (§8), like
//! dissect.esedb detects it.

use kairos_parsers::{Result, Source};

use crate::btree::{self, LeafPos};
use crate::compression;
use crate::database::Database;

/// Reads the long value `lid` (as stored in the record) of the LV tree
/// rooted at `fdp` (object `objid`).
pub(crate) fn read<S: Source>(
    db: &Database<S>,
    fdp: u32,
    objid: u32,
    lid: &[u8],
) -> Result<Vec<u8>> {
    if lid.len() != 4 && lid.len() != 8 {
        return Err(db.corrupt(
            fdp,
            "long value id",
            format!("{} bytes (expected 4 or 8)", lid.len()),
        ));
    }
    let key: Vec<u8> = lid.iter().rev().copied().collect();
    let name = db.source_name();
    let not_found = || {
        db.corrupt(
            fdp,
            "long value",
            format!("LID {} not in the long-value tree", crate::value::hex(&key)),
        )
    };
    let Some(LeafPos { mut page, mut tag }) = btree::seek(db, fdp, objid, &key)? else {
        return Err(not_found());
    };
    let mut size: Option<u64> = None;
    let mut chunks: Vec<(u64, Vec<u8>)> = Vec::new();
    // Bound the walk by the file's page count: no cycle can loop forever.
    let mut pages_left = db.page_count();
    loop {
        if tag >= page.tag_count() {
            pages_left = pages_left.saturating_sub(1);
            if pages_left == 0 {
                break;
            }
            match btree::next_leaf_page(db, &page, objid)? {
                Some(p) => {
                    page = p;
                    tag = 1;
                    continue;
                }
                None => break,
            }
        }
        let node = page.node(name, tag)?;
        tag += 1;
        if node.is_deleted() {
            continue;
        }
        let k = page.key(name, &node)?;
        if !k.starts_with(&key) {
            break;
        }
        let rest = &k[key.len()..];
        if rest.is_empty() {
            let b = node.data;
            let sz = b
                .get(4..8)
                .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
                .ok_or_else(|| db.corrupt(page.pgno, "LVROOT", "shorter than 8 bytes".into()))?;
            size = Some(u64::from(sz));
        } else if rest.len() == 4 {
            let off = u64::from(u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]));
            chunks.push((off, node.data.to_vec()));
        }
    }
    let size = size.ok_or_else(not_found)?;
    assemble(db, fdp, size, chunks)
}

/// Joins chunks in offset order, decompressing those whose stored length
/// differs from the span they cover.
fn assemble<S: Source>(
    db: &Database<S>,
    fdp: u32,
    size: u64,
    mut chunks: Vec<(u64, Vec<u8>)>,
) -> Result<Vec<u8>> {
    chunks.sort_by_key(|c| c.0);
    let mut out = Vec::with_capacity(
        usize::try_from(size)
            .unwrap_or(0)
            .min(chunks.iter().map(|c| c.1.len()).sum::<usize>() * 2),
    );
    for i in 0..chunks.len() {
        let (off, ref data) = chunks[i];
        let end = chunks.get(i + 1).map_or(size, |c| c.0).min(size);
        let span = usize::try_from(end.saturating_sub(off)).unwrap_or(0);
        if data.len() == span {
            out.extend_from_slice(data);
        } else {
            let plain = compression::decompress(data, span).map_err(|e| {
                db.compression_error(fdp, &format!("long value chunk at offset {off}"), &e)
            })?;
            out.extend_from_slice(&plain);
        }
    }
    Ok(out)
}
