//! The item tree (Database → Table → Row) on a real sample, checked against
//! dissect.esedb's expectations for `basic.edb` (tests/test_esedb.py).

mod common;

use kairos_ese::Database;
use kairos_parsers::{ExportKind, FieldValue, ItemKind, ItemPath, ItemTree};

#[test]
fn database_table_row_tree() {
    let db = Database::open(common::load("dissect_basic.edb")).expect("open");
    let tables = db.children(&ItemPath::root()).expect("root");
    let names: Vec<&str> = tables.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "MSysObjects",
            "MSysObjectsShadow",
            "MSysObjids",
            "MSysLocales",
            "basic"
        ]
    );
    assert!(
        tables
            .iter()
            .all(|t| t.kind == ItemKind::Table && t.has_children)
    );

    let rows = db.children(&ItemPath::parse("/basic")).expect("rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].path.as_str(), "basic/0");
    assert_eq!(rows[0].field("Short"), Some(&FieldValue::Int(-1337)));
    assert_eq!(
        rows[0].field("GUID"),
        Some(&FieldValue::Text(
            "3f360af1-6766-46dc-9af2-0dacf295c2a1".into()
        ))
    );
    assert_eq!(
        rows[0].field("DateTime"),
        Some(&FieldValue::DateTime("1999-03-01T00:00:00.000".into()))
    );
    let row1 = db.item(&ItemPath::parse("/basic/1")).expect("row 1");
    assert_eq!(row1.field("Bit"), Some(&FieldValue::Bool(true)));
    assert_eq!(row1.field("GUID"), Some(&FieldValue::Null));

    assert!(db.item(&ItemPath::parse("/basic/2")).is_err());
    assert!(db.item(&ItemPath::parse("/nope")).is_err());

    let mut out = Vec::new();
    db.export(&ItemPath::parse("/basic"), ExportKind::Jsonl, &mut out)
        .expect("export");
    let text = String::from_utf8(out).expect("utf8");
    assert_eq!(text.lines().count(), 2);
    let mut one = Vec::new();
    db.export(&ItemPath::parse("/basic/1"), ExportKind::Jsonl, &mut one)
        .expect("row export");
    assert_eq!(
        String::from_utf8(one).expect("utf8").trim_end(),
        text.lines().nth(1).expect("line")
    );
    assert!(
        db.export(&ItemPath::parse("/basic"), ExportKind::Csv, &mut Vec::new())
            .is_err()
    );
}
