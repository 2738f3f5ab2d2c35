//! Upgrades on a database that holds data, on both backends: a database
//! made by the schema before contacts (migrations up to 0012), filled as
//! that version filled it, then opened by this version. Every message,
//! outbox row and file keeps its customer, now a contact.

mod common;

use std::path::Path;

use switchboard::{
    config::DatabaseUrl,
    conversations,
    store::{EventState, OutboxState, Store},
    test_support::{thread_with, TestBackend, TestDatabase},
};

on_both_backends!(
    contacts_are_made_for_every_customer_of_a_populated_database,
    accounts_and_contacts_of_a_populated_database_take_two_factor_and_erasure,
    templates_of_a_populated_database_keep_their_reasons_and_take_a_quality,
    a_populated_database_takes_the_cost_ledger,
    a_populated_database_takes_business_app_numbers,
    stored_tokens_of_a_populated_database_take_their_expiry_records,
    a_populated_database_takes_oauth_states,
    a_populated_database_gets_the_summary_of_every_conversation,
    a_populated_journal_keeps_its_events_and_claims_them_by_the_pending_index,
);

/// The last migration before contacts.
const BEFORE_CONTACTS: i64 = 12;
const WORKSPACE: &str = "ws-1";
/// Onboarded with its portfolio known, so its scope is the portfolio.
const NUMBER_A: &str = "111000111";
/// Connected before onboarding kept the portfolio: the WABA's scope.
const NUMBER_B: &str = "222000222";
const PHONE: &str = "16505551234";
const BSUID: &str = "US.13491208655302741918";
/// Written to only (an outbox row, no message).
const PHONE_TEMPLATE_ONLY: &str = "16505550007";

/// The schema as an earlier version left it (migrations up to `up_to`):
/// its migration files, run from a folder of their own (same contents, so
/// the checksums match and the store later runs only what is newer), then
/// `rows` as that version wrote them.
async fn old_schema(db: &TestDatabase, backend: TestBackend, up_to: i64, rows: &[String]) {
    let folder = match backend {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres => "postgres",
    };
    let old = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(folder);
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let version: i64 = name[..4].parse().unwrap();
        if version <= up_to {
            std::fs::copy(&path, old.path().join(&name)).unwrap();
        }
    }
    let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
    match &db.url {
        DatabaseUrl::Sqlite(url) => {
            let file = url.trim_start_matches("sqlite://");
            std::fs::create_dir_all(Path::new(file).parent().unwrap()).unwrap();
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
            let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
                .await
                .unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in rows {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for statement in rows {
                sqlx::query(statement).execute(&pool).await.unwrap();
            }
            pool.close().await;
        }
    }
}

/// Rows as the previous version wrote them: customers keyed by phone, or
/// by BSUID where the phone was withheld.
fn old_rows() -> [String; 6] {
    [
        format!("INSERT INTO workspaces (id, name, created_at) VALUES ('{WORKSPACE}', 'Acme', 1)"),
        format!("INSERT INTO whatsapp_numbers (phone_number_id, workspace_id, waba_id, created_at) VALUES ('{NUMBER_A}', '{WORKSPACE}', 'waba-1', 1), ('{NUMBER_B}', '{WORKSPACE}', 'waba-1', 1)"),
        format!("INSERT INTO onboardings (id, workspace_id, attempt, step, state, waba_id, phone_number_id, business_id, created_at, updated_at)
                 VALUES ('run-1', '{WORKSPACE}', 'a1', 'live', 'done', 'waba-1', '{NUMBER_A}', 'biz-9', 1, 1)"),
        format!("INSERT INTO messages (workspace_id, phone_number_id, wamid, direction, customer_wa_id, customer_name, kind, summary, payload, sent_at) VALUES
                 ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a1', 'inbound', '{PHONE}', 'Sheena', 'image', '[image]', '{{}}', 10),
                 ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a2', 'outbound', '{PHONE}', NULL, 'text', 'Hello', '{{}}', 20),
                 ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a3', 'inbound', '{PHONE}', 'Sheena', 'text', 'Thanks', '{{}}', 30),
                 ('{WORKSPACE}', '{NUMBER_A}', 'wamid.b1', 'inbound', '{BSUID}', 'Noor', 'text', 'Hi', '{{}}', 40),
                 ('{WORKSPACE}', '{NUMBER_B}', 'wamid.c1', 'inbound', '{PHONE}', 'Sheena', 'text', 'Other number', '{{}}', 50)"),
        format!("INSERT INTO outbox (workspace_id, phone_number_id, recipient, kind, content, origin, state, next_attempt_at, created_at, updated_at) VALUES
                 ('{WORKSPACE}', '{NUMBER_A}', '{PHONE}', 'text', '{{\"type\":\"text\",\"body\":\"waiting\"}}', 'agent', 'queued', 0, 60, 60),
                 ('{WORKSPACE}', '{NUMBER_A}', '{BSUID}', 'text', '{{\"type\":\"text\",\"body\":\"failed\"}}', 'bot', 'failed', 0, 61, 61),
                 ('{WORKSPACE}', '{NUMBER_A}', '{PHONE_TEMPLATE_ONLY}', 'template', '{{\"type\":\"template\",\"name\":\"hello\",\"language\":\"en\"}}', 'api', 'queued', 0, 62, 62)"),
        format!("INSERT INTO inbound_media (phone_number_id, media_id, workspace_id, wamid, mime_type, state, next_attempt_at, created_at)
                 VALUES ('{NUMBER_A}', 'media-1', '{WORKSPACE}', 'wamid.a1', 'image/jpeg', 'pending', 0, 10)"),
    ]
}

async fn contacts_are_made_for_every_customer_of_a_populated_database(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    old_schema(&db, backend, BEFORE_CONTACTS, &old_rows()).await;
    let store: Store = db.open_store().await;

    // Nothing lost, nothing without its customer.
    assert_eq!(store.count_messages(WORKSPACE).await.unwrap(), 5);
    let list = store
        .conversations(WORKSPACE, 100, None, None)
        .await
        .unwrap();
    let mut keys: Vec<(String, Option<String>, Option<String>, i64)> = list
        .iter()
        .map(|c| {
            (
                c.phone_number_id.clone(),
                c.contact.phone.clone(),
                c.contact.bsuid.as_ref().map(|b| b.to_string()),
                c.messages,
            )
        })
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            (NUMBER_A.into(), None, Some(BSUID.into()), 1),
            (NUMBER_A.into(), Some(PHONE.into()), None, 3),
            (NUMBER_B.into(), Some(PHONE.into()), None, 1),
        ]
    );
    let sheena = conversations::contact_of(&store, WORKSPACE, NUMBER_A, PHONE)
        .await
        .unwrap()
        .expect("the phone's contact");
    assert_eq!(sheena.profile_name.as_deref(), Some("Sheena"));
    assert_eq!(sheena.scope.as_str(), "portfolio:biz-9");
    let on_b = conversations::contact_of(&store, WORKSPACE, NUMBER_B, PHONE)
        .await
        .unwrap()
        .expect("the phone's contact on the other number");
    assert_eq!(on_b.scope.as_str(), "waba:waba-1");
    assert_eq!(
        thread_with(&store, WORKSPACE, NUMBER_A, PHONE).await.len(),
        3
    );
    assert_eq!(
        thread_with(&store, WORKSPACE, NUMBER_A, BSUID).await.len(),
        1
    );

    // The outbox keeps every row, each with its customer.
    assert_eq!(
        store
            .outbox_count(NUMBER_A, OutboxState::Queued)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .outbox_count(NUMBER_A, OutboxState::Failed)
            .await
            .unwrap(),
        1
    );
    let waiting = store
        .unsent_for(WORKSPACE, NUMBER_A, &sheena.id)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].recipient, PHONE);
    let template_only = conversations::contact_of(&store, WORKSPACE, NUMBER_A, PHONE_TEMPLATE_ONLY)
        .await
        .unwrap()
        .expect("a contact for a customer only written to");
    assert_eq!(
        store
            .unsent_for(WORKSPACE, NUMBER_A, &template_only.id)
            .await
            .unwrap()[0]
            .kind,
        "template"
    );
    let noor = conversations::contact_of(&store, WORKSPACE, NUMBER_A, BSUID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .unsent_for(WORKSPACE, NUMBER_A, &noor.id)
            .await
            .unwrap()[0]
            .state,
        OutboxState::Failed
    );

    // The customer's file stays with their thread.
    let files = store
        .media_of_thread(WORKSPACE, NUMBER_A, &sheena.id)
        .await
        .unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].wamid, "wamid.a1");
}

/// A database of the version before contacts, with its owner, a session
/// and customers, upgraded through contacts, two-factor sign-in and
/// erasures at once: the owner still signs in (with the password alone,
/// held to the owners' requirement if the operator sets it), and a
/// customer can be erased.
async fn accounts_and_contacts_of_a_populated_database_take_two_factor_and_erasure(
    backend: TestBackend,
) {
    use switchboard::{
        accounts::{self, two_factor},
        config::TwoFactorPolicy,
        data_rights,
    };
    const PASSWORD: &str = "a long enough password";
    let hash = accounts::Password::parse(PASSWORD, "password")
        .unwrap()
        .hash()
        .await
        .unwrap();
    let mut rows = old_rows().to_vec();
    rows.push(format!(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('u-1', 'owner@example.com', 'Olive', '{hash}', 1)"
    ));
    rows.push(format!(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ('{WORKSPACE}', 'u-1', 'owner', 1)"
    ));
    rows.push(
        "INSERT INTO sessions (token_hash, user_id, workspace_id, created_at, expires_at) VALUES ('old-session', 'u-1', NULL, 1, 1)"
            .into(),
    );
    let db = TestDatabase::create(backend).await;
    old_schema(&db, backend, BEFORE_CONTACTS, &rows).await;
    let store: Store = db.open_store().await;

    let (token, user) = accounts::sign_in(&store, "owner@example.com", PASSWORD, "127.0.0.1")
        .await
        .unwrap()
        .signed_in()
        .expect("no second factor on an upgraded account");
    assert_eq!(user.name, "Olive");
    let session = accounts::authenticate(&store, &token.0, TwoFactorPolicy::RequiredForOwners)
        .await
        .unwrap();
    assert!(session.owner_lacks_second_factor);
    let status = two_factor::two_factor_status(&store, TwoFactorPolicy::Optional, &session)
        .await
        .unwrap();
    assert!(!status.enabled);

    let sheena = conversations::contact_of(&store, WORKSPACE, NUMBER_A, PHONE)
        .await
        .unwrap()
        .unwrap();
    let report = data_rights::erase(&store, WORKSPACE, sheena.id.as_str(), None, None)
        .await
        .unwrap();
    assert_eq!(report.messages, 3);
    assert_eq!(report.files, 1);
    assert_eq!(store.count_messages(WORKSPACE).await.unwrap(), 2);
}

async fn templates_of_a_populated_database_keep_their_reasons_and_take_a_quality(
    backend: TestBackend,
) {
    // Stored by the schema before template quality (0017).
    let mut rows = old_rows().to_vec();
    rows.push(
        "INSERT INTO message_templates (waba_id, name, language, template_id, category, status, rejected_reason, parameter_format, components, updated_at) VALUES
         ('waba-1', 'weekend_deal', 'en_US', '77', 'UTILITY', 'REJECTED', 'INCORRECT_CATEGORY', 'POSITIONAL', '[]', 5),
         ('waba-1', 'order_update', 'en_US', '78', 'UTILITY', 'APPROVED', NULL, 'POSITIONAL', '[]', 5)"
            .into(),
    );
    let db = TestDatabase::create(backend).await;
    old_schema(&db, backend, 17, &rows).await;
    let store: Store = db.open_store().await;
    let rejected = store
        .template("waba-1", "weekend_deal", "en_US")
        .await
        .unwrap()
        .expect("kept");
    assert_eq!(
        rejected.rejected_reason.as_deref(),
        Some("INCORRECT_CATEGORY")
    );
    assert_eq!(rejected.quality, None, "no score until Meta gives one");
    // A listing after the upgrade without the reason keeps it, and gives
    // the quality.
    let mut listed = rejected.clone();
    listed.rejected_reason = None;
    listed.quality = Some("RED".into());
    let approved = store
        .template("waba-1", "order_update", "en_US")
        .await
        .unwrap()
        .expect("kept");
    store
        .replace_templates("waba-1", &[listed, approved])
        .await
        .unwrap();
    let now = store
        .template("waba-1", "weekend_deal", "en_US")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (now.rejected_reason.as_deref(), now.quality.as_deref()),
        (Some("INCORRECT_CATEGORY"), Some("RED"))
    );
}

/// The cost ledger (0021) on a database filled by the schema before it
/// (0019; 0020 is another change's): every message stays, the ledger
/// starts empty, and a status with pricing is then counted once.
async fn a_populated_database_takes_the_cost_ledger(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    old_schema(&db, backend, 19, &old_rows()).await;
    let store: Store = db.open_store().await;
    for (table, rows) in [
        ("messages", 5),
        ("outbox", 3),
        ("inbound_media", 1),
        ("whatsapp_numbers", 2),
    ] {
        assert_eq!(count_rows(&db, table).await, rows, "{table} kept");
    }
    assert!(store
        .cost_ledger(WORKSPACE, None, None)
        .await
        .unwrap()
        .is_empty());
    assert!(store.rate_card(WORKSPACE).await.unwrap().is_none());
    // Meta's status for the message sent before the upgrade, twice.
    let pricing = serde_json::json!({ "billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility" });
    for _ in 0..2 {
        switchboard::test_support::apply_status_with_pricing(
            &store, WORKSPACE, NUMBER_A, "wamid.a2", PHONE, &pricing,
        )
        .await;
    }
    let rows = store.cost_ledger(WORKSPACE, None, None).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            rows[0].category.as_str(),
            rows[0].market.as_str(),
            rows[0].billable,
            rows[0].free
        ),
        ("utility", "North America", 1, 0)
    );
}

/// The OAuth redirect path's states (0023) on a database filled by the
/// schema before them (0022): everything stays, and a state is stored,
/// taken once, and pruned a day later.
async fn a_populated_database_takes_oauth_states(backend: TestBackend) {
    use switchboard::{
        store::{NewOauthState, Prunable},
        vault::Sealed,
    };
    let mut rows = old_rows().to_vec();
    rows.push(
        "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ('u-1', 'owner@example.com', 'Olive', 'x', 1)".into(),
    );
    rows.push(format!(
        "INSERT INTO memberships (workspace_id, user_id, role, created_at) VALUES ('{WORKSPACE}', 'u-1', 'owner', 1)"
    ));
    let db = TestDatabase::create(backend).await;
    old_schema(&db, backend, 22, &rows).await;
    let store: Store = db.open_store().await;
    for (table, rows) in [("messages", 5), ("onboardings", 1), ("memberships", 1)] {
        assert_eq!(count_rows(&db, table).await, rows, "{table} kept");
    }
    let now = 1_000_000;
    let verifier = Sealed {
        key_id: "k1".into(),
        nonce: vec![7; 12],
        ciphertext: vec![1, 2, 3],
    };
    store
        .insert_oauth_state(&NewOauthState {
            state_hash: "hash-1",
            user_id: "u-1",
            workspace_id: WORKSPACE,
            business_app: true,
            redirect_uri: "https://sb.example/onboarding/meta/callback",
            verifier: &verifier,
            created_at: now,
            expires_at: now + 600_000,
        })
        .await
        .unwrap();
    let taken = store
        .take_oauth_state("hash-1", "u-1", WORKSPACE, now + 1)
        .await
        .unwrap()
        .expect("a fresh state is taken");
    assert!(taken.business_app);
    assert_eq!(taken.verifier, Some(verifier));
    assert_eq!(taken.used_at, Some(now + 1));
    assert!(store
        .take_oauth_state("hash-1", "u-1", WORKSPACE, now + 2)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        store
            .prune(Prunable::OauthStates, now + 1, 10)
            .await
            .unwrap(),
        1
    );
    assert_eq!(count_rows(&db, "oauth_states").await, 0);
}

/// The WhatsApp Business app columns (0022) on a database filled by the
/// schema before them: messages, numbers, the bot and the register
/// attempts stay as they were, read as Cloud API data.
async fn a_populated_database_takes_business_app_numbers(backend: TestBackend) {
    let db = TestDatabase::create(backend).await;
    let mut rows = old_rows().to_vec();
    rows.push(format!(
        "INSERT INTO bot_settings (workspace_id, kind, rules, updated_at) VALUES ('{WORKSPACE}', 'echo', '{{}}', 1)"
    ));
    rows.push(format!(
        "INSERT INTO register_attempts (phone_number_id, at) VALUES ('{NUMBER_A}', {})",
        switchboard::store::now_millis()
    ));
    old_schema(&db, backend, 21, &rows).await;
    let store: Store = db.open_store().await;
    for (table, count) in [
        ("messages", 5),
        ("outbox", 3),
        ("whatsapp_numbers", 2),
        ("bot_settings", 1),
        ("register_attempts", 1),
    ] {
        assert_eq!(count_rows(&db, table).await, count, "{table} kept");
    }
    let number = store.number(&NUMBER_A.into()).await.unwrap().unwrap();
    assert_eq!(number.business_app_since, None);
    let bot = switchboard::bot::stored(&store, WORKSPACE).await.unwrap();
    assert_eq!(
        (bot.kind, bot.quiet_after_app_minutes),
        (switchboard::bot::BotKind::Echo, 30)
    );
    // The attempt made before still counts toward Meta's limit.
    assert_eq!(store.register_attempts_since(NUMBER_A, 0).await.unwrap(), 1);
    // Every message came through the Cloud API.
    assert_eq!(count_rows(&db, "messages WHERE origin IS NULL").await, 5);
}

/// Token expiry (0024) on a database filled by the schema before it
/// (0022; 0023 is another change's): each stored token keeps its seal and
/// end, starts with no refusal and no warning, and one that ends within 14
/// days is due a look, once per claim.
async fn stored_tokens_of_a_populated_database_take_their_expiry_records(backend: TestBackend) {
    let now = switchboard::store::now_millis();
    let ends = now + 10 * 24 * 60 * 60 * 1000;
    let bytes = |hex: &str| match backend {
        TestBackend::Sqlite => format!("X'{hex}'"),
        TestBackend::Postgres => format!("'\\x{hex}'::bytea"),
    };
    let mut rows = old_rows().to_vec();
    rows.push(format!(
        "INSERT INTO number_tokens (phone_number_id, workspace_id, key_id, nonce, ciphertext, token_type, scopes, expires_at, issued_at, stored_at, checked_at) VALUES
         ('{NUMBER_A}', '{WORKSPACE}', 'k1', {}, {}, 'bearer', 'whatsapp_business_management,whatsapp_business_messaging', {ends}, 1, 5, NULL),
         ('{NUMBER_B}', '{WORKSPACE}', 'k1', {}, {}, 'bearer', 'whatsapp_business_messaging', NULL, 1, 6, 7)",
        bytes("0a0b0c"),
        bytes("0d0e0f"),
        bytes("1a1b1c"),
        bytes("1d1e1f"),
    ));
    let db = TestDatabase::create(backend).await;
    old_schema(&db, backend, 22, &rows).await;
    let store: Store = db.open_store().await;

    let expiring = store.number_token(NUMBER_A).await.unwrap().expect("kept");
    assert_eq!(
        (
            expiring.sealed.key_id.as_str(),
            expiring.sealed.nonce.clone(),
            expiring.sealed.ciphertext.clone()
        ),
        ("k1", vec![0x0a, 0x0b, 0x0c], vec![0x0d, 0x0e, 0x0f])
    );
    assert_eq!(
        (
            expiring.expires_at,
            expiring.stored_at,
            expiring.scopes.len()
        ),
        (Some(ends), 5, 2)
    );
    assert_eq!(
        (expiring.refresh_refused, expiring.expiry_warned_days),
        (None, None)
    );
    let lasting = store.number_token(NUMBER_B).await.unwrap().expect("kept");
    assert_eq!((lasting.expires_at, lasting.checked_at), (None, Some(7)));

    // Only the token that ends within 14 days is due, and one look takes it.
    let horizon = now + 14 * 24 * 60 * 60 * 1000;
    let stale_before = now - 60 * 60 * 1000;
    assert_eq!(
        store
            .tokens_expiring(horizon, stale_before, 20)
            .await
            .unwrap(),
        vec![NUMBER_A.to_string()]
    );
    assert!(store
        .claim_token_expiry(NUMBER_A, stale_before, now)
        .await
        .unwrap());
    assert!(!store
        .claim_token_expiry(NUMBER_A, stale_before, now)
        .await
        .unwrap());
    assert!(store
        .tokens_expiring(horizon, stale_before, 20)
        .await
        .unwrap()
        .is_empty());
    // A refusal lands on the token it is about, and no one was warned yet.
    store
        .record_refresh_refused(NUMBER_A, 5, "Meta said no", now)
        .await
        .unwrap();
    store
        .record_refresh_refused(NUMBER_B, 999, "not this token", now)
        .await
        .unwrap();
    assert_eq!(
        store
            .number_token(NUMBER_A)
            .await
            .unwrap()
            .unwrap()
            .refresh_refused,
        Some(("Meta said no".to_string(), now))
    );
    assert_eq!(
        store
            .number_token(NUMBER_B)
            .await
            .unwrap()
            .unwrap()
            .refresh_refused,
        None
    );
    assert!(store
        .expiring_tokens_of(WORKSPACE)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(count_rows(&db, "number_tokens").await, 2);
}

/// Conversation summaries (0025) on a database filled by the schema before
/// them (0024, with contacts): every conversation is listed with its count,
/// its last message by (time, id), its reply window and nothing unread,
/// and every message stays.
async fn a_populated_database_gets_the_summary_of_every_conversation(backend: TestBackend) {
    const SHEENA: &str = "ct_0000000000000000000000000000000a";
    const NOOR: &str = "ct_0000000000000000000000000000000b";
    let mut rows = old_rows()[..3].to_vec();
    rows.push("UPDATE whatsapp_numbers SET contact_scope = 'waba:waba-1'".into());
    rows.push(format!(
        "INSERT INTO contacts (id, workspace_id, scope, bsuid, phone, profile_name, created_at, updated_at) VALUES
         ('{SHEENA}', '{WORKSPACE}', 'waba:waba-1', NULL, '{PHONE}', 'Sheena', 1, 1),
         ('{NOOR}', '{WORKSPACE}', 'waba:waba-1', '{BSUID}', NULL, 'Noor', 1, 1)"
    ));
    // Two of Sheena's messages share the last millisecond: the later row
    // is the last message. One was imported from the app's history.
    rows.push(format!(
        "INSERT INTO messages (workspace_id, phone_number_id, wamid, direction, customer_wa_id, kind, summary, payload, sent_at, contact_id, origin) VALUES
         ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a1', 'inbound', '{PHONE}', 'text', 'Hi', '{{}}', 10, '{SHEENA}', NULL),
         ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a2', 'outbound', '{PHONE}', 'text', 'Hello', '{{}}', 20, '{SHEENA}', NULL),
         ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a3', 'inbound', '{PHONE}', 'text', 'Thanks', '{{}}', 30, '{SHEENA}', NULL),
         ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a4', 'outbound', '{PHONE}', 'text', 'Welcome', '{{}}', 30, '{SHEENA}', NULL),
         ('{WORKSPACE}', '{NUMBER_A}', 'wamid.a5', 'inbound', '{PHONE}', 'text', 'Old', '{{}}', 5, '{SHEENA}', 'history'),
         ('{WORKSPACE}', '{NUMBER_A}', 'wamid.b1', 'inbound', '{BSUID}', 'text', 'Hi from Noor', '{{}}', 40, '{NOOR}', NULL),
         ('{WORKSPACE}', '{NUMBER_B}', 'wamid.c1', 'outbound', '{PHONE}', 'text', 'Other number', '{{}}', 50, '{SHEENA}', NULL)"
    ));
    let db = TestDatabase::create(backend).await;
    old_schema(&db, backend, 24, &rows).await;
    let store: Store = db.open_store().await;
    assert_eq!(count_rows(&db, "messages").await, 7, "every message kept");
    assert_eq!(count_rows(&db, "conversation_summaries").await, 3);

    let list = store
        .conversations(WORKSPACE, 100, None, None)
        .await
        .unwrap();
    let seen: Vec<_> = list
        .iter()
        .map(|c| {
            (
                c.phone_number_id.as_str(),
                c.contact.id.as_str(),
                c.messages,
                c.last_at,
                c.last_summary.as_str(),
                c.last_direction.as_str(),
                c.unread,
                c.window_ends_at,
            )
        })
        .collect();
    const DAY: i64 = 24 * 60 * 60 * 1000;
    assert_eq!(
        seen,
        [
            (NUMBER_B, SHEENA, 1, 50, "Other number", "outbound", 0, None),
            (
                NUMBER_A,
                NOOR,
                1,
                40,
                "Hi from Noor",
                "inbound",
                0,
                Some(40 + DAY)
            ),
            (
                NUMBER_A,
                SHEENA,
                5,
                30,
                "Welcome",
                "outbound",
                0,
                Some(30 + DAY)
            ),
        ]
    );
    // The search and the pages read the summaries too.
    let found = store
        .conversations(WORKSPACE, 100, None, Some("noor"))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].contact.id.as_str(), NOOR);
    let page = conversations::conversations_page(&store, WORKSPACE, 2, None)
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let rest = conversations::conversations_page(&store, WORKSPACE, 2, page.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(
        (rest.items.len(), rest.items[0].contact.id.as_str()),
        (1, SHEENA)
    );
    assert_eq!(
        thread_with(&store, WORKSPACE, NUMBER_A, SHEENA)
            .await
            .iter()
            .map(|m| m.wamid.as_str())
            .collect::<Vec<_>>(),
        ["wamid.a5", "wamid.a1", "wamid.a2", "wamid.a3", "wamid.a4"]
    );
}

/// The journal as the version before the claim fix left it (SQLite: its
/// own file, migrations up to 0003; Postgres: up to 0025), holding events
/// in every state: they all stay, and the pending ones are claimed oldest
/// first without the (state, next_attempt_at) index.
async fn a_populated_journal_keeps_its_events_and_claims_them_by_the_pending_index(
    backend: TestBackend,
) {
    let db = TestDatabase::create(backend).await;
    let rows = [
        "INSERT INTO webhook_events (received_at, signature, body, state, attempts, next_attempt_at, processed_at)
         VALUES (1, 'sha256=a', CAST('{}' AS BLOB), 'done', 1, 1, 2)",
        "INSERT INTO webhook_events (received_at, signature, body, state, attempts, next_attempt_at)
         VALUES (3, 'sha256=b', CAST('{}' AS BLOB), 'pending', 0, 3)",
        "INSERT INTO webhook_events (received_at, signature, body, state, attempts, next_attempt_at, last_error)
         VALUES (4, 'sha256=c', CAST('{}' AS BLOB), 'dead', 8, 4, 'gone')",
        "INSERT INTO webhook_events (received_at, signature, body, state, attempts, next_attempt_at)
         VALUES (5, 'sha256=d', CAST('{}' AS BLOB), 'pending', 0, 5)",
    ];
    let index_count = match backend {
        TestBackend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'webhook_events_due'"
        }
        TestBackend::Postgres => {
            "SELECT COUNT(*) FROM pg_indexes WHERE indexname = 'webhook_events_due'"
        }
    };
    match &db.url {
        DatabaseUrl::Sqlite(url) => {
            let main = switchboard::store::sqlite_file(url).unwrap();
            let journal = switchboard::store::journal_file(&main);
            std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
            let old = tempfile::tempdir().unwrap();
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite-journal");
            for version in [
                "0001_journal.sql",
                "0002_pending_index.sql",
                "0003_prune_index.sql",
            ] {
                std::fs::copy(source.join(version), old.path().join(version)).unwrap();
            }
            let migrator = sqlx::migrate::Migrator::new(old.path()).await.unwrap();
            let options = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(&journal)
                .create_if_missing(true);
            let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
            migrator.run(&pool).await.unwrap();
            for row in rows {
                sqlx::query(row).execute(&pool).await.unwrap();
            }
            let (before,): (i64,) = sqlx::query_as(index_count).fetch_one(&pool).await.unwrap();
            assert_eq!(before, 1, "the old journal has the index");
            pool.close().await;
        }
        DatabaseUrl::Postgres(_) => {
            let rows: Vec<String> = rows.iter().map(|r| r.replace("BLOB", "BYTEA")).collect();
            old_schema(&db, backend, 25, &rows).await;
        }
    }
    let store = db.open_store().await;
    assert_eq!(store.webhook_event_count().await.unwrap(), 4);
    assert_eq!(store.pending_webhook_events().await.unwrap(), 2);
    let dead = store.webhook_events_in(EventState::Dead, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("gone"));
    let remaining: i64 = match &store {
        Store::Sqlite(s) => sqlx::query_scalar(index_count)
            .fetch_one(s.journal_pool())
            .await
            .unwrap(),
        Store::Postgres(s) => sqlx::query_scalar(index_count)
            .fetch_one(s.pool())
            .await
            .unwrap(),
    };
    assert_eq!(remaining, 0, "the unused index is gone");
    let claimed = store.claim_webhook_events(10, 1_000, 10).await.unwrap();
    let received: Vec<i64> = claimed.iter().map(|e| e.received_at).collect();
    assert_eq!(received, [3, 5]);
    let lag = store.webhook_journal_lag().await.unwrap();
    assert_eq!((lag.events, lag.oldest_received_at), (2, Some(3)));
}

async fn count_rows(db: &TestDatabase, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    match &db.url {
        DatabaseUrl::Sqlite(url) => {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            let (count,): (i64,) = sqlx::query_as(&sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            count
        }
        DatabaseUrl::Postgres(url) => {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            let (count,): (i64,) = sqlx::query_as(&sql).fetch_one(&pool).await.unwrap();
            pool.close().await;
            count
        }
    }
}
