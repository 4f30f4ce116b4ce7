//! Lists the tables of a .mdf file with their row counts, then prints the
//! first rows of one table: `cargo run -p kairos-sqlserver --example dump -- FILE [TABLE] [N]`.

use kairos_parsers::FileSource;
use kairos_sqlserver::{Database, ScanOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: dump FILE [TABLE] [N]")?;
    let db = Database::open(FileSource::open(&path)?)?;
    println!(
        "{} — version {} ({})",
        db.boot().name,
        db.boot().version,
        db.boot().product()
    );
    for w in db.warnings() {
        println!("warning: {w}");
    }
    let table = args.next();
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(5);
    for t in db.tables() {
        if table.as_deref().is_some_and(|name| name != t.name) {
            continue;
        }
        let count = db.count_rows(t)?;
        println!(
            "{}: {} rows ({} deleted), catalog says {}",
            t.qualified_name(),
            count.live,
            count.deleted,
            t.cached_rows()
        );
        for w in &t.warnings {
            println!("  warning: {w}");
        }
        if table.is_some() {
            print!("{}", t.create_table_sql(None));
            let opts = ScanOptions {
                include_deleted: true,
                count_only: false,
            };
            for row in db.rows(t, opts).take(n) {
                match row {
                    Ok(r) => println!("  {:?} {:?}", r.state, r.values),
                    Err(e) => println!("  error: {e}"),
                }
            }
        }
    }
    Ok(())
}
