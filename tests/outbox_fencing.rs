//! The outbox's ownership under several instances and a throttled Meta:
//! a holder whose lease lapsed is fenced off, a send whose record was lost
//! is recognised by its status instead of going again, and two instances
//! sharing one Postgres database send each message exactly once.

mod common;

use std::{collections::HashMap, time::Duration};

use common::{
    live::eventually,
    meta::{setup_with, Env},
};
use serde_json::json;
use switchboard::{
    config::Config,
    contacts::Address,
    numbers, onboarding,
    outbox::{self, Content, OutboundMessage, OutboxCallback},
    runtime::Runtime,
    store::{now_millis, OutboxState, SentRecord, Store},
    test_support::TestBackend,
    tokens,
};

on_both_backends!(
    a_holder_whose_lease_lapsed_writes_no_outcome,
    a_send_meta_accepted_but_we_never_recorded_goes_once,
    a_customer_being_written_to_waits_while_others_are_claimed,
    a_holder_sets_aside_its_own_claims_no_task_holds,
    a_send_whose_record_failed_is_not_sent_again,
);

mod postgres_only {
    #[tokio::test]
    async fn two_instances_send_each_message_once_under_throttling() {
        super::two_instances_send_each_message_once_under_throttling().await
    }
}

/// A connected demo number, with the engine's configuration adjusted and
/// the WABA's templates read from Meta.
async fn connected_with(backend: TestBackend, adjust: impl FnOnce(&mut Config)) -> (Env, String) {
    let env = setup_with(backend, adjust).await;
    let phone = env.demo.phone_number_id.clone();
    let progress = env.connect("attempt-0001", &phone).await;
    assert_eq!(progress.state, onboarding::RunState::Done, "{progress:?}");
    switchboard::templates::sync::sync_waba(&env.engine, &env.demo.waba_id)
        .await
        .expect("templates read");
    (env, phone)
}

/// An approved template for `customer`, numbered so every copy is told apart.
fn order_update(phone: &str, customer: &str, n: usize) -> OutboundMessage {
    OutboundMessage {
        phone_number_id: phone.into(),
        recipient: customer.into(),
        content: outbox::template_content(
            "order_update",
            "en_US",
            &[],
            &["Ana".into(), format!("#{n}")],
        ),
        context_wamid: None,
    }
}

/// The order numbers `customer` received, in the order they arrived.
async fn orders_received(env: &Env, phone: &str, customer: &str) -> Vec<String> {
    env.received(phone, customer)
        .await
        .iter()
        .filter_map(|line| {
            line["message"]["template"]["components"][0]["parameters"][1]["text"]
                .as_str()
                .map(str::to_string)
        })
        .collect()
}

/// The sender claims while it sends: a customer whose message is being
/// sent is passed over (their next one waits, to keep their order), while
/// another customer's message is claimed at once.
async fn a_customer_being_written_to_waits_while_others_are_claimed(backend: TestBackend) {
    let (env, phone) = connected_with(backend, |_| {}).await;
    let store = &env.engine.store;
    let mut ids = Vec::new();
    for (customer, n) in [("15550003000", 0), ("15550003000", 1), ("15550004000", 2)] {
        ids.push(
            env.agent_send(&order_update(&phone, customer, n))
                .await
                .unwrap()
                .0,
        );
    }
    let now = now_millis();
    let lease = store
        .take_sender_lease(&phone, "instance-a", now, now + 60_000)
        .await
        .unwrap()
        .expect("free");
    let timing = |limit| (now, 60_000, 60_000, limit);
    let (first, _) = store
        .claim_outbox_except(&phone, lease, timing(1), &[])
        .await
        .unwrap();
    assert_eq!(first.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[0]]);
    let busy = first[0].contact_id.clone().expect("a contact").to_string();
    let (others, _) = store
        .claim_outbox_except(&phone, lease, timing(10), std::slice::from_ref(&busy))
        .await
        .unwrap();
    assert_eq!(
        others.iter().map(|r| r.id).collect::<Vec<_>>(),
        [ids[2]],
        "the busy customer's next message waits; the other's goes"
    );
    // Their first one sent and recorded, the customer is done.
    for row in first.iter().chain(&others) {
        store
            .outbox_sent(
                row,
                &row.recipient,
                &format!("wamid.{}", row.id),
                "order",
                now,
            )
            .await
            .unwrap();
    }
    let (next, _) = store
        .claim_outbox_except(&phone, lease, timing(10), &[])
        .await
        .unwrap();
    assert_eq!(next.iter().map(|r| r.id).collect::<Vec<_>>(), [ids[1]]);
}

async fn a_holder_whose_lease_lapsed_writes_no_outcome(backend: TestBackend) {
    let (env, phone) = connected_with(backend, |_| {}).await;
    let store = &env.engine.store;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (id, _) = env
            .agent_send(&order_update(&phone, "15550002000", n))
            .await
            .unwrap();
        ids.push(id);
    }
    let now = now_millis();
    // Instance A takes the number and claims its messages, then stalls.
    let a = store
        .take_sender_lease(&phone, "instance-a", now, now + 1_000)
        .await
        .unwrap()
        .expect("free");
    let (claimed, set_aside) = store
        .claim_outbox(&phone, a, now, 1_000, 60_000, 10)
        .await
        .unwrap();
    assert_eq!((claimed.len(), set_aside), (3, 0));
    assert!(claimed.iter().all(|row| row.claim_epoch == Some(a.epoch)));
    assert!(
        store
            .take_sender_lease(&phone, "instance-b", now + 10, now + 60_000)
            .await
            .unwrap()
            .is_none(),
        "held: nobody else takes it"
    );

    // A's lease lapses; B takes the number with the next epoch.
    let later = now + 2_000;
    let b = store
        .take_sender_lease(&phone, "instance-b", later, later + 60_000)
        .await
        .unwrap()
        .expect("lapsed");
    assert!(b.epoch > a.epoch);
    assert!(!store
        .renew_sender_lease(&phone, a, later + 1_000)
        .await
        .unwrap());
    // What A left claimed may have reached Meta: B sets it aside to wait
    // for its status rather than sending it at once.
    let (claimed_by_b, set_aside) = store
        .claim_outbox(&phone, b, later, 60_000, 60_000, 10)
        .await
        .unwrap();
    assert_eq!((claimed_by_b.len(), set_aside), (0, 3));

    // A wakes up: none of its outcomes are written over B's decisions...
    let (sent, retried, failed) = (&claimed[0], &claimed[1], &claimed[2]);
    assert!(!store
        .outbox_retry(retried, later, Some((Some(1), "x")), true, later)
        .await
        .unwrap());
    assert!(!store
        .outbox_give_up(failed, OutboxState::Failed, None, "x", later)
        .await
        .unwrap());
    assert!(!store.outbox_done(failed, later).await.unwrap());
    // ...except that Meta accepted one: that is a fact, and recording it is
    // what keeps B from sending it again.
    let record = store
        .outbox_sent(sent, "15550002000", "wamid.from-a", "order", later)
        .await
        .unwrap();
    assert_eq!(record, SentRecord::Recorded);
    let record = store
        .outbox_sent(sent, "15550002000", "wamid.again", "order", later)
        .await
        .unwrap();
    assert_eq!(
        record,
        SentRecord::SentTwice {
            first_wamid: "wamid.from-a".into()
        }
    );
    let ws = &env.caller.workspace.id;
    let entry = |id| async move { store.outbox_entry(ws, id).await.unwrap().unwrap() };
    assert_eq!(entry(ids[0]).await.state, OutboxState::Sent);
    for id in &ids[1..] {
        let waiting = entry(*id).await;
        assert_eq!(waiting.state, OutboxState::Queued);
        assert_eq!(waiting.attempts, 0, "A's attempt was not counted");
        assert!(
            waiting.next_attempt_at >= later + 60_000,
            "waits for a status"
        );
    }

    // Meta throttles the number: no instance takes it before the pause ends.
    store.pause_sender(&phone, later + 100_000).await.unwrap();
    store.release_sender_lease(&phone, b).await.unwrap();
    assert!(store
        .take_sender_lease(&phone, "instance-c", later + 10, later + 70_000)
        .await
        .unwrap()
        .is_none());
    let due = store.numbers_with_due_outbox(later + 70_000).await.unwrap();
    assert!(due.iter().all(|(p, _)| *p != phone), "{due:?}");
    let due = store
        .numbers_with_due_outbox(later + 100_001)
        .await
        .unwrap();
    assert!(due.iter().any(|(p, _)| *p == phone), "{due:?}");
}

async fn a_send_meta_accepted_but_we_never_recorded_goes_once(backend: TestBackend) {
    let (env, phone) = connected_with(backend, |config| {
        config.outbox.status_wait_ms = 1_500;
    })
    .await;
    let store = &env.engine.store;
    let customers: Vec<String> = (0..4).map(|n| format!("1555000300{n}")).collect();
    for (n, customer) in customers.iter().enumerate() {
        env.agent_send(&order_update(&phone, customer, n))
            .await
            .unwrap();
    }
    // An instance claims everything, sends the first two to Meta, and dies
    // before it records Meta's answers.
    let now = now_millis();
    let dead = store
        .take_sender_lease(&phone, "dead", now, now + 1)
        .await
        .unwrap()
        .unwrap();
    let (claimed, _) = store
        .claim_outbox(&phone, dead, now, 1, 0, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 4);
    let running = env.run().await;
    let token = tokens::open_number_token(&env.engine, &phone)
        .await
        .unwrap();
    let mut wamids = HashMap::new();
    for row in &claimed[..2] {
        let content: Content = serde_json::from_str(&row.content).unwrap();
        let mut body = content.to_graph(&Address::Phone(row.recipient.clone()), None);
        body["biz_opaque_callback_data"] = OutboxCallback::new(row.id).to_string().into();
        let sent = env
            .engine
            .graph
            .send_message(&token, &phone, body)
            .await
            .unwrap()
            .expect("a wamid");
        wamids.insert(row.id, sent.wamid);
    }

    eventually("every message sent", Duration::from_secs(20), || async {
        store.outbox_count(&phone, OutboxState::Sent).await.unwrap() == 4
    })
    .await;
    env.drain().await;
    for (n, customer) in customers.iter().enumerate() {
        assert_eq!(
            orders_received(&env, &phone, customer).await,
            vec![format!("#{n}")],
            "{customer} got it exactly once"
        );
    }
    // The two the dead instance sent carry the wamids Meta gave it, and
    // their thread shows Meta's later statuses.
    let ws = &env.caller.workspace.id;
    for (id, wamid) in &wamids {
        let entry = store.outbox_entry(ws, *id).await.unwrap().unwrap();
        assert_eq!(entry.wamid.as_deref(), Some(wamid.as_str()));
        assert!(store
            .delivery_status(&phone, wamid)
            .await
            .unwrap()
            .is_some());
    }
    running.stop().await;
}

/// What a holder still has claimed once no task of it holds the customer
/// (a record or a release its database failed to write) may have reached
/// Meta: its next claim sets it aside like a dead holder's, not a
/// customer's it still has in hand.
async fn a_holder_sets_aside_its_own_claims_no_task_holds(backend: TestBackend) {
    let (env, phone) = connected_with(backend, |_| {}).await;
    let store = &env.engine.store;
    for (customer, n) in [("15550006000", 0), ("15550007000", 1)] {
        env.agent_send(&order_update(&phone, customer, n))
            .await
            .unwrap();
    }
    let now = now_millis();
    let lease = store
        .take_sender_lease(&phone, "instance-a", now, now + 60_000)
        .await
        .unwrap()
        .expect("free");
    let timing = (now, 60_000, 60_000, 10);
    let (claimed, _) = store
        .claim_outbox_except(&phone, lease, timing, &[])
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2);
    let in_hand = claimed[0]
        .contact_id
        .clone()
        .expect("a contact")
        .to_string();

    let (again, set_aside) = store
        .claim_outbox_except(&phone, lease, timing, &[in_hand])
        .await
        .unwrap();
    assert_eq!(
        (again.len(), set_aside),
        (0, 1),
        "the other customer's waits for a status"
    );
    let (again, set_aside) = store
        .claim_outbox_except(&phone, lease, timing, &[])
        .await
        .unwrap();
    assert_eq!(
        (again.len(), set_aside),
        (0, 1),
        "out of hand, the first's waits too"
    );
    let ws = &env.caller.workspace.id;
    for row in &claimed {
        let entry = store.outbox_entry(ws, row.id).await.unwrap().unwrap();
        assert!(entry.next_attempt_at >= now + 60_000, "{entry:?}");
    }
}

/// The database fails just as Meta accepts a send, so its record cannot
/// be written: the sender sets the message aside instead of sending it
/// again, the status Meta sends records it, and the customer gets it once.
async fn a_send_whose_record_failed_is_not_sent_again(backend: TestBackend) {
    let (env, phone) = connected_with(backend, |config| {
        config.outbox.status_wait_ms = 15_000;
    })
    .await;
    let store = &env.engine.store;
    // Sent messages cannot enter their threads, as with a database gone.
    match backend {
        TestBackend::Sqlite => execute(
            store,
            "CREATE TRIGGER refuse_sent BEFORE INSERT ON messages WHEN NEW.direction = 'outbound'
                 BEGIN SELECT RAISE(ABORT, 'the database is away'); END",
        )
        .await,
        TestBackend::Postgres => {
            execute(
                store,
                "CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql
                 AS $$ BEGIN RAISE EXCEPTION 'the database is away'; END $$",
            )
            .await;
            execute(
                store,
                "CREATE TRIGGER refuse_sent BEFORE INSERT ON messages FOR EACH ROW
                 WHEN (NEW.direction = 'outbound') EXECUTE FUNCTION refuse_sent()",
            )
            .await
        }
    }
    let customer = "15550005000";
    let (id, _) = env
        .agent_send(&order_update(&phone, customer, 0))
        .await
        .unwrap();
    let queued_at = now_millis();
    let running = env.run().await;
    let ws = &env.caller.workspace.id;
    eventually("the send set aside", Duration::from_secs(20), || async {
        let entry = store.outbox_entry(ws, id).await.unwrap().unwrap();
        entry.next_attempt_at >= queued_at + 10_000
    })
    .await;
    assert_eq!(orders_received(&env, &phone, customer).await, ["#0"]);

    // The database is back: the status's callback data records the send.
    let back = match backend {
        TestBackend::Sqlite => "DROP TRIGGER refuse_sent",
        TestBackend::Postgres => "DROP TRIGGER refuse_sent ON messages",
    };
    execute(store, back).await;
    eventually(
        "recorded from its status",
        Duration::from_secs(20),
        || async { store.outbox_count(&phone, OutboxState::Sent).await.unwrap() == 1 },
    )
    .await;
    env.drain().await;
    assert_eq!(
        orders_received(&env, &phone, customer).await,
        ["#0"],
        "sent once"
    );
    let entry = store.outbox_entry(ws, id).await.unwrap().unwrap();
    assert!(entry.wamid.is_some(), "{entry:?}");
    running.stop().await;
}

/// Runs SQL on whichever backend (test plumbing only).
async fn execute(store: &Store, sql: &str) {
    match store {
        Store::Sqlite(db) => sqlx::query(sql).execute(db.pool()).await.map(|_| ()),
        Store::Postgres(db) => sqlx::query(sql).execute(db.pool()).await.map(|_| ()),
    }
    .unwrap();
}

/// Customers and messages each: thousands of sends in all.
const CUSTOMERS: usize = 400;
const EACH: usize = 5;

async fn two_instances_send_each_message_once_under_throttling() {
    // Leases far shorter than the slowest Graph answers: only renewal while
    // a batch runs keeps another instance off the claimed messages.
    let (env, phone) = connected_with(TestBackend::Postgres, |config| {
        config.outbox.lease_ms = 600;
        config.outbox.status_wait_ms = 2_000;
    })
    .await;
    numbers::set_send_rate(&env.engine, &env.caller, &phone, 200)
        .await
        .unwrap();
    env.control_call(
        reqwest::Method::POST,
        &format!("/_sandbox/phones/{phone}"),
        Some(json!({ "throughput": 200 })),
    )
    .await;
    env.set_faults(json!({ "graph": [
        { "path_contains": "/messages", "method": "POST", "times": 4,
          "chance": 0.01, "effect": { "kind": "throttle", "code": 130429 } },
        { "path_contains": "/messages", "method": "POST", "chance": 0.05,
          "effect": { "kind": "slow", "millis": 1_500 } },
        { "path_contains": "/messages", "method": "POST", "chance": 0.02,
          "effect": { "kind": "server_error", "status": 503 } },
    ] }))
    .await;
    let customers: Vec<String> = (0..CUSTOMERS).map(|n| format!("1556{n:07}")).collect();
    for round in 0..EACH {
        for (c, customer) in customers.iter().enumerate() {
            env.agent_send(&order_update(&phone, customer, c * EACH + round))
                .await
                .unwrap();
        }
    }

    // A second instance: its own engine and connections, the same database.
    let other = {
        let mut config = common::meta::config_for(&env.db, &env.sandbox, &env.keys);
        config.outbox = env.engine.config.outbox;
        let store = switchboard::store::Store::open(&env.db.url)
            .await
            .expect("store");
        let ring = switchboard::vault::key_ring_for(&config).expect("keys");
        switchboard::Engine::new(config, store, ring)
    };
    let running = env.run().await;
    let second = Runtime::start(&other).await.expect("second instance");

    let total = (CUSTOMERS * EACH) as i64;
    eventually("every message sent", Duration::from_secs(120), || async {
        env.engine
            .store
            .outbox_count(&phone, OutboxState::Sent)
            .await
            .unwrap()
            == total
    })
    .await;
    second.stop(Duration::from_secs(10)).await;
    env.drain().await;
    // Each customer got each of their messages once, in order.
    let mut wrong = Vec::new();
    for (c, customer) in customers.iter().enumerate() {
        let got = orders_received(&env, &phone, customer).await;
        let expected: Vec<String> = (0..EACH).map(|r| format!("#{}", c * EACH + r)).collect();
        if got != expected {
            wrong.push((customer.clone(), got));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} customers got the wrong messages, e.g. {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(3)]
    );
    running.stop().await;
}
