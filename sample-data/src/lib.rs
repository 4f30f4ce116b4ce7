//! Fixture and demo-store generators.
