//! Two instances' pipelines applying batches at once on Postgres: batches
//! that name the same customers in opposite orders must not deadlock (on
//! SQLite the database's write lock already makes them take turns).

use serde_json::json;
use switchboard::{
    ids::ContactScope,
    pipeline::{self, plan::Op},
    test_support::{workspace_with_number, TestBackend, TestDatabase},
    webhook::payload::{Identity, InboundMessage},
};

const PHONE: &str = "106540352242922";
const WABA: &str = "524126980791429";

fn inbound(workspace: &str, customer: &str, wamid: String) -> Op {
    Op::Inbound {
        workspace_id: workspace.to_string(),
        phone_number_id: PHONE.to_string(),
        scope: ContactScope::of(None, WABA),
        message: InboundMessage {
            wamid,
            customer: customer.to_string(),
            customer_name: None,
            identity: Identity {
                phone: Some(customer.to_string()),
                ..Identity::default()
            },
            identity_change: None,
            kind: "text".into(),
            summary: "hello".into(),
            sent_at: 1_700_000_000_000,
            payload: json!({ "type": "text", "text": { "body": "hello" } }),
        },
        replies: Vec::new(),
        endpoints: Vec::new(),
    }
}

#[tokio::test]
async fn batches_naming_customers_in_opposite_orders_do_not_deadlock() {
    let db = TestDatabase::create(TestBackend::Postgres).await;
    let store = db.open_store().await;
    let workspace = workspace_with_number(&store, PHONE, WABA).await;
    let customers: Vec<String> = (0..6).map(|i| format!("1650555{i:04}")).collect();
    for round in 0..15 {
        // One batch meets the customers first to last, the other last to
        // first, each event a message of its own.
        let forward: Vec<(i64, Vec<Op>)> = customers
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    i as i64,
                    vec![inbound(&workspace, c, format!("wamid.f{round}.{i}"))],
                )
            })
            .collect();
        let backward: Vec<(i64, Vec<Op>)> = customers
            .iter()
            .enumerate()
            .rev()
            .map(|(i, c)| {
                (
                    i as i64,
                    vec![inbound(&workspace, c, format!("wamid.b{round}.{i}"))],
                )
            })
            .collect();
        let (a, b) = tokio::join!(
            pipeline::apply(&store, &forward, &[], 0),
            pipeline::apply(&store, &backward, &[], 0),
        );
        assert!(a.is_ok() && b.is_ok(), "round {round}: {a:?} {b:?}");
    }
    assert_eq!(
        store.count_messages(&workspace).await.unwrap(),
        15 * 2 * customers.len() as i64
    );
}

/// An erasure and a message from the same customer (sent before the
/// erasure) stored at the same moment: whichever goes first, nothing of
/// the customer is left.
#[tokio::test]
async fn an_erasure_racing_a_message_leaves_nothing_behind() {
    let db = TestDatabase::create(TestBackend::Postgres).await;
    let store = db.open_store().await;
    let workspace = workspace_with_number(&store, PHONE, WABA).await;
    let sent_before = switchboard::store::now_millis() - 60_000;
    for round in 0..15 {
        let customer = format!("1650666{round:04}");
        let first = vec![(
            0,
            vec![inbound(
                &workspace,
                &customer,
                format!("wamid.first{round}"),
            )],
        )];
        pipeline::apply(&store, &first, &[], 0).await.unwrap();
        let contact = switchboard::conversations::contact_of(&store, &workspace, PHONE, &customer)
            .await
            .unwrap()
            .expect("the contact");
        let mut late = inbound(&workspace, &customer, format!("wamid.late{round}"));
        if let Op::Inbound { message, .. } = &mut late {
            message.sent_at = sent_before;
        }
        let batch = vec![(1, vec![late])];
        let (erased, applied) = tokio::join!(
            switchboard::data_rights::erase(&store, &workspace, contact.id.as_str(), None, None),
            pipeline::apply(&store, &batch, &[], 0),
        );
        erased.unwrap();
        applied.unwrap();
        let left =
            switchboard::test_support::thread_with(&store, &workspace, PHONE, &customer).await;
        assert!(left.is_empty(), "round {round}: {left:?}");
    }
}
