//! One story per store operation, run on SQLite and on PostgreSQL.

use keepwell_core::account::AccountInput;
use keepwell_core::contact::ContactInput;
use keepwell_core::{AttrValue, LifecycleStage, Role};
use keepwell_store::accounts::{AccountFilter, AccountSort};
use keepwell_store::audit::AuditFilter;
use keepwell_store::contacts::ContactFilter;
use keepwell_store::people::NewUser;
use keepwell_store::testing::fresh_store;
use keepwell_store::{Actor, Backend, Store, StoreError};
use writes::Writes;

#[path = "conformance/writes.rs"]
mod writes;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::fresh_store(super::Backend::Sqlite).await).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::fresh_store(super::Backend::Postgres).await).await } )* }
    };
}

on_both_backends!(
    accounts_round_trip,
    external_ids_are_unique_per_kind_and_resolve_by_any_kind,
    list_filters_sorts_and_pages,
    import_is_all_or_nothing_and_upserts,
    large_imports_batch_without_changing_what_rows_mean,
    contacts_round_trip_and_import,
    users_sessions_tokens_and_keys,
    tokens_follow_their_members_rights,
    audit_records_before_and_after,
    backup_restores_into_an_empty_database,
    migrate_twice_changes_nothing,
    one_process_at_a_time_leads_the_daily_pass,
    billing_imports_refuse_overlaps_and_renewals_follow_periods,
    revenue_reads_failed_payments_and_its_version_follows_every_change,
    ingestion_attributes_deduplicates_and_rolls_up,
    event_writers_share_dedup_links_and_the_bulk_index,
    message_ids_deduplicate_for_seven_days_then_are_forgotten,
    health_pass_scores_moves_stages_keeps_membership_and_reruns_alike,
    a_live_pass_tells_subscribed_endpoints_of_each_change_once,
    deliveries_are_claimed_renewed_taken_over_and_disable_a_failing_endpoint,
    definitions_apply_by_key_whole_or_not_at_all,
    a_stored_definition_past_a_limit_is_skipped_not_fatal,
    crm_accounts_then_segment_history_reach_each_other,
    segment_history_then_crm_accounts_reach_each_other,
    a_groupid_two_accounts_hold_waits_until_linked,
    an_account_a_group_call_made_is_adopted_by_the_crm_import,
    quiet_accounts_are_customers_whose_users_went_quiet,
);

mod upgrade {
    #[tokio::test]
    async fn sqlite() {
        super::the_health_migration_fills_usage_bits_from_older_rollups(keepwell_store::Backend::Sqlite).await
    }
    #[tokio::test]
    async fn postgres() {
        super::the_health_migration_fills_usage_bits_from_older_rollups(keepwell_store::Backend::Postgres).await
    }
    #[tokio::test]
    async fn checksums_sqlite() {
        super::a_database_from_before_checksums_records_them_and_an_edit_stops_the_start(
            keepwell_store::Backend::Sqlite,
        )
        .await
    }
    #[tokio::test]
    async fn checksums_postgres() {
        super::a_database_from_before_checksums_records_them_and_an_edit_stops_the_start(
            keepwell_store::Backend::Postgres,
        )
        .await
    }
}

fn cli() -> Actor {
    Actor::system("test")
}

fn account(name: &str, crm: &str) -> AccountInput {
    AccountInput {
        name: Some(name.into()),
        domain: Some(format!("{}.com", name.to_lowercase().replace(' ', ""))),
        external_ids: vec![("crm".into(), crm.into())],
        ..Default::default()
    }
}

async fn user(store: &Store, email: &str, role: Role) -> i64 {
    store.create_user(&cli(), &NewUser { email, name: email, role, password_hash: "x" }).await.unwrap().id
}

async fn accounts_round_trip(store: Store) {
    let owner = user(&store, "ann@team.io", Role::Csm).await;
    let mut input = account("Acme", "c-1");
    input.owner_email = Some("ANN@team.io".into());
    input.tags = vec!["Enterprise".into()];
    input.attributes = vec![("seats".into(), AttrValue::infer("25"))];
    input.lifecycle_stage = Some("adoption".into());
    let created = store.create_account(&cli(), &input.validate().unwrap()).await.unwrap();
    assert_eq!(created.owner.as_ref().map(|o| o.id), Some(owner));
    let got = store.account(created.id).await.unwrap().unwrap();
    assert_eq!(got, created);
    assert_eq!(got.tags, vec!["enterprise"]);
    assert_eq!(got.attributes["seats"], AttrValue::infer("25").unwrap());
    assert_eq!(got.lifecycle_stage, LifecycleStage::Adoption);

    let mut change = account("Acme Corp", "c-1");
    change.owner_email = None;
    let updated = store.update_account(&cli(), created.id, &change.validate().unwrap()).await.unwrap();
    assert_eq!(updated.name, "Acme Corp");
    assert_eq!(updated.owner, None);

    let mut unknown = account("Beta", "c-2");
    unknown.owner_email = Some("nobody@team.io".into());
    match store.create_account(&cli(), &unknown.validate().unwrap()).await {
        Err(StoreError::Invalid(i)) => assert_eq!(i.errors[0].field, "owner_email"),
        other => panic!("expected an invalid owner, got {other:?}"),
    }
    store.delete_account(&cli(), created.id).await.unwrap();
    assert!(store.account(created.id).await.unwrap().is_none());
    assert!(matches!(store.delete_account(&cli(), created.id).await, Err(StoreError::NotFound(_))));
}

async fn external_ids_are_unique_per_kind_and_resolve_by_any_kind(store: Store) {
    let mut a = account("Acme", "c-1");
    a.external_ids.push(("stripe".into(), "cus_1".into()));
    let acme = store.create_account(&cli(), &a.validate().unwrap()).await.unwrap();
    let found = store.account_by_external_id("cus_1").await.unwrap().unwrap();
    assert_eq!(found.id, acme.id);
    assert!(store.account_by_external_id("nope").await.unwrap().is_none());

    match store.create_account(&cli(), &account("Dup", "c-1").validate().unwrap()).await {
        Err(StoreError::Conflict { message, .. }) => assert!(message.contains("Acme"), "{message}"),
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The same value under another kind is allowed, but then looking it up is ambiguous.
    let mut b = account("Beta", "c-2");
    b.external_ids.push(("segment".into(), "cus_1".into()));
    store.create_account(&cli(), &b.validate().unwrap()).await.unwrap();
    match store.account_by_external_id("cus_1").await {
        Err(StoreError::Conflict { message, .. }) => {
            assert!(message.contains("Acme") && message.contains("Beta"), "{message}")
        }
        other => panic!("expected an ambiguity, got {other:?}"),
    }
}

async fn list_filters_sorts_and_pages(store: Store) {
    let ann = user(&store, "ann@team.io", Role::Csm).await;
    for i in 0..25 {
        let mut a = account(&format!("Company {i:02}"), &format!("c-{i}"));
        a.country = Some(if i % 2 == 0 { "DE" } else { "US" }.into());
        a.employees = Some((i * 10).to_string());
        if i % 5 == 0 {
            a.owner_email = Some("ann@team.io".into());
            a.tags = vec!["vip".into()];
            a.lifecycle_stage = Some("renewal".into());
        }
        store.create_account(&cli(), &a.validate().unwrap()).await.unwrap();
    }
    let mut f = AccountFilter { limit: 10, ..Default::default() };
    let mut names = Vec::new();
    loop {
        let page = store.accounts(&f).await.unwrap();
        names.extend(page.data.iter().map(|a| a.name.clone()));
        match page.next_cursor {
            Some(c) => f.cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).map(|i| format!("Company {i:02}")).collect();
    assert_eq!(names, expected);

    let desc = store
        .accounts(&AccountFilter { sort: AccountSort::Employees, descending: true, limit: 3, ..Default::default() })
        .await
        .unwrap();
    assert_eq!(desc.data.iter().map(|a| a.employees.unwrap()).collect::<Vec<_>>(), [240, 230, 220]);
    let next = store
        .accounts(&AccountFilter {
            sort: AccountSort::Employees,
            descending: true,
            limit: 3,
            cursor: desc.next_cursor,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next.data[0].employees, Some(210));

    let count = |f: AccountFilter| {
        let store = store.clone();
        async move { store.count_accounts(&f).await.unwrap() }
    };
    assert_eq!(count(AccountFilter { q: Some("COMPANY 1".into()), ..Default::default() }).await, 10);
    assert_eq!(count(AccountFilter { q: Some("company07.com".into()), ..Default::default() }).await, 1);
    assert_eq!(count(AccountFilter { q: Some("%".into()), ..Default::default() }).await, 0);
    // Search input is literal text, whatever it holds (quotes, FTS operators, LIKE wildcards).
    for q in ["com\"pany", "NEAR(company", "company*", "any 0 OR x", "a_b"] {
        assert_eq!(count(AccountFilter { q: Some(q.into()), ..Default::default() }).await, 0, "{q}");
    }
    assert_eq!(count(AccountFilter { q: Some("PANY 2".into()), ..Default::default() }).await, 5);
    assert_eq!(count(AccountFilter { owner: Some(Some(ann)), ..Default::default() }).await, 5);
    assert_eq!(count(AccountFilter { owner: Some(None), ..Default::default() }).await, 20);
    assert_eq!(count(AccountFilter { tag: Some("VIP".into()), ..Default::default() }).await, 5);
    assert_eq!(count(AccountFilter { stage: Some(LifecycleStage::Renewal), ..Default::default() }).await, 5);
    assert_eq!(count(AccountFilter { country: Some("de".into()), ..Default::default() }).await, 13);
    let facets = store.account_facets().await.unwrap();
    assert_eq!(facets.countries, ["DE", "US"]);
    assert_eq!(facets.tags, ["vip"]);
    assert!(store.accounts(&AccountFilter { cursor: Some("bogus".into()), ..Default::default() }).await.is_err());
}

async fn import_is_all_or_nothing_and_upserts(store: Store) {
    let rows: Vec<_> = (0..3).map(|i| account(&format!("A{i}"), &format!("c-{i}")).validate().unwrap()).collect();
    let mut seen = 0;
    let s = store.import_accounts(&cli(), &rows, false, |n| seen = n).await.unwrap();
    assert_eq!((s.created, s.updated, seen), (3, 0, 3));

    // A second file updates A1 by its CRM id, and its last row names an unknown owner: nothing lands.
    let mut bad = account("Z", "c-9");
    bad.owner_email = Some("ghost@team.io".into());
    let rows2 = vec![account("A1 renamed", "c-1").validate().unwrap(), bad.validate().unwrap()];
    let err = store.import_accounts(&cli(), &rows2, false, |_| {}).await.unwrap_err();
    assert_eq!(err.index, 1);
    assert_eq!(store.count_accounts(&AccountFilter::default()).await.unwrap(), 3);
    assert_eq!(store.account_by_external_id("c-1").await.unwrap().unwrap().name, "A1");

    let s = store.import_accounts(&cli(), &rows2[..1], true, |_| {}).await.unwrap();
    assert_eq!((s.created, s.updated), (0, 1));
    assert_eq!(store.account_by_external_id("c-1").await.unwrap().unwrap().name, "A1", "dry run wrote");
    store.import_accounts(&cli(), &rows2[..1], false, |_| {}).await.unwrap();
    assert_eq!(store.account_by_external_id("c-1").await.unwrap().unwrap().name, "A1 renamed");
}

async fn large_imports_batch_without_changing_what_rows_mean(store: Store) {
    user(&store, "ann@team.io", Role::Csm).await;
    let mut rows: Vec<_> = (0..1200)
        .map(|i| {
            let mut a = account(&format!("Co {i:04}"), &format!("c-{i}"));
            a.tags = vec![format!("t{}", i % 3)];
            a.owner_email = (i % 2 == 0).then(|| "ann@team.io".to_string());
            a.validate().unwrap()
        })
        .collect();
    // Row 700 names an account created in the first batch; row 701 one still waiting in this batch.
    rows[700] = account("Renamed 5", "c-5").validate().unwrap();
    rows[701] = account("Renamed 650", "c-650").validate().unwrap();
    let s = store.import_accounts(&cli(), &rows, false, |_| {}).await.unwrap();
    assert_eq!((s.created, s.updated), (1198, 2));
    assert_eq!(store.count_accounts(&AccountFilter::default()).await.unwrap(), 1198);
    assert_eq!(store.account_by_external_id("c-5").await.unwrap().unwrap().name, "Renamed 5");
    assert_eq!(store.account_by_external_id("c-650").await.unwrap().unwrap().name, "Renamed 650");
    let last = store.account_by_external_id("c-1199").await.unwrap().unwrap();
    assert_eq!((last.tags.clone(), last.owner.is_none()), (vec!["t2".to_string()], true));
    assert_eq!(
        store.count_accounts(&AccountFilter { tag: Some("t0".into()), ..Default::default() }).await.unwrap(),
        400
    );
    let next = store.create_account(&cli(), &account("After", "c-x").validate().unwrap()).await.unwrap();
    assert!(next.id > last.id, "ids keep counting after a batch");
    // A row whose ids point at two different accounts (both new in this file) is a conflict,
    // reported at that row.
    let with_stripe = |name: &str, crm: &str, stripe: Option<&str>| {
        let mut a = account(name, crm);
        a.external_ids.extend(stripe.map(|s| ("stripe".to_string(), s.to_string())));
        a.validate().unwrap()
    };
    let clash = vec![
        with_stripe("New", "c-new", Some("cus_1")),
        with_stripe("New 2", "c-new-2", None),
        with_stripe("Both", "c-new-2", Some("cus_1")),
    ];
    let err = store.import_accounts(&cli(), &clash, false, |_| {}).await.unwrap_err();
    assert_eq!(err.index, 2, "{err}");
    assert!(err.to_string().contains("cus_1") && err.to_string().contains("New"), "{err}");
    assert!(store.account_by_external_id("c-new").await.unwrap().is_none(), "nothing of the failed file landed");
}

async fn contacts_round_trip_and_import(store: Store) {
    let mut a = account("Acme", "c-1");
    a.external_ids.push(("stripe".into(), "cus_1".into()));
    let acme = store.create_account(&cli(), &a.validate().unwrap()).await.unwrap();
    let c = ContactInput {
        account_external_id: Some("cus_1".into()),
        email: Some("Ann@Acme.com".into()),
        name: Some("Ann".into()),
        role: Some("champion".into()),
        external_user_ids: vec!["u-1".into()],
        ..Default::default()
    };
    let ann = store.create_contact(&cli(), &c.clone().validate().unwrap()).await.unwrap();
    assert_eq!(ann.account_id, acme.id);
    assert_eq!(ann.external_user_ids, ["u-1"]);
    assert_eq!(store.contact(ann.id).await.unwrap().unwrap(), ann);
    assert!(matches!(store.create_contact(&cli(), &c.validate().unwrap()).await, Err(StoreError::Conflict { .. })));

    let rows: Vec<_> = ["bob@acme.com", "ann@acme.com"]
        .iter()
        .map(|e| {
            ContactInput {
                account_external_id: Some("c-1".into()),
                email: Some((*e).into()),
                title: Some("CTO".into()),
                ..Default::default()
            }
            .validate()
            .unwrap()
        })
        .collect();
    let s = store.import_contacts(&cli(), &rows, false, |_| {}).await.unwrap();
    assert_eq!((s.created, s.updated), (1, 1));
    let page =
        store.contacts(&ContactFilter { account_id: Some(acme.id), limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(page.data[0].email, "ann@acme.com");
    assert_eq!(page.data[0].title.as_deref(), Some("CTO"));
    let page2 = store
        .contacts(&ContactFilter {
            account_id: Some(acme.id),
            limit: 1,
            cursor: page.next_cursor,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page2.data[0].email, "bob@acme.com");
    assert!(page2.next_cursor.is_none());

    let orphan =
        ContactInput { account_external_id: Some("nope".into()), email: Some("x@y.com".into()), ..Default::default() };
    let err = store.import_contacts(&cli(), &[orphan.validate().unwrap()], false, |_| {}).await.unwrap_err();
    assert!(err.to_string().contains("no account has the external id"), "{err}");
    store.delete_contact(&cli(), ann.id).await.unwrap();
    assert!(store.contact(ann.id).await.unwrap().is_none());
}

async fn users_sessions_tokens_and_keys(store: Store) {
    let id = user(&store, "Ann@Team.io", Role::Manager).await;
    let (u, hash) = store.user_for_login("ann@team.io").await.unwrap().unwrap();
    assert_eq!((u.id, u.role, hash.as_str()), (id, Role::Manager, "x"));
    assert!(matches!(
        store
            .create_user(&cli(), &NewUser { email: "ann@team.io", name: "A", role: Role::Csm, password_hash: "x" })
            .await,
        Err(StoreError::Conflict { .. })
    ));
    store.create_session("h1", id, "csrf", Some("test"), 3600).await.unwrap();
    let s = store.session("h1").await.unwrap().unwrap();
    assert_eq!((s.user.id, s.csrf_token.as_str()), (id, "csrf"));
    assert_eq!(store.user_sessions(id).await.unwrap().len(), 1);
    store.update_user(&cli(), id, None, Some(Role::Viewer), Some(true)).await.unwrap();
    assert!(store.session("h1").await.unwrap().is_none(), "disabling ends sessions");
    let (u, _) = store.update_user(&cli(), id, Some("Ann B"), None, Some(false)).await.unwrap();
    assert_eq!((u.name.as_str(), u.role, u.disabled), ("Ann B", Role::Viewer, false));

    let t = store.create_api_token(&cli(), "ci", Role::Manager, "th", "kw_ab").await.unwrap();
    assert_eq!(store.api_token_by_hash("th").await.unwrap().unwrap().id, t.id);
    store.revoke_api_token(&cli(), t.id).await.unwrap();
    assert!(store.api_token_by_hash("th").await.unwrap().is_none());
    let k = store.create_write_key(&cli(), "web", "kh", "wk_ab").await.unwrap();
    assert_eq!(store.write_key_by_hash("kh").await.unwrap().unwrap().id, k.id);
    assert_eq!(store.write_keys().await.unwrap().len(), 1);
    store.revoke_write_key(&cli(), k.id).await.unwrap();
    assert!(store.write_key_by_hash("kh").await.unwrap().is_none());
}

/// A token acts with the lower of its role and its member's current one; a disabled or deleted
/// member's tokens stop; an operator's token (the CLI's) keeps its role; the last admin stays.
async fn tokens_follow_their_members_rights(store: Store) {
    let boss = user(&store, "boss@team.io", Role::Admin).await;
    let ann = user(&store, "ann@team.io", Role::Admin).await;
    let as_ann = Actor { user_id: Some(ann), label: "ann@team.io".into() };
    let t = store.create_api_token(&as_ann, "sync", Role::Admin, "ann-token", "kw_an").await.unwrap();
    assert_eq!((t.effective_role, t.member.as_deref()), (Some(Role::Admin), Some("ann@team.io")));
    let effective = |hash: &'static str| {
        let store = store.clone();
        async move { store.api_token_by_hash(hash).await.unwrap().and_then(|t| t.effective_role) }
    };
    store.update_user(&cli(), ann, None, Some(Role::Viewer), None).await.unwrap();
    assert_eq!(effective("ann-token").await, Some(Role::Viewer), "demoted with its member");
    let (_, stopped) = store.update_user(&cli(), ann, None, None, Some(true)).await.unwrap();
    assert_eq!(stopped.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["sync"]);
    assert_eq!(effective("ann-token").await, None, "a disabled member's token stops at once");
    let listed = store.api_tokens().await.unwrap();
    assert_eq!((listed[0].name.as_str(), listed[0].effective_role), ("sync", None));
    store.update_user(&cli(), ann, None, Some(Role::Manager), Some(false)).await.unwrap();
    assert_eq!(effective("ann-token").await, Some(Role::Manager));
    let op = store.create_api_token(&cli(), "ops", Role::Admin, "op-token", "kw_op").await.unwrap();
    assert_eq!((op.effective_role, op.member.as_deref()), (Some(Role::Admin), None));
    keepwell_store::testing::execute(&store, &format!("DELETE FROM users WHERE id = {ann}")).await;
    assert_eq!(effective("ann-token").await, None, "a deleted member's token is not the operator's");
    assert_eq!(effective("op-token").await, Some(Role::Admin));
    // The last active admin can be neither demoted nor disabled.
    for (role, disabled) in [(Some(Role::Manager), None), (None, Some(true))] {
        let err = store.update_user(&cli(), boss, None, role, disabled).await.unwrap_err();
        assert!(matches!(&err, StoreError::Conflict { .. }), "{err}");
        assert!(err.to_string().contains("last active admin"), "{err}");
    }
    assert_eq!(store.user(boss).await.unwrap().unwrap().role, Role::Admin);
}

async fn audit_records_before_and_after(store: Store) {
    let a = store.create_account(&cli(), &account("Acme", "c-1").validate().unwrap()).await.unwrap();
    store.update_account(&cli(), a.id, &account("Acme 2", "c-1").validate().unwrap()).await.unwrap();
    let log = store
        .audit_log(&AuditFilter {
            entity: Some("account".into()),
            entity_id: Some(a.id.to_string()),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let e = &log.data[0];
    assert_eq!((e.action.as_str(), e.actor.as_str()), ("account.update", "test"));
    assert_eq!(e.before.as_ref().unwrap()["name"], "Acme");
    assert_eq!(e.after.as_ref().unwrap()["name"], "Acme 2");
    let older = store
        .audit_log(&AuditFilter {
            entity: Some("account".into()),
            limit: 10,
            cursor: log.next_cursor,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(older.data[0].action, "account.create");
}

async fn backup_restores_into_an_empty_database(store: Store) {
    user(&store, "ann@team.io", Role::Admin).await;
    let mut a = account("Acme", "c-1");
    a.owner_email = Some("ann@team.io".into());
    a.attributes = vec![("renews".into(), AttrValue::infer("2027-01-01"))];
    let acme = store.create_account(&cli(), &a.validate().unwrap()).await.unwrap();
    let events = seg(
        r#"{"batch":[{"type":"group","userId":"u1","groupId":"g1"},{"type":"track","userId":"u1","event":"Login","timestamp":"2026-11-21T09:00:00Z"}]}"#,
    );
    store.ingest(&events).await.unwrap();
    let g1 = store.account_id_by_external_id("segment", "g1").await.unwrap().unwrap();
    let usage = store.usage_days(g1, "2026-11-01", "2026-11-30").await.unwrap();
    let mut buf = Vec::new();
    let summary = store.backup(&mut buf).await.unwrap();
    assert!(summary.rows >= 4);

    for target in [Backend::Sqlite, Backend::Postgres] {
        let other = fresh_store(target).await;
        other.restore(&buf[..]).await.unwrap();
        assert_eq!(other.account(acme.id).await.unwrap().unwrap(), acme);
        assert_eq!(other.count_events(None).await.unwrap(), 2);
        let keys = |p: Vec<keepwell_store::playbooks::StoredPlaybook>| {
            p.into_iter().map(|p| (p.key, p.version)).collect::<Vec<_>>()
        };
        assert_eq!(
            keys(other.playbooks().await.unwrap()),
            keys(store.playbooks().await.unwrap()),
            "the built-ins once"
        );
        assert_eq!(other.usage_days(g1, "2026-11-01", "2026-11-30").await.unwrap(), usage);
        assert_eq!(other.ingest(&events).await.unwrap().duplicates, 2, "message ids are restored too");
        let again = other.usage_days(g1, "2026-11-01", "2026-11-30").await.unwrap();
        assert_eq!(again, usage, "restored rollups are not counted twice");
        // Ids keep counting after the restored ones.
        let next = other.create_account(&cli(), &account("Next", "c-2").validate().unwrap()).await.unwrap();
        assert!(next.id > g1);
        let again = other.restore(&buf[..]).await.unwrap_err();
        assert!(again.to_string().contains("empty"), "{again}");
    }
}

/// A second process (here a second handle: its own connection, its own open lock file) does not
/// lead while the first does: it hears who holds the pass, or waits and then leads.
async fn one_process_at_a_time_leads_the_daily_pass(store: Store) {
    use keepwell_store::health::Lead;
    use std::time::Duration;
    let Lead::Leader(first) = store.lead_pass(Duration::ZERO).await.unwrap() else { panic!("nobody leads yet") };
    let other = store.clone();
    match other.lead_pass(Duration::from_millis(300)).await.unwrap() {
        Lead::HeldBy(who) => assert!(who.contains("another keepwell") && who.contains("daily pass"), "{who}"),
        Lead::Leader(_) => panic!("two leaders at once"),
    }
    let waiting = tokio::spawn(async move { other.lead_pass(Duration::from_secs(20)).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(!waiting.is_finished(), "it waits while the first leads");
    first.release().await.unwrap();
    let Lead::Leader(second) = waiting.await.unwrap().unwrap() else { panic!("it leads once the first is done") };
    second.release().await.unwrap();
}

async fn migrate_twice_changes_nothing(store: Store) {
    assert!(store.migrate().await.unwrap().is_empty());
    store.ping().await.unwrap();
}

fn period(
    sub: &str,
    amount: &str,
    interval: &str,
    starts: &str,
    ends: &str,
) -> (String, keepwell_core::billing::Period) {
    keepwell_core::billing::PeriodInput {
        account_external_id: Some("c-1".into()),
        subscription_id: Some(sub.into()),
        plan: Some("pro".into()),
        quantity: Some("5".into()),
        currency: Some("USD".into()),
        amount: Some(amount.into()),
        interval: Some(interval.into()),
        starts_on: Some(starts.into()),
        ends_on: Some(ends.into()).filter(|e: &String| !e.is_empty()),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

async fn billing_imports_refuse_overlaps_and_renewals_follow_periods(store: Store) {
    use keepwell_core::renewal::Outcome;
    use keepwell_store::billing::{RenewalFilter, RevenueFilter};
    let acme = store.create_account(&cli(), &account("Acme", "c-1").validate().unwrap()).await.unwrap();
    let rows = vec![
        period("sub_1", "1200", "year", "2025-01-15", "2026-01-15"),
        period("sub_1", "1800", "year", "2026-01-15", "2027-01-15"),
    ];
    let s = store.import_periods(&cli(), &rows, false, |_| {}).await.unwrap();
    assert_eq!((s.created, s.updated), (2, 0));
    // The same file again changes nothing but counts updates.
    let s = store.import_periods(&cli(), &rows, false, |_| {}).await.unwrap();
    assert_eq!((s.created, s.updated), (0, 2));

    // An overlapping period is refused and nothing of its file lands.
    let bad = vec![period("sub_2", "10", "month", "2026-01-01", ""), period("sub_1", "1", "month", "2026-06-01", "")];
    let err = store.import_periods(&cli(), &bad, false, |_| {}).await.unwrap_err();
    assert_eq!(err.index, 1);
    assert!(err.error.to_string().contains("overlaps"), "{}", err.error);
    assert_eq!(store.account_periods(acme.id).await.unwrap().len(), 2);

    // An unknown account is named.
    let mut stray = period("sub_9", "10", "month", "2026-01-01", "");
    stray.0 = "nope".into();
    let err = store.import_periods(&cli(), &[stray], false, |_| {}).await.unwrap_err();
    assert!(err.error.to_string().contains("\"nope\""));

    // Renewals: the first period's end is followed by the next period: an upsell; the second
    // ends with nothing after it: churned.
    let all = store.renewals(&RenewalFilter { limit: 10, ..Default::default() }).await.unwrap();
    let outcomes: Vec<_> = all.iter().map(|r| (r.due_on.to_string(), r.outcome, r.arr.to_string())).collect();
    assert_eq!(
        outcomes,
        [
            ("2026-01-15".into(), Some(Outcome::RenewedWithUpsell), "1200".into()),
            ("2027-01-15".into(), Some(Outcome::Churned), "1800".into())
        ]
    );
    // A person's record stands over what billing implies, even after a re-import.
    let last = &all[1];
    store.record_renewal(&cli(), last.id, Outcome::Renewed, "1800".parse().unwrap(), None).await.unwrap();
    store.import_periods(&cli(), &rows, false, |_| {}).await.unwrap();
    let again = store.renewal(last.id).await.unwrap().unwrap();
    assert_eq!((again.outcome, again.outcome_source.as_deref()), (Some(Outcome::Renewed), Some("person")));

    let (mut periods, _) = store.revenue_inputs(&RevenueFilter::default(), "2026-12".parse().unwrap()).await.unwrap();
    periods.sort_by_key(|p| p.starts_on);
    assert_eq!(periods.len(), 2);
    assert_eq!(periods[1].mrr, "150".parse().unwrap());
    let (periods, _) = store
        .revenue_inputs(&RevenueFilter { plan: Some("basic".into()), ..Default::default() }, "2026-12".parse().unwrap())
        .await
        .unwrap();
    assert!(periods.is_empty());
}

fn invoice(id: &str, issued: &str, status: &str) -> (String, keepwell_core::billing::Invoice) {
    keepwell_core::billing::InvoiceInput {
        account_external_id: Some("c-1".into()),
        invoice_id: Some(id.into()),
        currency: Some("USD".into()),
        amount: Some("100".into()),
        issued_on: Some(issued.into()),
        due_on: Some(issued.into()),
        paid_on: (status == "paid").then(|| issued.into()),
        status: Some(status.into()),
    }
    .validate()
    .unwrap()
}

async fn revenue_reads_failed_payments_and_its_version_follows_every_change(store: Store) {
    use keepwell_store::billing::RevenueFilter;
    let mut version = store.revenue_version().await.unwrap();
    let mut moved = |now: i64, what: &str| {
        assert!(now > version, "{what} did not move the revenue version ({version} -> {now})");
        version = now;
    };
    let mut acme = account("Acme", "c-1");
    let created = store.create_account(&cli(), &acme.clone().validate().unwrap()).await.unwrap();
    let rows = [period("sub_1", "100", "month", "2026-01-01", "2026-06-01")];
    store.import_periods(&cli(), &rows, false, |_| {}).await.unwrap();
    moved(store.revenue_version().await.unwrap(), "a period import");

    // A failed invoice is cleared by the next one that did not fail; the last failure stands.
    let invoices = [
        invoice("in_1", "2026-01-01", "paid"),
        invoice("in_2", "2026-02-01", "failed"),
        invoice("in_3", "2026-02-15", "failed"),
        invoice("in_4", "2026-03-01", "paid"),
        invoice("in_5", "2026-04-01", "failed"),
    ];
    store.import_invoices(&cli(), &invoices, false, |_| {}).await.unwrap();
    moved(store.revenue_version().await.unwrap(), "an invoice import");
    let (_, mut failed) = store.revenue_inputs(&RevenueFilter::default(), "2026-12".parse().unwrap()).await.unwrap();
    failed.sort_by_key(|f| f.failed_on);
    let seen: Vec<_> = failed.iter().map(|f| (f.failed_on.to_string(), f.cleared_on.map(|d| d.to_string()))).collect();
    assert_eq!(
        seen,
        [
            ("2026-02-01".into(), Some("2026-03-01".into())),
            ("2026-02-15".into(), Some("2026-03-01".into())),
            ("2026-04-01".into(), None),
        ]
    );
    // Through February, only the failures issued before its snapshot (1 March).
    let (_, failed) = store.revenue_inputs(&RevenueFilter::default(), "2026-02".parse().unwrap()).await.unwrap();
    assert_eq!(failed.len(), 2);
    // Another country's filter sees none of Acme's.
    let filter = RevenueFilter { country: Some("FR".into()), ..Default::default() };
    let (periods, failed) = store.revenue_inputs(&filter, "2026-12".parse().unwrap()).await.unwrap();
    assert!(periods.is_empty() && failed.is_empty());

    let rate = keepwell_core::billing::FxRateInput {
        currency: Some("EUR".into()),
        month: Some("2026-01".into()),
        rate: Some("1.1".into()),
    };
    store.save_fx_rates(&cli(), &[rate.validate().unwrap()], false).await.unwrap();
    moved(store.revenue_version().await.unwrap(), "an FX rate");
    acme.country = Some("FR".into());
    store.update_account(&cli(), created.id, &acme.clone().validate().unwrap()).await.unwrap();
    moved(store.revenue_version().await.unwrap(), "an account's country");
    let (periods, _) = store.revenue_inputs(&filter, "2026-12".parse().unwrap()).await.unwrap();
    assert_eq!(periods.len(), 1);
    let due = store.renewals(&Default::default()).await.unwrap();
    let r = &due[0];
    store.record_renewal(&cli(), r.id, keepwell_core::renewal::Outcome::Renewed, r.arr, None).await.unwrap();
    moved(store.revenue_version().await.unwrap(), "a renewal outcome");
    store.delete_account(&cli(), created.id).await.unwrap();
    moved(store.revenue_version().await.unwrap(), "deleting an account");
    let (periods, failed) = store.revenue_inputs(&RevenueFilter::default(), "2026-12".parse().unwrap()).await.unwrap();
    assert!(periods.is_empty() && failed.is_empty());
}

fn seg(body: &str) -> Vec<keepwell_core::ingest::Event> {
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().to_utc();
    let mut n = 0;
    keepwell_core::ingest::parse(None, body.as_bytes(), at, || {
        n += 1;
        format!("gen-{n}")
    })
    .unwrap()
    .events
}

async fn ingestion_attributes_deduplicates_and_rolls_up(store: Store) {
    let first = seg(r#"{"batch":[
        {"type":"track","anonymousId":"a1","event":"Report Built","messageId":"m0","timestamp":"2026-11-20T09:00:00Z"},
        {"type":"group","userId":"u1","groupId":"g1","traits":{"name":"Acme Corp","employees":"120"},"messageId":"m1"},
        {"type":"identify","userId":"u1","traits":{"email":"Ann@Acme.io","name":"Ann"},"messageId":"m2"},
        {"type":"track","userId":"u1","event":"Report Built","messageId":"m3","timestamp":"2026-11-21T09:00:00Z"},
        {"type":"track","userId":"u1","event":"Report Built","messageId":"m4","timestamp":"2026-11-21T10:00:00Z"},
        {"type":"track","userId":"u2","event":"Report Built","messageId":"m5","timestamp":"2026-11-21T11:00:00Z","context":{"groupId":"g1"}},
        {"type":"page","userId":"u1","name":"Settings","messageId":"m6","timestamp":"2026-11-22T11:00:00Z"}
    ]}"#);
    let s = store.ingest(&first).await.unwrap();
    assert_eq!((s.stored, s.duplicates), (7, 0));
    let acme = store.account_id_by_external_id("segment", "g1").await.unwrap().expect("the group made an account");
    let got = store.account(acme).await.unwrap().unwrap();
    assert_eq!((got.name.as_str(), got.employees), ("Acme Corp", Some(120)));
    let contacts =
        store.contacts(&keepwell_store::contacts::ContactFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(contacts.data.iter().map(|c| c.email.as_str()).collect::<Vec<_>>(), ["ann@acme.io"]);
    let days = |rows: Vec<keepwell_store::usage::UsageDay>| {
        rows.into_iter().map(|d| format!("{} {} {}/{}", d.date, d.event, d.count, d.users)).collect::<Vec<_>>()
    };
    assert_eq!(
        days(store.usage_days(acme, "2026-11-01", "2026-11-30").await.unwrap()),
        ["2026-11-21 Report Built 3/2", "2026-11-22 page:Settings 1/1"],
        "the anonymous event is not Acme's yet"
    );

    // The same messageIds again change nothing; the anonymous id is linked, then grouped.
    let s = store.ingest(&first).await.unwrap();
    assert_eq!((s.stored, s.duplicates), (0, 7));
    let link = seg(r#"{"batch":[
        {"type":"identify","userId":"u3","anonymousId":"a1","messageId":"m7"},
        {"type":"group","userId":"u3","groupId":"g1","messageId":"m8"},
        {"type":"track","userId":"u3","event":"Report Built","messageId":"m9","timestamp":"2026-11-21T12:00:00Z"},
        {"type":"track","userId":"u3","event":"Report Built","messageId":"m9","timestamp":"2026-11-21T12:00:00Z"}
    ]}"#);
    let s = store.ingest(&link).await.unwrap();
    assert_eq!((s.stored, s.duplicates), (3, 1));
    assert_eq!(
        days(store.usage_days(acme, "2026-11-01", "2026-11-30").await.unwrap()),
        ["2026-11-20 Report Built 1/1", "2026-11-21 Report Built 4/3", "2026-11-22 page:Settings 1/1"]
    );
    assert_eq!(store.count_events(Some(acme)).await.unwrap(), 10);
    store.delete_account(&cli(), acme).await.unwrap();
    assert_eq!(store.count_events(None).await.unwrap(), 0, "an account's events go with it");
}

/// Two writers (two nodes, or the server and an import) over one database: each one's unindexed
/// events, links it keeps in memory, and the bulk index must never let a duplicate in, miss an
/// account change made elsewhere, or lose an event from an account's list.
async fn event_writers_share_dedup_links_and_the_bulk_index(store: Store) {
    use keepwell_store::usage::{EventFilter, EventWriter};
    let track = |ids: std::ops::Range<usize>, group: &str| {
        let calls: Vec<String> = ids
            .map(|i| {
                format!(
                    r#"{{"type":"track","userId":"u{i}","event":"Run","messageId":"t{i}","context":{{"groupId":"{group}"}},"timestamp":"2026-11-21T09:00:00Z"}}"#
                )
            })
            .collect();
        seg(&format!(r#"{{"batch":[{}]}}"#, calls.join(",")))
    };
    let mut one = EventWriter::new(store.clone()).index_every(5);
    let mut two = EventWriter::new(store.clone()).index_every(1000);
    let s =
        one.write(&seg(r#"{"batch":[{"type":"group","userId":"u0","groupId":"g1","messageId":"g"}]}"#)).await.unwrap();
    assert_eq!(s.stored, 1);
    let acme = store.account_id_by_external_id("segment", "g1").await.unwrap().unwrap();
    // `two` learns that g2 belongs to no account yet.
    assert_eq!(two.write(&track(0..2, "g2")).await.unwrap().stored, 2);
    assert_eq!(two.write(&track(0..2, "g2")).await.unwrap().duplicates, 2, "its own unindexed events");
    assert_eq!(one.write(&track(0..3, "g1")).await.unwrap().duplicates, 2, "the other writer's, indexed first");
    // An account gets g2 elsewhere; the writer that knew g2 as nobody's must see it.
    let other = store.create_account(&cli(), &account("Globex", "crm-g").validate().unwrap()).await.unwrap();
    let mut input = account("Globex", "crm-g");
    input.external_ids.push(("segment".into(), "g2".into()));
    store.update_account(&cli(), other.id, &input.validate().unwrap()).await.unwrap();
    assert_eq!(two.write(&track(10..13, "g2")).await.unwrap().stored, 3);
    // And t1, which waited for g2 (its user in no account), reached Globex when it got g2.
    assert_eq!(store.count_events(Some(other.id)).await.unwrap(), 4);
    // `one` indexes every 5 events: Acme's list spans the index and the newer events after it.
    assert_eq!(one.write(&track(20..26, "g1")).await.unwrap().stored, 6);
    assert_eq!(one.write(&track(30..32, "g1")).await.unwrap().stored, 2);
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let f = EventFilter { account_id: Some(acme), cursor: cursor.clone(), limit: 3, ..Default::default() };
        let page = store.events(&f).await.unwrap();
        seen.extend(page.data.iter().map(|e| e.message_id.clone()));
        cursor = page.next_cursor;
        if cursor.is_none() {
            break;
        }
    }
    // Latest first by event time, then arrival: the group call happened on the 23rd (it came
    // without a time, so its arrival is its time), every track at the same moment of the 21st.
    let want: Vec<String> =
        ["g", "t31", "t30", "t25", "t24", "t23", "t22", "t21", "t20", "t2", "t0"].map(String::from).to_vec();
    // t0 named g2, then nobody's, so it went to its user's account.
    assert_eq!(seen, want, "newest first, each once");
    let page =
        store.events(&EventFilter { user_id: Some("u12".into()), limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(page.data.iter().map(|e| e.account_id).collect::<Vec<_>>(), [Some(other.id)]);
    // Every event's list, across the bulk index and the newer events: newest first, each once.
    let all = |store: Store| async move {
        let (mut seen, mut cursor) = (Vec::new(), None);
        loop {
            let page =
                store.events(&EventFilter { cursor: cursor.clone(), limit: 4, ..Default::default() }).await.unwrap();
            seen.extend(page.data.iter().map(|e| (e.timestamp, e.id)));
            cursor = page.next_cursor;
            if cursor.is_none() {
                return seen;
            }
        }
    };
    let seen = all(store.clone()).await;
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "strictly newest first: {seen:?}");
    assert_eq!(seen.len() as i64, store.count_events(None).await.unwrap());
    store.delete_account(&cli(), acme).await.unwrap();
    assert_eq!(store.count_events(None).await.unwrap(), 4, "Acme's indexed and newer events went with it");
    assert_eq!(all(store.clone()).await.len(), 4, "and left every event's list");
    assert_eq!(one.write(&track(40..41, "g3")).await.unwrap().stored, 1, "writers go on after a delete");
}

async fn message_ids_deduplicate_for_seven_days_then_are_forgotten(store: Store) {
    use keepwell_store::usage::EventWriter;
    let call =
        |id: &str| seg(&format!(r#"{{"batch":[{{"type":"track","userId":"u1","event":"Run","messageId":"{id}"}}]}}"#));
    fn day(n: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2026-11-23T12:00:00Z").unwrap().to_utc() + chrono::Duration::days(n)
    }
    // Indexed on day 0; another writer indexes on day 6, then on day 9 (which forgets day 0's ids).
    let on = |n: i64| EventWriter::new(store.clone().with_clock(keepwell_store::Clock::fixed(day(n)))).index_every(1);
    assert_eq!(on(0).write(&call("m1")).await.unwrap().stored, 1);
    let mut six = on(6);
    assert_eq!(six.write(&call("m1")).await.unwrap().duplicates, 1, "still known after 6 days");
    assert_eq!(six.write(&call("m2")).await.unwrap().stored, 1);
    assert_eq!(on(9).write(&call("m3")).await.unwrap().stored, 1);
    let mut later = on(9);
    assert_eq!(later.write(&call("m2")).await.unwrap().duplicates, 1, "indexed 3 days before");
    assert_eq!(later.write(&call("m1")).await.unwrap().stored, 1, "forgotten 9 days after");
}

fn day(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

/// Acme pays and uses the product; Bolt's subscription ended and nobody uses it. A rule moves
/// Bolt to `churned`, a segment of idle accounts gains it, both are scored; running the same
/// days again writes the same rows; sentiment and overrides count from their day.
async fn health_pass_scores_moves_stages_keeps_membership_and_reruns_alike(store: Store) {
    use keepwell_core::definitions::{Definitions, LifecycleRuleDef, SegmentDef};
    let mut input = account("Acme", "c-1");
    input.external_ids.push(("segment".into(), "g-acme".into()));
    let acme = store.create_account(&cli(), &input.validate().unwrap()).await.unwrap();
    let bolt = store.create_account(&cli(), &account("Bolt", "c-2").validate().unwrap()).await.unwrap();
    let mut bolt_period = period("sub_2", "500", "month", "2026-01-01", "2026-11-15");
    bolt_period.0 = "c-2".into();
    let rows = vec![period("sub_1", "1000", "month", "2026-01-01", ""), bolt_period];
    store.import_periods(&cli(), &rows, false, |_| {}).await.unwrap();
    let events = seg(r#"{"batch":[
        {"type":"group","userId":"u1","groupId":"g-acme","messageId":"g1"},
        {"type":"group","userId":"u2","groupId":"g-acme","messageId":"g2"},
        {"type":"track","userId":"u1","event":"Report Built","messageId":"m1","timestamp":"2026-11-20T09:00:00Z"},
        {"type":"track","userId":"u2","event":"Report Built","messageId":"m2","timestamp":"2026-11-21T09:00:00Z"},
        {"type":"track","userId":"u2","event":"Alert Set","messageId":"m3","timestamp":"2026-11-21T10:00:00Z"},
        {"type":"group","userId":"u3","groupId":"c-2","messageId":"g3"},
        {"type":"track","userId":"u3","event":"Report Built","messageId":"m4","timestamp":"2026-09-01T09:00:00Z"}
    ]}"#);
    store.ingest(&events).await.unwrap();
    let defs = Definitions {
        segments: vec![SegmentDef { key: "idle".into(), name: "Idle".into(), filter: "active_users(30) = 0".into() }],
        lifecycle_rules: vec![LifecycleRuleDef {
            key: "gone".into(),
            name: "No revenue".into(),
            stage: "churned".into(),
            condition: "mrr = 0 and tenure_days > 0".into(),
            priority: 1,
        }],
        scorecards: vec![],
        playbooks: vec![],
    };
    store.apply(&cli(), &defs, false).await.unwrap();
    let mut days_done = Vec::new();
    store.run_days("USD", day("2026-11-20"), day("2026-11-22"), |d, _| days_done.push(d)).await.unwrap();
    assert_eq!(days_done.len(), 3);
    let scored = acme.id;
    let snap = store.snapshot(scored, day("2026-11-22")).await.unwrap().expect("a snapshot");
    let default = store.scorecard("default").await.unwrap().unwrap();
    assert_eq!((snap.scorecard_id, snap.revision), (default.id, 1));
    // active_users(30) is the second measure of the default scorecard: two users.
    assert_eq!(snap.readings[1].value, Some(2.into()));
    let idle = store.segment("idle").await.unwrap().unwrap();
    let members = store.segment_members(idle.id, day("2026-11-22"), 0, 10).await.unwrap();
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    assert!(names.contains(&"Bolt") && !names.contains(&"Acme"), "{names:?}");
    assert_eq!(store.account(bolt.id).await.unwrap().unwrap().lifecycle_stage, LifecycleStage::Churned);
    let moves = store.stage_changes(bolt.id).await.unwrap();
    assert_eq!(moves.len(), 1);
    assert_eq!((moves[0].cause.as_str(), moves[0].day), ("rule:gone", day("2026-11-20")));

    // The same days again: nothing new.
    let before = store.snapshots(scored, day("2026-11-20"), day("2026-11-22")).await.unwrap();
    let history = store.segment_history(idle.id, day("2026-11-01"), day("2026-11-30"), 100).await.unwrap();
    store.run_days("USD", day("2026-11-20"), day("2026-11-22"), |_, _| {}).await.unwrap();
    assert_eq!(store.snapshots(scored, day("2026-11-20"), day("2026-11-22")).await.unwrap(), before);
    assert_eq!(store.segment_history(idle.id, day("2026-11-01"), day("2026-11-30"), 100).await.unwrap(), history);
    assert_eq!(store.stage_changes(bolt.id).await.unwrap().len(), 1);
    assert_eq!(store.last_pass().await.unwrap(), Some(day("2026-11-22")));

    // A sentiment counts from its day; an override sets the score in force, not the snapshot.
    store.add_sentiment(&cli(), scored, 5, "loves the reports", day("2026-11-22")).await.unwrap();
    let o = store
        .add_override(&cli(), scored, 15.into(), "champion left", day("2026-11-22"), day("2026-12-22"))
        .await
        .unwrap();
    assert!(o.active_on(day("2026-11-22")));
    let (_, live) = store.evaluate("USD", scored, day("2026-11-22")).await.unwrap().unwrap();
    assert_eq!(live.readings.last().unwrap().value, Some(5.into()), "sentiment is the last default measure");
    assert_eq!(live.effective, Some(15.into()));
    assert_ne!(live.score, live.effective);
    assert!(store.clear_override(&cli(), scored).await.unwrap());
    assert!(store.overrides(scored).await.unwrap()[0].cleared_at.is_some());
}

async fn definitions_apply_by_key_whole_or_not_at_all(store: Store) {
    use keepwell_core::definitions::Definitions;
    let file = r#"
[[segment]]
key = "big"
name = "Big"
filter = "employees >= 1000"

[[scorecard]]
key = "big"
name = "Big accounts"
segment = "big"
[[scorecard.measures]]
key = "util"
source = "license_utilization()"
weight = 1
scale = { kind = "linear", bad = 20, good = 80 }
"#;
    let defs = Definitions::from_toml(file).unwrap();
    let changes = store.apply(&cli(), &defs, false).await.unwrap();
    let actions: Vec<String> = changes.iter().map(|c| format!("{} {} {}", c.kind, c.key, c.action)).collect();
    assert_eq!(actions, ["segment big created", "scorecard big created"]);
    let again = store.apply(&cli(), &defs, false).await.unwrap();
    assert!(again.iter().all(|c| c.action == "unchanged"));
    let changed = Definitions::from_toml(&file.replace("weight = 1", "weight = 2")).unwrap();
    let c = store.apply(&cli(), &changed, false).await.unwrap();
    assert_eq!(c[1].action, "updated");
    let big = store.scorecard("big").await.unwrap().unwrap();
    assert_eq!(big.revision, 2);
    assert_eq!(store.scorecard_revision(big.id, 1).await.unwrap().unwrap().measures[0].weight, 1.into());
    // A bad file changes nothing, and every error is named.
    let bad =
        Definitions::from_toml(&file.replace("employees >= 1000", "employees >=").replace("weight = 1", "weight = 3"))
            .unwrap();
    let err = store.apply(&cli(), &bad, false).await.unwrap_err();
    assert!(err.to_string().contains("segment[0].filter") || matches!(err, StoreError::Invalid(_)), "{err}");
    assert_eq!(store.scorecard("big").await.unwrap().unwrap().revision, 2);
    // The segment a scorecard scores cannot be deleted; the default scorecard cannot either.
    assert!(matches!(store.delete_definition(&cli(), "segment", "big").await, Err(StoreError::Conflict { .. })));
    assert!(matches!(store.delete_definition(&cli(), "scorecard", "default").await, Err(StoreError::Conflict { .. })));
    // A deleted scorecard is retired (its snapshots keep their explanation) and comes back by key.
    store.delete_definition(&cli(), "scorecard", "big").await.unwrap();
    assert!(store.scorecard("big").await.unwrap().is_none());
    let back = store.apply(&cli(), &changed, false).await.unwrap();
    assert_eq!(back[1].action, "created");
    assert_eq!(store.scorecard("big").await.unwrap().unwrap().revision, 3);
    assert_eq!(store.scorecard_revision(big.id, 2).await.unwrap().unwrap().measures[0].weight, 2.into());
    store.delete_definition(&cli(), "scorecard", "big").await.unwrap();
    assert!(matches!(store.delete_definition(&cli(), "scorecard", "big").await, Err(StoreError::NotFound(_))));
    store.delete_definition(&cli(), "segment", "big").await.unwrap();
    let exported = store.definitions().await.unwrap();
    assert_eq!(exported.scorecards.len(), 1);
    assert!(Definitions::from_toml(&exported.to_toml()).unwrap() == exported);
}

/// A rule and a segment saved before the filter language had limits (10 000 `or` terms, 2 000
/// parentheses): the pass leaves them out, says so, and scores everyone else.
async fn a_stored_definition_past_a_limit_is_skipped_not_fatal(store: Store) {
    let acme = store.create_account(&cli(), &account("Acme", "c-1").validate().unwrap()).await.unwrap();
    let chain = vec!["mrr > 1"; 10_000].join(" or ");
    let deep = format!("{}mrr > 1{}", "(".repeat(2_000), ")".repeat(2_000));
    keepwell_store::testing::execute(
        &store,
        &format!(
            "INSERT INTO lifecycle_rules (key, name, stage, condition, priority, created_at, updated_at) \
             VALUES ('huge', 'Huge', 'churned', '{chain}', 1, 0, 0); \
             INSERT INTO segments (key, name, filter, created_at, updated_at) VALUES ('deep', 'Deep', '{deep}', 0, 0);"
        ),
    )
    .await;
    let plan = store.plan().await.unwrap();
    let skipped: Vec<(&str, &str)> = plan.skipped.iter().map(|s| (s.kind, s.key.as_str())).collect();
    assert_eq!(skipped, [("lifecycle_rule", "huge"), ("segment", "deep")]);
    assert!(plan.skipped[0].problem.contains("the limit is 4096"), "{}", plan.skipped[0].problem);
    assert!(plan.skipped[1].problem.contains("deeper than 64"), "{}", plan.skipped[1].problem);
    store.run_days("USD", day("2026-11-20"), day("2026-11-20"), |_, _| {}).await.unwrap();
    assert!(store.snapshot(acme.id, day("2026-11-20")).await.unwrap().is_some(), "everyone else is scored");
    let rules = store.lifecycle_rules().await.unwrap();
    assert!(rules[0].problem.as_deref().unwrap().starts_with("condition: column 4097"), "{:?}", rules[0].problem);
    assert!(store.segment("deep").await.unwrap().unwrap().problem.is_some());
    assert_eq!(store.account(acme.id).await.unwrap().unwrap().lifecycle_stage, LifecycleStage::Onboarding);
}

/// A CRM export's accounts (external_id = the CRM id) and a Segment history whose
/// `context.groupId` is that id, in either order, then a replay: usage measures have values.
/// `accounts_first` imports the accounts before the events.
async fn crm_and_segment_history(store: Store, accounts_first: bool) {
    use keepwell_store::usage::EventWriter;
    let crm = ["0015g00000AAA", "0015g00000BBB"];
    let accounts = |store: Store| async move {
        let rows: Vec<_> = [("Acme", crm[0]), ("Bolt", crm[1])]
            .iter()
            .map(|(name, id)| account(name, id).validate().unwrap())
            .collect();
        let summary = store.import_accounts(&cli(), &rows, false, |_| {}).await.unwrap();
        let mut periods = vec![period("s1", "500", "month", "2026-01-01", "")];
        periods[0].0 = crm[0].into();
        let mut bolt = period("s2", "300", "month", "2026-01-01", "");
        bolt.0 = crm[1].into();
        periods.push(bolt);
        store.import_periods(&cli(), &periods, false, |_| {}).await.unwrap();
        summary
    };
    // Segment's archive: tracks carrying context.groupId, no group call at all.
    let history: Vec<_> = (0..40)
        .map(|i| {
            let line = format!(
                r#"{{"type":"track","userId":"u{}","event":"Report Built","messageId":"h{i}","context":{{"groupId":"{}"}},"timestamp":"2026-11-{:02}T09:00:00Z"}}"#,
                i % 4,
                crm[i % 2],
                1 + i % 20
            );
            keepwell_core::ingest::parse_record(&line, chrono::Utc::now(), || unreachable!()).unwrap()
        })
        .collect();
    let import = |store: Store, events: Vec<keepwell_core::ingest::Event>| async move {
        let groups = std::iter::once(Ok(events));
        let s = EventWriter::new(store.clone()).import(groups, false, &mut |_| {}).await.unwrap();
        store.waiting_between(s.ids.0, s.ids.1).await.unwrap()
    };
    if accounts_first {
        accounts(store.clone()).await;
        let waiting = import(store.clone(), history).await;
        assert_eq!(waiting.events, 0, "every event found its account by the CRM id: {waiting:?}");
    } else {
        let waiting = import(store.clone(), history).await;
        assert_eq!(waiting.events, 40, "nothing to reach yet");
        assert_eq!(waiting.top[0].1, 20);
        let page = store.unmatched(10, None).await.unwrap();
        assert_eq!(page.data.len(), 2, "{:?}", page.data);
        assert!(page.data[0].reason.contains("no account has this id"), "{:?}", page.data[0]);
        assert_eq!((page.data[0].events, page.data[0].users), (20, 2));
        let summary = accounts(store.clone()).await;
        assert_eq!(summary.attributed, 40, "the accounts picked up what waited for them");
        assert!(store.unmatched(10, None).await.unwrap().data.is_empty());
    }
    let acme = store.account_id_by_external_id("crm", crm[0]).await.unwrap().unwrap();
    assert_eq!(store.count_events(Some(acme)).await.unwrap(), 20);
    store.run_days("USD", day("2026-11-20"), day("2026-11-21"), |_, _| {}).await.unwrap();
    let snap = store.snapshot(acme, day("2026-11-20")).await.unwrap().expect("a snapshot");
    // license_utilization (2 of 5 seats), active_users, days_since_activity all have values.
    assert_eq!(snap.readings[0].value, Some(40.into()), "{:?}", snap.readings);
    assert_eq!(snap.readings[1].value, Some(2.into()));
    let days_since = store
        .scorecard("default")
        .await
        .unwrap()
        .unwrap()
        .def
        .measures
        .iter()
        .position(|m| m.key == "days_since_activity")
        .unwrap();
    // Acme's last events were on the 19th: a day ago, then two; quiet, not missing.
    assert_eq!(snap.readings[days_since].value, Some(1.into()));
    let later = store.snapshot(acme, day("2026-11-21")).await.unwrap().unwrap();
    assert_eq!(later.readings[days_since].value, Some(2.into()));
}

async fn crm_accounts_then_segment_history_reach_each_other(store: Store) {
    crm_and_segment_history(store, true).await
}

async fn segment_history_then_crm_accounts_reach_each_other(store: Store) {
    crm_and_segment_history(store, false).await
}

/// A value two accounts hold (a CRM id of one, a Stripe id of another) is never guessed: its
/// events wait and say why, until a person links it to one of them.
async fn a_groupid_two_accounts_hold_waits_until_linked(store: Store) {
    let a = store.create_account(&cli(), &account("Acme", "x-1").validate().unwrap()).await.unwrap();
    let mut b = account("Bolt", "b-1");
    b.external_ids.push(("stripe".into(), "x-1".into()));
    let b = store.create_account(&cli(), &b.validate().unwrap()).await.unwrap();
    let events = seg(r#"{"batch":[
        {"type":"track","userId":"u1","event":"Ran","messageId":"m1","context":{"groupId":"x-1"},"timestamp":"2026-11-20T09:00:00Z"},
        {"type":"group","userId":"u2","groupId":"x-1","messageId":"g1"}
    ]}"#);
    store.ingest(&events).await.unwrap();
    assert_eq!(store.count_events(Some(a.id)).await.unwrap() + store.count_events(Some(b.id)).await.unwrap(), 0);
    assert_eq!(store.count_accounts(&Default::default()).await.unwrap(), 2, "no third account was made");
    let waiting = store.unmatched(10, None).await.unwrap().data;
    assert!(waiting[0].reason.contains("held by 2 accounts"), "{:?}", waiting);
    let linked = store.link_group(&cli(), "x-1", b.id).await.unwrap();
    assert_eq!((linked.events, linked.from), (1, Some(day("2026-11-20"))), "one usage event (and the group call)");
    assert_eq!(store.count_events(Some(b.id)).await.unwrap(), 2);
    let kinds: Vec<String> =
        store.account(b.id).await.unwrap().unwrap().external_ids.iter().map(|e| e.kind.clone()).collect();
    assert!(kinds.contains(&"segment".to_owned()), "{kinds:?}");
    // Now that Bolt holds it as its groupId, new events go there, and so do those of the user its
    // group call named.
    store
        .ingest(&seg(
            r#"{"batch":[{"type":"track","userId":"u3","event":"Ran","messageId":"m2","context":{"groupId":"x-1"}},
        {"type":"track","userId":"u2","event":"Ran","messageId":"m3"}]}"#,
        ))
        .await
        .unwrap();
    assert_eq!(store.count_events(Some(b.id)).await.unwrap(), 4);
    assert!(matches!(store.link_group(&cli(), "x-1", a.id).await, Err(StoreError::Conflict { .. })));
}

/// A group call for an unknown groupId made an account; the CRM export naming that id later
/// updates it (and adds its CRM id) instead of making a second.
async fn an_account_a_group_call_made_is_adopted_by_the_crm_import(store: Store) {
    store
        .ingest(&seg(r#"{"batch":[{"type":"group","userId":"u1","groupId":"0015ADOPT","messageId":"g1","traits":{"name":"acme inc"}}]}"#))
        .await
        .unwrap();
    let made = store.account_id_by_external_id("segment", "0015ADOPT").await.unwrap().unwrap();
    let rows = vec![account("Acme GmbH", "0015ADOPT").validate().unwrap()];
    let s = store.import_accounts(&cli(), &rows, false, |_| {}).await.unwrap();
    assert_eq!((s.created, s.updated), (0, 1));
    assert_eq!(store.count_accounts(&Default::default()).await.unwrap(), 1);
    let a = store.account(made).await.unwrap().unwrap();
    assert_eq!(a.name, "Acme GmbH");
    let mut ids: Vec<(String, String)> = a.external_ids.iter().map(|e| (e.kind.clone(), e.value.clone())).collect();
    ids.sort();
    assert_eq!(ids, [("crm".into(), "0015ADOPT".into()), ("segment".into(), "0015ADOPT".into())]);
    // Adopted once: the same through the API is now an update of a known account, not a second.
    let again = store.create_account(&cli(), &account("Acme GmbH", "0015ADOPT").validate().unwrap()).await;
    assert!(matches!(again, Err(StoreError::Conflict { .. })), "{again:?}");
}

/// A database of schema 6 (issue 4's release) with usage rollups: migration 7 derives each user's
/// and usage name's active days and last day from them, across a 62-day block boundary.
async fn the_health_migration_fills_usage_bits_from_older_rollups(backend: Backend) {
    use keepwell_core::daily::Needs;
    use keepwell_core::facts::{day_number, AccountDay, Context};
    use keepwell_core::measure::Source;
    use keepwell_store::testing::{execute, store_at_version};
    let store = store_at_version(backend, 6).await;
    // A 62-day block starts on 2026-11-13, so the 12th and the 20th fall
    // in different blocks.
    assert_eq!(day_number(day("2026-11-13")) % 62, 0);
    execute(
        &store,
        "INSERT INTO accounts (id, name, name_key, lifecycle_stage, tags, attributes, created_at, updated_at) \
         VALUES (1, 'Acme', 'acme', 'adoption', '[]', '{}', 0, 0); \
         INSERT INTO usage_user_days (account_id, day, event, user_key) VALUES \
         (1, '2026-09-01', 'Report Built', 'u1'), (1, '2026-11-20', 'Report Built', 'u2'), \
         (1, '2026-11-20', 'Export Run', 'u2'), (1, '2026-11-12', 'Report Built', 'u1'); \
         INSERT INTO usage_daily (account_id, day, event, count, users) VALUES \
         (1, '2026-09-01', 'Report Built', 1, 1), (1, '2026-11-12', 'Report Built', 1, 1), \
         (1, '2026-11-20', 'Report Built', 1, 1), (1, '2026-11-20', 'Export Run', 1, 1);",
    )
    .await;
    store.migrate().await.unwrap();
    let fx = Default::default();
    for (settled_day, lookback) in [("2026-11-22", 30), ("2026-11-15", 90)] {
        // The 22nd reads usage_last (nothing later); the 15th, with the 20th after it, the bits.
        let on = day(settled_day);
        let needs = Needs { usage: true, lookback_days: lookback, ..Needs::default() };
        let facts = store.pass_facts(keepwell_store::health::Scope::All, on, on, &needs).await.unwrap();
        let ctx = Context { day: on, reporting: "USD", fx: &fx, catalogue: &[], fed: keepwell_core::facts::Fed::all() };
        let a = AccountDay::new(&facts[0], ctx);
        let v = |s: Source| a.value(&s).map(|d| d.to_string());
        match settled_day {
            "2026-11-22" => {
                assert_eq!(v(Source::ActiveUsers { days: 30 }).as_deref(), Some("2"));
                assert_eq!(v(Source::DaysSinceActivity).as_deref(), Some("2"));
            }
            _ => {
                assert_eq!(v(Source::ActiveUsers { days: 7 }).as_deref(), Some("1"), "u1 on the 12th");
                assert_eq!(v(Source::ActiveUsers { days: 90 }).as_deref(), Some("1"), "u2 only from the 20th");
                assert_eq!(v(Source::DaysSinceActivity).as_deref(), Some("3"));
            }
        }
    }
}

/// A database that keepwell migrated before it recorded checksums (schema 11, issue 15's starting
/// commit, with an account in it) upgrades: the checksums of what it ran are recorded and its data
/// stays. A landed migration edited afterwards then stops the start, naming it.
async fn a_database_from_before_checksums_records_them_and_an_edit_stops_the_start(backend: Backend) {
    use keepwell_store::testing::{execute, scalar, store_before_checksums};
    let store = store_before_checksums(backend, 11).await;
    execute(
        &store,
        "INSERT INTO accounts (id, name, name_key, lifecycle_stage, tags, attributes, created_at, updated_at) \
         VALUES (1, 'Acme', 'acme', 'adoption', '[]', '{}', 0, 0)",
    )
    .await;
    store.migrate().await.unwrap();
    let unrecorded = scalar(&store, "SELECT COUNT(*) FROM keepwell_migrations WHERE checksum IS NULL").await;
    let recorded = scalar(&store, "SELECT COUNT(*) FROM keepwell_migrations WHERE checksum IS NOT NULL").await;
    assert_eq!(unrecorded, 0);
    assert!(recorded >= 11, "{recorded}");
    assert_eq!(store.count_accounts(&Default::default()).await.unwrap(), 1);
    assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new(), "a second start migrates nothing");
    execute(&store, "UPDATE keepwell_migrations SET checksum = 'edited' WHERE version = 7").await;
    let err = store.migrate().await.unwrap_err().to_string();
    assert!(err.contains("migration 0007 (health)") && err.contains("edited"), "{err}");
}

/// Today's pass writes a delivery per subscribed endpoint for each segment entered and each band in
/// force that changed (an override too), once however often the day is run; a replay of older days
/// writes none.
async fn a_live_pass_tells_subscribed_endpoints_of_each_change_once(store: Store) {
    use keepwell_core::definitions::{Definitions, SegmentDef};
    use keepwell_store::deliveries::{self, DeliveryFilter};
    let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z").unwrap().to_utc();
    let store = store.with_clock(keepwell_store::Clock::fixed(at));
    let acme = store.create_account(&cli(), &account("Acme", "c-1").validate().unwrap()).await.unwrap();
    // Paying from the 21st: it enters the segment that day.
    store.import_periods(&cli(), &[period("sub_1", "1000", "month", "2026-11-21", "")], false, |_| {}).await.unwrap();
    let paying = SegmentDef { key: "paying".into(), name: "Paying".into(), filter: "mrr > 0".into() };
    store.apply(&cli(), &Definitions { segments: vec![paying], ..Default::default() }, false).await.unwrap();
    // History before the endpoint, and older than yesterday: nobody is told.
    store.run_days("USD", day("2026-11-01"), day("2026-11-02"), |_, _| {}).await.unwrap();
    let mut w = store.write(&cli()).await.unwrap();
    let events = ["health.band_changed".to_owned(), "segment.entered".to_owned()];
    deliveries::create_endpoint(&mut w, ("https://hooks.example.com/k", "standard"), &events, "sealed").await.unwrap();
    w.commit().await.unwrap();
    store.run_days("USD", day("2026-11-10"), day("2026-11-10"), |_, _| {}).await.unwrap();
    let all = DeliveryFilter { limit: 100, ..Default::default() };
    assert!(store.deliveries(&all).await.unwrap().data.is_empty(), "a replay of older days tells no one");

    store.run_days("USD", day("2026-11-20"), day("2026-11-20"), |_, _| {}).await.unwrap();
    store
        .add_override(&cli(), acme.id, 10.into(), "champion left", day("2026-11-21"), day("2026-12-21"))
        .await
        .unwrap();
    for _ in 0..2 {
        store.run_days("USD", day("2026-11-21"), day("2026-11-21"), |_, _| {}).await.unwrap();
    }
    let sent = store.deliveries(&all).await.unwrap().data;
    let mut kinds: Vec<&str> = sent.iter().map(|d| d.event.as_str()).collect();
    kinds.sort();
    assert_eq!(kinds, ["health.band_changed", "segment.entered"], "{sent:?}");
    assert!(sent.iter().all(|d| d.account_id == Some(acme.id) && d.status == "queued"));
    let band = sent.iter().find(|d| d.event == "health.band_changed").unwrap();
    let stored = store.claim_due("n", (at.timestamp_micros(), 60_000_000), 10).await.unwrap();
    let body: serde_json::Value =
        serde_json::from_str(&stored.iter().find(|d| d.id == band.id).unwrap().payload).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["data"]["to"].as_str()),
        (Some("health.band_changed"), Some("red")),
        "{body}"
    );
    assert_eq!(body["data"]["day"], "2026-11-21");
}

/// A claimed delivery is its claimer's while it renews the lease; once the lease runs out another
/// node takes it over, and the first node's late answer changes nothing but the log. An endpoint
/// failing for a day (a quiet spell starting the count afresh) is disabled, its admin told by
/// e-mail in the same write, and it can be turned back on.
async fn deliveries_are_claimed_renewed_taken_over_and_disable_a_failing_endpoint(store: Store) {
    use keepwell_store::deliveries::{self, Attempt, Next};
    const S: i64 = 1_000_000;
    const H: i64 = 3_600 * S;
    let admin = user(&store, "ops@team.io", Role::Admin).await;
    let actor = Actor { user_id: Some(admin), label: "ops@team.io".into() };
    let mut w = store.write(&actor).await.unwrap();
    let events = ["account.created".to_owned()];
    let endpoint = deliveries::create_endpoint(&mut w, ("https://hooks.example.com/k", "standard"), &events, "sealed")
        .await
        .unwrap();
    deliveries::emit(&mut w, "account.created", None, &serde_json::json!({"n": 1})).await.unwrap();
    w.commit().await.unwrap();
    let t0 = store.clock().now().timestamp_micros() + S;

    let a = store.claim_due("a", (t0, 15 * S), 10).await.unwrap();
    assert_eq!(a.len(), 1);
    assert!(store.claim_due("b", (t0 + 10 * S, 15 * S), 10).await.unwrap().is_empty(), "a's lease runs");
    assert_eq!(store.renew_deliveries("a", &[a[0].id], t0 + 30 * S).await.unwrap(), 1);
    assert!(store.claim_due("b", (t0 + 20 * S, 15 * S), 10).await.unwrap().is_empty(), "renewed, it still runs");
    // a stops renewing (it died, or stalled): b takes the delivery over, with the same message id.
    let b = store.claim_due("b", (t0 + 31 * S, 15 * S), 10).await.unwrap();
    assert_eq!((b.len(), b[0].message_id.as_str(), b[0].attempts), (1, a[0].message_id.as_str(), 2));
    assert_eq!(store.renew_deliveries("a", &[a[0].id], t0 + 60 * S).await.unwrap(), 0, "a renews nothing of b's");
    let fail = |at: i64| Attempt { at, status_code: Some(500), error: Some("HTTP 500".into()), duration_ms: 3 };
    store.record_attempt(&a[0], &fail(t0 + 32 * S), Next::RetryAt(t0 + 40 * S)).await.unwrap();
    let d = store.delivery(a[0].id).await.unwrap().unwrap();
    assert_eq!((d.delivery.status.as_str(), d.attempts_log.len()), ("sending", 1), "a's late answer is only logged");
    let mut w = store.write(&actor).await.unwrap();
    let busy = deliveries::retry(&mut w, a[0].id).await.unwrap_err().to_string();
    assert!(busy.contains("being sent"), "{busy}");
    drop(w);
    store.record_attempt(&b[0], &fail(t0 + 33 * S), Next::RetryAt(t0 + 40 * S)).await.unwrap();
    let d = store.delivery(a[0].id).await.unwrap().unwrap();
    assert_eq!((d.delivery.status.as_str(), d.attempts_log.len()), ("retrying", 2));

    // Failing, then quiet for longer than the gap: the day of failing starts again.
    let mut at = t0 + 40 * S;
    let retry_at = |at: i64| Next::RetryAt(at + S);
    let claim = |at: i64| {
        let store = store.clone();
        async move { store.claim_due("b", (at, 15 * S), 10).await.unwrap().pop().unwrap() }
    };
    let due = claim(at).await;
    store.record_attempt(&due, &fail(at), retry_at(at)).await.unwrap();
    at += 7 * H;
    let due = claim(at).await;
    store.record_attempt(&due, &fail(at), retry_at(at)).await.unwrap();
    let since = store.webhook_endpoints().await.unwrap()[0].failing_since.unwrap().timestamp_micros();
    assert_eq!(since, at, "a failure after a quiet spell starts the count afresh");
    for _ in 0..5 {
        at += 5 * H;
        let due = claim(at).await;
        let disabled = store.record_attempt(&due, &fail(at), retry_at(at)).await.unwrap();
        assert_eq!(disabled, at - since >= 24 * H, "at +{}h", (at - since) / H);
    }
    let off = store.webhook_endpoints().await.unwrap().remove(0);
    assert!(off.disabled_at.is_some() && off.disabled_reason.unwrap().contains("HTTP 500"));
    let all = keepwell_store::deliveries::DeliveryFilter { limit: 10, ..Default::default() };
    let listed = store.deliveries(&all).await.unwrap().data;
    let told: Vec<_> = listed.iter().filter(|d| d.channel == "email").collect();
    assert_eq!(told.len(), 1, "{listed:?}");
    assert_eq!((told[0].recipient.as_str(), told[0].event.as_str()), ("ops@team.io", "webhook.disabled"));
    assert!(listed.iter().any(|d| d.channel == "webhook" && d.status == "dead"));

    let mut w = store.write(&actor).await.unwrap();
    let on = deliveries::enable_endpoint(&mut w, endpoint.id).await.unwrap();
    deliveries::emit(&mut w, "account.created", None, &serde_json::json!({"n": 2})).await.unwrap();
    w.commit().await.unwrap();
    assert!(on.disabled_at.is_none() && on.failing_since.is_none());
    let again = store.claim_due("b", (at + S, 15 * S), 10).await.unwrap();
    assert_eq!(again.len(), 2, "the new delivery and the e-mail are due: {again:?}");
}

/// The home page's accounts gone quiet: customers (a subscription in force today) whose last day
/// of usage (events of its users, or naming it by group) is before the quiet line, an owner's or
/// everyone's, the most recently quiet first; an account never seen, one still active and one no
/// longer a customer are not listed.
async fn quiet_accounts_are_customers_whose_users_went_quiet(store: Store) {
    let (me, other) = (user(&store, "me@x.io", Role::Csm).await, user(&store, "other@x.io", Role::Csm).await);
    let mut periods = Vec::new();
    for (name, crm, owner, ends) in [
        ("Quiet", "q-1", me, ""),
        ("Busy", "b-1", me, ""),
        ("Lapsed", "l-1", me, "2026-10-15"),
        ("Unseen", "u-1", me, ""),
        ("Theirs", "t-1", other, ""),
    ] {
        let mut a = account(name, crm);
        a.owner_id = Some(owner);
        store.create_account(&cli(), &a.validate().unwrap()).await.unwrap();
        let mut p = period(&format!("sub_{crm}"), "100", "month", "2026-01-01", ends);
        p.0 = crm.into();
        periods.push(p);
    }
    store.import_periods(&cli(), &periods, false, |_| {}).await.unwrap();
    let seen = [
        ("q-1", "2026-10-01"),
        ("q-1", "2026-09-01"),
        ("b-1", "2026-11-19"),
        ("l-1", "2026-10-01"),
        ("t-1", "2026-10-05"),
    ];
    let lines: Vec<String> = seen
        .iter()
        .enumerate()
        .map(|(i, (crm, on))| {
            format!(
                r#"{{"type":"track","userId":"{crm}-u{i}","event":"Ran","messageId":"q{i}","context":{{"groupId":"{crm}"}},"timestamp":"{on}T09:00:00Z"}}"#
            )
        })
        .collect();
    store.ingest(&seg(&format!(r#"{{"batch":[{}]}}"#, lines.join(",")))).await.unwrap();
    let line = day("2026-11-07");
    let names = |rows: Vec<keepwell_store::usage::QuietAccount>| {
        rows.iter().map(|a| format!("{} {}", a.name, a.last_active)).collect::<Vec<_>>()
    };
    let mine = store.quiet_accounts(Some(me), line, day("2026-11-20"), 200).await.unwrap();
    assert_eq!(names(mine), ["Quiet 2026-10-01"]);
    let all = store.quiet_accounts(None, line, day("2026-11-20"), 200).await.unwrap();
    assert_eq!(names(all), ["Theirs 2026-10-05", "Quiet 2026-10-01"]);
    assert_eq!(names(store.quiet_accounts(None, line, day("2026-11-20"), 1).await.unwrap()), ["Theirs 2026-10-05"]);
}
