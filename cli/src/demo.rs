//! `kairos demo DIR`: builds the demo store (one simulated working day) with
//! `kairos_sample_data::demo::build_demo` and prints what it holds and the
//! commands to try next. Progress goes to stderr, the report to stdout.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use kairos_sample_data::demo::{DemoOptions, DemoReport, build_demo};

use crate::args::Global;

/// The demo command (flattened into the top level).
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Build a demo store with a simulated day of activity, then print the commands to try.
    Demo {
        /// Directory of the new store (must be new or empty).
        dir: PathBuf,
        /// Replace DIR if it already holds a kairos store.
        #[arg(long)]
        force: bool,
        /// The shared samples (mdf/, pst/) for the SQL Server and Outlook
        /// streams [default: ../shared/samples if it exists].
        #[arg(long, value_name = "DIR")]
        samples: Option<PathBuf>,
    },
}

/// Default samples location, relative to the current directory.
const DEFAULT_SAMPLES: &str = "../shared/samples";

/// Runs `kairos demo`.
pub fn run(cmd: DemoCommand, global: &Global) -> Result<()> {
    let DemoCommand::Demo {
        dir,
        force,
        samples,
    } = cmd;
    let samples = match samples {
        Some(s) if !s.is_dir() => {
            anyhow::bail!("--samples {}: no such directory", s.display())
        }
        Some(s) => Some(s),
        None => Some(PathBuf::from(DEFAULT_SAMPLES)).filter(|p| p.is_dir()),
    };
    let mut opts = DemoOptions::today(samples);
    opts.force = force;
    eprintln!("building the demo store in {}", dir.display());
    let report = build_demo(&dir, &opts, &mut |line| eprintln!("  {line}"))
        .with_context(|| format!("building the demo store in {}", dir.display()))?;
    if global.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render(&report, &dir));
    }
    Ok(())
}

/// The report as text: streams with their versions, markers, notes, and
/// the walkthrough.
fn render(r: &DemoReport, dir: &Path) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Demo store {} — one simulated working day, {} (UTC)\n",
        dir.display(),
        r.day
    );
    for s in &r.streams {
        let _ = writeln!(out, "{}  ({})", s.name, s.origin);
        for v in &s.versions {
            let _ = writeln!(out, "  {}  {}", v.at, v.what);
        }
    }
    let _ = writeln!(out, "\nMarkers (use --at mark:NAME):");
    for m in &r.marks {
        let scope = m.stream.as_deref().unwrap_or("whole store");
        let _ = writeln!(out, "  {:<16} {}  [{scope}] {}", m.name, m.at, m.why);
    }
    for n in &r.notes {
        let _ = writeln!(out, "note: {n}");
    }
    let _ = writeln!(out, "\nTry next:");
    for step in &r.walkthrough {
        let fails = if step.succeeds {
            ""
        } else {
            " (fails on purpose)"
        };
        let _ = writeln!(out, "  # {}{fails}\n  {}\n", step.why, step.command_line());
    }
    out
}
