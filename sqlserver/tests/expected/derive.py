#!/usr/bin/env python3
"""Derives the expected exports of kairos-sqlserver's sample tests from the
published creation scripts, independently of the reader under test.

Inputs (read-only): ../../../../shared/samples/mdf/truth/instnwnd.sql.gz
(Northwind, UTF-16) and instpubs.sql (pubs). For each chosen table the
script parses the script's INSERT statements, formats every value by the
CSV rules of docs/ARCHITECTURE.md "Export formats" (RFC 4180, NULL = empty
unquoted field, money with SQL Server's 4 decimals, datetime as
YYYY-MM-DDTHH:MM:SS.mmm, char(n)/nchar(n) padded to n as SQL Server stores
them, bit as 0/1 with any non-zero literal stored as 1), sorts rows by the clustered primary key, and writes
<db>_<table>.csv. It also writes lobs.tsv: size and SHA-256 of every LOB of
Northwind Employees (Photo image, Notes ntext) and pubs pub_info (logo
image, pr_info text); text is hashed as UTF-8.

Column types are transcribed from the CREATE TABLE statements of the same
scripts (TYPES below). Run: python3 derive.py (writes next to itself).
"""
import csv, gzip, hashlib, io, os, re, datetime

HERE = os.path.dirname(os.path.abspath(__file__))
TRUTH = os.path.join(HERE, '../../../../shared/samples/mdf/truth')

# (column, type) in table order, from the CREATE TABLE statements.
TYPES = {
    ('northwind', 'Customers'): [('CustomerID', 'nchar(5)'), ('CompanyName', 'nvarchar'), ('ContactName', 'nvarchar'),
        ('ContactTitle', 'nvarchar'), ('Address', 'nvarchar'), ('City', 'nvarchar'), ('Region', 'nvarchar'),
        ('PostalCode', 'nvarchar'), ('Country', 'nvarchar'), ('Phone', 'nvarchar'), ('Fax', 'nvarchar')],
    ('northwind', 'Products'): [('ProductID', 'int'), ('ProductName', 'nvarchar'), ('SupplierID', 'int'),
        ('CategoryID', 'int'), ('QuantityPerUnit', 'nvarchar'), ('UnitPrice', 'money'), ('UnitsInStock', 'smallint'),
        ('UnitsOnOrder', 'smallint'), ('ReorderLevel', 'smallint'), ('Discontinued', 'bit')],
    ('northwind', 'Employees'): [('EmployeeID', 'int'), ('LastName', 'nvarchar'), ('FirstName', 'nvarchar'),
        ('Title', 'nvarchar'), ('TitleOfCourtesy', 'nvarchar'), ('BirthDate', 'datetime'), ('HireDate', 'datetime'),
        ('Address', 'nvarchar'), ('City', 'nvarchar'), ('Region', 'nvarchar'), ('PostalCode', 'nvarchar'),
        ('Country', 'nvarchar'), ('HomePhone', 'nvarchar'), ('Extension', 'nvarchar'), ('Photo', 'image'),
        ('Notes', 'ntext'), ('ReportsTo', 'int'), ('PhotoPath', 'nvarchar')],
    ('pubs', 'authors'): [('au_id', 'varchar'), ('au_lname', 'varchar'), ('au_fname', 'varchar'), ('phone', 'char(12)'),
        ('address', 'varchar'), ('city', 'varchar'), ('state', 'char(2)'), ('zip', 'char(5)'), ('contract', 'bit')],
    ('pubs', 'titles'): [('title_id', 'varchar'), ('title', 'varchar'), ('type', 'char(12)'), ('pub_id', 'char(4)'),
        ('price', 'money'), ('advance', 'money'), ('royalty', 'int'), ('ytd_sales', 'int'), ('notes', 'varchar'),
        ('pubdate', 'datetime')],
    ('pubs', 'pub_info'): [('pub_id', 'char(4)'), ('logo', 'image'), ('pr_info', 'text')],
}

TOKEN = re.compile(r"""\s*(?:
    (?P<str>N?'(?:[^']|'')*')
  | (?P<cast>CAST\(\s*0x(?P<casthex>[0-9A-Fa-f]+)\s+AS\s+DateTime\s*\))
  | (?P<hex>0x[0-9A-Fa-f]*)
  | (?P<money>\$-?[0-9.]+)
  | (?P<num>-?[0-9]+(?:\.[0-9]+)?)
  | (?P<null>NULL)
  | (?P<comma>,)
  | (?P<close>\))
)""", re.X | re.I)


def values(text, start):
    """Parses a VALUES list starting after '('; returns (values, end)."""
    out, pos = [], start
    while True:
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError('cannot parse at ' + repr(text[pos:pos + 60]))
        pos = m.end()
        if m.group('close'):
            return out, pos
        if m.group('comma'):
            continue
        if m.group('str'):
            s = m.group('str')
            s = s[2:-1] if s[0] in 'Nn' else s[1:-1]
            out.append(('str', s.replace("''", "'")))
        elif m.group('cast'):
            out.append(('datetime_hex', m.group('casthex')))
        elif m.group('hex'):
            out.append(('bin', bytes.fromhex(m.group('hex')[2:])))
        elif m.group('money'):
            out.append(('num', m.group('money')[1:]))
        elif m.group('num'):
            out.append(('num', m.group('num')))
        else:
            out.append(('null', None))


# Column defaults of the CREATE TABLE statements, for INSERTs that name
# only some columns. getdate() cannot be derived: such fields are written
# as NOT_DERIVABLE and the test skips them.
DEFAULTS = {('pubs', 'titles'): {'type': ('str', 'UNDECIDED'), 'pubdate': ('str', 'NOT_DERIVABLE')}}
NOT_DERIVABLE = 'NOT_DERIVABLE'


def inserts(text, table, cols=None, defaults=None):
    """Rows of every INSERT into `table`, in table column order."""
    pat = re.compile(r"INSERT\s+(?:\[dbo\]\.)?\[?%s\]?\s*(?:\((?P<cols>[^)]*)\)\s*)?VALUES\s*\(" % re.escape(table), re.I)
    rows, pos = [], 0
    while True:
        m = pat.search(text, pos)
        if not m:
            return rows
        row, pos = values(text, m.end())
        if m.group('cols') and cols:
            named = [c.strip(' []\t\r\n') for c in m.group('cols').split(',')]
            given = dict(zip(named, row))
            row = [given.get(c, (defaults or {}).get(c, ('null', None))) for c, _ in cols]
        rows.append(row)


def fmt_datetime(dt):
    return dt.strftime('%Y-%m-%dT%H:%M:%S.') + '%03d' % (dt.microsecond // 1000)


def fmt(kind_value, ty):
    kind, v = kind_value
    if kind == 'null':
        return None
    if ty == 'bit':
        return '0' if float(v) == 0 else '1'  # SQL Server stores any non-zero as 1
    if ty == 'money':
        whole, _, frac = v.partition('.')
        return '%s.%s' % (whole, (frac + '0000')[:4])
    if v == NOT_DERIVABLE:
        return v
    if ty == 'datetime':
        if kind == 'datetime_hex':
            days = int.from_bytes(bytes.fromhex(v[:8]), 'big', signed=True)
            ticks = int.from_bytes(bytes.fromhex(v[8:]), 'big')
            ms = (ticks * 10 + 1) // 3
            return fmt_datetime(datetime.datetime(1900, 1, 1) + datetime.timedelta(days=days, milliseconds=ms))
        mm, dd, yy = v.split('/')
        year = int(yy) + (1900 if int(yy) >= 50 else 2000)  # two-digit year cutoff 2049
        return fmt_datetime(datetime.datetime(year, int(mm), int(dd)))
    m = re.match(r'n?char\((\d+)\)', ty)
    if m:
        return v.ljust(int(m.group(1)))
    if ty in ('image',):
        return '0x' + v.hex().upper()
    return v


def csv_field(s):
    if s is None:
        return ''
    if s == '' or any(c in s for c in ',"\r\n'):
        return '"' + s.replace('"', '""') + '"'
    return s


def load():
    return {
        'northwind': gzip.open(os.path.join(TRUTH, 'instnwnd.sql.gz')).read().decode('utf-16'),
        # newline='': string literals spanning lines keep their CRLF, as stored.
        'pubs': open(os.path.join(TRUTH, 'instpubs.sql'), encoding='latin-1', newline='').read(),
    }


def main():
    scripts = load()
    for (db, table) in [('northwind', 'Customers'), ('northwind', 'Products'), ('pubs', 'authors'), ('pubs', 'titles')]:
        cols = TYPES[(db, table)]
        rows = [[fmt(v, ty) for v, (_, ty) in zip(r, cols)] for r in inserts(scripts[db], table, cols, DEFAULTS.get((db, table)))]
        key = (lambda r: int(r[0])) if cols[0][1] == 'int' else (lambda r: r[0])
        rows.sort(key=key)
        with open(os.path.join(HERE, '%s_%s.csv' % (db, table.lower())), 'w', newline='', encoding='utf-8') as f:
            f.write(','.join(csv_field(c) for c, _ in cols) + '\r\n')
            for r in rows:
                f.write(','.join(csv_field(v) for v in r) + '\r\n')
    with open(os.path.join(HERE, 'lobs.tsv'), 'w', encoding='utf-8') as f:
        f.write('db\ttable\tkey\tcolumn\tbytes\tsha256\n')
        for (db, table, lob_cols) in [('northwind', 'Employees', ('Photo', 'Notes')), ('pubs', 'pub_info', ('logo', 'pr_info'))]:
            cols = TYPES[(db, table)]
            names = [c for c, _ in cols]
            for r in inserts(scripts[db], table):
                for c in lob_cols:
                    kind, v = r[names.index(c)]
                    data = v if kind == 'bin' else v.encode('utf-8')
                    f.write('%s\t%s\t%s\t%s\t%d\t%s\n' % (db, table, r[0][1], c, len(data), hashlib.sha256(data).hexdigest()))


if __name__ == '__main__':
    main()
