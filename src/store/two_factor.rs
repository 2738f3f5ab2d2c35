//! SQL for two-factor sign-in: sealed TOTP secrets, recovery codes and
//! half-done sign-ins. The rules live in `crate::accounts::two_factor`.

use super::{with_pool, Result, Store};
use crate::vault::Sealed;

/// A user's TOTP secret as stored, with where its enrolment stands.
pub struct StoredSecondFactor {
    pub sealed: Sealed,
    pub confirmed: bool,
}

impl Store {
    pub async fn second_factor(&self, user_id: &str) -> Result<Option<StoredSecondFactor>> {
        let row = with_pool!(self, pool => {
            sqlx::query_as::<_, (String, Vec<u8>, Vec<u8>, Option<i64>)>(
                "SELECT key_id, nonce, ciphertext, confirmed_at FROM two_factor WHERE user_id = $1",
            )
            .bind(user_id).fetch_optional(pool).await?
        });
        Ok(row.map(
            |(key_id, nonce, ciphertext, confirmed_at)| StoredSecondFactor {
                sealed: Sealed {
                    key_id,
                    nonce,
                    ciphertext,
                },
                confirmed: confirmed_at.is_some(),
            },
        ))
    }

    /// Starts (or starts again) an enrolment with a new secret. Returns
    /// false, changing nothing, when the user's two-factor is confirmed.
    pub async fn begin_second_factor(
        &self,
        user_id: &str,
        sealed: &Sealed,
        now: i64,
    ) -> Result<bool> {
        let written = with_pool!(self, pool => {
            sqlx::query(
                "INSERT INTO two_factor (user_id, key_id, nonce, ciphertext, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (user_id) DO UPDATE SET key_id = excluded.key_id, nonce = excluded.nonce,
                     ciphertext = excluded.ciphertext, created_at = excluded.created_at, last_step = 0
                 WHERE two_factor.confirmed_at IS NULL",
            )
            .bind(user_id).bind(&sealed.key_id).bind(&sealed.nonce).bind(&sealed.ciphertext).bind(now)
            .execute(pool).await?.rows_affected()
        });
        Ok(written > 0)
    }

    /// Confirms the pending enrolment sealed as `sealed` (not one started
    /// again since), taking `step` as used, and stores the recovery codes,
    /// in one transaction. Returns whether it was confirmed.
    pub async fn confirm_second_factor(
        &self,
        user_id: &str,
        sealed: &Sealed,
        step: i64,
        recovery_code_hashes: &[String],
        now: i64,
    ) -> Result<bool> {
        Ok(with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            let confirmed = sqlx::query(
                "UPDATE two_factor SET confirmed_at = $1, last_step = $2
                 WHERE user_id = $3 AND nonce = $4 AND confirmed_at IS NULL",
            )
            .bind(now).bind(step).bind(user_id).bind(&sealed.nonce)
            .execute(&mut *tx).await?.rows_affected() > 0;
            if confirmed {
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
                for hash in recovery_code_hashes {
                    sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                        .bind(user_id).bind(hash).execute(&mut *tx).await?;
                }
                tx.commit().await?;
            }
            confirmed
        }))
    }

    /// Takes time step `step` as used, if it is later than any used
    /// before: a code (even seen over a shoulder) signs in once.
    pub async fn take_second_factor_step(&self, user_id: &str, step: i64) -> Result<bool> {
        let taken = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE two_factor SET last_step = $1
                 WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_step < $1",
            )
            .bind(step).bind(user_id).execute(pool).await?.rows_affected()
        });
        Ok(taken > 0)
    }

    /// Uses up a recovery code; false if it is unknown or used already.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool> {
        let used = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE recovery_codes SET used_at = $1 WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
            )
            .bind(now).bind(user_id).bind(code_hash).execute(pool).await?.rows_affected()
        });
        Ok(used > 0)
    }

    pub async fn recovery_codes_left(&self, user_id: &str) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL")
                .bind(user_id).fetch_one(pool).await?
        }))
    }

    /// Replaces every recovery code of a user with two-factor on.
    pub async fn replace_recovery_codes(&self, user_id: &str, hashes: &[String]) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
            for hash in hashes {
                sqlx::query("INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)")
                    .bind(user_id).bind(hash).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Turns two-factor off: the secret, the codes and any half-done
    /// sign-in go.
    pub async fn delete_second_factor(&self, user_id: &str) -> Result<()> {
        with_pool!(self, pool => {
            let mut tx = pool.begin().await?;
            for table in ["two_factor", "recovery_codes", "sign_in_challenges"] {
                sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                    .bind(user_id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn insert_sign_in_challenge(
        &self,
        token_hash: &str,
        user_id: &str,
        expires_at: i64,
    ) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("INSERT INTO sign_in_challenges (token_hash, user_id, expires_at) VALUES ($1, $2, $3)")
                .bind(token_hash).bind(user_id).bind(expires_at).execute(pool).await?;
        });
        Ok(())
    }

    /// Counts one try at a half-done sign-in and returns its user, or None
    /// when it expired, never was, or used up its `max_attempts`.
    pub async fn take_sign_in_challenge_attempt(
        &self,
        token_hash: &str,
        max_attempts: i64,
        now: i64,
    ) -> Result<Option<String>> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar(
                "UPDATE sign_in_challenges SET attempts = attempts + 1
                 WHERE token_hash = $1 AND expires_at > $2 AND attempts < $3 RETURNING user_id",
            )
            .bind(token_hash).bind(now).bind(max_attempts).fetch_optional(pool).await?
        }))
    }

    /// Ends a half-done sign-in (it finished, or it is given up); also
    /// clears the expired ones.
    pub async fn delete_sign_in_challenge(&self, token_hash: &str, now: i64) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM sign_in_challenges WHERE token_hash = $1 OR expires_at <= $2")
                .bind(token_hash).bind(now).execute(pool).await?;
        });
        Ok(())
    }

    /// Every stored TOTP secret, for key rotation.
    pub async fn second_factor_seals(&self) -> Result<Vec<(String, Sealed)>> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, (String, String, Vec<u8>, Vec<u8>)>(
                "SELECT user_id, key_id, nonce, ciphertext FROM two_factor",
            )
            .fetch_all(pool).await?
        });
        Ok(rows
            .into_iter()
            .map(|(user_id, key_id, nonce, ciphertext)| {
                (
                    user_id,
                    Sealed {
                        key_id,
                        nonce,
                        ciphertext,
                    },
                )
            })
            .collect())
    }

    /// Replaces a TOTP secret's seal if it is still the one that was read.
    pub async fn reseal_second_factor(
        &self,
        user_id: &str,
        old: &Sealed,
        new: &Sealed,
    ) -> Result<bool> {
        let replaced = with_pool!(self, pool => {
            sqlx::query(
                "UPDATE two_factor SET key_id = $1, nonce = $2, ciphertext = $3 WHERE user_id = $4 AND nonce = $5",
            )
            .bind(&new.key_id).bind(&new.nonce).bind(&new.ciphertext).bind(user_id).bind(&old.nonce)
            .execute(pool).await?.rows_affected()
        });
        Ok(replaced > 0)
    }
}
