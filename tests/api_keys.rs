//! API keys on both backends: shown once and stored as a hash, scoped,
//! marked when used, revocable, admins only, audited.

mod common;

use common::meta::{engine_for, setup};
use switchboard::{
    accounts::Role,
    api_keys::{self, READ, SEND},
    test_support::TestBackend,
};

on_both_backends!(
    a_key_authenticates_its_workspace_with_its_scopes,
    revoked_and_unknown_keys_are_refused,
    only_admins_manage_keys_and_bad_input_is_refused,
    a_key_budget_is_shared_by_every_instance_and_refills,
);

async fn a_key_authenticates_its_workspace_with_its_scopes(backend: TestBackend) {
    let env = setup(backend).await;
    let (row, key) = api_keys::create(&env.engine, &env.caller, "CRM", &[SEND])
        .await
        .unwrap();
    assert!(key.starts_with("sbk_") && key.len() > 40);
    assert!(key.starts_with(&row.prefix), "the prefix tells keys apart");
    let stored = env
        .engine
        .store
        .api_keys_of(&env.caller.workspace.id)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].last_used_at, None);

    let caller = api_keys::authenticate(&env.engine, &key)
        .await
        .unwrap()
        .expect("known");
    assert_eq!(caller.workspace_id, env.caller.workspace.id);
    assert!(caller.may(SEND) && !caller.may(READ));
    let used = env
        .engine
        .store
        .api_keys_of(&env.caller.workspace.id)
        .await
        .unwrap();
    assert!(used[0].last_used_at.is_some(), "last used is recorded");
    let actions: Vec<String> = env
        .engine
        .store
        .audit_entries(&env.caller.workspace.id, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.contains(&"api_key.created".to_string()));
    assert!(
        !env.engine
            .store
            .audit_entries(&env.caller.workspace.id, 10)
            .await
            .unwrap()
            .iter()
            .any(|e| e.detail.contains(&key)),
        "the key is never logged"
    );
}

async fn revoked_and_unknown_keys_are_refused(backend: TestBackend) {
    let env = setup(backend).await;
    let (row, key) = api_keys::create(&env.engine, &env.caller, "Agent", &[SEND, READ])
        .await
        .unwrap();
    api_keys::revoke(&env.engine, &env.caller, &row.id)
        .await
        .unwrap();
    assert!(api_keys::authenticate(&env.engine, &key)
        .await
        .unwrap()
        .is_none());
    assert!(
        api_keys::revoke(&env.engine, &env.caller, &row.id)
            .await
            .is_err(),
        "once"
    );
    for unknown in ["", "sbk_nope", "Bearer x", &key[..key.len() - 1]] {
        assert!(api_keys::authenticate(&env.engine, unknown)
            .await
            .unwrap()
            .is_none());
    }
    let listed = api_keys::list(&env.engine, &env.caller).await.unwrap();
    assert!(listed[0].revoked_at.is_some(), "revoked keys stay listed");
}

async fn only_admins_manage_keys_and_bad_input_is_refused(backend: TestBackend) {
    let env = setup(backend).await;
    let mut agent = env.caller.clone();
    agent.role = Role::Agent;
    assert!(api_keys::create(&env.engine, &agent, "CRM", &[SEND])
        .await
        .is_err());
    assert!(api_keys::list(&env.engine, &agent).await.is_err());
    assert!(api_keys::create(&env.engine, &env.caller, " ", &[SEND])
        .await
        .is_err());
    assert!(api_keys::create(&env.engine, &env.caller, "CRM", &[])
        .await
        .is_err());
    assert!(
        api_keys::create(&env.engine, &env.caller, "CRM", &["admin"])
            .await
            .is_err()
    );
    assert!(api_keys::revoke(&env.engine, &env.caller, "key_other")
        .await
        .is_err());
    assert!(env
        .engine
        .store
        .api_keys_of(&env.caller.workspace.id)
        .await
        .unwrap()
        .is_empty());
}

async fn a_key_budget_is_shared_by_every_instance_and_refills(backend: TestBackend) {
    let env = setup(backend).await;
    // A second instance: its own engine and pool on the same database.
    let other = engine_for(&env.db, &env.sandbox, &env.keys).await;
    let (row, _) = api_keys::create(&env.engine, &env.caller, "CRM", &[SEND])
        .await
        .unwrap();
    let now = 1_800_000_000_000;
    // Forty requests at the same instant, half through each instance, all
    // at once: exactly the burst is served.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let engine = if i % 2 == 0 {
            env.engine.clone()
        } else {
            other.clone()
        };
        let id = row.id.clone();
        tasks.push(tokio::spawn(async move {
            api_keys::take_budget(&engine, &id, now).await.unwrap()
        }));
    }
    let mut served = 0;
    let mut waits = Vec::new();
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => served += 1,
            Err(wait) => waits.push(wait),
        }
    }
    assert_eq!(served, api_keys::BURST, "one budget across instances");
    assert!(waits.iter().all(|w| *w >= 1), "{waits:?}");
    // A second later, PER_SECOND more.
    let mut later = 0;
    for _ in 0..15 {
        if api_keys::take_budget(&other, &row.id, now + 1000)
            .await
            .unwrap()
            .is_ok()
        {
            later += 1;
        }
    }
    assert_eq!(later, api_keys::PER_SECOND);
}
