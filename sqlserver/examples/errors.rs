//! Prints every per-column decode error of every table of the files given.
use kairos_parsers::FileSource;
use kairos_sqlserver::{Database, ScanOptions};
fn main() -> Result<(), Box<dyn std::error::Error>> {
    for path in std::env::args().skip(1) {
        let db = Database::open(FileSource::open(&path)?)?;
        for t in db.tables() {
            let mut shown = 0;
            for r in db.rows(
                t,
                ScanOptions {
                    include_deleted: true,
                    count_only: false,
                },
            ) {
                match r {
                    Ok(row) => {
                        for (c, v) in t.columns.iter().zip(&row.values) {
                            if v.is_error() && shown < 3 {
                                shown += 1;
                                println!("{path} {} {:?} {}: {:?}", t.name, row.state, c.name, v);
                            }
                        }
                    }
                    Err(e) => println!("{path} {}: scan error {e}", t.name),
                }
            }
        }
    }
    Ok(())
}
