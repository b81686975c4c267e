//! The web UI over HTTP: login, CSRF, rate limit, forms, roles, language — on both backends.

mod common;

use common::{browser, csrf_of, logged_in, page, post, TestApp, PASSWORD};
use keepwell_core::Role;

on_both_backends!(
    login_needs_the_csrf_token_and_the_right_password,
    login_is_rate_limited,
    an_account_is_created_by_form_and_bad_fields_are_shown,
    pages_check_roles,
    language_follows_the_browser_then_the_member,
    an_admin_adds_a_webhook_and_a_manager_reads_the_deliveries,
    a_member_chooses_their_notifications,
    a_csm_logs_changes_and_deletes_their_own_interactions_by_form,
);

async fn login_needs_the_csrf_token_and_the_right_password(app: TestApp) {
    app.member("ann@team.io", Role::Csm).await;
    let c = browser();
    let res = c.get(app.url("/accounts")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/login?next=%2Faccounts");
    let (_, html) = page(&c, &app, "/login").await;
    let csrf = csrf_of(&html);
    let (status, _, _) = post(&c, &app, "/login", &[("email", "ann@team.io"), ("password", PASSWORD)]).await;
    assert_eq!(status, 403, "no CSRF token");
    let (status, _, body) =
        post(&c, &app, "/login", &[("_csrf", &csrf), ("email", "ann@team.io"), ("password", "wrong password!")]).await;
    assert_eq!(status, 401);
    assert!(body.contains("Wrong e-mail or password"));
    let (status, location, _) = post(
        &c,
        &app,
        "/login",
        &[("_csrf", &csrf), ("email", "ANN@team.io"), ("password", PASSWORD), ("next", "https://evil.example/")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/accounts"), "never redirects off-site");
    let (status, html) = page(&c, &app, "/accounts").await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let (status, location, _) = post(&c, &app, "/logout", &[("_csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/login?m=logged-out"));
    assert_eq!(c.get(app.url("/accounts")).send().await.unwrap().status(), 303);
}

async fn login_is_rate_limited(app: TestApp) {
    app.member("ann@team.io", Role::Csm).await;
    let c = browser();
    let (_, html) = page(&c, &app, "/login").await;
    let csrf = csrf_of(&html);
    for _ in 0..10 {
        let (status, _, _) =
            post(&c, &app, "/login", &[("_csrf", &csrf), ("email", "ann@team.io"), ("password", "guess guess guess")])
                .await;
        assert_eq!(status, 401);
    }
    let (status, _, body) =
        post(&c, &app, "/login", &[("_csrf", &csrf), ("email", "ann@team.io"), ("password", PASSWORD)]).await;
    assert_eq!(status, 429, "even the right password waits");
    assert!(body.contains("Too many failed attempts"));
}

async fn an_account_is_created_by_form_and_bad_fields_are_shown(app: TestApp) {
    let (c, csrf) = logged_in(&app, "ann@team.io", Role::Csm).await;
    let (status, _, body) = post(
        &c,
        &app,
        "/accounts/new",
        &[("_csrf", &csrf), ("name", ""), ("country", "Germany"), ("external_ids", "just text")],
    )
    .await;
    assert_eq!(status, 422);
    assert!(body.contains("id=\"error-external_ids\""), "{body}");
    let (status, _, body) =
        post(&c, &app, "/accounts/new", &[("_csrf", &csrf), ("name", ""), ("country", "Germany")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("id=\"error-name\"") && body.contains("id=\"error-country\""));
    assert!(body.contains("value=\"Germany\""), "what was typed is kept");
    let form = [
        ("_csrf", csrf.as_str()),
        ("name", "Acme"),
        ("domain", "acme.io"),
        ("country", "de"),
        ("lifecycle_stage", "value"),
        ("tags", "vip, beta"),
        ("external_ids", "crm: 42\nstripe: cus_9"),
        ("attributes", "seats = 25"),
    ];
    let (status, location, _) = post(&c, &app, "/accounts/new", &form).await;
    assert_eq!(status, 303);
    let (status, html) = page(&c, &app, &location).await;
    assert_eq!(status, 200);
    assert!(html.contains("Account Acme created."), "flash shown");
    assert!(html.contains("cus_9") && html.contains("seats") && html.contains("ann"));
    let (_, again) = page(&c, &app, &location).await;
    assert!(!again.contains("Account Acme created."), "flash shown once");
    let account = app.store.account_by_external_id("42").await.unwrap().unwrap();
    assert_eq!(account.owner.unwrap().email, "ann@team.io", "a CSM's new account is theirs");
}

async fn pages_check_roles(app: TestApp) {
    let (c, csrf) = logged_in(&app, "vic@team.io", Role::Viewer).await;
    assert_eq!(page(&c, &app, "/accounts").await.0, 200);
    for path in ["/accounts/new", "/team", "/settings/api", "/audit"] {
        let (status, body) = page(&c, &app, path).await;
        assert_eq!(status, 403, "{path}");
        assert!(body.contains("Your role does not allow this"));
    }
    let (status, _, _) = post(&c, &app, "/accounts/new", &[("_csrf", &csrf), ("name", "X")]).await;
    assert_eq!(status, 403);
    let (admin, csrf) = logged_in(&app, "root@team.io", Role::Admin).await;
    let (status, _, body) =
        post(&admin, &app, "/team", &[("_csrf", &csrf), ("email", "new@team.io"), ("name", "New"), ("role", "csm")])
            .await;
    assert_eq!(status, 200);
    assert!(body.contains("id=\"new-password\""), "the generated password is shown once");
    let (status, _, body) =
        post(&admin, &app, "/settings/tokens", &[("_csrf", &csrf), ("name", "ci"), ("role", "manager")]).await;
    assert_eq!(status, 200);
    let start = body.find("id=\"new-secret\">").unwrap() + 16;
    let token = &body[start..start + body[start..].find('<').unwrap()];
    let (status, _) = app.get("/api/v1/accounts", token).await;
    assert_eq!(status, 200, "the token shown works");
    let (status, audit) = page(&admin, &app, "/audit").await;
    assert_eq!(status, 200);
    assert!(audit.contains("Token created") && audit.contains("root@team.io"));
}

async fn language_follows_the_browser_then_the_member(app: TestApp) {
    let c = browser();
    let res = c.get(app.url("/login")).header("accept-language", "ru-RU,ru;q=0.9,en;q=0.5").send().await.unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("<html lang=\"ru\">") && html.contains("Войти"));
    let (c, csrf) = logged_in(&app, "ann@team.io", Role::Csm).await;
    let (status, location, _) =
        post(&c, &app, "/language", &[("_csrf", &csrf), ("lang", "ru"), ("next", "/contacts")]).await;
    assert_eq!((status, location.as_str()), (303, "/contacts"));
    let res = c.get(app.url("/accounts")).header("accept-language", "en").send().await.unwrap();
    let html = res.text().await.unwrap();
    assert!(html.contains("Аккаунты"), "the member's choice beats the browser");
    assert_eq!(app.store.user_by_email("ann@team.io").await.unwrap().unwrap().locale.as_deref(), Some("ru"));
}

/// Settings → Webhooks: an admin adds an endpoint (a bad URL and no event are named on the form),
/// sees its secret once, sends a test event, and a manager reads it under Deliveries; a CSM may not.
async fn an_admin_adds_a_webhook_and_a_manager_reads_the_deliveries(app: TestApp) {
    let (admin, csrf) = logged_in(&app, "boss@team.io", Role::Admin).await;
    let (status, html) = page(&admin, &app, "/settings/webhooks").await;
    assert_eq!(status, 200);
    assert!(html.contains("No endpoints yet"), "{html}");
    let (status, _, html) =
        post(&admin, &app, "/settings/webhooks", &[("_csrf", &csrf), ("url", "http://hooks.example.com/")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("must be https:") && html.contains("name at least one of"), "{html}");
    let form = [
        ("_csrf", csrf.as_str()),
        ("url", "https://hooks.example.com/keepwell"),
        ("event.account.created", "on"),
        ("event.health.band_changed", "on"),
    ];
    let (status, _, html) = post(&admin, &app, "/settings/webhooks", &form).await;
    assert_eq!(status, 200);
    let secret = html.split("id=\"new-secret\">").nth(1).and_then(|r| r.split('<').next()).unwrap_or_default();
    assert!(secret.starts_with("whsec_"), "{html}");
    let (_, again) = page(&admin, &app, "/settings/webhooks").await;
    assert!(again.contains("hooks.example.com") && !again.contains(secret), "shown once");
    let id = app.store.webhook_endpoints().await.unwrap()[0].id;
    // Rotating shows the new secret once, and says the old one still signs for a day.
    let (status, _, html) = post(&admin, &app, &format!("/settings/webhooks/{id}/rotate"), &[("_csrf", &csrf)]).await;
    assert_eq!(status, 200);
    let rotated = html.split("id=\"new-secret\">").nth(1).and_then(|r| r.split('<').next()).unwrap_or_default();
    assert!(rotated.starts_with("whsec_") && rotated != secret && html.contains("24 hours"), "{html}");
    let (status, location, _) = post(&admin, &app, &format!("/settings/webhooks/{id}/test"), &[("_csrf", &csrf)]).await;
    assert_eq!((status, location.as_str()), (303, "/settings/deliveries"));
    let (manager, _) = logged_in(&app, "lead@team.io", Role::Manager).await;
    let (status, html) = page(&manager, &app, "/settings/deliveries").await;
    assert_eq!(status, 200);
    assert!(html.contains("webhook.test") && html.contains("hooks.example.com"), "{html}");
    // A manager sees the endpoint's origin, not its path (often the receiver's credential).
    assert!(html.contains("https:&#x2f;&#x2f;hooks.example.com&#x2f;…") && !html.contains("keepwell</code>"), "{html}");
    // Each attempt is on the delivery's page: when, the answer, how long, the error.
    let delivery = app.store.deliveries(&Default::default()).await.unwrap().data[0].id;
    assert!(html.contains(&format!("href=\"/settings/deliveries/{delivery}\"")), "{html}");
    for _ in 0..150 {
        if app.store.delivery(delivery).await.unwrap().is_some_and(|d| !d.attempts_log.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let error = app.store.delivery(delivery).await.unwrap().unwrap().attempts_log[0].error.clone().unwrap();
    let (status, html) = page(&manager, &app, &format!("/settings/deliveries/{delivery}")).await;
    assert_eq!(status, 200);
    let table = html.split("id=\"attempts-table\"").nth(1).unwrap_or_else(|| panic!("no attempts table: {html}"));
    let escaped = minijinja::Environment::new().render_str("{{ e }}", minijinja::context! { e => error }).unwrap();
    assert!(
        table.contains("<td>1</td>") && table.contains(" ms</td>") && table.contains(&escaped),
        "{escaped}: {html}"
    );
    assert!(!html.contains("keepwell</code>"), "a manager sees the origin here too: {html}");
    assert_eq!(page(&manager, &app, "/settings/deliveries/99999").await.0, 404);
    let (status, _) = page(&manager, &app, "/settings/webhooks").await;
    assert_eq!(status, 403, "endpoints are the admins'");
    let (csm, _) = logged_in(&app, "csm@team.io", Role::Csm).await;
    assert_eq!(page(&csm, &app, "/settings/deliveries").await.0, 403);
}

/// The member's page sets what they are told by e-mail; an unknown time zone is named on the form.
async fn a_member_chooses_their_notifications(app: TestApp) {
    let (c, csrf) = logged_in(&app, "ann@team.io", Role::Csm).await;
    let (_, html) = page(&c, &app, "/me").await;
    assert!(html.contains("name=\"band_changed\" checked"), "band changes are on by default: {html}");
    let (status, _, html) =
        post(&c, &app, "/me/notifications", &[("_csrf", &csrf), ("time_zone", "Mars/Olympus")]).await;
    assert_eq!(status, 422);
    assert!(html.contains("is not a time zone"), "{html}");
    let form = [("_csrf", csrf.as_str()), ("weekly_digest", "on"), ("time_zone", "Europe/Berlin")];
    let (status, location, _) = post(&c, &app, "/me/notifications", &form).await;
    assert_eq!((status, location.as_str()), (303, "/me"));
    let id = app.store.user_by_email("ann@team.io").await.unwrap().unwrap().id;
    let saved = app.store.notification_settings(id).await.unwrap();
    assert_eq!((saved.band_changed, saved.weekly_digest, saved.time_zone.as_str()), (false, true, "Europe/Berlin"));
}

async fn a_csm_logs_changes_and_deletes_their_own_interactions_by_form(app: TestApp) {
    let (dee, csrf) = logged_in(&app, "dee@team.io", Role::Csm).await;
    let dee_id = app.member("dee@team.io", Role::Csm).await;
    let (eve, eve_csrf) = logged_in(&app, "eve@team.io", Role::Csm).await;
    let (_, acme) =
        app.post("/api/v1/accounts", &app.admin, serde_json::json!({"name": "Acme", "owner_id": dee_id})).await;
    let (_, sarah) = app
        .post("/api/v1/contacts", &app.admin, serde_json::json!({"account_id": acme["id"], "email": "sarah@acme.com"}))
        .await;
    let (acme, sarah, me) = (acme["id"].to_string(), sarah["id"].to_string(), dee_id.to_string());
    let form = [
        ("_csrf", csrf.as_str()),
        ("kind", "call"),
        ("occurred_at", "2026-11-30T14:30"),
        ("subject", "Kick-off"),
        ("body", "**Goals** agreed <script>x</script>"),
        ("contact_ids", sarah.as_str()),
        ("user_ids", me.as_str()),
    ];
    let (status, location, _) = post(&dee, &app, &format!("/accounts/{acme}/interactions"), &form).await;
    assert_eq!((status, location.as_str()), (303, format!("/accounts/{acme}#interactions").as_str()));
    let (_, list) = app.get(&format!("/api/v1/accounts/{acme}/interactions"), &app.admin).await;
    let logged = &list["data"][0];
    assert_eq!(
        (logged["occurred_at"].as_str(), logged["contacts"][0]["email"].as_str()),
        (Some("2026-11-30T14:30:00Z"), Some("sarah@acme.com"))
    );
    let id = logged["id"].as_i64().unwrap();
    let (_, html) = page(&dee, &app, &format!("/accounts/{acme}")).await;
    assert!(html.contains("<strong>Goals</strong>") && !html.contains("<script>x"), "Markdown, safely");
    assert!(html.contains(&format!("/interactions/{id}/edit")), "its author may change it");

    // Another CSM may neither open the form nor post it.
    let (status, _) = page(&eve, &app, &format!("/interactions/{id}/edit")).await;
    assert_eq!(status, 403);
    let (status, _, _) =
        post(&eve, &app, &format!("/interactions/{id}/edit"), &[("_csrf", &eve_csrf), ("subject", "mine now")]).await;
    assert_eq!(status, 403);

    // Its author changes it: the kind, the subject, and nobody from their side now.
    let (status, html) = page(&dee, &app, &format!("/interactions/{id}/edit")).await;
    assert!(status == 200 && html.contains("2026-11-30T14:30") && html.contains("Kick-off"), "{html}");
    let change =
        [("_csrf", csrf.as_str()), ("kind", "meeting"), ("subject", "Kick-off workshop"), ("user_ids", me.as_str())];
    let (status, location, _) = post(&dee, &app, &format!("/interactions/{id}/edit"), &change).await;
    assert_eq!((status, location.as_str()), (303, format!("/accounts/{acme}#interactions").as_str()));
    let (_, changed) = app.get(&format!("/api/v1/interactions/{id}"), &app.admin).await;
    assert_eq!((changed["kind"].as_str(), changed["subject"].as_str()), (Some("meeting"), Some("Kick-off workshop")));
    assert_eq!(
        (changed["occurred_at"].as_str(), changed["contacts"].clone()),
        (Some("2026-11-30T14:30:00Z"), serde_json::json!([]))
    );

    let (status, _, _) = post(&dee, &app, &format!("/interactions/{id}/delete"), &[("_csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let (_, list) = app.get(&format!("/api/v1/accounts/{acme}/interactions"), &app.admin).await;
    assert_eq!(list["data"], serde_json::json!([]));
}
