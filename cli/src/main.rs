//! The `kairos` command-line tool. It only parses arguments and prints; every
//! operation lives in the library crates so the GUI can call the same code.

mod args;
mod capture_cmds;
mod commands;
mod demo;
mod ese;
mod mail;
mod output;
mod sniff;
mod source;
mod sql;
mod store;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match args::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => {
            // --help and --version: print and succeed.
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            // Usage errors follow the same rule as every other error: one
            // line on stderr, exit status 1.
            let rendered = err.render().to_string();
            let line = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!("kairos: {}", line.trim_start_matches("error: "));
            return ExitCode::FAILURE;
        }
    };
    init_logging(cli.global.verbose);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line an operator can act on: the chain of contexts, outermost first.
            let msg = err
                .chain()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(": ");
            eprintln!("kairos: {msg}");
            ExitCode::FAILURE
        }
    }
}

/// `-v` shows info, `-vv` debug, `-vvv` trace; `RUST_LOG` overrides. Logs go
/// to stderr so they never mix with exported data on stdout.
fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
