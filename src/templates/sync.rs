//! Reading each WABA's templates from Meta into the store: when a number
//! goes live, every `TEMPLATE_SYNC_INTERVAL_SECS`, and after each status
//! webhook (the pipeline makes the WABA due). Instances claim a due WABA
//! by compare-and-set, so each sync runs once.

use std::time::Duration;

use crate::{
    numbers,
    store::{now_millis, StoredTemplate},
    worker::{self, Step, Stop},
    Engine, Error, MetaCall,
};

/// How often the worker looks for due WABAs.
const POLL: Duration = Duration::from_secs(1);
/// A failed sync is tried again this much later.
const RETRY_MS: i64 = 60_000;

/// Reads the WABA's templates (every page) and stores them; returns how
/// many there are.
pub async fn sync_waba(engine: &Engine, waba_id: &str) -> Result<usize, Error> {
    let phone = engine
        .store
        .live_number_of_waba(waba_id)
        .await?
        .ok_or_else(|| {
            Error::NotConnected("no live number can read this account's templates".into())
        })?;
    let token = crate::tokens::open_number_token(engine, &phone).await?;
    let listed = match engine.graph.message_templates(&token, waba_id).await {
        Ok(listed) => listed,
        Err(error) => {
            numbers::note_graph_error(engine, &phone, &error).await?;
            return Err(Error::meta(MetaCall::ListTemplates, error));
        }
    };
    let now = now_millis();
    let rows: Vec<StoredTemplate> = listed
        .into_iter()
        .map(|t| StoredTemplate {
            waba_id: waba_id.to_string(),
            name: t.name,
            language: t.language,
            template_id: t.id,
            category: t.category,
            status: t.status,
            rejected_reason: t.rejected_reason,
            parameter_format: t.parameter_format,
            components: t.components.to_string(),
            updated_at: now,
            quality: t.quality,
        })
        .collect();
    engine.store.replace_templates(waba_id, &rows).await?;
    let notice = crate::live::Notice::to_waba(waba_id, crate::live::Topic::Templates);
    engine.live.publish(&engine.store, [notice]).await;
    let interval_ms = engine.config.template_sync_interval_secs as i64 * 1000;
    engine
        .store
        .template_synced(waba_id, now, now + interval_ms)
        .await?;
    Ok(rows.len())
}

/// Syncs every WABA that is due now; returns how many were synced.
pub async fn sync_due(engine: &Engine) -> Result<usize, Error> {
    let now = now_millis();
    let interval_ms = engine.config.template_sync_interval_secs as i64 * 1000;
    let mut synced = 0;
    for waba_id in engine.store.due_template_syncs(now).await? {
        if !engine
            .store
            .claim_template_sync(&waba_id, now, now + interval_ms)
            .await?
        {
            continue;
        }
        match sync_waba(engine, &waba_id).await {
            Ok(count) => {
                synced += 1;
                tracing::info!(%waba_id, templates = count, "templates synced");
            }
            Err(error) => {
                tracing::warn!(%waba_id, %error, "template sync failed");
                engine
                    .store
                    .template_sync_failed(&waba_id, &error.to_string())
                    .await?;
                // Sooner than the next scheduled sync.
                engine
                    .store
                    .want_template_sync(&waba_id, now + RETRY_MS)
                    .await?;
            }
        }
    }
    Ok(synced)
}

/// The template sync worker, until `stop`.
pub async fn run(engine: Engine, stop: Stop) {
    let engine = &engine;
    worker::run_loop(stop, None, POLL, || async move {
        if let Err(error) = sync_due(engine).await {
            tracing::warn!(%error, "template sync round failed");
        }
        Step::Idle
    })
    .await;
}
