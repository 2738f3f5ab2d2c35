//! The SQLite and Postgres migrations build the same schema: the same
//! tables, columns, nullability and unique keys (primary keys, unique
//! constraints and unique indexes). Each backend has its own migrations,
//! so nothing else keeps them in step. Column types are not compared: the
//! dialects name them differently (INTEGER and BIGINT, BLOB and BYTEA).

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{PgPool, SqlitePool};
use switchboard::{
    store::Store,
    test_support::{TestBackend, TestDatabase},
};

/// A difference the backends keep on purpose, and why. None so far: add
/// one only with its reason.
struct Deliberate {
    /// As [`differences`] words it.
    difference: &'static str,
    why: &'static str,
}

const DELIBERATE: &[Deliberate] = &[];

/// What is compared of a table.
#[derive(Debug, Default)]
struct Table {
    /// Each column and whether it admits NULL.
    columns: BTreeMap<String, bool>,
    unique_keys: BTreeSet<UniqueKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct UniqueKey {
    /// In key order; an expression reads `<expression>`.
    columns: Vec<String>,
    primary: bool,
    /// Unique only among the rows a `WHERE` clause selects.
    partial: bool,
}

impl std::fmt::Display for UniqueKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.primary {
            "primary key"
        } else {
            "unique key"
        };
        let partial = if self.partial { " (partial)" } else { "" };
        write!(f, "{kind} ({}){partial}", self.columns.join(", "))
    }
}

type Schema = BTreeMap<String, Table>;

const EXPRESSION: &str = "<expression>";

#[tokio::test]
async fn sqlite_and_postgres_schemas_agree() {
    let sqlite_db = TestDatabase::create(TestBackend::Sqlite).await;
    let postgres_db = TestDatabase::create(TestBackend::Postgres).await;
    let (Store::Sqlite(sqlite), Store::Postgres(postgres)) =
        (sqlite_db.open_store().await, postgres_db.open_store().await)
    else {
        panic!("expected a SQLite and a Postgres store");
    };
    // On SQLite the webhook journal is a database file of its own; on
    // Postgres its table sits beside the others.
    let mut on_sqlite = read_sqlite(sqlite.pool()).await;
    for (name, table) in read_sqlite(sqlite.journal_pool()).await {
        assert!(
            on_sqlite.insert(name.clone(), table).is_none(),
            "table {name} is both in SQLite's main file and in its journal"
        );
    }
    let on_postgres = read_postgres(postgres.pool()).await;
    assert!(
        on_postgres.contains_key("messages") && on_sqlite.contains_key("webhook_events"),
        "the schemas were not read: {:?} {:?}",
        on_postgres.keys(),
        on_sqlite.keys()
    );

    let found = differences(&on_sqlite, &on_postgres);
    let allowed: BTreeSet<&str> = DELIBERATE.iter().map(|d| d.difference).collect();
    let unexpected: Vec<&String> = found
        .iter()
        .filter(|d| !allowed.contains(d.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the SQLite and Postgres schemas differ (fix the migrations, or list a deliberate difference with its reason):\n  {}",
        unexpected
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    let stale: Vec<String> = DELIBERATE
        .iter()
        .filter(|d| !found.iter().any(|f| f == d.difference))
        .map(|d| format!("{} ({})", d.difference, d.why))
        .collect();
    assert!(
        stale.is_empty(),
        "listed as deliberate, but the schemas no longer differ so: {stale:?}"
    );
}

#[test]
fn a_difference_names_its_table_and_its_column_or_key() {
    let table = |columns: &[(&str, bool)], keys: &[&[&str]]| Table {
        columns: columns.iter().map(|(c, n)| (c.to_string(), *n)).collect(),
        unique_keys: keys
            .iter()
            .map(|k| UniqueKey {
                columns: k.iter().map(|c| c.to_string()).collect(),
                primary: false,
                partial: false,
            })
            .collect(),
    };
    let sqlite = Schema::from([
        (
            "kept".into(),
            table(&[("id", false), ("note", true), ("old", true)], &[&["id"]]),
        ),
        ("gone".into(), table(&[], &[])),
    ]);
    let postgres = Schema::from([(
        "kept".into(),
        table(
            &[("id", false), ("note", false), ("new", true)],
            &[&["id", "note"]],
        ),
    )]);
    assert_eq!(
        differences(&sqlite, &postgres),
        [
            "table gone: only on SQLite",
            "column kept.new: only on Postgres",
            "column kept.note: NULL allowed on SQLite, NOT NULL on Postgres",
            "column kept.old: only on SQLite",
            "table kept: unique key (id) only on SQLite",
            "table kept: unique key (id, note) only on Postgres",
        ]
    );
}

/// Every difference, one line each, naming the table and the column or key.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut found = Vec::new();
    let names: BTreeSet<&String> = sqlite.keys().chain(postgres.keys()).collect();
    for name in names {
        let (lite, pg) = match (sqlite.get(name), postgres.get(name)) {
            (Some(lite), Some(pg)) => (lite, pg),
            (Some(_), None) => {
                found.push(format!("table {name}: only on SQLite"));
                continue;
            }
            (None, _) => {
                found.push(format!("table {name}: only on Postgres"));
                continue;
            }
        };
        let columns: BTreeSet<&String> = lite.columns.keys().chain(pg.columns.keys()).collect();
        for column in columns {
            match (lite.columns.get(column), pg.columns.get(column)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(&lite_nullable), Some(_)) => found.push(format!(
                    "column {name}.{column}: {} on SQLite, {} on Postgres",
                    nullability(lite_nullable),
                    nullability(!lite_nullable),
                )),
                (Some(_), None) => found.push(format!("column {name}.{column}: only on SQLite")),
                (None, _) => found.push(format!("column {name}.{column}: only on Postgres")),
            }
        }
        for key in lite.unique_keys.difference(&pg.unique_keys) {
            found.push(format!("table {name}: {key} only on SQLite"));
        }
        for key in pg.unique_keys.difference(&lite.unique_keys) {
            found.push(format!("table {name}: {key} only on Postgres"));
        }
    }
    found
}

fn nullability(nullable: bool) -> &'static str {
    if nullable {
        "NULL allowed"
    } else {
        "NOT NULL"
    }
}

async fn read_sqlite(pool: &SqlitePool) -> Schema {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master
         WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut schema = Schema::new();
    for name in names {
        // (name, declared type, NOT NULL, place in the primary key or 0)
        let columns: Vec<(String, String, bool, i64)> = sqlx::query_as(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info($1) ORDER BY cid",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .unwrap();
        let mut primary: Vec<(i64, String)> = columns
            .iter()
            .filter(|c| c.3 > 0)
            .map(|c| (c.3, c.0.clone()))
            .collect();
        primary.sort();
        // A lone INTEGER primary key is the rowid, which is never NULL.
        let rowid = match primary.as_slice() {
            [(_, column)] => columns
                .iter()
                .any(|c| &c.0 == column && c.1.eq_ignore_ascii_case("INTEGER"))
                .then(|| column.clone()),
            _ => None,
        };
        let mut table = Table::default();
        for (column, _, not_null, _) in &columns {
            let nullable = !not_null && rowid.as_ref() != Some(column);
            table.columns.insert(column.clone(), nullable);
        }
        // The rowid has no index of its own, so the primary key is read
        // from the columns; the other keys from the indexes.
        table.unique_keys.insert(UniqueKey {
            columns: primary.into_iter().map(|(_, c)| c).collect(),
            primary: true,
            partial: false,
        });
        let indexes: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT name, origin, partial FROM pragma_index_list($1) WHERE \"unique\" = 1 AND origin <> 'pk'",
        )
        .bind(&name)
        .fetch_all(pool)
        .await
        .unwrap();
        for (index, _, partial) in indexes {
            let columns: Vec<Option<String>> =
                sqlx::query_scalar("SELECT name FROM pragma_index_info($1) ORDER BY seqno")
                    .bind(&index)
                    .fetch_all(pool)
                    .await
                    .unwrap();
            table.unique_keys.insert(UniqueKey {
                columns: columns
                    .into_iter()
                    .map(|c| c.unwrap_or_else(|| EXPRESSION.to_string()))
                    .collect(),
                primary: false,
                partial,
            });
        }
        table.unique_keys.retain(|key| !key.columns.is_empty());
        schema.insert(name, table);
    }
    schema
}

async fn read_postgres(pool: &PgPool) -> Schema {
    let mut schema = Schema::new();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for name in tables {
        schema.insert(name, Table::default());
    }
    let columns: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, is_nullable::text FROM information_schema.columns
         WHERE table_schema = current_schema()",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, column, nullable) in columns {
        if let Some(table) = schema.get_mut(&table) {
            table.columns.insert(column, nullable == "YES");
        }
    }
    // pg_indexes' catalog, read by column rather than as CREATE text.
    let keys: Vec<(String, bool, bool, Vec<String>)> = sqlx::query_as(
        "SELECT t.relname::text, ix.indisprimary, ix.indpred IS NOT NULL,
                ARRAY(SELECT COALESCE(a.attname::text, $1)
                      FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, place)
                      LEFT JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum
                      WHERE k.place <= ix.indnkeyatts ORDER BY k.place)
         FROM pg_index ix
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
         WHERE ix.indisunique AND n.nspname = current_schema()",
    )
    .bind(EXPRESSION)
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, primary, partial, columns) in keys {
        if let Some(table) = schema.get_mut(&table) {
            table.unique_keys.insert(UniqueKey {
                columns,
                primary,
                partial,
            });
        }
    }
    schema
}
