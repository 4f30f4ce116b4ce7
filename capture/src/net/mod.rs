//! Agent ↔ server: the wire format ([`frame`]), credentials ([`tokens`]),
//! the backup server ([`server`]), the agent's sender ([`agent`]) and
//! optional TLS ([`tls`]).
pub mod agent;
pub mod frame;
pub mod server;
pub mod tls;
pub mod tokens;
