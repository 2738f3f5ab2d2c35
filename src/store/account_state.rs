//! SQL for what Meta says about a WABA as a whole (restrictions, bans,
//! violations, limits, pricing tiers) and about each number (name review,
//! the health probe). Every write reports whether it changed anything, so
//! a redelivered webhook is audited once.

use super::{numbers::WabaNumber, with_pool, with_tx, NumberStatus, Result, Store, Tx};

/// Where a restriction came from.
pub(crate) const FROM_WEBHOOK: &str = "webhook";
pub(crate) const FROM_SEND_ERROR: &str = "send_error";

/// A restriction in force on a WABA.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct RestrictionRow {
    pub waba_id: String,
    pub restriction_type: String,
    /// Unix ms; `None`: until Meta's health status says it is lifted.
    pub expires_at: Option<i64>,
    pub remediation: Option<String>,
    pub source: String,
    pub received_at: i64,
}

/// The latest of each notice Meta sent about a WABA.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow,
)]
pub struct WabaNotices {
    pub waba_id: String,
    pub ban_state: Option<String>,
    pub ban_date: Option<String>,
    pub violation_type: Option<String>,
    pub violation_remediation: Option<String>,
    pub violation_at: Option<i64>,
    pub granted_event: Option<String>,
    pub granted_at: Option<i64>,
    pub messaging_limit: Option<String>,
    pub max_phone_numbers: Option<i64>,
    pub updated_at: i64,
}

/// A volume-based pricing tier Meta set for a category and month.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct PricingTierRow {
    pub pricing_category: String,
    pub effective_month: String,
    pub region: String,
    pub tier: String,
    pub received_at: i64,
}

/// A number's display-name review and what the last health probe found.
#[derive(
    Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow,
)]
pub struct NumberHealthRow {
    pub phone_number_id: String,
    pub name_decision: Option<String>,
    pub requested_name: Option<String>,
    pub name_rejection: Option<String>,
    /// Meta's `health_status.can_send_message`: AVAILABLE, LIMITED, BLOCKED.
    pub can_send: Option<String>,
    /// The probe's findings as JSON (see `health::Findings`).
    pub findings: Option<String>,
    pub probe_error: Option<String>,
    pub checked_at: Option<i64>,
    pub due_at: Option<i64>,
    /// When a webhook about the number last arrived.
    pub last_event_at: Option<i64>,
}

/// A restriction as a webhook or a refused send names it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NewRestriction<'a> {
    pub waba_id: &'a str,
    pub restriction_type: &'a str,
    pub expires_at: Option<i64>,
    pub remediation: Option<&'a str>,
    pub source: &'a str,
    /// When Meta made the webhook (0 when it did not say).
    pub event_at: i64,
}

/// Records a restriction; true when it is new, or a newer webhook than
/// the one stored (a redelivery, or a late copy of an older one, changes
/// nothing; a lifted restriction stays lifted for them).
pub(crate) async fn restrict(tx: &mut Tx<'_>, new: &NewRestriction<'_>, now: i64) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO waba_restrictions (waba_id, restriction_type, expires_at, remediation, source, received_at, event_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (waba_id, restriction_type) DO UPDATE SET expires_at = excluded.expires_at,
                 remediation = excluded.remediation, source = excluded.source, received_at = excluded.received_at,
                 event_at = excluded.event_at, lifted_at = NULL
             WHERE excluded.event_at > waba_restrictions.event_at
                OR (excluded.event_at = waba_restrictions.event_at AND waba_restrictions.lifted_at IS NULL
                    AND (waba_restrictions.expires_at IS DISTINCT FROM excluded.expires_at
                         OR waba_restrictions.remediation IS DISTINCT FROM excluded.remediation))",
        )
        .bind(new.waba_id).bind(new.restriction_type).bind(new.expires_at).bind(new.remediation)
        .bind(new.source).bind(now).bind(new.event_at)
        .execute(conn).await?.rows_affected() == 1
    }))
}

/// One notice column of a WABA, set when it differs; true when it did.
async fn set_notice(
    tx: &mut Tx<'_>,
    waba_id: &str,
    column: Notice,
    value: Option<&str>,
    now: i64,
) -> Result<bool> {
    let update = format!(
        "UPDATE waba_notices SET {column} = $1, updated_at = $2 WHERE waba_id = $3 AND {column} IS DISTINCT FROM $1",
        column = column.as_str()
    );
    Ok(with_tx!(tx, conn => {
        sqlx::query("INSERT INTO waba_notices (waba_id, updated_at) VALUES ($1, $2) ON CONFLICT (waba_id) DO NOTHING")
            .bind(waba_id).bind(now).execute(&mut *conn).await?;
        sqlx::query(&update).bind(value).bind(now).bind(waba_id)
            .execute(&mut *conn).await?.rows_affected() == 1
    }))
}

/// The text columns of `waba_notices` a webhook sets.
#[derive(Debug, Clone, Copy)]
enum Notice {
    BanState,
    BanDate,
    ViolationType,
    ViolationRemediation,
    GrantedEvent,
    MessagingLimit,
}

impl Notice {
    fn as_str(self) -> &'static str {
        match self {
            Self::BanState => "ban_state",
            Self::BanDate => "ban_date",
            Self::ViolationType => "violation_type",
            Self::ViolationRemediation => "violation_remediation",
            Self::GrantedEvent => "granted_event",
            Self::MessagingLimit => "messaging_limit",
        }
    }
}

/// What a `DISABLED_UPDATE` did to the stored ban state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BanChange {
    /// Older than the one stored (made before it): ignored.
    Older,
    /// The same as stored (a redelivery).
    Same,
    Changed,
}

/// `DISABLED_UPDATE` made by Meta at `made_at`: applied unless a newer one
/// is stored.
pub(crate) async fn set_ban(
    tx: &mut Tx<'_>,
    waba_id: &str,
    state: &str,
    date: Option<&str>,
    made_at: i64,
    now: i64,
) -> Result<BanChange> {
    let newest: Option<Option<i64>> = with_tx!(tx, conn => {
        sqlx::query("INSERT INTO waba_notices (waba_id, updated_at) VALUES ($1, $2) ON CONFLICT (waba_id) DO NOTHING")
            .bind(waba_id).bind(now).execute(&mut *conn).await?;
        sqlx::query_scalar("UPDATE waba_notices SET ban_at = $1 WHERE waba_id = $2 AND (ban_at IS NULL OR ban_at <= $1) RETURNING ban_at")
            .bind(made_at).bind(waba_id).fetch_optional(&mut *conn).await?
    });
    if newest.is_none() {
        return Ok(BanChange::Older);
    }
    let state_changed = set_notice(tx, waba_id, Notice::BanState, Some(state), now).await?;
    let date_changed = set_notice(tx, waba_id, Notice::BanDate, date, now).await?;
    Ok(if state_changed || date_changed {
        BanChange::Changed
    } else {
        BanChange::Same
    })
}

/// `ACCOUNT_VIOLATION`; true when it is another violation than the last.
pub(crate) async fn set_violation(
    tx: &mut Tx<'_>,
    waba_id: &str,
    violation_type: &str,
    remediation: Option<&str>,
    now: i64,
) -> Result<bool> {
    let kind = set_notice(
        tx,
        waba_id,
        Notice::ViolationType,
        Some(violation_type),
        now,
    )
    .await?;
    let remedy = set_notice(tx, waba_id, Notice::ViolationRemediation, remediation, now).await?;
    if kind || remedy {
        with_tx!(tx, conn => {
            sqlx::query("UPDATE waba_notices SET violation_at = $1 WHERE waba_id = $2")
                .bind(now).bind(waba_id).execute(conn).await?;
        });
    }
    Ok(kind || remedy)
}

/// `PARTNER_ADDED` / `PARTNER_APP_INSTALLED`; true the first time.
pub(crate) async fn set_granted(
    tx: &mut Tx<'_>,
    waba_id: &str,
    event: &str,
    now: i64,
) -> Result<bool> {
    let changed = set_notice(tx, waba_id, Notice::GrantedEvent, Some(event), now).await?;
    if changed {
        with_tx!(tx, conn => {
            sqlx::query("UPDATE waba_notices SET granted_at = $1 WHERE waba_id = $2")
                .bind(now).bind(waba_id).execute(conn).await?;
        });
    }
    Ok(changed)
}

/// The portfolio's limits; true when one changed.
pub(crate) async fn set_limits(
    tx: &mut Tx<'_>,
    waba_id: &str,
    messaging_limit: Option<&str>,
    max_phone_numbers: Option<i64>,
    now: i64,
) -> Result<bool> {
    let mut changed = false;
    if let Some(limit) = messaging_limit {
        changed |= set_notice(tx, waba_id, Notice::MessagingLimit, Some(limit), now).await?;
    }
    if let Some(max) = max_phone_numbers {
        changed |= with_tx!(tx, conn => {
            sqlx::query("INSERT INTO waba_notices (waba_id, updated_at) VALUES ($1, $2) ON CONFLICT (waba_id) DO NOTHING")
                .bind(waba_id).bind(now).execute(&mut *conn).await?;
            sqlx::query("UPDATE waba_notices SET max_phone_numbers = $1, updated_at = $2
                         WHERE waba_id = $3 AND max_phone_numbers IS DISTINCT FROM $1")
                .bind(max).bind(now).bind(waba_id).execute(&mut *conn).await?.rows_affected() == 1
        });
    }
    Ok(changed)
}

/// `VOLUME_BASED_PRICING_TIER_UPDATE`; true when the tier is new.
pub(crate) async fn set_pricing_tier(
    tx: &mut Tx<'_>,
    waba_id: &str,
    tier: &PricingTierRow,
) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO waba_pricing_tiers (waba_id, pricing_category, effective_month, region, tier, received_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (waba_id, pricing_category, effective_month, region) DO UPDATE SET tier = excluded.tier,
                 received_at = excluded.received_at
             WHERE waba_pricing_tiers.tier <> excluded.tier",
        )
        .bind(waba_id).bind(&tier.pricing_category).bind(&tier.effective_month).bind(&tier.region)
        .bind(&tier.tier).bind(tier.received_at)
        .execute(conn).await?.rows_affected() == 1
    }))
}

/// Meta disabled the WABA: its sending numbers stop (queued messages
/// wait). Returns the numbers it stopped now.
pub(crate) async fn disable_numbers(
    tx: &mut Tx<'_>,
    waba_id: &str,
    reason: &str,
    now: i64,
) -> Result<Vec<WabaNumber>> {
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(
            "UPDATE whatsapp_numbers SET status = $1, status_reason = $2, updated_at = $3
             WHERE waba_id = $4 AND status IN ($5, $6) RETURNING workspace_id, phone_number_id",
        )
        .bind(NumberStatus::DisabledByMeta).bind(reason).bind(now).bind(waba_id)
        .bind(NumberStatus::Live).bind(NumberStatus::PausedByMeta)
        .fetch_all(conn).await?
    }))
}

/// Meta reinstated the WABA: numbers it disabled send again (and only
/// those: a number disconnected or to be reconnected stays so).
pub(crate) async fn reinstate_numbers(
    tx: &mut Tx<'_>,
    waba_id: &str,
    now: i64,
) -> Result<Vec<WabaNumber>> {
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(
            "UPDATE whatsapp_numbers SET status = $1, status_reason = NULL, updated_at = $2
             WHERE waba_id = $3 AND status = $4 RETURNING workspace_id, phone_number_id",
        )
        .bind(NumberStatus::Live).bind(now).bind(waba_id).bind(NumberStatus::DisabledByMeta)
        .fetch_all(conn).await?
    }))
}

/// Meta's decision on a number's display name; true when it changed.
/// An approved name becomes the number's verified name.
pub(crate) async fn set_name_decision(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    decision: &str,
    requested_name: Option<&str>,
    rejection: Option<&str>,
) -> Result<bool> {
    Ok(with_tx!(tx, conn => {
        sqlx::query("INSERT INTO number_health (phone_number_id) VALUES ($1) ON CONFLICT (phone_number_id) DO NOTHING")
            .bind(phone_number_id).execute(&mut *conn).await?;
        let changed = sqlx::query(
            "UPDATE number_health SET name_decision = $1, requested_name = $2, name_rejection = $3
             WHERE phone_number_id = $4 AND (name_decision IS DISTINCT FROM $1
                 OR requested_name IS DISTINCT FROM $2 OR name_rejection IS DISTINCT FROM $3)",
        )
        .bind(decision).bind(requested_name).bind(rejection).bind(phone_number_id)
        .execute(&mut *conn).await?.rows_affected() == 1;
        if changed && decision == "APPROVED" {
            if let Some(name) = requested_name {
                sqlx::query("UPDATE whatsapp_numbers SET verified_name = $1 WHERE phone_number_id = $2")
                    .bind(name).bind(phone_number_id).execute(&mut *conn).await?;
            }
        }
        changed
    }))
}

/// A batch's writes to `number_health`, in number order (see the
/// pipeline's deferred writes): when a webhook for each of `heard` last
/// arrived, and that `probe` are to be read from Meta soon (a webhook
/// said something about them changed).
pub(crate) async fn touch_health(
    tx: &mut Tx<'_>,
    heard: &[&str],
    probe: &[&str],
    now: i64,
) -> Result<()> {
    let mut numbers: Vec<&str> = heard.iter().chain(probe).copied().collect();
    numbers.sort_unstable();
    numbers.dedup();
    for phone_number_id in numbers {
        let heard_now = heard.contains(&phone_number_id).then_some(now);
        let due = probe.contains(&phone_number_id).then_some(now);
        with_tx!(tx, conn => {
            sqlx::query(
                "INSERT INTO number_health (phone_number_id, last_event_at, due_at) VALUES ($1, $2, $3)
                 ON CONFLICT (phone_number_id) DO UPDATE SET
                     last_event_at = COALESCE(excluded.last_event_at, number_health.last_event_at),
                     due_at = COALESCE(excluded.due_at, number_health.due_at)",
            )
            .bind(phone_number_id).bind(heard_now).bind(due).execute(conn).await?;
        });
    }
    Ok(())
}

/// What a probe of a number read from Meta.
#[derive(Debug, Clone)]
pub struct ProbeRecord<'a> {
    pub can_send: Option<&'a str>,
    pub findings: Option<&'a str>,
    pub error: Option<&'a str>,
    pub quality_rating: Option<&'a str>,
    pub verified_name: Option<&'a str>,
    pub meta_status: Option<&'a str>,
}

impl Store {
    /// The WABA's restrictions still in force at `now`, soonest end first.
    pub async fn active_restrictions(
        &self,
        waba_id: &str,
        now: i64,
    ) -> Result<Vec<RestrictionRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT waba_id, restriction_type, expires_at, remediation, source, received_at FROM waba_restrictions
                 WHERE waba_id = $1 AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > $2)
                 ORDER BY expires_at IS NULL, expires_at, restriction_type",
            )
            .bind(waba_id).bind(now).fetch_all(pool).await?
        }))
    }

    /// Meta's health status, read from `read_since`, says the WABA sends
    /// freely: the restrictions its webhooks announced before then are
    /// over (one recorded while the probe was in flight is not; a refused
    /// send's, which the health status does not show, ends by its time).
    /// Returns the types lifted.
    pub async fn lift_restrictions(
        &self,
        waba_id: &str,
        read_since: i64,
        now: i64,
    ) -> Result<Vec<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "UPDATE waba_restrictions SET lifted_at = $4
                 WHERE waba_id = $1 AND lifted_at IS NULL AND (expires_at IS NULL OR expires_at > $4)
                   AND received_at < $2 AND source <> $3
                 RETURNING restriction_type",
            )
            .bind(waba_id).bind(read_since).bind(FROM_SEND_ERROR).bind(now).fetch_all(pool).await?
        }))
    }

    /// A restriction found out from a refused send (no webhook names
    /// it): in force for `for_ms`, renewed by each refusal; true when it
    /// was not in force already.
    pub async fn restrict_after_refusal(
        &self,
        waba_id: &str,
        restriction_type: &str,
        reason: &str,
        for_ms: i64,
        now: i64,
    ) -> Result<bool> {
        let in_force = self
            .active_restrictions(waba_id, now)
            .await?
            .iter()
            .any(|r| r.restriction_type == restriction_type);
        let mut tx = self.begin().await?;
        let new = NewRestriction {
            waba_id,
            restriction_type,
            expires_at: Some(now + for_ms),
            remediation: Some(reason),
            source: FROM_SEND_ERROR,
            event_at: now,
        };
        restrict(&mut tx, &new, now).await?;
        tx.commit().await?;
        Ok(!in_force)
    }

    /// Claims a number's probe (several instances: one probes it).
    pub async fn claim_probe(
        &self,
        phone_number_id: &str,
        stale_before: i64,
        now: i64,
    ) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query("INSERT INTO number_health (phone_number_id) VALUES ($1) ON CONFLICT (phone_number_id) DO NOTHING")
                .bind(phone_number_id).execute(pool).await?;
            sqlx::query(
                "UPDATE number_health SET checked_at = $2, due_at = NULL
                 WHERE phone_number_id = $1 AND (COALESCE(checked_at, 0) < $3 OR (due_at IS NOT NULL AND due_at <= $2))",
            )
            .bind(phone_number_id).bind(now).bind(stale_before).execute(pool).await?.rows_affected() == 1
        }))
    }

    /// Messages a restriction held back go now (Meta lifted it): those
    /// of the WABA's numbers still waiting with a restriction's reason.
    pub async fn release_held(&self, waba_id: &str, reason_prefix: &str, now: i64) -> Result<u64> {
        let pattern = format!("{reason_prefix}%");
        Ok(with_pool!(self, pool => {
            sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1
                 WHERE state = 'queued' AND next_attempt_at > $1 AND error_title LIKE $2
                   AND phone_number_id IN (SELECT phone_number_id FROM whatsapp_numbers WHERE waba_id = $3)",
            )
            .bind(now).bind(&pattern).bind(waba_id).execute(pool).await?.rows_affected()
        }))
    }

    pub async fn waba_notices(&self, waba_id: &str) -> Result<Option<WabaNotices>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT waba_id, ban_state, ban_date, violation_type, violation_remediation, violation_at,
                        granted_event, granted_at, messaging_limit, max_phone_numbers, updated_at
                 FROM waba_notices WHERE waba_id = $1",
            )
            .bind(waba_id).fetch_optional(pool).await?
        }))
    }

    pub async fn pricing_tiers(&self, waba_id: &str) -> Result<Vec<PricingTierRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT pricing_category, effective_month, region, tier, received_at FROM waba_pricing_tiers
                 WHERE waba_id = $1 ORDER BY effective_month DESC, pricing_category, region",
            )
            .bind(waba_id).fetch_all(pool).await?
        }))
    }

    pub async fn number_health(&self, phone_number_id: &str) -> Result<Option<NumberHealthRow>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as(
                "SELECT phone_number_id, name_decision, requested_name, name_rejection, can_send, findings,
                        probe_error, checked_at, due_at, last_event_at
                 FROM number_health WHERE phone_number_id = $1",
            )
            .bind(phone_number_id).fetch_optional(pool).await?
        }))
    }

    /// Numbers whose health to read from Meta now: asked for by a
    /// webhook, or not read since `stale_before` (a new number counts as
    /// read when it connected: onboarding just read it), and numbers Meta
    /// reconnected (checked before they send). Disconnected
    /// numbers are not probed.
    pub async fn numbers_to_probe(
        &self,
        now: i64,
        stale_before: i64,
        limit: i64,
    ) -> Result<Vec<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "SELECT n.phone_number_id FROM whatsapp_numbers n
                 LEFT JOIN number_health h ON h.phone_number_id = n.phone_number_id
                 WHERE n.status IN ($1, $2, $3, $7)
                   AND (COALESCE(h.checked_at, n.created_at) < $4 OR (h.due_at IS NOT NULL AND h.due_at <= $5))
                 ORDER BY n.phone_number_id LIMIT $6",
            )
            .bind(NumberStatus::Live).bind(NumberStatus::PausedByMeta).bind(NumberStatus::DisabledByMeta)
            .bind(stale_before).bind(now).bind(limit).bind(NumberStatus::Reconnecting).fetch_all(pool).await?
        }))
    }

    /// Keeps what a probe read; what Meta says of the number itself
    /// (quality, name, status) goes on the number.
    pub async fn record_probe(
        &self,
        phone_number_id: &str,
        probe: &ProbeRecord<'_>,
        now: i64,
    ) -> Result<()> {
        // Two statements, no transaction: a pipeline batch may hold the
        // number's row while it waits for this one's `number_health`.
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO number_health (phone_number_id, can_send, findings, probe_error, checked_at)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (phone_number_id) DO UPDATE SET
                     can_send = COALESCE(excluded.can_send, number_health.can_send),
                     findings = COALESCE(excluded.findings, number_health.findings),
                     probe_error = excluded.probe_error, checked_at = excluded.checked_at",
            )
            .bind(phone_number_id).bind(probe.can_send).bind(probe.findings).bind(probe.error).bind(now)
            .execute(pool).await?;
            sqlx::query(
                "UPDATE whatsapp_numbers SET quality_rating = COALESCE($1, quality_rating),
                     verified_name = COALESCE($2, verified_name), meta_status = COALESCE($3, meta_status)
                 WHERE phone_number_id = $4",
            )
            .bind(probe.quality_rating).bind(probe.verified_name).bind(probe.meta_status).bind(phone_number_id)
            .execute(pool).await?;
        });
        Ok(())
    }
}
