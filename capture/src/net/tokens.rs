//! Per-agent credentials.
//!
//! The server's tokens file and an agent's token file share one format: one
//! `NAME TOKEN` pair per line, `#` starts a comment. Names are
//! `[A-Za-z0-9_-]{1,64}` (they become the first component of the agent's
//! stream names, so they cannot contain `/` or start with `.`); tokens are at
//! least [`MIN_TOKEN`] bytes of printable ASCII.

use std::path::Path;

use crate::net::frame::{MAX_CREDENTIAL, constant_time_eq};
use crate::sink::{CaptureError, Result};

/// Shortest token accepted: short secrets are guessable.
pub const MIN_TOKEN: usize = 16;

/// Agent name and token pairs.
#[derive(Clone)]
pub struct Tokens {
    entries: Vec<(String, Vec<u8>)>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secrets.
        f.debug_struct("Tokens")
            .field(
                "agents",
                &self.entries.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Checks an agent name.
pub fn valid_agent_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn bad(path: &Path, line: usize, detail: impl Into<String>) -> CaptureError {
    CaptureError::Journal {
        path: path.to_owned(),
        offset: line as u64,
        detail: format!("line {line}: {}", detail.into()),
    }
}

impl Tokens {
    /// Parses tokens from `text` (`path` is for messages).
    pub fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(name), Some(token), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(bad(path, i + 1, "expected `NAME TOKEN`"));
            };
            if !valid_agent_name(name) {
                return Err(bad(
                    path,
                    i + 1,
                    format!("agent name {name:?} must be 1-64 of A-Z a-z 0-9 _ -"),
                ));
            }
            if token.len() < MIN_TOKEN || token.len() > MAX_CREDENTIAL {
                return Err(bad(
                    path,
                    i + 1,
                    format!("token for {name} must be {MIN_TOKEN}..={MAX_CREDENTIAL} characters"),
                ));
            }
            if entries.iter().any(|(n, _)| n == name) {
                return Err(bad(path, i + 1, format!("agent {name} listed twice")));
            }
            entries.push((name.to_owned(), token.as_bytes().to_vec()));
        }
        if entries.is_empty() {
            return Err(bad(path, 0, "no `NAME TOKEN` lines"));
        }
        Ok(Self { entries })
    }

    /// Reads a tokens file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(CaptureError::io(path, "read tokens"))?;
        Self::parse(path, &text)
    }

    /// The single entry of an agent's token file.
    pub fn single(&self) -> Option<(&str, &[u8])> {
        match self.entries.as_slice() {
            [(n, t)] => Some((n.as_str(), t.as_slice())),
            _ => None,
        }
    }

    /// True when `token` is `agent`'s token. Every entry is compared, in
    /// constant time each, so timing reveals neither which agent names exist
    /// nor how much of a token matched.
    pub fn check(&self, agent: &str, token: &[u8]) -> bool {
        let mut ok = false;
        for (name, secret) in &self.entries {
            let token_ok = constant_time_eq(secret, token);
            // Non-short-circuit on purpose: every entry costs the same.
            ok |= u8::from(token_ok) & u8::from(name == agent) == 1;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_check() {
        let p = Path::new("tokens");
        let t = Tokens::parse(
            p,
            "# agents\ndb1 0123456789abcdef0123\n\nweb-2 fedcba9876543210xyz # comment\n",
        )
        .unwrap();
        assert!(t.check("db1", b"0123456789abcdef0123"));
        assert!(
            !t.check("db1", b"fedcba9876543210xyz"),
            "another agent's token"
        );
        assert!(!t.check("db1", b"0123456789abcdef012"));
        assert!(!t.check("nobody", b"0123456789abcdef0123"));
        assert!(!t.check("db1", b""));
        for bad in [
            "db1",
            "db/1 0123456789abcdef",
            ".x 0123456789abcdef",
            "a short",
            "a 0123456789abcdef\na 0123456789abcdef",
            "",
        ] {
            assert!(Tokens::parse(p, bad).is_err(), "{bad:?} accepted");
        }
    }
}
