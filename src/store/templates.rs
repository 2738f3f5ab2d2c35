//! SQL for message templates and when each WABA's are next synced.

use super::{with_pool, with_tx, NumberStatus, Result, Store, Tx};

/// A template as stored, per WABA.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StoredTemplate {
    pub waba_id: String,
    pub name: String,
    pub language: String,
    pub template_id: String,
    pub category: String,
    pub status: String,
    pub rejected_reason: Option<String>,
    pub parameter_format: String,
    /// Meta's components, as JSON.
    pub components: String,
    pub updated_at: i64,
    /// Meta's quality score: GREEN, YELLOW, RED or UNKNOWN.
    pub quality: Option<String>,
}

const COLUMNS: &str = "waba_id, name, language, template_id, category, status, rejected_reason, parameter_format, components, updated_at, quality";

const UPSERT: &str = "INSERT INTO message_templates (waba_id, name, language, template_id, category, status, rejected_reason, parameter_format, components, updated_at, quality)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (waba_id, name, language) DO UPDATE SET template_id = excluded.template_id,
       category = excluded.category, status = excluded.status, rejected_reason = excluded.rejected_reason,
       parameter_format = excluded.parameter_format, components = excluded.components, updated_at = excluded.updated_at,
       quality = excluded.quality";

/// Makes a WABA's sync due now (kept if already due sooner).
const WANT_SYNC: &str = "INSERT INTO template_syncs (waba_id, due_at) VALUES ($1, $2)
     ON CONFLICT (waba_id) DO UPDATE SET due_at = excluded.due_at WHERE template_syncs.due_at > excluded.due_at";

/// What Meta said of a template's review, named by its id or by its name
/// and language.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StatusChange<'a> {
    pub waba_id: &'a str,
    pub template_id: &'a str,
    pub name: &'a str,
    pub language: &'a str,
    pub status: &'a str,
    pub rejected_reason: Option<&'a str>,
}

/// Stores a template's new status at once, before the next sync reads it
/// from Meta.
pub(crate) async fn set_status(tx: &mut Tx<'_>, change: &StatusChange<'_>, now: i64) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE message_templates SET status = $1, rejected_reason = $2, updated_at = $3
             WHERE waba_id = $4 AND (template_id = $5 OR (name = $6 AND language = $7))",
        )
        .bind(change.status).bind(change.rejected_reason).bind(now).bind(change.waba_id)
        .bind(change.template_id).bind(change.name).bind(change.language)
        .execute(conn).await?;
    });
    Ok(())
}

/// What Meta changed of a template besides its status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Changed<'a> {
    pub waba_id: &'a str,
    pub template_id: &'a str,
    pub name: &'a str,
    pub language: &'a str,
    pub quality: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// Stores a template's new quality score or category at once; what the
/// event does not name stays as it was.
pub(crate) async fn set_changed(tx: &mut Tx<'_>, change: &Changed<'_>, now: i64) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE message_templates SET quality = COALESCE($1, quality), category = COALESCE($2, category), updated_at = $3
             WHERE waba_id = $4 AND (template_id = $5 OR (name = $6 AND language = $7))",
        )
        .bind(change.quality).bind(change.category).bind(now).bind(change.waba_id)
        .bind(change.template_id).bind(change.name).bind(change.language)
        .execute(conn).await?;
    });
    Ok(())
}

/// Makes a WABA's sync due now, inside a flow's transaction.
pub(crate) async fn want_sync(tx: &mut Tx<'_>, waba_id: &str, now: i64) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(WANT_SYNC).bind(waba_id).bind(now).execute(conn).await?;
    });
    Ok(())
}

/// A rejected template's reason: Meta's if the listing gave one, else the
/// one already held (a listing that leaves the reason out never wipes it).
/// A template that is no longer rejected keeps none.
fn kept_reason<'a>(
    listed: &'a StoredTemplate,
    held: &'a [(String, String, Option<String>)],
) -> Option<&'a str> {
    if listed.status != "REJECTED" {
        return None;
    }
    listed.rejected_reason.as_deref().or_else(|| {
        held.iter()
            .find(|(name, language, _)| *name == listed.name && *language == listed.language)
            .and_then(|(_, _, reason)| reason.as_deref())
    })
}

impl Store {
    /// Replaces a WABA's templates with what Meta listed: new ones added,
    /// changed ones updated, ones Meta no longer lists removed.
    pub async fn replace_templates(
        &self,
        waba_id: &str,
        templates: &[StoredTemplate],
    ) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            // Written first, so that on SQLite the transaction holds the
            // write lock from its first statement (a read first could not
            // be upgraded once another writer committed).
            let held: Vec<(String, String, Option<String>)> = sqlx::query_as(
                "DELETE FROM message_templates WHERE waba_id = $1 RETURNING name, language, rejected_reason",
            )
            .bind(waba_id).fetch_all(&mut *tx).await?;
            for t in templates {
                let reason = kept_reason(t, &held);
                sqlx::query(UPSERT)
                    .bind(&t.waba_id).bind(&t.name).bind(&t.language).bind(&t.template_id)
                    .bind(&t.category).bind(&t.status).bind(reason)
                    .bind(&t.parameter_format).bind(&t.components).bind(t.updated_at)
                    .bind(&t.quality)
                    .execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn upsert_template(&self, t: &StoredTemplate) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(UPSERT)
                .bind(&t.waba_id).bind(&t.name).bind(&t.language).bind(&t.template_id)
                .bind(&t.category).bind(&t.status).bind(&t.rejected_reason)
                .bind(&t.parameter_format).bind(&t.components).bind(t.updated_at)
                .bind(&t.quality)
                .execute(pool).await?;
        });
        Ok(())
    }

    pub async fn delete_templates(&self, waba_id: &str, name: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM message_templates WHERE waba_id = $1 AND name = $2")
                .bind(waba_id).bind(name).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn template(
        &self,
        waba_id: &str,
        name: &str,
        language: &str,
    ) -> Result<Option<StoredTemplate>> {
        let sql = format!("SELECT {COLUMNS} FROM message_templates WHERE waba_id = $1 AND name = $2 AND language = $3");
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(waba_id).bind(name).bind(language).fetch_optional(pool).await?
        }))
    }

    /// Templates of every WABA the workspace has a connected number in.
    pub async fn templates_of_workspace(&self, workspace_id: &str) -> Result<Vec<StoredTemplate>> {
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("t.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {columns} FROM message_templates t
             WHERE t.waba_id IN (SELECT waba_id FROM whatsapp_numbers WHERE workspace_id = $1 AND status <> $2)
             ORDER BY t.name, t.language"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(NumberStatus::Disconnected).fetch_all(pool).await?
        }))
    }

    /// WABAs with a live number whose templates are due for a sync; a WABA
    /// never synced (just connected) is due at once. Only reads unless a
    /// WABA is new: the worker asks every second.
    pub async fn due_template_syncs(&self, now: i64) -> Result<Vec<String>> {
        Ok(with_pool!(self, pool => {
            let new: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT n.waba_id FROM whatsapp_numbers n WHERE n.status = $1
                   AND NOT EXISTS (SELECT 1 FROM template_syncs s WHERE s.waba_id = n.waba_id)",
            )
            .bind(NumberStatus::Live).fetch_all(pool).await?;
            for waba_id in &new {
                sqlx::query("INSERT INTO template_syncs (waba_id, due_at) VALUES ($1, $2) ON CONFLICT (waba_id) DO NOTHING")
                    .bind(waba_id).bind(now).execute(pool).await?;
            }
            sqlx::query_scalar(
                "SELECT s.waba_id FROM template_syncs s WHERE s.due_at <= $1
                   AND EXISTS (SELECT 1 FROM whatsapp_numbers n WHERE n.waba_id = s.waba_id AND n.status = $2)
                 ORDER BY s.due_at LIMIT 20",
            )
            .bind(now).bind(NumberStatus::Live).fetch_all(pool).await?
        }))
    }

    /// Claims a due sync by moving it to `next`; false if another
    /// instance claimed it first.
    pub async fn claim_template_sync(&self, waba_id: &str, now: i64, next: i64) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            sqlx::query("UPDATE template_syncs SET due_at = $1 WHERE waba_id = $2 AND due_at <= $3")
                .bind(next).bind(waba_id).bind(now).execute(pool).await?.rows_affected() == 1
        }))
    }

    /// Records a successful sync; a WABA seen for the first time is next
    /// due at `next_due`.
    pub async fn template_synced(&self, waba_id: &str, now: i64, next_due: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO template_syncs (waba_id, due_at, synced_at) VALUES ($1, $2, $3)
                         ON CONFLICT (waba_id) DO UPDATE SET synced_at = excluded.synced_at, last_error = NULL")
                .bind(waba_id).bind(next_due).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn template_sync_failed(&self, waba_id: &str, error: &str) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE template_syncs SET last_error = $1 WHERE waba_id = $2")
                .bind(error).bind(waba_id).execute(pool).await?;
        });
        Ok(())
    }

    pub async fn want_template_sync(&self, waba_id: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(WANT_SYNC).bind(waba_id).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// (synced_at, last_error) of a WABA's last sync.
    pub async fn template_sync_state(
        &self,
        waba_id: &str,
    ) -> Result<Option<(Option<i64>, Option<String>)>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_as("SELECT synced_at, last_error FROM template_syncs WHERE waba_id = $1")
                .bind(waba_id).fetch_optional(pool).await?
        }))
    }

    /// A live number of the WABA, whose token can manage it.
    pub async fn live_number_of_waba(&self, waba_id: &str) -> Result<Option<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT phone_number_id FROM whatsapp_numbers WHERE waba_id = $1 AND status = $2 ORDER BY phone_number_id LIMIT 1")
                .bind(waba_id).bind(NumberStatus::Live).fetch_optional(pool).await?
        }))
    }
}
