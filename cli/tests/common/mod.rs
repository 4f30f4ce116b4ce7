//! Helpers shared by the CLI test files: run the `kairos` binary and find
//! the shared samples. Each test file uses a subset of them.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `kairos` binary built for these tests.
pub fn kairos() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
}

/// `../shared/samples` beside the checkout (read in place, never written).
pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples")
}

/// Runs kairos and returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out = kairos().args(args).output().expect("run kairos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
