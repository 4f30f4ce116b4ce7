"""Dumps every table of an ESE file as JSON using dissect.esedb (an
independent ESE reader), for kairos-sample-data's tests.

Usage: python3 dissect_dump.py FILE.edb > dump.json
       python3 dissect_dump.py --rtf < hex-list.json > rtf-list.json
       python3 dissect_dump.py --eml < hex-list.json > parsed-list.json
Bytes are hex strings; multi-values are lists. The --rtf mode decompresses
[MS-OXRTFCP] compressed RTF with the independent `compressed_rtf` package;
--eml parses messages with Python's standard `email` package.
"""
import json
import struct
import sys

from dissect.esedb import EseDB, compression
from dissect.esedb import table as _table
from dissect.esedb.btree import BTree
from dissect.esedb.exceptions import NoNeighbourPageError


def _get_long_value(self, key):
    """Table.get_long_value of dissect.esedb 3.18 with one fix: it adds each
    chunk's *end* offset to the running offset, so from the third chunk on it
    mistakes plain chunks for compressed ones. Same logic, running offset
    set to the chunk's end instead."""
    rkey = key[::-1]
    btree = BTree(self.esedb, self.lv_page)
    header = btree.search(rkey)
    _, size = struct.unpack("<2I", header.data)
    chunks, offsets = [], []
    while True:
        try:
            node = btree.next()
            if not node.key.startswith(rkey):
                break
        except NoNeighbourPageError:
            break
        chunks.append(node.data)
        offsets.append(struct.unpack(">I", node.key[-4:])[0])
    offsets.append(size)
    out = []
    for chunk, start, end in zip(chunks, offsets, offsets[1:]):
        if len(chunk) != end - start:
            chunk = compression.decompress(chunk)
        out.append(chunk)
    return b"".join(out)


_table.Table.get_long_value = _get_long_value

_original_decompress = compression.decompress


def _decompress(buf):
    """compression.decompress of dissect.esedb 3.18, except that 7-bit
    values are cut to the length the header's final-bit count gives (the
    engine's formula, ese.md section 8): dissect.util decodes every 7 bits
    and adds a NUL when 7 spare bits remain in the last byte."""
    out = _original_decompress(buf)
    scheme = buf[0] >> 3
    if scheme in (1, 2) and len(buf) >= 2:
        count = ((len(buf) - 2) * 8 + (buf[0] & 7) + 1) // 7
        out = out[: count * scheme]
    return out


compression.decompress = _decompress


def conv(v):
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, list):
        return [conv(x) for x in v]
    return v


def dump(path):
    with open(path, "rb") as fh:
        db = EseDB(fh)
        out = {}
        for t in db.tables():
            cols = [c.name for c in t.columns]
            out[t.name] = [{c: conv(r.get(c)) for c in cols} for r in t.records()]
        return out


def eml(hexes):
    """Parses RFC 5322 messages with Python's standard email package."""
    import email
    from email import policy

    out = []
    for h in hexes:
        m = email.message_from_bytes(bytes.fromhex(h), policy=policy.default)
        out.append(
            {
                "subject": str(m["subject"]),
                "from": [a.addr_spec for a in m["from"].addresses],
                "from_name": [a.display_name for a in m["from"].addresses],
                "to": [a.addr_spec for a in m["to"].addresses],
                "date": m["date"].datetime.isoformat(),
                "message_id": str(m["message-id"]),
                "body": m.get_body(("plain",)).get_content(),
            }
        )
    return out


def rtf(hexes):
    import compressed_rtf

    return [compressed_rtf.decompress(bytes.fromhex(h)).decode("latin-1") for h in hexes]


if __name__ == "__main__":
    if sys.argv[1] == "--rtf":
        json.dump(rtf(json.load(sys.stdin)), sys.stdout)
    elif sys.argv[1] == "--eml":
        json.dump(eml(json.load(sys.stdin)), sys.stdout)
    else:
        json.dump(dump(sys.argv[1]), sys.stdout)
