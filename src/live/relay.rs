//! How notices reach every instance's streams. SQLite means one process:
//! the hub hands them over directly. Postgres may mean several instances:
//! a notice goes out as `NOTIFY switchboard_live`, and each instance keeps
//! one `LISTEN` connection that hands what it hears to its own hub (its
//! own notices included, so there is one path for all).
//!
//! Workers' wake-ups cross instances the same way, on their own channel:
//! the instance holding a number's sender lease starts a reply another
//! instance queued at once, not at its next poll.
//!
//! `NOTIFY` is transient: while the listening connection is down, notices
//! are lost. When it comes back, every stream is told to resync.

use std::time::Duration;

use sqlx::postgres::{PgListener, PgPool};

use super::{Delivery, Hub, Notice};
use crate::{store::Store, worker::Stop};

/// The Postgres channel notices travel on.
pub const CHANNEL: &str = "switchboard_live";
/// The Postgres channel workers' wake-ups travel on.
pub const WAKE_CHANNEL: &str = "switchboard_wake";

/// Postgres refuses a payload of 8,000 bytes or more; notices are packed
/// into payloads well below that.
const MAX_PAYLOAD: usize = 7_000;

/// How long to wait before listening again after the database went away.
const RELISTEN_AFTER: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub enum Relay {
    InProcess,
    Postgres(PgPool),
}

impl Relay {
    pub fn for_store(store: &Store) -> Self {
        match store {
            Store::Sqlite(_) => Self::InProcess,
            Store::Postgres(postgres) => Self::Postgres(postgres.pool().clone()),
        }
    }

    pub(super) async fn send(&self, hub: &Hub, notices: Vec<Notice>) -> Result<(), sqlx::Error> {
        match self {
            Self::InProcess => {
                for notice in notices {
                    hub.deliver(Delivery::Notice(notice));
                }
                Ok(())
            }
            Self::Postgres(pool) => {
                for payload in payloads(&notices) {
                    sqlx::query("SELECT pg_notify($1, $2)")
                        .bind(CHANNEL)
                        .bind(payload)
                        .execute(pool)
                        .await?;
                }
                Ok(())
            }
        }
    }
}

impl Relay {
    pub(super) async fn send_wake(&self, worker: super::Wake) -> Result<(), sqlx::Error> {
        let Self::Postgres(pool) = self else {
            return Ok(());
        };
        let payload = serde_json::to_string(&worker).expect("a wake serialises");
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(WAKE_CHANNEL)
            .bind(payload)
            .execute(pool)
            .await?;
        Ok(())
    }
}

/// Notices as JSON arrays, each under [`MAX_PAYLOAD`] bytes.
fn payloads(notices: &[Notice]) -> Vec<String> {
    let mut payloads = Vec::new();
    let mut current: Vec<String> = Vec::new();
    let mut size = 2;
    for notice in notices {
        let json = serde_json::to_string(notice).expect("a notice serialises");
        if !current.is_empty() && size + json.len() + 1 > MAX_PAYLOAD {
            payloads.push(format!("[{}]", current.join(",")));
            current.clear();
            size = 2;
        }
        size += json.len() + 1;
        current.push(json);
    }
    if !current.is_empty() {
        payloads.push(format!("[{}]", current.join(",")));
    }
    payloads
}

/// The listener worker: on Postgres, hands every notice any instance
/// published to this process's hub until `stop`. Nothing to do on SQLite.
pub async fn listen(hub: Hub, mut stop: Stop) {
    let Relay::Postgres(pool) = hub.relay.clone() else {
        return;
    };
    while !stop.is_stopped() {
        let mut listener = match connect(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for live notices; trying again");
                tokio::select! {
                    () = tokio::time::sleep(RELISTEN_AFTER) => continue,
                    () = stop.stopped() => return,
                }
            }
        };
        // Whatever was published while nobody listened is lost.
        hub.deliver(Delivery::Resync);
        loop {
            let next = tokio::select! {
                next = listener.try_recv() => next,
                () = stop.stopped() => return,
            };
            match next {
                Ok(Some(notification)) if notification.channel() == WAKE_CHANNEL => {
                    match serde_json::from_str(notification.payload()) {
                        Ok(worker) => hub.wake_here(worker),
                        Err(error) => tracing::warn!(%error, "a wake-up that does not read"),
                    }
                }
                Ok(Some(notification)) => deliver_payload(&hub, notification.payload()),
                // The connection dropped: listen again, then resync.
                Ok(None) => break,
                Err(error) => {
                    tracing::warn!(%error, "lost the live notices' listener");
                    break;
                }
            }
        }
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen_all([CHANNEL, WAKE_CHANNEL]).await?;
    Ok(listener)
}

fn deliver_payload(hub: &Hub, payload: &str) {
    match serde_json::from_str::<Vec<Notice>>(payload) {
        Ok(notices) => {
            for notice in notices {
                hub.deliver(Delivery::Notice(notice));
            }
        }
        Err(error) => tracing::warn!(%error, "a live notice that does not read"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::live::Topic;

    #[test]
    fn many_notices_are_split_into_payloads_postgres_takes() {
        let notices: Vec<Notice> = (0..500)
            .map(|i| Notice::conversation(format!("workspace-{i}"), format!("{i:015}")))
            .collect();
        let payloads = payloads(&notices);
        assert!(payloads.len() > 1);
        assert!(payloads.iter().all(|p| p.len() < MAX_PAYLOAD));
        let read: Vec<Notice> = payloads
            .iter()
            .flat_map(|p| serde_json::from_str::<Vec<Notice>>(p).unwrap())
            .collect();
        assert_eq!(read, notices);
    }

    #[test]
    fn one_notice_is_one_payload() {
        let notice = Notice::to_workspace("w", Topic::Templates);
        assert_eq!(
            payloads(std::slice::from_ref(&notice)),
            vec![format!("[{}]", serde_json::to_string(&notice).unwrap())]
        );
    }
}
