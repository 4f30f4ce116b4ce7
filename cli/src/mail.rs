//! `kairos mail ls|export`: mailboxes, folders, messages and attachments of
//! a .pst/.ost file or an Exchange .edb database, read from a file or, with `--store`, from
//! a stream as of `--at` without restoring it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Subcommand, ValueEnum};
use kairos_parsers::{ExportKind, Item, ItemPath, ItemStatus, ItemTree};

use crate::args::Global;

/// The `mail` command group.
#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// List mailboxes, folders, messages or attachments under PATH (one level; -r: the whole subtree).
    Ls {
        /// A .pst/.ost/.edb file, or a stream name with --store.
        source: String,
        /// Item path (as printed by `mail ls`); default: the top.
        path: Option<String>,
        /// List the whole subtree.
        #[arg(short, long)]
        recursive: bool,
    },
    /// Export one item: a message as EML, an attachment as its original bytes.
    Export {
        /// A .pst/.ost/.edb file, or a stream name with --store.
        source: String,
        /// Item path of a message or attachment (as printed by `mail ls`).
        item_path: String,
        /// Output format; default: eml for messages, original for file attachments.
        #[arg(long, value_enum)]
        format: Option<MailFormat>,
        /// Output file.
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
        /// Overwrite FILE if it exists.
        #[arg(long)]
        force: bool,
    },
}

/// Export formats of mail items.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MailFormat {
    /// RFC 5322 / MIME message.
    Eml,
    /// The attachment's own bytes.
    Original,
}

/// Runs a `mail` subcommand.
pub fn run(cmd: MailCommand, global: &Global) -> Result<()> {
    match cmd {
        MailCommand::Ls {
            source,
            path,
            recursive,
        } => {
            let tree = open(&source, global)?;
            let path = ItemPath::parse(path.as_deref().unwrap_or(""));
            ls(tree.as_ref(), &path, recursive, global.json)
        }
        MailCommand::Export {
            source,
            item_path,
            format,
            output,
            force,
        } => {
            let tree = open(&source, global)?;
            export(
                tree.as_ref(),
                &ItemPath::parse(&item_path),
                format,
                &output,
                force,
            )
        }
    }
}

fn open(name: &str, global: &Global) -> Result<Box<dyn ItemTree + Send>> {
    Ok(kairos_exchange::open_tree(crate::source::open(
        name, global,
    )?)?)
}

fn status_text(s: &ItemStatus) -> String {
    match s {
        ItemStatus::Live => "live".into(),
        ItemStatus::Deleted => "deleted".into(),
        ItemStatus::Recovered => "recovered".into(),
        ItemStatus::Damaged(why) => format!("damaged: {why}"),
    }
}

fn print_item(item: &Item) {
    let fields: Vec<String> = item
        .fields
        .iter()
        .filter(|f| !matches!(f.value, kairos_parsers::FieldValue::Null))
        .map(|f| format!("{}={}", f.name, f.value))
        .collect();
    let kind = serde_json::to_value(item.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    println!(
        "{}\t{kind}\t{}\t{}",
        item.path,
        status_text(&item.status),
        fields.join("; ")
    );
}

/// Lists `path`; with `recursive`, every level below it. A subtree that
/// cannot be read is reported on stderr and the listing goes on (a damaged
/// folder must not hide the others); the command then fails at the end.
fn ls(tree: &dyn ItemTree, path: &ItemPath, recursive: bool, json: bool) -> Result<()> {
    let mut items = Vec::new();
    let mut failures = Vec::new();
    let top = tree.children(path)?;
    let mut stack: Vec<Item> = top.into_iter().rev().collect();
    while let Some(item) = stack.pop() {
        if recursive && item.has_children {
            match tree.children(&item.path) {
                Ok(children) => stack.extend(children.into_iter().rev()),
                Err(e) => failures.push(format!("{}: {e}", item.path)),
            }
        }
        if !json {
            print_item(&item);
        }
        items.push(item);
    }
    if json {
        println!("{}", serde_json::to_string(&items)?);
    }
    for f in &failures {
        eprintln!("kairos: cannot list {f}");
    }
    if !failures.is_empty() {
        bail!(
            "{} subtree(s) could not be listed; the {} items above were",
            failures.len(),
            items.len()
        );
    }
    Ok(())
}

fn export(
    tree: &dyn ItemTree,
    path: &ItemPath,
    format: Option<MailFormat>,
    output: &Path,
    force: bool,
) -> Result<()> {
    let item = tree.item(path)?;
    let kind = match format {
        Some(MailFormat::Eml) => ExportKind::Eml,
        Some(MailFormat::Original) => ExportKind::Original,
        None => *item
            .exports
            .first()
            .with_context(|| format!("{path} cannot be exported"))?,
    };
    if !item.exports.contains(&kind) {
        bail!(
            "{path} cannot be exported as {kind:?} (it offers {:?})",
            item.exports
        );
    }
    crate::output::write(Some(output), force, |w| Ok(tree.export(path, kind, w)?))?;
    Ok(())
}
