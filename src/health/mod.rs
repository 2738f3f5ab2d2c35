//! A number's health as Meta reports it: restrictions that stop kinds of
//! sends ([`gates`]), the account's notices, and the probe that reads
//! Meta's own view of the number ([`probe`]).

pub mod doctor;
pub mod gates;
pub mod probe;
pub mod versions;

use crate::{
    store::{self, now_millis, NumberRow},
    Engine, Error,
};

pub use gates::{Gate, SendKind};

/// The number's health in one word, from what is stored (no call to
/// Meta): healthy, limited, paused, disabled, reconnect...
pub async fn word_of(engine: &Engine, number: &NumberRow) -> Result<String, store::Error> {
    let restrictions = engine
        .store
        .active_restrictions(&number.waba_id, now_millis())
        .await?;
    let health = engine
        .store
        .number_health(number.phone_number_id.as_str())
        .await?;
    Ok(doctor::word(
        number,
        &restrictions,
        health.as_ref().and_then(|h| h.can_send.as_deref()),
    ))
}

/// Refuses, before it is queued, a send a restriction in force stops,
/// with Meta's reason and the restriction's end.
pub async fn refuse_if_restricted(
    engine: &Engine,
    waba_id: &str,
    kind: SendKind<'_>,
    field: &'static str,
) -> Result<(), Error> {
    let held = engine
        .store
        .active_restrictions(waba_id, now_millis())
        .await?;
    match gates::blocking(&held, kind) {
        Some(restriction) => Err(Error::invalid(field, gates::refusal(restriction))),
        None => Ok(()),
    }
}
