//! Receiving Meta's webhooks: the verification handshake, signatures over
//! the raw bytes, and the durable journal every event is written to before
//! it is acknowledged. Parsing and applying events happens later, in
//! `crate::pipeline`, so the acknowledgement path stays short.

pub mod journal;
pub mod payload;
pub mod signature;

pub use journal::{Journal, JournalError};
