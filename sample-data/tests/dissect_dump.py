"""Dumps every table of an ESE file as JSON using dissect.esedb (an
independent ESE reader), for kairos-sample-data's tests.

Usage: python3 dissect_dump.py FILE.edb > dump.json
       python3 dissect_dump.py --rtf < hex-list.json > rtf-list.json
Bytes are hex strings; multi-values are lists. The --rtf mode decompresses
[MS-OXRTFCP] compressed RTF with the independent `compressed_rtf` package.
"""
import json
import sys

from dissect.esedb import EseDB


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


def rtf(hexes):
    import compressed_rtf

    return [compressed_rtf.decompress(bytes.fromhex(h)).decode("latin-1") for h in hexes]


if __name__ == "__main__":
    if sys.argv[1] == "--rtf":
        json.dump(rtf(json.load(sys.stdin)), sys.stdout)
    else:
        json.dump(dump(sys.argv[1]), sys.stdout)
