//! Statements `sql push` sends (DDL and INSERT batches), the SQL and JSONL
//! exports, and the item tree — on real samples; plus the push itself
//! against a real server when `KAIROS_TEST_MSSQL` holds a connection
//! string.

use std::path::Path;

use kairos_parsers::{ExportKind, FileSource, ItemPath, ItemStatus, ItemTree};
use kairos_sqlserver::export::{Format, export_table};
use kairos_sqlserver::push::{MAX_ROWS_PER_BATCH, create_statement, insert_batches, target_name};
use kairos_sqlserver::{Database, ScanOptions};

fn open(name: &str) -> Database<FileSource> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/samples/mdf")
        .join(name);
    Database::open(FileSource::open(path).expect("sample present")).expect("open")
}

/// The DDL for pubs `authors` matches the column list of Microsoft's
/// instpubs.sql (`au_id` is the user type `id` = varchar(11) NOT NULL).
#[test]
fn create_table_matches_the_creation_script() {
    let db = open("itsligo_pubs.mdf");
    let t = db.table("authors").expect("authors");
    let ddl = create_statement(t, &target_name(t, Some("authors_restored")));
    let want = "CREATE TABLE [dbo].[authors_restored] (
    [au_id] varchar(11) NOT NULL,
    [au_lname] varchar(40) NOT NULL,
    [au_fname] varchar(20) NOT NULL,
    [phone] char(12) NOT NULL,
    [address] varchar(40) NULL,
    [city] varchar(20) NULL,
    [state] char(2) NULL,
    [zip] char(5) NULL,
    [contract] bit NOT NULL,
    CONSTRAINT [UPKCL_auidind] PRIMARY KEY CLUSTERED ([au_id])
);
";
    assert_eq!(ddl, want);
    let titles = db.table("titles").expect("titles");
    let ddl = create_statement(titles, "[t]");
    for col in [
        "[price] money NULL",
        "[pubdate] datetime NOT NULL",
        "[type] char(12) NOT NULL",
        "[notes] varchar(200) NULL",
    ] {
        assert!(ddl.contains(col), "{col} in {ddl}");
    }
}

#[test]
fn insert_batches_hold_every_row_in_server_sized_batches() {
    let db = open("itsligo_northwnd.mdf");
    let t = db.table("Order Details").expect("Order Details");
    let target = target_name(t, None);
    assert_eq!(target, "[dbo].[Order Details]");
    let batches: Vec<_> = insert_batches(&db, t, &target)
        .map(|b| b.expect("batch"))
        .collect();
    let sizes: Vec<usize> = batches.iter().map(|b| b.rows).collect();
    assert_eq!(sizes, vec![MAX_ROWS_PER_BATCH, MAX_ROWS_PER_BATCH, 155]);
    for b in &batches {
        assert!(b.sql.starts_with(
            "INSERT INTO [dbo].[Order Details] ([OrderID], [ProductID], [UnitPrice], [Quantity], [Discount]) VALUES\n    ("
        ));
        assert_eq!(b.sql.matches("\n    (").count(), b.rows);
        assert!(b.sql.ends_with(");\n"));
    }
    // 10248 / 11 / 14.0000 / 12 / 0 is the first row of instnwnd.sql.
    assert!(
        batches[0].sql.contains("(10248, 11, 14.0000, 12, 0e0)"),
        "{}",
        &batches[0].sql[..300]
    );
    // Quotes are doubled inside N'' literals.
    let pubs = open("itsligo_pubs.mdf");
    let titles = pubs.table("titles").expect("titles");
    let sql: String = insert_batches(&pubs, titles, "[t]")
        .map(|b| b.expect("batch").sql)
        .collect();
    assert!(sql.contains("N'The Busy Executive''s Database Guide'"));
    assert!(sql.contains("'1991-06-12T00:00:00.000'"));
}

#[test]
fn sql_and_jsonl_exports() {
    let db = open("itsligo_pubs.mdf");
    let t = db.table("authors").expect("authors");
    let mut out = Vec::new();
    let report = export_table(&db, t, Format::Sql, false, &mut out).expect("export");
    assert_eq!(report.rows, 23);
    let text = String::from_utf8(out).expect("utf-8");
    assert!(text.contains("CREATE TABLE [dbo].[authors] ("));
    assert_eq!(text.matches("INSERT INTO [dbo].[authors]").count(), 23);
    assert!(text.contains("N'172-32-1176', N'White', N'Johnson', N'408 496-7223'"));

    let db = open("itsligo_northwnd.mdf");
    let t = db.table("Products").expect("Products");
    let mut out = Vec::new();
    export_table(&db, t, Format::Jsonl, false, &mut out).expect("export");
    let text = String::from_utf8(out).expect("utf-8");
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 77);
    assert_eq!(lines[0]["ProductID"], 1);
    assert_eq!(lines[0]["ProductName"], "Chai");
    assert_eq!(lines[0]["UnitPrice"], "18.0000");
    assert_eq!(lines[0]["Discontinued"], false);
    // Column order is the table's.
    assert!(text.starts_with("{\"ProductID\":1,\"ProductName\":\"Chai\",\"SupplierID\":1"));
}

#[test]
fn deleted_rows_are_listed_only_when_asked_and_marked() {
    // A sample whose tables kept ghost/freed records of deleted rows.
    let db = open("arnab-barua_database1.mdf");
    let t = db.table("Foods").expect("Foods");
    let live = db
        .rows(t, ScanOptions::default())
        .filter_map(Result::ok)
        .count();
    let all: Vec<_> = db
        .rows(
            t,
            ScanOptions {
                include_deleted: true,
                count_only: false,
            },
        )
        .filter_map(Result::ok)
        .collect();
    let deleted: Vec<_> = all.iter().filter(|r| r.is_deleted()).collect();
    assert_eq!(live + deleted.len(), all.len());
    assert!(!deleted.is_empty());
    // Deleted rows decode like live ones (same columns, no error values).
    for r in &deleted {
        assert_eq!(r.error_count(), 0, "{r:?}");
    }
    let mut out = Vec::new();
    let rep = export_table(&db, t, Format::Csv, true, &mut out).expect("export");
    assert_eq!(rep.deleted_rows as usize, deleted.len());
    let text = String::from_utf8(out).expect("utf-8");
    assert!(
        text.lines()
            .next()
            .expect("header")
            .ends_with(",_row_state")
    );
    assert_eq!(
        text.lines().filter(|l| !l.ends_with(",live")).count() - 1,
        deleted.len()
    );
}

#[test]
fn item_tree_database_table_row() {
    let db = open("itsligo_northwnd.mdf");
    let root = db.item(&ItemPath::root()).expect("root");
    assert_eq!(
        root.field("version").map(ToString::to_string),
        Some("655".into())
    );
    let tables = db.children(&ItemPath::root()).expect("tables");
    let customers = tables
        .iter()
        .find(|i| i.name == "dbo.Customers")
        .expect("dbo.Customers");
    let rows = db.children(&customers.path).expect("rows");
    assert_eq!(
        rows.iter().filter(|r| r.status == ItemStatus::Live).count(),
        91
    );
    let alfki = db
        .item(&ItemPath::parse("dbo.Customers/ALFKI"))
        .expect("ALFKI by primary key");
    assert_eq!(
        alfki.field("CompanyName").map(ToString::to_string),
        Some("Alfreds Futterkiste".into())
    );
    let mut csv = Vec::new();
    db.export(&customers.path, ExportKind::Csv, &mut csv)
        .expect("export");
    let want = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/expected/northwind_customers.csv"),
    )
    .expect("expected");
    assert_eq!(csv, want);
    let mut one = Vec::new();
    db.export(&alfki.path, ExportKind::Jsonl, &mut one)
        .expect("row export");
    let v: serde_json::Value = serde_json::from_slice(&one).expect("json");
    assert_eq!(v["City"], "Berlin");
    assert!(db.item(&ItemPath::parse("dbo.Nope")).is_err());
}

/// Pushes pubs `authors` to the server in `KAIROS_TEST_MSSQL` (an ADO.NET
/// connection string) under a fresh name, then checks a second push
/// without --append is refused.
#[test]
fn push_to_a_real_server() {
    let Ok(conn) = std::env::var("KAIROS_TEST_MSSQL") else {
        eprintln!(
            "skipped: set KAIROS_TEST_MSSQL to an ADO.NET connection string to run the push against a real SQL Server \
             (SQL Server cannot be installed on this build machine; the generated DDL and INSERT batches are tested above)"
        );
        return;
    };
    let db = open("itsligo_pubs.mdf");
    let t = db.table("authors").expect("authors");
    let name = format!("kairos_push_test_{}", std::process::id());
    let report = kairos_sqlserver::push::push(&db, t, &conn, Some(&name), false).expect("push");
    assert!(report.created);
    assert_eq!(report.rows, 23);
    let again = kairos_sqlserver::push::push(&db, t, &conn, Some(&name), false);
    assert!(again.is_err(), "an existing table must not be overwritten");
    let appended = kairos_sqlserver::push::push(&db, t, &conn, Some(&name), true).expect("append");
    assert_eq!(appended.rows, 23);
}
