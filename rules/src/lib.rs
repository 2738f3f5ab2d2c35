//! Meta's limits, checked twice: in the browser for a quick answer, and
//! again on the server, which is the one that counts. Kept free of
//! dependencies so the WASM client can use them.

pub mod profile;
pub mod templates;
pub mod time;
