//! Storage: one API with a SQLite and a Postgres implementation, chosen by
//! the database URL's scheme. Each backend owns its SQL and its migrations
//! (`migrations/sqlite`, `migrations/postgres`), embedded in the binary and
//! applied when the store opens.
//!
//! Idempotency belongs in the schema (unique keys, `ON CONFLICT`), never in
//! check-then-insert code, so that several Postgres instances stay correct.

pub(crate) mod account_events;
pub(crate) mod account_state;
mod accounts;
mod api_keys;
pub(crate) mod audit;
mod bots;
pub(crate) mod business_app;
mod claim;
pub(crate) mod contacts;
pub(crate) mod costs;
pub(crate) mod data_rights;
mod due;
mod history;
pub(crate) mod media;
pub(crate) mod messages;
pub(crate) mod number_errors;
pub(crate) mod numbers;
mod oauth_states;
mod onboarding;
pub(crate) mod outbox;
pub(crate) mod outgoing_webhooks;
mod postgres;
mod profiles;
mod retention;
mod settings;
mod sqlite;
pub(crate) mod statuses;
mod summaries;
pub(crate) mod templates;
pub(crate) mod token_expiry;
mod two_factor;
mod tx;
pub(crate) mod unrouted;
pub(crate) mod webhooks;

use std::{path::PathBuf, time::SystemTime};

use crate::config::DatabaseUrl;

pub use account_state::{
    NumberHealthRow, PricingTierRow, ProbeRecord, RestrictionRow, WabaNotices,
};
pub use accounts::{Member, Membership, OpenInvite, Role, User, Workspace};
pub use api_keys::ApiKeyRow;
pub use audit::AuditEntry;
pub use bots::{BotKind, StoredBot};
pub use business_app::{AppSyncRow, HistoryProgress, MessageOrigin, SyncType};
pub use claim::Claim;
pub use contacts::{AliasKind, ContactRow};
pub use costs::{LedgerCount, StoredRateCard};
pub use data_rights::{Erased, HeldAlias, HeldFile, HeldMessage, HeldSend, HeldStatus};
pub use due::DueWork;
pub use history::{ConversationKey, ConversationSummary, MessageKey, MessageRecord, ThreadMessage};
pub use media::{FileState, MediaFile, MediaJob, MediaState};
pub use number_errors::NumberError;
pub use numbers::{
    NewToken, NumberRoute, NumberRow, NumberStatus, RegisterRequest, StoredToken,
    BUSINESS_APP_MAX_RATE,
};
pub use oauth_states::{NewOauthState, OauthState};
pub use onboarding::{AttachError, Attachment, OnboardingRow, OnboardingStep, RunState};
pub use outbox::{NewOutboxRow, OutboxEntry, OutboxRow, OutboxState, SenderLease, SentRecord};
pub use outgoing_webhooks::{DeliveryEntry, DeliveryRow, DeliveryState, EndpointRow};
pub use postgres::PostgresStore;
pub use retention::Prunable;
pub use sqlite::{journal_file, sqlite_file, SqliteStore};
pub use templates::StoredTemplate;
pub use token_expiry::{ExpiringTokenRow, RefreshedToken};
pub use two_factor::StoredSecondFactor;
pub(crate) use tx::{with_tx, Tx};
pub use unrouted::UnroutedSummary;
pub use webhooks::{
    ClaimedEvent, EventState, EventSummary, JournalLag, NewWebhookEvent, EXACT_LAG_UP_TO,
};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot prepare the database location {path}: {source}")]
    Location {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot apply migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The store. Cheap to clone: each variant holds a connection pool.
#[derive(Debug, Clone)]
pub enum Store {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

/// Rows a multi-row statement carries at most: well under both backends'
/// limits on bound values (SQLite 32,766, Postgres 65,535). Such a
/// statement's text changes with its row count, so it is not kept among
/// the connection's prepared statements (`persistent(false)`), where it
/// would push out the ones every request uses.
pub(crate) const ROWS_PER_STATEMENT: usize = 500;

/// Dispatches one call to whichever backend this store is.
macro_rules! on_backend {
    ($store:expr, $backend:ident => $call:expr) => {
        match $store {
            Store::Sqlite($backend) => $call,
            Store::Postgres($backend) => $call,
        }
    };
}

/// Runs `$body` with `$pool` bound to the backend's pool. The body is
/// compiled once per backend, so SQL that both accept is written once: use
/// `$1`-style placeholders (SQLite reads them too), `ON CONFLICT`, and
/// `RETURNING`. Where the dialects differ, write per-backend code instead.
macro_rules! with_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(s) => {
                let $pool = s.pool();
                $body
            }
            $crate::store::Store::Postgres(s) => {
                let $pool = s.pool();
                $body
            }
        }
    };
}
pub(crate) use with_pool;

/// Like `with_pool!`, for the webhook journal and pipeline's writes.
macro_rules! with_journal_pool {
    ($store:expr, $pool:ident => $body:expr) => {
        match $store {
            $crate::store::Store::Sqlite(s) => {
                let $pool = s.journal_pool();
                $body
            }
            $crate::store::Store::Postgres(s) => {
                let $pool = s.journal_pool();
                $body
            }
        }
    };
}
pub(crate) use with_journal_pool;

/// Runs `$body` in a relaxed journal transaction (see
/// [`Store::in_relaxed_journal`]) with `$tx` bound to its connection, for
/// SQL written once for both backends.
macro_rules! with_relaxed_journal {
    ($store:expr, $tx:ident => $body:expr) => {
        $store
            .in_relaxed_journal(async |relaxed| {
                Ok::<_, $crate::store::Error>($crate::store::with_tx!(relaxed, $tx => $body))
            })
            .await?
    };
}
pub(crate) use with_relaxed_journal;

impl Store {
    /// Connects, creating a SQLite file (and its folder) if missing, and
    /// applies pending migrations.
    pub async fn open(url: &DatabaseUrl) -> Result<Self> {
        let store = match url {
            DatabaseUrl::Sqlite(url) => Self::Sqlite(SqliteStore::open(url).await?),
            DatabaseUrl::Postgres(url) => Self::Postgres(PostgresStore::open(url).await?),
        };
        tracing::info!(backend = store.backend().name(), "database ready");
        Ok(store)
    }

    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(_) => Backend::Postgres,
        }
    }

    /// A round trip to the database, for readiness checks.
    pub async fn ping(&self) -> Result<()> {
        on_backend!(self, s => s.ping().await)
    }

    /// Waits for connections in use to return, then closes the pool.
    pub async fn close(&self) {
        on_backend!(self, s => s.close().await)
    }
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
