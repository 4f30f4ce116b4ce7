//! Dispatch: one arm per command group; each group lives in its own module.

use anyhow::Result;

use crate::args::{Cli, Command};
use crate::sniff;

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    let global = cli.global;
    match cli.command {
        Command::Sniff { file } => sniff::run(&file, global.json),
        Command::Mail(cmd) => crate::mail::run(cmd, &global),
        Command::Ese(cmd) => crate::ese::run(cmd, &global),
        Command::Sql(cmd) => crate::sql::run(cmd, &global),
        Command::Store(cmd) => crate::store::run(cmd, &global),
        Command::Capture(cmd) => crate::capture_cmds::run(cmd, &global),
        Command::Demo(cmd) => crate::demo::run(cmd, &global),
    }
}
