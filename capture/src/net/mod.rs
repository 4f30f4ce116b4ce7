//! Agent ↔ server: the wire format ([`frame`]), credentials ([`tokens`]),
//! the backup server ([`server`]) and the agent's sender ([`agent`]).
pub mod agent;
pub mod frame;
pub mod server;
pub mod tokens;
