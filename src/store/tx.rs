//! Transactions for the engine's flows. A flow (the pipeline) decides what
//! happens together and in which order; the store only offers statements
//! that run inside a [`Tx`], whichever backend it is.

use sqlx::{Postgres, Sqlite, Transaction};

use super::{Result, Store};

/// An open transaction on either backend; rolled back if dropped before
/// [`Tx::commit`].
pub(crate) enum Tx<'c> {
    /// With this process's turn to write, when it took one (released
    /// after the commit or the rollback).
    Sqlite(Transaction<'c, Sqlite>, Option<WriteTurn>),
    Postgres(Transaction<'c, Postgres>),
}

/// This process's turn to write to the main SQLite file.
pub(crate) type WriteTurn = tokio::sync::OwnedMutexGuard<()>;

/// Runs `$body` with `$conn` bound to the transaction's connection
/// (`&mut` of the backend's connection type). Like `with_pool!`, the body
/// is compiled once per backend, so its SQL is written once.
macro_rules! with_tx {
    ($tx:expr, $conn:ident => $body:expr) => {
        match $tx {
            $crate::store::Tx::Sqlite(tx, _) => {
                let $conn: &mut sqlx::SqliteConnection = &mut *tx;
                $body
            }
            $crate::store::Tx::Postgres(tx) => {
                let $conn: &mut sqlx::PgConnection = &mut *tx;
                $body
            }
        }
    };
}
pub(crate) use with_tx;

impl Tx<'_> {
    pub(crate) fn backend(&self) -> super::Backend {
        match self {
            Tx::Sqlite(..) => super::Backend::Sqlite,
            Tx::Postgres(_) => super::Backend::Postgres,
        }
    }

    pub(crate) async fn commit(self) -> Result<()> {
        match self {
            Tx::Sqlite(tx, _turn) => tx.commit().await?,
            Tx::Postgres(tx) => tx.commit().await?,
        }
        Ok(())
    }
}

impl Store {
    /// Begins a transaction on the main database (never the journal). On
    /// SQLite it takes the write lock at once (`BEGIN IMMEDIATE`): a flow
    /// reads before it writes (which contact a payload names), and a
    /// deferred transaction would fail to upgrade (SQLITE_BUSY_SNAPSHOT)
    /// whenever another connection wrote in between, instead of waiting.
    pub(crate) async fn begin(&self) -> Result<Tx<'static>> {
        Ok(match self {
            Store::Sqlite(s) => {
                let turn = self.write_turn().await;
                Tx::Sqlite(s.pool().begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Store::Postgres(s) => Tx::Postgres(s.pool().begin().await?),
        })
    }

    /// This process's turn to write to the main SQLite file, for writes
    /// made outside [`Store::begin`]; none on Postgres, whose row locks
    /// already queue writers.
    pub(crate) async fn write_turn(&self) -> Option<WriteTurn> {
        match self {
            Store::Sqlite(s) => Some(s.write_turn().await),
            Store::Postgres(_) => None,
        }
    }

    /// Runs `body` in a journal transaction whose commit does not wait for
    /// the disk: for the pipeline's claims and marks, never for appends.
    /// Losing such a commit to a power cut only means an event is processed
    /// again, which changes nothing (every effect is idempotent), while the
    /// journal's fsyncs stay free for acknowledgements. In WAL mode the next
    /// appended batch's fsync makes these writes durable too.
    pub(crate) async fn in_relaxed_journal<T>(
        &self,
        body: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.in_relaxed(Database::Journal, body).await
    }

    /// Runs `body` in a transaction of the main database whose commit does
    /// not wait for the disk: for records whose loss only means redoing
    /// work safely, such as what Meta answered to a send (a lost record
    /// leaves the message claimed, so it waits for the status that proves
    /// it went; see `claim_outbox`). The next durable commit (the next
    /// claim, the next applied batch) makes them durable too: SQLite's WAL
    /// and Postgres's log are flushed in commit order.
    pub(crate) async fn in_relaxed_main<T>(
        &self,
        body: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        self.in_relaxed(Database::Main, body).await
    }

    /// A closure rather than a `Tx` to commit: on SQLite the connection's
    /// durability must be restored after the commit, before it goes back
    /// to the pool.
    async fn in_relaxed<T>(
        &self,
        database: Database,
        body: impl AsyncFnOnce(&mut Tx<'_>) -> Result<T>,
    ) -> Result<T> {
        match self {
            Store::Sqlite(s) => {
                let (pool, begin, turn) = match database {
                    // One connection: nobody to take the write lock from.
                    Database::Journal => (s.journal_pool(), "BEGIN", None),
                    // As `begin`: the write lock at once, in turn.
                    Database::Main => (s.pool(), "BEGIN IMMEDIATE", self.write_turn().await),
                };
                let mut relaxed = RelaxedConnection {
                    conn: pool.acquire().await?,
                    restored: false,
                };
                let conn = &mut relaxed.conn;
                sqlx::query("PRAGMA synchronous = NORMAL")
                    .execute(&mut **conn)
                    .await?;
                let outcome = async {
                    let mut tx = Tx::Sqlite(
                        sqlx::Connection::begin_with(&mut **conn, begin).await?,
                        turn,
                    );
                    let value = body(&mut tx).await?;
                    tx.commit().await?;
                    Ok(value)
                }
                .await;
                relaxed.restored = sqlx::query("PRAGMA synchronous = FULL")
                    .execute(&mut *relaxed.conn)
                    .await
                    .is_ok();
                outcome
            }
            Store::Postgres(s) => {
                let pool = match database {
                    Database::Journal => s.journal_pool(),
                    Database::Main => s.pool(),
                };
                let mut tx = pool.begin().await?;
                sqlx::query("SET LOCAL synchronous_commit TO OFF")
                    .execute(&mut *tx)
                    .await?;
                let mut tx = Tx::Postgres(tx);
                let value = body(&mut tx).await?;
                tx.commit().await?;
                Ok(value)
            }
        }
    }
}

/// Which database a relaxed transaction writes to.
enum Database {
    Main,
    Journal,
}

/// A connection set to relaxed durability. It goes back to the
/// pool at full durability or not at all: unless `restored`, it is closed,
/// also when the future using it is cancelled midway (a worker aborted at
/// shutdown), so no durable write (an acknowledgement, a claim) ever
/// rides on a relaxed connection.
struct RelaxedConnection {
    conn: sqlx::pool::PoolConnection<sqlx::Sqlite>,
    restored: bool,
}

impl Drop for RelaxedConnection {
    fn drop(&mut self) {
        if !self.restored {
            self.conn.close_on_drop();
        }
    }
}
