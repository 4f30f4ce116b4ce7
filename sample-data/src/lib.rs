//! Fixture and demo-store generators.
//!
//! - [`ese_writer`]: writes ESE (JET Blue) database files from a table
//!   description (format notes: `../shared/docs/formats/ese.md`).

pub mod ese_writer;
pub mod exchange;
pub mod rtf;
