//! Times as text: the same on the server, in the browser and in the
//! engine's messages (`rules::time`).

pub use rules::time::format_time;
