//! SQL for the last saved business profile of each number.

use super::{with_pool, Result, Store};

impl Store {
    /// The profile as last saved here (JSON), if ever.
    pub async fn saved_profile(&self, phone_number_id: &str) -> Result<Option<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT saved FROM business_profiles WHERE phone_number_id = $1")
                .bind(phone_number_id).fetch_optional(pool).await?
        }))
    }

    pub async fn save_profile(
        &self,
        phone_number_id: &str,
        workspace_id: &str,
        saved: &str,
        saved_by: Option<&str>,
        now: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO business_profiles (phone_number_id, workspace_id, saved, saved_at, saved_by)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (phone_number_id) DO UPDATE SET saved = excluded.saved, saved_at = excluded.saved_at, saved_by = excluded.saved_by",
            )
            .bind(phone_number_id).bind(workspace_id).bind(saved).bind(now).bind(saved_by)
            .execute(pool).await?;
        });
        Ok(())
    }
}
