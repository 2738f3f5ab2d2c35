//! The callback data each send carries (`biz_opaque_callback_data`, which
//! Meta echoes on the message's status webhooks): the outbox row it came
//! from. Meta has no idempotency key for sends; this is how a status
//! proves a send went through when our record of Meta's answer was lost.

/// Marks the value as ours, so a status carrying other data is left alone.
const PREFIX: &str = "switchboard.outbox.";

/// The outbox row a send was made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxCallback {
    pub outbox_id: i64,
}

impl OutboxCallback {
    pub fn new(outbox_id: i64) -> Self {
        Self { outbox_id }
    }

    /// Reads a status's callback data; `None` for anything we did not write.
    pub fn parse(raw: &str) -> Option<Self> {
        let id = raw.strip_prefix(PREFIX)?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Self {
            outbox_id: id.parse().ok()?,
        })
    }
}

impl std::fmt::Display for OutboxCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PREFIX}{}", self.outbox_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_ignores_foreign_data() {
        let ours = OutboxCallback::new(42).to_string();
        assert_eq!(ours, "switchboard.outbox.42");
        assert_eq!(OutboxCallback::parse(&ours), Some(OutboxCallback::new(42)));
        for foreign in [
            "",
            "42",
            "switchboard.outbox.",
            "switchboard.outbox.-1",
            "switchboard.outbox.4x",
            "switchboard.outbox.99999999999999999999",
            "campaign=spring",
        ] {
            assert_eq!(OutboxCallback::parse(foreign), None, "{foreign}");
        }
    }
}
