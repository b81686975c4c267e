//! A running server per test, on port 0 over a fresh database, with one typed method per request.
#![allow(dead_code)]

use keepwell_core::Role;
use keepwell_server::secrets::{hash_password, new_secret};
use keepwell_server::{Application, Settings};
use keepwell_store::people::NewUser;
use keepwell_store::testing::fresh_store;
use keepwell_store::{Actor, Backend, Store};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PASSWORD: &str = "correct horse battery";

/// The webhook secret test servers verify Stripe events with.
pub const STRIPE_SECRET: &str = "whsec_keepwell_tests";

pub struct TestApp {
    pub base: String,
    pub store: Store,
    pub http: reqwest::Client,
    /// An admin's API token.
    pub admin: String,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        TestApp::spawn_with(backend, |_| {}).await
    }

    /// A server whose settings `change` adjusts first.
    pub async fn spawn_with(backend: Backend, change: impl FnOnce(&mut Settings)) -> TestApp {
        let store = fresh_store(backend).await;
        let mut settings =
            Settings { stripe_webhook_secret: Some(STRIPE_SECRET.into()), ..Settings::new("127.0.0.1:0") };
        change(&mut settings);
        let app = Application::build(store.clone(), settings).await.expect("build the app");
        let base = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until(std::future::pending()));
        let mut t = TestApp { base, store, http: reqwest::Client::new(), admin: String::new() };
        t.admin = t.member_token("admin@team.io", Role::Admin).await;
        t
    }

    /// Adds a member with [`PASSWORD`] and returns their id.
    pub async fn member(&self, email: &str, role: Role) -> i64 {
        if let Some(u) = self.store.user_by_email(email).await.unwrap() {
            return u.id;
        }
        let hash = hash_password(PASSWORD.into()).await.unwrap();
        keepwell_server::people::create_user(
            &self.store,
            &keepwell_server::cause::Caller::system("test"),
            &NewUser { email, name: email.split('@').next().unwrap(), role, password_hash: &hash },
        )
        .await
        .unwrap()
        .id
    }

    /// A token made by (and acting for) a member with `role`.
    pub async fn member_token(&self, email: &str, role: Role) -> String {
        let id = self.member(email, role).await;
        let (secret, hash, prefix) = new_secret("kw");
        let actor = Actor { user_id: Some(id), label: email.into() };
        keepwell_server::people::create_api_token(
            &self.store,
            &keepwell_server::cause::Caller { user_id: actor.user_id, role, actor: actor.clone() },
            "test",
            role,
            (&hash, &prefix),
        )
        .await
        .unwrap();
        secret
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Response {
        let mut req = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        req.send().await.expect("request")
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        json(self.call(Method::GET, path, token, None).await).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        json(self.call(Method::POST, path, token, Some(body)).await).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        json(self.call(Method::PUT, path, token, Some(body)).await).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        json(self.call(Method::PATCH, path, token, Some(body)).await).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> u16 {
        self.call(Method::DELETE, path, token, None).await.status().as_u16()
    }
}

pub async fn json(res: Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// The field names of a problem document's `errors`.
pub fn fields(problem: &Value) -> Vec<String> {
    let mut f: Vec<String> = problem["errors"]
        .as_array()
        .map(|a| a.iter().map(|e| e["field"].as_str().unwrap_or("").to_owned()).collect())
        .unwrap_or_default();
    f.sort();
    f
}

/// A browser-like client: keeps cookies, does not follow redirects.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The interpreter of the test venv (scripts/test installs it and names it), for the Python
/// programs the tests run as real clients and servers.
pub fn python() -> String {
    std::env::var("KEEPWELL_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

pub fn csrf_of(html: &str) -> String {
    let start = html.find("name=\"_csrf\" value=\"").expect("a CSRF field") + 20;
    html[start..].split('"').next().unwrap().to_owned()
}

pub async fn page(c: &reqwest::Client, app: &TestApp, path: &str) -> (u16, String) {
    let res = c.get(app.url(path)).send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

pub async fn post(c: &reqwest::Client, app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let res = c.post(app.url(path)).form(form).send().await.unwrap();
    let location = res.headers().get("location").map(|l| l.to_str().unwrap().to_owned()).unwrap_or_default();
    (res.status().as_u16(), location, res.text().await.unwrap())
}

/// Logs `email` in and returns the client and a CSRF token for its forms.
pub async fn logged_in(app: &TestApp, email: &str, role: Role) -> (reqwest::Client, String) {
    app.member(email, role).await;
    let c = browser();
    let (_, html) = page(&c, app, "/login").await;
    let (status, location, _) = post(
        &c,
        app,
        "/login",
        &[("_csrf", &csrf_of(&html)), ("email", email), ("password", PASSWORD), ("next", "/accounts")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/accounts"));
    let (_, html) = page(&c, app, "/accounts").await;
    (c, csrf_of(&html))
}

/// Runs each named story on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::TestApp::spawn(keepwell_store::Backend::Sqlite).await).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::TestApp::spawn(keepwell_store::Backend::Postgres).await).await } )* }
    };
}

/// A new write key for Segment's calls: its secret.
pub async fn write_key(app: &TestApp) -> String {
    let (secret, hash, prefix) = new_secret("wk");
    keepwell_server::people::create_write_key(
        &app.store,
        &keepwell_server::cause::Caller::system("test"),
        "web",
        (&hash, &prefix),
    )
    .await
    .unwrap();
    secret
}

/// Sends a Segment batch with a new write key; it must be taken (200).
pub async fn send_batch(app: &TestApp, batch: Vec<Value>) {
    let secret = write_key(app).await;
    let res = app
        .http
        .post(app.url("/v1/batch"))
        .basic_auth(&secret, Some(""))
        .json(&json!({"batch": batch}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

pub struct SmtpServer(Child);

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd on a free loopback port, saving every message into `maildir`.
pub async fn smtp_server(maildir: &std::path::Path) -> (SmtpServer, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = SmtpServer(
        Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .spawn()
            .expect("run python3 -m aiosmtpd (scripts/test installs it; KEEPWELL_TEST_PYTHON names the interpreter)"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start on port {port}");
}

/// Every message in the maildir, decoded by Python's own e-mail parser.
pub const READ: &str = r#"
import json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], create=False):
    from email import policy
    from email.parser import BytesParser
    msg = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    out.append({"to": msg["To"], "from": msg["From"], "subject": msg["Subject"], "message_id": msg["Message-ID"],
                "type": msg.get_content_type(), "text": text, "html": html, "reply_to": msg["Reply-To"],
                "list_unsubscribe": msg["List-Unsubscribe"], "list_unsubscribe_post": msg["List-Unsubscribe-Post"]})
print(json.dumps(out))
"#;

pub fn messages(maildir: &std::path::Path) -> Vec<Value> {
    let out = Command::new(python()).args(["-c", READ]).arg(maildir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The messages once `n` have arrived (waiting up to 15 s), after time for one more to show, were
/// one (wrongly) on its way.
pub async fn arrived(maildir: &std::path::Path, n: usize) -> Vec<Value> {
    for _ in 0..150 {
        if maildir.join("new").exists() && messages(maildir).len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    messages(maildir)
}

/// Records every POST (path, headers, body) as a JSON line; `/flaky` answers 500 three times,
/// then 200; `/down` always 500; anything else 200.
pub const RECEIVER: &str = r#"
import json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
log = open(sys.argv[1], "a", buffering=1)
seen = {}
lock = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        with lock:
            seen[self.path] = seen.get(self.path, 0) + 1
            n = seen[self.path]
            log.write(json.dumps({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}) + "\n")
        code = 500 if self.path == "/down" or (self.path == "/flaky" and n <= 3) else 200
        self.send_response(code)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Verifies each recorded request with the endpoint's secret; prints `[{path, id, type}]`, or
/// fails naming the request the library refused.
pub const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
secrets = json.loads(sys.argv[2])
out = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    payload = Webhook(secrets[r["path"]]).verify(r["body"], r["headers"])
    out.append({"path": r["path"], "id": r["headers"]["webhook-id"], "type": payload["type"], "data": payload["data"]})
print(json.dumps(out))
"#;

pub struct Receiver(pub Child);

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn receiver(log: &std::path::Path) -> (Receiver, u16) {
    let mut child = Command::new(python())
        .args(["-c", RECEIVER, log.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python3 (scripts/test installs the test venv; KEEPWELL_TEST_PYTHON names its interpreter)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port = line.trim().parse().unwrap_or_else(|_| panic!("the receiver did not start: {line:?}"));
    (Receiver(child), port)
}

/// The store as a `keepwell tick --as-of DAY` at 10:00 (today: at the latest now) sees it.
pub fn at(app: &TestApp, day: chrono::NaiveDate) -> Store {
    // 10:00 of the day, but on today never later than now: what a tick writes is then not dated
    // ahead of the clock the server's workers read (before 10:00 UTC, an e-mail queued "at 10:00"
    // waited, and a test of it failed every night).
    let ten = chrono::TimeZone::from_utc_datetime(&chrono::Utc, &day.and_hms_opt(10, 0, 0).unwrap());
    let now = app.store.clock().now();
    let t = if day == now.date_naive() { ten.min(now) } else { ten };
    app.store.clone().with_clock(keepwell_store::Clock::fixed(t))
}

/// A `keepwell tick --as-of DAY`: folds the events in, then catches the pass up to `day`.
pub async fn tick(app: &TestApp, day: chrono::NaiveDate) {
    let store = at(app, day);
    keepwell_store::usage::EventWriter::new(store.clone()).fold().await.unwrap();
    let passed = keepwell_server::daily::run(
        &store,
        "USD",
        keepwell_server::daily::PassDays::CatchUpTo(day),
        std::time::Duration::from_secs(30),
        |_, _| {},
    )
    .await
    .unwrap();
    assert!(matches!(passed, keepwell_server::daily::Passed::Ran { .. }), "{passed:?}");
}

/// Posts a Stripe event to `/webhooks/stripe`, signed now with the tests' secret unless
/// `signature` is given: the status and body.
pub async fn send_stripe(app: &TestApp, event: &Value, signature: Option<String>) -> (u16, Value) {
    let body = serde_json::to_string(event).unwrap();
    let now = chrono::Utc::now().timestamp();
    let sig = signature.unwrap_or_else(|| keepwell_core::stripe::sign(body.as_bytes(), STRIPE_SECRET, now));
    json(
        app.http
            .post(app.url("/webhooks/stripe"))
            .header("content-type", "application/json")
            .header("Stripe-Signature", sig)
            .body(body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A Stripe event of `kind` created at `created` (Unix seconds) about `object`.
pub fn stripe_event(id: &str, kind: &str, created: i64, object: Value) -> Value {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": created, "livemode": false,
           "pending_webhooks": 1, "type": kind, "data": {"object": object}})
}
