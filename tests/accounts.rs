//! Accounts, sessions, workspaces, roles and invites, on both backends.

mod common;

use switchboard::{
    accounts::{self, Caller, Role, Session, SignUp},
    audit,
    config::TwoFactorPolicy,
    store::Store,
    test_support::{TestBackend, TestDatabase},
    Error,
};

on_both_backends!(
    first_sign_up_creates_the_owner_then_closes,
    sign_in_opens_a_session_and_sign_out_revokes_it,
    unknown_email_and_wrong_password_look_the_same,
    sign_in_is_rate_limited_per_account,
    sign_in_is_rate_limited_per_address,
    a_parallel_burst_cannot_pass_the_limits,
    changing_the_password_signs_out_other_sessions,
    an_invite_is_single_use_and_grants_its_role,
    a_signed_in_person_accepts_an_invite_and_switches,
    agents_and_viewers_cannot_manage_members,
    admins_cannot_touch_owners,
    the_last_owner_stays,
    two_owners_demoting_each_other_at_once_leave_one_owner,
    invitations_are_listed_revoked_and_die_with_their_creators_role,
    another_workspaces_member_ids_are_not_found,
    a_removed_member_loses_access_at_once,
    role_changes_are_audited_with_before_and_after,
);

const PASSWORD: &str = "a long enough password";
const OPTIONAL: TwoFactorPolicy = TwoFactorPolicy::Optional;

struct Setup {
    _db: TestDatabase,
    store: Store,
    owner: Session,
}

async fn setup(backend: TestBackend) -> Setup {
    let db = TestDatabase::create(backend).await;
    let store = db.open_store().await;
    let token = accounts::sign_up_owner(
        &store,
        &SignUp {
            email: "Owner@Example.com",
            name: "Olive Owner",
            password: PASSWORD,
            workspace_name: "Acme",
        },
    )
    .await
    .unwrap();
    let owner = accounts::authenticate(&store, &token.0, OPTIONAL)
        .await
        .unwrap();
    Setup {
        _db: db,
        store,
        owner,
    }
}

impl Setup {
    async fn audit_has(&self, action: &str) -> bool {
        let owner = caller(&self.owner);
        switchboard::audit::entries(&self.store, &owner, 200)
            .await
            .unwrap()
            .iter()
            .any(|e| e.action == action)
    }
}

fn caller(session: &Session) -> Caller {
    session.caller().unwrap()
}

/// Invites someone with `role` into the owner's workspace and signs them up.
async fn add_member(s: &Setup, email: &str, role: Role) -> Session {
    let invite = accounts::invite(&s.store, &caller(&s.owner), role)
        .await
        .unwrap();
    let token = accounts::sign_up_with_invite(&s.store, &invite, email, "Member", PASSWORD)
        .await
        .unwrap();
    accounts::authenticate(&s.store, &token.0, OPTIONAL)
        .await
        .unwrap()
}

async fn first_sign_up_creates_the_owner_then_closes(backend: TestBackend) {
    let s = setup(backend).await;
    let me = caller(&s.owner);
    assert_eq!(me.user.email, "owner@example.com");
    assert_eq!(me.role, Role::Owner);
    assert_eq!(me.workspace.name, "Acme");
    assert!(accounts::is_set_up(&s.store).await.unwrap());
    let again = accounts::sign_up_owner(
        &s.store,
        &SignUp {
            email: "other@example.com",
            name: "Other",
            password: PASSWORD,
            workspace_name: "Other",
        },
    )
    .await;
    assert!(matches!(again, Err(Error::AlreadySetUp)));
}

async fn sign_in_opens_a_session_and_sign_out_revokes_it(backend: TestBackend) {
    let s = setup(backend).await;
    let (token, user) = accounts::sign_in(&s.store, "owner@example.com", PASSWORD, "127.0.0.1")
        .await
        .unwrap()
        .signed_in()
        .unwrap();
    assert_eq!(user.name, "Olive Owner");
    let session = accounts::authenticate(&s.store, &token.0, OPTIONAL)
        .await
        .unwrap();
    assert_eq!(session.caller().unwrap().role, Role::Owner);
    accounts::sign_out(&s.store, &token.0).await.unwrap();
    assert!(matches!(
        accounts::authenticate(&s.store, &token.0, OPTIONAL).await,
        Err(Error::Unauthenticated)
    ));
    assert!(matches!(
        accounts::authenticate(&s.store, "made-up", OPTIONAL).await,
        Err(Error::Unauthenticated)
    ));
}

async fn unknown_email_and_wrong_password_look_the_same(backend: TestBackend) {
    let s = setup(backend).await;
    let wrong = accounts::sign_in(
        &s.store,
        "owner@example.com",
        "not the password",
        "10.0.0.1",
    )
    .await
    .unwrap_err();
    let unknown = accounts::sign_in(&s.store, "nobody@example.com", PASSWORD, "10.0.0.1")
        .await
        .unwrap_err();
    assert!(matches!(wrong, Error::InvalidCredentials));
    assert_eq!(wrong.to_string(), unknown.to_string());
}

async fn sign_in_is_rate_limited_per_account(backend: TestBackend) {
    let s = setup(backend).await;
    for i in 0..5 {
        let address = format!("10.0.0.{i}");
        assert!(matches!(
            accounts::sign_in(&s.store, "owner@example.com", "wrong password!", &address).await,
            Err(Error::InvalidCredentials)
        ));
    }
    // Guessed at from many addresses: the owner, from a fresh address and
    // with the right password, gets in, after a delay.
    let started = std::time::Instant::now();
    accounts::sign_in(&s.store, "owner@example.com", PASSWORD, "10.9.9.9")
        .await
        .expect("never locked out from a fresh address");
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(2),
        "but slowed down"
    );

    // From one address, five wrong guesses lock that address out of the
    // account, the right password included.
    for _ in 0..5 {
        let _ =
            accounts::sign_in(&s.store, "owner@example.com", "wrong password!", "10.1.1.1").await;
    }
    let limited = accounts::sign_in(&s.store, "owner@example.com", PASSWORD, "10.1.1.1")
        .await
        .unwrap_err();
    assert!(
        matches!(limited, Error::RateLimited { retry_after_secs } if retry_after_secs > 0 && retry_after_secs <= 900)
    );
    assert!(limited.to_string().contains("try again in"));
}

async fn a_parallel_burst_cannot_pass_the_limits(backend: TestBackend) {
    let s = setup(backend).await;
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let store = s.store.clone();
        burst.spawn(async move {
            accounts::sign_in(&store, "owner@example.com", "wrong password!", "10.2.2.2").await
        });
    }
    let mut checked = 0;
    let mut refused = 0;
    while let Some(outcome) = burst.join_next().await {
        match outcome.unwrap() {
            Err(Error::InvalidCredentials) => checked += 1,
            Err(Error::RateLimited { .. }) => refused += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((checked, refused), (5, 7), "only five passwords were tried");
}

async fn sign_in_is_rate_limited_per_address(backend: TestBackend) {
    let s = setup(backend).await;
    for i in 0..20 {
        let _ = accounts::sign_in(
            &s.store,
            &format!("guess{i}@example.com"),
            "whatever123",
            "192.0.2.7",
        )
        .await;
    }
    let limited = accounts::sign_in(&s.store, "owner@example.com", PASSWORD, "192.0.2.7").await;
    assert!(matches!(limited, Err(Error::RateLimited { .. })));
    assert!(
        accounts::sign_in(&s.store, "owner@example.com", PASSWORD, "192.0.2.8")
            .await
            .is_ok()
    );
}

async fn changing_the_password_signs_out_other_sessions(backend: TestBackend) {
    let s = setup(backend).await;
    let (other, _) = accounts::sign_in(&s.store, "owner@example.com", PASSWORD, "127.0.0.1")
        .await
        .unwrap()
        .signed_in()
        .unwrap();
    let refused =
        accounts::change_password(&s.store, &s.owner, "wrong current", "a brand new password")
            .await;
    assert!(matches!(
        refused,
        Err(Error::Invalid {
            field: "current_password",
            ..
        })
    ));
    let short = accounts::change_password(&s.store, &s.owner, PASSWORD, "short").await;
    assert!(matches!(
        short,
        Err(Error::Invalid {
            field: "new_password",
            ..
        })
    ));

    accounts::change_password(&s.store, &s.owner, PASSWORD, "a brand new password")
        .await
        .unwrap();
    assert!(
        accounts::authenticate(&s.store, &other.0, OPTIONAL)
            .await
            .is_err(),
        "the other session is revoked"
    );
    assert!(accounts::sign_in(
        &s.store,
        "owner@example.com",
        "a brand new password",
        "127.0.0.1"
    )
    .await
    .is_ok());
}

async fn an_invite_is_single_use_and_grants_its_role(backend: TestBackend) {
    let s = setup(backend).await;
    let invite = accounts::invite(&s.store, &caller(&s.owner), Role::Agent)
        .await
        .unwrap();
    let info = accounts::invite_info(&s.store, &invite).await.unwrap();
    assert_eq!(
        (info.workspace.name.as_str(), info.role),
        ("Acme", Role::Agent)
    );
    let token = accounts::sign_up_with_invite(
        &s.store,
        &invite,
        "agent@example.com",
        "Ann Agent",
        PASSWORD,
    )
    .await
    .unwrap();
    let agent = accounts::authenticate(&s.store, &token.0, OPTIONAL)
        .await
        .unwrap();
    assert_eq!(caller(&agent).role, Role::Agent);
    assert_eq!(caller(&agent).workspace.id, caller(&s.owner).workspace.id);

    let reused =
        accounts::sign_up_with_invite(&s.store, &invite, "again@example.com", "Again", PASSWORD)
            .await;
    assert!(matches!(
        reused,
        Err(Error::Invalid {
            field: "invite",
            ..
        })
    ));
    let members = accounts::members(&s.store, &caller(&s.owner))
        .await
        .unwrap();
    assert_eq!(members.len(), 2);
}

async fn a_signed_in_person_accepts_an_invite_and_switches(backend: TestBackend) {
    let s = setup(backend).await;
    let member = add_member(&s, "viewer@example.com", Role::Viewer).await;
    // The viewer creates a workspace of their own, then is invited back as admin.
    let own = accounts::create_workspace(&s.store, &member, "Viewer's Shop")
        .await
        .unwrap();
    let member_token = member_token(&s, "viewer@example.com").await;
    let member = accounts::authenticate(&s.store, &member_token, OPTIONAL)
        .await
        .unwrap();
    let invite = accounts::invite(&s.store, &caller(&s.owner), Role::Admin)
        .await
        .unwrap();
    accounts::accept_invite(&s.store, &member, &invite)
        .await
        .unwrap();
    // Already a member: the role stays what it was (viewer), no duplicate row.
    let memberships = s.store.memberships_of(&member.user.id).await.unwrap();
    assert_eq!(memberships.len(), 2);

    let switched = accounts::switch_workspace(&s.store, &member, &own.id)
        .await
        .unwrap();
    assert_eq!(switched.role, Role::Owner);
    let outsider = add_member(&s, "x@example.com", Role::Viewer).await;
    assert!(matches!(
        accounts::switch_workspace(&s.store, &outsider, &own.id).await,
        Err(Error::Forbidden)
    ));
}

async fn member_token(s: &Setup, email: &str) -> String {
    accounts::sign_in(&s.store, email, PASSWORD, "127.0.0.1")
        .await
        .unwrap()
        .signed_in()
        .unwrap()
        .0
         .0
}

async fn agents_and_viewers_cannot_manage_members(backend: TestBackend) {
    let s = setup(backend).await;
    for role in [Role::Agent, Role::Viewer] {
        let member = add_member(&s, &format!("{}@example.com", role.as_str()), role).await;
        let me = caller(&member);
        assert!(matches!(
            accounts::members(&s.store, &me).await,
            Err(Error::Forbidden)
        ));
        assert!(matches!(
            accounts::invite(&s.store, &me, Role::Viewer).await,
            Err(Error::Forbidden)
        ));
        assert!(matches!(
            accounts::change_role(&s.store, &me, &me.user.id, Role::Admin).await,
            Err(Error::Forbidden)
        ));
        assert!(matches!(
            audit::entries(&s.store, &me, 10).await,
            Err(Error::Forbidden)
        ));
        assert_eq!(
            s.store
                .role_in(&me.workspace.id, &me.user.id)
                .await
                .unwrap(),
            Some(role)
        );
    }
}

async fn admins_cannot_touch_owners(backend: TestBackend) {
    let s = setup(backend).await;
    let admin = caller(&add_member(&s, "admin@example.com", Role::Admin).await);
    let owner_id = s.owner.user.id.clone();
    assert!(matches!(
        accounts::remove_member(&s.store, &admin, &owner_id).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        accounts::change_role(&s.store, &admin, &owner_id, Role::Viewer).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        accounts::invite(&s.store, &admin, Role::Owner).await,
        Err(Error::Forbidden)
    ));
    let agent = add_member(&s, "agent@example.com", Role::Agent).await;
    assert!(matches!(
        accounts::change_role(&s.store, &admin, &agent.user.id, Role::Owner).await,
        Err(Error::Forbidden)
    ));
    // What an admin may do.
    accounts::change_role(&s.store, &admin, &agent.user.id, Role::Viewer)
        .await
        .unwrap();
    accounts::remove_member(&s.store, &admin, &agent.user.id)
        .await
        .unwrap();
    assert_eq!(
        s.store
            .role_in(&admin.workspace.id, &owner_id)
            .await
            .unwrap(),
        Some(Role::Owner)
    );
}

async fn the_last_owner_stays(backend: TestBackend) {
    let s = setup(backend).await;
    let me = caller(&s.owner);
    assert!(matches!(
        accounts::change_role(&s.store, &me, &me.user.id, Role::Admin).await,
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        accounts::remove_member(&s.store, &me, &me.user.id).await,
        Err(Error::Invalid { .. })
    ));
    let second = add_member(&s, "second@example.com", Role::Owner).await;
    accounts::change_role(&s.store, &me, &second.user.id, Role::Admin)
        .await
        .unwrap();
    accounts::change_role(&s.store, &me, &second.user.id, Role::Owner)
        .await
        .unwrap();
    accounts::change_role(&s.store, &me, &me.user.id, Role::Admin)
        .await
        .unwrap();
}

async fn another_workspaces_member_ids_are_not_found(backend: TestBackend) {
    let s = setup(backend).await;
    let victim = add_member(&s, "victim@example.com", Role::Agent).await;
    // Someone acting in a workspace of their own, where they are owner.
    let invite = accounts::invite(&s.store, &caller(&s.owner), Role::Viewer)
        .await
        .unwrap();
    let token = accounts::sign_up_with_invite(
        &s.store,
        &invite,
        "stranger@example.com",
        "Stranger",
        PASSWORD,
    )
    .await
    .unwrap();
    let stranger = accounts::authenticate(&s.store, &token.0, OPTIONAL)
        .await
        .unwrap();
    accounts::create_workspace(&s.store, &stranger, "Elsewhere")
        .await
        .unwrap();
    let stranger_caller = caller(
        &accounts::authenticate(&s.store, &token.0, OPTIONAL)
            .await
            .unwrap(),
    );
    assert_eq!(
        (
            stranger_caller.workspace.name.as_str(),
            stranger_caller.role
        ),
        ("Elsewhere", Role::Owner)
    );

    let acme = caller(&s.owner).workspace.id;
    assert!(matches!(
        accounts::change_role(&s.store, &stranger_caller, &victim.user.id, Role::Viewer).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        accounts::remove_member(&s.store, &stranger_caller, &victim.user.id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        s.store.role_in(&acme, &victim.user.id).await.unwrap(),
        Some(Role::Agent)
    );
}

async fn a_removed_member_loses_access_at_once(backend: TestBackend) {
    let s = setup(backend).await;
    let agent = add_member(&s, "agent@example.com", Role::Agent).await;
    let token = member_token(&s, "agent@example.com").await;
    accounts::remove_member(&s.store, &caller(&s.owner), &agent.user.id)
        .await
        .unwrap();
    let after = accounts::authenticate(&s.store, &token, OPTIONAL)
        .await
        .unwrap();
    assert!(after.current.is_none());
    assert!(matches!(after.caller(), Err(Error::Forbidden)));
}

async fn role_changes_are_audited_with_before_and_after(backend: TestBackend) {
    let s = setup(backend).await;
    let agent = add_member(&s, "agent@example.com", Role::Agent).await;
    accounts::change_role(&s.store, &caller(&s.owner), &agent.user.id, Role::Admin)
        .await
        .unwrap();
    let _ = accounts::sign_in(
        &s.store,
        "owner@example.com",
        "wrong password!",
        "127.0.0.1",
    )
    .await;
    let entries = audit::entries(&s.store, &caller(&s.owner), 50)
        .await
        .unwrap();
    let change = entries
        .iter()
        .find(|e| e.action == "member.role_changed")
        .expect("audited");
    assert_eq!(change.actor_email.as_deref(), Some("owner@example.com"));
    let detail: serde_json::Value = serde_json::from_str(&change.detail).unwrap();
    assert_eq!(detail["before"], "agent");
    assert_eq!(detail["after"], "admin");
    for action in ["owner.created", "member.invited", "member.joined"] {
        assert!(
            entries.iter().any(|e| e.action == action),
            "{action} missing"
        );
    }
    assert!(
        entries.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
}

async fn two_owners_demoting_each_other_at_once_leave_one_owner(backend: TestBackend) {
    let s = setup(backend).await;
    for round in 0..5 {
        let first = caller(&s.owner);
        let second = add_member(&s, &format!("co-owner-{round}@example.com"), Role::Owner).await;
        let second = caller(&second);
        let (a, b) = tokio::join!(
            accounts::change_role(&s.store, &first, &second.user.id, Role::Admin),
            accounts::change_role(&s.store, &second, &first.user.id, Role::Admin),
        );
        let refused = [&a, &b]
            .iter()
            .filter(|r| matches!(r, Err(Error::Invalid { .. })))
            .count();
        assert_eq!(
            s.store.count_owners(&first.workspace.id).await.unwrap(),
            1,
            "round {round}: {a:?} {b:?}"
        );
        assert_eq!(refused + [&a, &b].iter().filter(|r| r.is_ok()).count(), 2);
        // Whoever is owner now makes the original owner owner again.
        if a.is_err() {
            accounts::change_role(&s.store, &second, &first.user.id, Role::Owner)
                .await
                .unwrap();
            accounts::remove_member(&s.store, &first, &second.user.id)
                .await
                .unwrap();
        } else {
            accounts::remove_member(&s.store, &first, &second.user.id)
                .await
                .unwrap();
        }
    }
}

async fn invitations_are_listed_revoked_and_die_with_their_creators_role(backend: TestBackend) {
    let s = setup(backend).await;
    let owner = caller(&s.owner);
    let admin = add_member(&s, "admin@example.com", Role::Admin).await;
    let admin = caller(&admin);
    let by_admin = accounts::invite(&s.store, &admin, Role::Agent)
        .await
        .unwrap();
    let owners_invite = accounts::invite(&s.store, &owner, Role::Owner)
        .await
        .unwrap();
    let to_revoke = accounts::invite(&s.store, &owner, Role::Viewer)
        .await
        .unwrap();

    let open = accounts::invites(&s.store, &owner).await.unwrap();
    assert_eq!(open.len(), 3, "{open:?}");
    assert!(
        open.iter()
            .all(|i| !i.id.contains(&by_admin) && i.id != by_admin),
        "never the token"
    );
    let id_of = |token: &str| accounts::token_hash(token);

    // An admin cannot revoke an owner's invitation; a foreign id is not found.
    assert!(matches!(
        accounts::revoke_invite(&s.store, &admin, &id_of(&owners_invite)).await,
        Err(Error::Forbidden)
    ));
    assert!(matches!(
        accounts::revoke_invite(&s.store, &owner, "no-such-invite").await,
        Err(Error::NotFound)
    ));
    accounts::revoke_invite(&s.store, &admin, &id_of(&to_revoke))
        .await
        .unwrap();
    assert!(
        accounts::invite_info(&s.store, &to_revoke).await.is_err(),
        "revoked"
    );
    assert!(s.audit_has("member.invite_revoked").await);

    // The admin is demoted: their invitation dies with the role.
    accounts::change_role(&s.store, &owner, &admin.user.id, Role::Agent)
        .await
        .unwrap();
    assert!(accounts::invite_info(&s.store, &by_admin).await.is_err());
    assert!(accounts::sign_up_with_invite(
        &s.store,
        &by_admin,
        "late@example.com",
        "Late",
        PASSWORD
    )
    .await
    .is_err());
    let open = accounts::invites(&s.store, &owner).await.unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].role, Role::Owner);
    // The owner's still works.
    accounts::sign_up_with_invite(&s.store, &owners_invite, "co@example.com", "Co", PASSWORD)
        .await
        .unwrap();
}
