//! The one way a table-backed queue hands out work: an `UPDATE` that
//! leases due rows and returns them. On Postgres several instances claim
//! at once without overlap (`FOR UPDATE SKIP LOCKED`); SQLite has a single
//! writer, so the plain statement is already exclusive.

use super::Backend;

/// What a queue's claim looks like; each queue keeps one as a constant.
///
/// Parameters are fixed so every claim binds the same way: `$1` the end of
/// the lease, `$2` now, `$3` how many rows at most; a queue's own
/// conditions in `due` use `$4` onwards.
#[derive(Debug, Clone, Copy)]
pub struct Claim {
    pub table: &'static str,
    /// The row's key: a column, or a tuple such as `(a, b)`.
    pub key: &'static str,
    /// The state of rows to claim, as an SQL literal (`Enum::X.sql()`):
    /// written into the statement, so the queue's partial index applies.
    pub state: &'static str,
    /// Which rows in that state are due, besides not being leased (e.g.
    /// `next_attempt_at <= $2`).
    pub due: &'static str,
    pub order_by: &'static str,
    /// More assignments made by claiming, each starting with a comma
    /// (e.g. `, attempts = attempts + 1`); empty for none.
    pub also_set: &'static str,
    pub returning: &'static str,
}

impl Claim {
    pub fn sql(&self, backend: Backend) -> String {
        let Self {
            table,
            key,
            state,
            due,
            order_by,
            also_set,
            returning,
        } = self;
        let lock = match backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        // A tuple key is compared as a row but selected as columns.
        let columns = key.trim_start_matches('(').trim_end_matches(')');
        format!(
            "UPDATE {table} SET lease_until = $1{also_set}
             WHERE {key} IN (SELECT {columns} FROM {table}
                             WHERE state = {state} AND ({due}) AND (lease_until IS NULL OR lease_until < $2)
                             ORDER BY {order_by} LIMIT $3{lock})
             RETURNING {returning}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUEUE: Claim = Claim {
        table: "jobs",
        key: "id",
        state: "'pending'",
        due: "next_attempt_at <= $2",
        order_by: "id",
        also_set: ", attempts = attempts + 1",
        returning: "id, attempts",
    };

    #[test]
    fn postgres_skips_rows_other_instances_hold() {
        let sql = QUEUE.sql(Backend::Postgres);
        assert!(sql.contains("LIMIT $3 FOR UPDATE SKIP LOCKED)"), "{sql}");
        assert!(sql.contains("SET lease_until = $1, attempts = attempts + 1"));
        assert!(sql.contains("WHERE state = 'pending' AND (next_attempt_at <= $2) AND (lease_until IS NULL OR lease_until < $2)"), "{sql}");
    }

    #[test]
    fn a_tuple_key_is_selected_as_columns() {
        let files = Claim {
            key: "(a, b)",
            ..QUEUE
        };
        let sql = files.sql(Backend::Sqlite);
        assert!(
            sql.contains("WHERE (a, b) IN (SELECT a, b FROM jobs"),
            "{sql}"
        );
    }

    #[test]
    fn sqlite_uses_the_plain_statement() {
        let sql = QUEUE.sql(Backend::Sqlite);
        assert!(!sql.contains("SKIP LOCKED"), "{sql}");
        assert!(sql.ends_with("RETURNING id, attempts"));
    }
}
