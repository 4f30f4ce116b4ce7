//! Command-line grammar (clap derive). The contract is in
//! `docs/ARCHITECTURE.md`, "CLI contract". Each command group keeps its own
//! argument types in its own module; this file only lists the groups.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use kairos_engine::TimeSpec;

/// kairos — continuous data protection with surgical, application-aware recovery.
#[derive(Debug, Parser)]
#[command(name = "kairos", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every command accepts.
    #[command(flatten)]
    pub global: Global,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options that apply to every command.
#[derive(Debug, Args)]
pub struct Global {
    /// Backup store directory; with it, SOURCE arguments name streams.
    #[arg(long, global = true, env = "KAIROS_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Instant to read: RFC 3339, local 'YYYY-MM-DD HH:MM:SS', relative -15m/-2h, or mark:NAME.
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_time)]
    pub at: Option<TimeSpec>,
    /// Print machine-readable JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// More log output on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_time(s: &str) -> Result<TimeSpec, String> {
    TimeSpec::parse(s).map_err(|e| e.to_string())
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Detect a file's format and print its version and page size.
    Sniff {
        /// The file to look at.
        file: PathBuf,
    },
    /// Browse and export mailboxes, folders, messages and attachments (.pst, .ost).
    #[command(subcommand)]
    Mail(crate::mail::MailCommand),
    /// List and export the tables of any ESE (JET Blue) database.
    #[command(subcommand)]
    Ese(crate::ese::EseCommand),
    /// SQL Server data files (.mdf): tables, schema, export, push to a server.
    #[command(subcommand)]
    Sql(crate::sql::SqlCommand),
    /// Store commands: init, capture, streams, timeline, restore, cat, mark, verify, prune, gc.
    #[command(flatten)]
    Store(crate::store::StoreCommand),
    /// Capture paths: shim, nbd, serve, agent, mount.
    #[command(flatten)]
    Capture(crate::capture_cmds::CaptureCommand),
    /// The demo store: `kairos demo DIR`.
    #[command(flatten)]
    Demo(crate::demo::DemoCommand),
}
