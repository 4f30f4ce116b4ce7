//! Lists the tables of an ESE database with record counts:
//! `cargo run -p kairos-ese --example ese_tables -- FILE [TABLE]`
//! (with TABLE, dumps it as TSV).

use kairos_ese::{Database, ExportFormat, export_table};
use kairos_parsers::FileSource;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: ese_tables FILE [TABLE]")?;
    let db = Database::open(FileSource::open(&path)?)?;
    for w in db.warnings() {
        eprintln!("warning: {w}");
    }
    if let Some(name) = args.next() {
        let table = db.table(&name)?;
        export_table(&db, table, ExportFormat::Tsv, &mut std::io::stdout().lock())?;
    } else {
        for t in db.tables() {
            let stats = db.table_stats(t)?;
            println!("{}\t{}\t{}", t.name, stats.records, t.columns.len());
        }
    }
    for (pgno, what) in db.damage() {
        eprintln!("damaged page {pgno}: {what}");
    }
    Ok(())
}
