//! Pure-Rust ESE (JET Blue) reader. See `../shared/docs/formats/ese.md`.
