//! SQL for contacts (customers keyed by BSUID) and the ids they are known
//! by. The rules that decide which contact a payload names live in
//! `crate::contacts`; these are its statements.

use super::{with_pool, with_tx, Result, Store, Tx};
use crate::{
    ids::{Bsuid, ContactId, ContactScope},
    text_enum::text_enum,
};

text_enum! {
    /// The kinds of id a contact is found by.
    pub enum AliasKind {
        Bsuid = "bsuid",
        Phone = "phone",
    }
}

/// A customer of a workspace, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct ContactRow {
    pub id: ContactId,
    pub workspace_id: String,
    pub scope: ContactScope,
    pub bsuid: Option<Bsuid>,
    pub phone: Option<String>,
    pub username: Option<String>,
    pub parent_bsuid: Option<Bsuid>,
    pub profile_name: Option<String>,
    /// The contact this one proved to be (its history moved there).
    pub merged_into: Option<ContactId>,
    /// The name the business saved for them in the WhatsApp Business app.
    #[sqlx(default)]
    pub saved_name: Option<String>,
}

/// An id found in the aliases: its contact, and whether the id is an old
/// one (the contact moved on from it).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Alias {
    pub contact_id: ContactId,
    pub superseded_at: Option<i64>,
}

const COLUMNS: &str =
    "id, workspace_id, scope, bsuid, phone, username, parent_bsuid, profile_name, merged_into, saved_name";

/// Holds, until the transaction ends, the right to decide about these ids
/// of a scope: two transactions seeing the same person (a message and the
/// number change it raced) then decide one after the other, never both on
/// what they read before the other wrote. Postgres only: on SQLite the
/// flows' transactions already hold the database's write lock.
pub(crate) async fn lock_ids(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    ids: &[&str],
) -> Result<()> {
    let keys = ids
        .iter()
        .map(|id| lock_key(workspace_id, scope, id))
        .collect();
    lock_keys(tx, keys).await
}

/// What [`lock_ids`] locks for one id.
pub(crate) fn lock_key(workspace_id: &str, scope: &ContactScope, id: &str) -> String {
    format!("{workspace_id}/{scope}/{id}")
}

/// Locks `keys` (made by [`lock_key`]) until the transaction ends, in one
/// sorted order. A transaction may take a key it already holds.
pub(crate) async fn lock_keys(tx: &mut Tx<'_>, mut keys: Vec<String>) -> Result<()> {
    let Tx::Postgres(conn) = tx else {
        return Ok(());
    };
    // One order everywhere, so two transactions never wait on each other;
    // taken in the array's order by one statement (a batch's hundreds of
    // keys in one round trip).
    keys.sort();
    keys.dedup();
    if keys.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended(key, 0))
         FROM unnest($1::text[]) WITH ORDINALITY AS keys(key, position) ORDER BY position",
    )
    .bind(keys)
    .execute(&mut **conn)
    .await?;
    Ok(())
}

pub(crate) async fn find_alias(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    kind: AliasKind,
    value: &str,
) -> Result<Option<Alias>> {
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(
            "SELECT contact_id, superseded_at FROM contact_aliases
             WHERE workspace_id = $1 AND scope = $2 AND kind = $3 AND value = $4",
        )
        .bind(workspace_id).bind(scope).bind(kind).bind(value)
        .fetch_optional(conn).await?
    }))
}

/// An id found in the aliases with its contact as stored, in one round
/// trip: the pipeline looks a customer up for every message and receipt.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub(crate) struct Aliased {
    /// Whether the id is an old one (the contact moved on from it).
    pub superseded_at: Option<i64>,
    #[sqlx(flatten)]
    pub contact: ContactRow,
}

pub(crate) async fn find_aliased(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    kind: AliasKind,
    value: &str,
) -> Result<Option<Aliased>> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect();
        format!(
            "SELECT a.superseded_at, {} FROM contact_aliases a JOIN contacts c ON c.id = a.contact_id
             WHERE a.workspace_id = $1 AND a.scope = $2 AND a.kind = $3 AND a.value = $4",
            columns.join(", ")
        )
    });
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(SQL.as_str())
            .bind(workspace_id).bind(scope).bind(kind).bind(value)
            .fetch_optional(conn).await?
    }))
}

/// [`find_aliased`] for many values of one kind: those found, each with
/// its value. One statement per 500 values.
pub(crate) async fn find_aliased_in(
    tx: &mut Tx<'_>,
    workspace_id: &str,
    scope: &ContactScope,
    kind: AliasKind,
    values: &[&str],
) -> Result<Vec<(String, Aliased)>> {
    #[derive(sqlx::FromRow)]
    struct Found {
        value: String,
        #[sqlx(flatten)]
        aliased: Aliased,
    }
    static SELECT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let columns: Vec<String> = COLUMNS.split(", ").map(|c| format!("c.{c}")).collect();
        format!(
            "SELECT a.value, a.superseded_at, {} FROM contact_aliases a JOIN contacts c ON c.id = a.contact_id
             WHERE a.workspace_id = ",
            columns.join(", ")
        )
    });
    let mut found = Vec::with_capacity(values.len());
    for chunk in values.chunks(500) {
        let rows: Vec<Found> = with_tx!(tx, conn => {
            let mut query = sqlx::QueryBuilder::new(SELECT.as_str());
            query.push_bind(workspace_id).push(" AND a.scope = ").push_bind(scope)
                .push(" AND a.kind = ").push_bind(kind).push(" AND a.value IN (");
            let mut list = query.separated(", ");
            for value in chunk {
                list.push_bind(*value);
            }
            query.push(")");
            query.build_query_as().persistent(false).fetch_all(conn).await?
        });
        found.extend(rows.into_iter().map(|f| (f.value, f.aliased)));
    }
    Ok(found)
}

pub(crate) async fn get(tx: &mut Tx<'_>, id: &ContactId) -> Result<Option<ContactRow>> {
    let sql = format!("SELECT {COLUMNS} FROM contacts WHERE id = $1");
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(id).fetch_optional(conn).await?
    }))
}

/// The contact of a stored message.
pub(crate) async fn of_message(
    tx: &mut Tx<'_>,
    phone_number_id: &str,
    wamid: &str,
) -> Result<Option<ContactRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM contacts
         WHERE id = (SELECT contact_id FROM messages WHERE phone_number_id = $1 AND wamid = $2)"
    );
    Ok(with_tx!(tx, conn => {
        sqlx::query_as(&sql).bind(phone_number_id).bind(wamid).fetch_optional(conn).await?
    }))
}

/// A new contact. Returns false if another transaction made one with the
/// same BSUID or phone first (its alias won): the caller looks again.
pub(crate) async fn insert(tx: &mut Tx<'_>, contact: &ContactRow, now: i64) -> Result<bool> {
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO contacts (id, workspace_id, scope, bsuid, phone, username, parent_bsuid, profile_name, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
        )
        .bind(&contact.id).bind(&contact.workspace_id).bind(&contact.scope).bind(&contact.bsuid)
        .bind(&contact.phone).bind(&contact.username).bind(&contact.parent_bsuid).bind(&contact.profile_name)
        .bind(now)
        .execute(&mut *conn).await?;
    });
    let ids = [
        (AliasKind::Bsuid, contact.bsuid.as_deref()),
        (AliasKind::Phone, contact.phone.as_deref()),
    ];
    for (kind, value) in ids {
        let Some(value) = value else { continue };
        let claimed = with_tx!(tx, conn => {
            sqlx::query(
                "INSERT INTO contact_aliases (workspace_id, scope, kind, value, contact_id) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (workspace_id, scope, kind, value) DO NOTHING",
            )
            .bind(&contact.workspace_id).bind(&contact.scope).bind(kind).bind(value).bind(&contact.id)
            .execute(conn).await?
            .rows_affected() == 1
        });
        if !claimed {
            with_tx!(tx, conn => {
                sqlx::query("DELETE FROM contact_aliases WHERE contact_id = $1").bind(&contact.id).execute(&mut *conn).await?;
                sqlx::query("DELETE FROM contacts WHERE id = $1").bind(&contact.id).execute(&mut *conn).await?;
            });
            return Ok(false);
        }
    }
    Ok(true)
}

/// Makes `value` a current id of the contact (moving it from whichever
/// contact held it).
pub(crate) async fn point_alias(
    tx: &mut Tx<'_>,
    contact: &ContactRow,
    kind: AliasKind,
    value: &str,
) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "INSERT INTO contact_aliases (workspace_id, scope, kind, value, contact_id) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (workspace_id, scope, kind, value) DO UPDATE SET contact_id = excluded.contact_id, superseded_at = NULL",
        )
        .bind(&contact.workspace_id).bind(&contact.scope).bind(kind).bind(value).bind(&contact.id)
        .execute(conn).await?;
    });
    Ok(())
}

/// Keeps an id as an old one of the contact: found, but no longer current.
pub(crate) async fn supersede_alias(
    tx: &mut Tx<'_>,
    contact: &ContactRow,
    kind: AliasKind,
    value: &str,
    now: i64,
) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE contact_aliases SET superseded_at = $6
             WHERE workspace_id = $1 AND scope = $2 AND kind = $3 AND value = $4 AND contact_id = $5",
        )
        .bind(&contact.workspace_id).bind(&contact.scope).bind(kind).bind(value).bind(&contact.id).bind(now)
        .execute(conn).await?;
    });
    Ok(())
}

/// Writes the contact's attributes as they are in `contact`.
pub(crate) async fn update(tx: &mut Tx<'_>, contact: &ContactRow, now: i64) -> Result<()> {
    with_tx!(tx, conn => {
        sqlx::query(
            "UPDATE contacts SET bsuid = $2, phone = $3, username = $4, parent_bsuid = $5, profile_name = $6, updated_at = $7
             WHERE id = $1",
        )
        .bind(&contact.id).bind(&contact.bsuid).bind(&contact.phone).bind(&contact.username)
        .bind(&contact.parent_bsuid).bind(&contact.profile_name).bind(now)
        .execute(conn).await?;
    });
    Ok(())
}

/// `from` proved to be `into`: its messages, queued sends and ids move
/// there (its conversations' summaries fold into `into`'s), and it points
/// there for whoever still holds its id.
pub(crate) async fn merge(
    tx: &mut Tx<'_>,
    from: &ContactId,
    into: &ContactId,
    now: i64,
) -> Result<()> {
    with_tx!(tx, conn => {
        for sql in [
            "UPDATE messages SET contact_id = $2 WHERE contact_id = $1",
            "UPDATE outbox SET contact_id = $2 WHERE contact_id = $1",
            "UPDATE contact_aliases SET contact_id = $2 WHERE contact_id = $1",
        ] {
            sqlx::query(sql).bind(from).bind(into).execute(&mut *conn).await?;
        }
        sqlx::query("UPDATE contacts SET merged_into = $2, updated_at = $3 WHERE id = $1 OR merged_into = $1")
            .bind(from).bind(into).bind(now).execute(&mut *conn).await?;
    });
    super::summaries::merge(tx, from, into).await
}

impl Store {
    /// A contact of the workspace by id; one merged into another reads as
    /// that other.
    pub async fn contact(&self, workspace_id: &str, id: &ContactId) -> Result<Option<ContactRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM contacts WHERE workspace_id = $1
             AND id = COALESCE((SELECT merged_into FROM contacts WHERE id = $2), $2)"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(id).fetch_optional(pool).await?
        }))
    }

    /// The contact an id names in a scope, current or old.
    pub async fn contact_by_alias(
        &self,
        workspace_id: &str,
        scope: &ContactScope,
        kind: AliasKind,
        value: &str,
    ) -> Result<Option<ContactRow>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM contacts WHERE id = (SELECT contact_id FROM contact_aliases
             WHERE workspace_id = $1 AND scope = $2 AND kind = $3 AND value = $4)"
        );
        Ok(with_pool!(self, pool => {
            sqlx::query_as(&sql).bind(workspace_id).bind(scope).bind(kind).bind(value).fetch_optional(pool).await?
        }))
    }
}
