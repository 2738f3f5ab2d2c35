//! A workspace's connected numbers: listing, "reconnect needed", and
//! disconnecting. History stays with the workspace whatever happens.

use serde_json::json;

use crate::{
    accounts::{Caller, Role},
    audit,
    graph::GraphError,
    ids::{PhoneNumberId, WorkspaceId},
    store::{self, now_millis, NumberRow},
    tokens, Engine, Error,
};

pub use crate::store::NumberStatus;

/// A number of `workspace_id`; another workspace's number is not found.
pub async fn owned(
    engine: &Engine,
    workspace_id: &WorkspaceId,
    phone_number_id: &PhoneNumberId,
) -> Result<NumberRow, Error> {
    engine
        .store
        .number(phone_number_id)
        .await?
        .filter(|n| n.workspace_id == *workspace_id)
        .ok_or(Error::NotFound)
}

pub async fn list(engine: &Engine, caller: &Caller) -> Result<Vec<NumberRow>, Error> {
    caller.require(Role::Agent)?;
    Ok(engine.store.numbers_of(&caller.workspace.id).await?)
}

/// Flags a number "reconnect needed" and audits it, once per change.
/// Returns whether it changed.
pub async fn flag_reconnect(
    engine: &Engine,
    phone_number_id: &PhoneNumberId,
    reason: &str,
) -> Result<bool, store::Error> {
    let Some(number) = engine.store.number(phone_number_id).await? else {
        return Ok(false);
    };
    if number.status == NumberStatus::Disconnected {
        return Ok(false);
    }
    let changed = engine
        .store
        .set_number_status(
            phone_number_id,
            NumberStatus::ReconnectNeeded,
            Some(reason),
            now_millis(),
        )
        .await?;
    if changed {
        tracing::warn!(%phone_number_id, reason, "number needs reconnecting");
        engine
            .store
            .insert_audit(
                Some(&number.workspace_id),
                None,
                "number.reconnect_needed",
                &json!({ "phone_number_id": phone_number_id, "reason": reason }).to_string(),
                now_millis(),
            )
            .await?;
    }
    Ok(changed)
}

/// Any Graph call made with a number's token reports a token error here:
/// a 190 means the business must reconnect. Returns whether it was one.
pub async fn note_graph_error(
    engine: &Engine,
    phone_number_id: &str,
    error: &GraphError,
) -> Result<bool, store::Error> {
    if !error.is_token_problem() {
        return Ok(false);
    }
    flag_reconnect(
        engine,
        &phone_number_id.into(),
        &format!("Meta refused the access token: {error}"),
    )
    .await?;
    Ok(true)
}

/// A send refused for the token (190) or a permission (10, 200): the
/// number must be connected again, which grants them anew.
pub async fn flag_for_refusal(
    engine: &Engine,
    phone_number_id: &str,
    error: &GraphError,
) -> Result<bool, store::Error> {
    if error.is_token_problem() {
        return note_graph_error(engine, phone_number_id, error).await;
    }
    flag_reconnect(
        engine,
        &phone_number_id.into(),
        &format!(
            "Meta refused a permission the app needs: {error}. Connect WhatsApp again to grant it"
        ),
    )
    .await
}

/// Meta refused a send for a reason that concerns the whole account: the
/// number stops sending, with Meta's words as the reason, audited once
/// (a second refusal while paused changes nothing). Returns whether it
/// paused it now.
pub async fn pause_for_meta(
    engine: &Engine,
    phone_number_id: &str,
    error: &GraphError,
) -> Result<bool, store::Error> {
    let reason =
        format!("Meta refused sends from this number: {error}. Fix it with Meta, then resume.");
    let changed = engine
        .store
        .leave_live(
            phone_number_id,
            NumberStatus::PausedByMeta,
            &reason,
            "number.paused_by_meta",
            &json!({ "phone_number_id": phone_number_id, "reason": reason }).to_string(),
            now_millis(),
        )
        .await?;
    if changed {
        tracing::warn!(%phone_number_id, %error, "Meta refused sends for the account; sending paused");
    }
    Ok(changed)
}

/// An admin fixed what Meta refused (paid the bill, appealed the block,
/// registered the number): the number sends again, queued messages first.
pub async fn resume(engine: &Engine, caller: &Caller, phone_number_id: &str) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    let number = owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    // Only from the pause: a number disconnected or flagged meanwhile
    // stays as it is.
    let resumed = engine
        .store
        .resume_paused(&number.phone_number_id, now_millis())
        .await?;
    if !resumed {
        return Err(Error::invalid(
            "phone_number_id",
            "Only a number Meta paused can be resumed.",
        ));
    }
    audit::record_by(
        &engine.store,
        caller,
        "number.resumed",
        json!({ "phone_number_id": phone_number_id, "after": number.status_reason }),
    )
    .await?;
    Ok(())
}

/// Meta's per-number throughput: 80/s by default, 1,000/s once upgraded.
pub const MAX_SEND_RATE: i64 = 1000;

/// Sets how many messages per second the outbox sends from a number
/// (admins; match it to the throughput Meta grants the number).
pub async fn set_send_rate(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    rate: i64,
) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    if !(1..=MAX_SEND_RATE).contains(&rate) {
        return Err(Error::invalid(
            "rate",
            format!("A number sends 1 to {MAX_SEND_RATE} messages per second."),
        ));
    }
    let number = owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    if number.business_app_since.is_some() && rate > store::BUSINESS_APP_MAX_RATE {
        return Err(Error::invalid(
            "rate",
            format!(
                "A number that stays on the WhatsApp Business app sends at most {} messages per second (Meta's fixed level for it).",
                store::BUSINESS_APP_MAX_RATE
            ),
        ));
    }
    engine.store.set_send_rate(phone_number_id, rate).await?;
    audit::record_by(
        &engine.store,
        caller,
        "number.send_rate",
        json!({ "phone_number_id": phone_number_id, "before": number.send_rate, "after": rate }),
    )
    .await?;
    Ok(())
}

/// Disconnects a number: the app stops receiving its WABA's webhooks
/// (unless another connected number shares the WABA), it is deregistered
/// from the Cloud API when asked, and its token is deleted. Its
/// conversations stay.
pub async fn disconnect(
    engine: &Engine,
    caller: &Caller,
    phone_number_id: &str,
    deregister: bool,
) -> Result<(), Error> {
    caller.require(Role::Admin)?;
    let number = owned(engine, &caller.workspace.id, &phone_number_id.into()).await?;
    if deregister && number.business_app_since.is_some() {
        return Err(Error::invalid(
            "deregister",
            "This number is registered by the WhatsApp Business app, which the business still uses: deregistering it would take it off WhatsApp. Disconnect it without deregistering (the business can end the connection in the app, under Settings › Account › Business Platform).",
        ));
    }
    let mut warnings = Vec::new();
    match tokens::open_number_token(engine, phone_number_id).await {
        Ok(token) => {
            if deregister {
                let now = now_millis();
                let tries = engine
                    .store
                    .register_attempts_since(
                        phone_number_id,
                        now - crate::onboarding::REGISTER_WINDOW_MS,
                    )
                    .await?;
                if tries >= crate::onboarding::REGISTER_LIMIT {
                    return Err(Error::invalid(
                        "deregister",
                        "Meta allows 10 register and deregister requests per number in 72 hours, and they are used up; disconnect without deregistering, or try again later",
                    ));
                }
                engine
                    .store
                    .record_register_attempt(
                        phone_number_id,
                        crate::store::RegisterRequest::Deregister,
                        now,
                    )
                    .await?;
                if let Err(error) = engine.graph.deregister(&token, phone_number_id).await {
                    return Err(Error::invalid(
                        "deregister",
                        format!("Meta did not deregister the number: {error}"),
                    ));
                }
            }
            if engine
                .store
                .connected_numbers_of_waba(&number.waba_id, phone_number_id)
                .await?
                == 0
            {
                if let Err(error) = engine.graph.unsubscribe_app(&token, &number.waba_id).await {
                    warnings.push(format!("unsubscribe: {error}"));
                }
            }
        }
        Err(error) => warnings.push(error.to_string()),
    }
    engine
        .store
        .disconnect_number(phone_number_id, now_millis())
        .await?;
    audit::record_by(&engine.store, caller, "number.disconnected",
        json!({ "phone_number_id": phone_number_id, "deregistered": deregister, "warnings": warnings }),
    )
    .await?;
    Ok(())
}
