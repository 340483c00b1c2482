//! Several real `auth-emulator` processes on one PostgreSQL database (`--database-url`): one
//! instance, shared keys, users, clock, settings, inbox and job queue. These need a server:
//! `LATCHKEY_TEST_DATABASE_URL` (scripts/test starts one); without it they return at once with a
//! note, and the rest of the suite still runs on SQLite.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::process::Proc;
use crate::receiver::Receiver;

const SECRET: &str = "sk_test_sharedsharedshared";
const AUTH: &str = "Bearer sk_test_sharedsharedshared";

/// A fresh database for one test, or `None` (with a note) when no server is configured.
fn database() -> Option<String> {
    let url = latchkey_testkit::fresh_database_url();
    if url.is_none() {
        eprintln!("LATCHKEY_TEST_DATABASE_URL is not set: the multi-process tests are skipped");
    }
    url
}

struct Node {
    proc: Proc,
    url: String,
    ready: Value,
}

fn start(db: &str, extra: &[&str]) -> Node {
    let mut args = vec!["start", "--port", "0", "--json", "--database-url", db];
    args.extend_from_slice(extra);
    let mut proc = Proc::spawn(&args, &[("LATCHKEY_LOG", "error")]);
    let ready = proc.ready_json();
    Node {
        proc,
        url: ready["frontend_api_url"].as_str().unwrap().to_owned(),
        ready,
    }
}

/// Starts two processes at the same moment on one new database.
fn start_two(db: &str, extra: &[&str]) -> (Node, Node) {
    let (db_a, db_b) = (db.to_owned(), db.to_owned());
    let ea: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let eb = ea.clone();
    let a = std::thread::spawn(move || {
        start(&db_a, &ea.iter().map(String::as_str).collect::<Vec<_>>())
    });
    let b = std::thread::spawn(move || {
        start(&db_b, &eb.iter().map(String::as_str).collect::<Vec<_>>())
    });
    (a.join().unwrap(), b.join().unwrap())
}

/// Polls `f` until it holds: what one process committed reaches another's cache by a
/// notification, a few milliseconds later (bounded at 10 s).
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..1000 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} never happened");
}

async fn json_of(r: reqwest::RequestBuilder) -> (u16, Value) {
    let res = r.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_serve_one_instance() {
    let Some(db) = database() else { return };
    // Started together, they create exactly one instance: the same generated keys.
    let (a, b) = start_two(&db, &[]);
    assert_eq!(a.ready["secret_key"], b.ready["secret_key"]);
    assert_eq!(a.ready["webhook_secret"], b.ready["webhook_secret"]);
    assert_eq!(a.ready["database"], "postgresql");
    let secret = a.ready["secret_key"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();

    // Sign up through A, sign in through B.
    let (status, user) = json_of(
        http.post(format!("{}/v1/users", a.url))
            .bearer_auth(&secret)
            .json(&json!({"email_address": ["ann@example.com"], "password": "lk-Test-pass-4921"})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let res = http
        .post(format!("{}/v1/client/sign_ins?_is_native=true", b.url))
        .form(&[
            ("identifier", "ann@example.com"),
            ("password", "lk-Test-pass-4921"),
            ("strategy", "password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let client_token = res.headers()["authorization"].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["response"]["status"], "complete", "{body}");
    let sid = body["response"]["created_session_id"].as_str().unwrap();
    let (status, minted) = json_of(
        http.post(format!(
            "{}/v1/client/sessions/{sid}/tokens?_is_native=true",
            b.url
        ))
        .header("authorization", &client_token),
    )
    .await;
    assert_eq!(status, 200, "{minted}");
    let jwt = minted["jwt"].as_str().unwrap();

    // B's token verifies with A's JWKS.
    let (_, jwks) = json_of(http.get(format!("{}/.well-known/jwks.json", a.url))).await;
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks).unwrap();
    assert_eq!(set.keys.len(), 1, "one signing key for the instance");
    let key = jsonwebtoken::DecodingKey::from_jwk(&set.keys[0]).unwrap();
    let header = jsonwebtoken::decode_header(jwt).unwrap();
    assert_eq!(header.kid, set.keys[0].common.key_id);
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_issuer(&[b.url.as_str()]);
    let claims = jsonwebtoken::decode::<Value>(jwt, &key, &v)
        .expect("B's token verifies with A's key")
        .claims;
    assert_eq!(claims["sub"], user["id"]);

    // The clock moved on B moves A.
    let (_, before) = json_of(http.get(format!("{}/_emulator/v1/time", a.url))).await;
    let (status, _) = json_of(
        http.post(format!("{}/_emulator/v1/time/advance", b.url))
            .json(&json!({"seconds": 3600})),
    )
    .await;
    assert_eq!(status, 200);
    eventually("A's clock follows B's advance", async || {
        let (_, t) = json_of(http.get(format!("{}/_emulator/v1/time", a.url))).await;
        t["offset_ms"].as_i64().unwrap() >= before["offset_ms"].as_i64().unwrap() + 3_600_000
    })
    .await;

    // Settings changed through A apply on B.
    let (status, body) = json_of(
        http.patch(format!("{}/_emulator/v1/instance", a.url))
            .json(&json!({"settings": {"password_min_length": 12}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    eventually("B applies A's settings", async || {
        let (status, _) = json_of(
            http.post(format!("{}/v1/users", b.url))
                .bearer_auth(&secret)
                .json(&json!({"email_address": ["short@example.com"], "password": "short-pass"})),
        )
        .await;
        status == 422
    })
    .await;

    // A waiting `latest` on A, and A's inbox stream, are woken by a message B captures.
    let mut stream = http
        .get(format!(
            "{}/_emulator/v1/messages/stream?to=ann@example.com",
            a.url
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.chunk().await.unwrap().is_some(),
        "the stream's hello"
    );
    let waiting = {
        let (http, url) = (http.clone(), a.url.clone());
        tokio::spawn(async move {
            json_of(http.get(format!(
                "{url}/_emulator/v1/messages/latest?to=ann@example.com&wait_ms=20000"
            )))
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await; // let A start waiting
    let started = std::time::Instant::now();
    let (status, _) = json_of(
        http.post(format!("{}/v1/client/sign_ins?_is_native=true", b.url))
            .form(&[
                ("identifier", "ann@example.com"),
                ("strategy", "email_code"),
            ]),
    )
    .await;
    assert_eq!(status, 200);
    let (status, msg) = waiting.await.unwrap();
    assert_eq!(status, 200, "{msg}");
    assert_eq!(msg["to"], "ann@example.com");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "woken by the notification, not by the end of the wait"
    );
    let event = tokio::time::timeout(Duration::from_secs(10), async {
        let mut text = String::new();
        while !text.contains("event: message") {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        text
    })
    .await
    .expect("A's stream sends the message B captured");
    assert!(event.contains("ann@example.com"), "{event}");
}

/// 16 clients over two processes create users (each with a webhook event) and send sign-in
/// codes (each an email and its event); one process is SIGKILLed mid-load. Afterwards every
/// acknowledged user and email is there, every event was delivered under one svix-id, and every
/// job finished (done, once: a lost claim cannot complete).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_process_loses_nothing_acknowledged() {
    let Some(db) = database() else { return };
    let rx = Receiver::start().await;
    rx.delay(Duration::from_millis(5)); // let webhook work lag behind the API
    let hook = rx.url.clone();
    let (a, b) = start_two(&db, &["--secret-key", SECRET, "--webhook-url", &hook]);
    let urls = Arc::new(vec![a.url.clone(), b.url.clone()]);
    let http = reqwest::Client::new();
    let users = Arc::new(Mutex::new(Vec::<String>::new()));
    let emails = Arc::new(Mutex::new(Vec::<String>::new()));
    let done = Arc::new(AtomicUsize::new(0));
    const CLIENTS: usize = 16;
    const EACH: usize = 12;
    let a_proc = Arc::new(Mutex::new(Some(a.proc)));
    let mut tasks = Vec::new();
    for c in 0..CLIENTS {
        let (http, urls, users, emails, done) = (
            http.clone(),
            urls.clone(),
            users.clone(),
            emails.clone(),
            done.clone(),
        );
        let a_proc = a_proc.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                // Half the clients use A (until it dies, then B), half use B.
                let url = &urls[(c + i) % 2];
                if done.fetch_add(1, Ordering::Relaxed) == CLIENTS * EACH / 2 {
                    if let Some(p) = a_proc.lock().unwrap().take() {
                        p.signal_now("KILL");
                        drop(p);
                    }
                }
                let email = format!("load{c}x{i}@example.com");
                let r = http
                    .post(format!("{url}/v1/users"))
                    .header("authorization", AUTH)
                    .json(&json!({"email_address": [email], "password": "lk-Test-pass-4921"}))
                    .send()
                    .await;
                if !matches!(&r, Ok(res) if res.status() == 200) {
                    continue;
                }
                users.lock().unwrap().push(email.clone());
                let r = http
                    .post(format!("{url}/v1/client/sign_ins?_is_native=true"))
                    .form(&[("identifier", email.as_str()), ("strategy", "email_code")])
                    .send()
                    .await;
                if matches!(&r, Ok(res) if res.status() == 200) {
                    emails.lock().unwrap().push(email);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(a_proc.lock().unwrap().is_none(), "A was killed mid-load");
    let users = users.lock().unwrap().clone();
    let emails = emails.lock().unwrap().clone();
    assert!(
        users.len() >= CLIENTS * EACH / 2,
        "B kept serving: {}",
        users.len()
    );

    // The dead process's claims expire (their lease is emulator time), then B runs them.
    let (status, _) = json_of(
        http.post(format!("{}/_emulator/v1/time/advance", b.url))
            .json(&json!({"seconds": 61})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, idle) = json_of(
        http.post(format!("{}/_emulator/v1/jobs/wait_idle", b.url))
            .json(&json!({"timeout_ms": 60000})),
    )
    .await;
    assert_eq!(status, 200, "{idle}");

    for email in &users {
        let (_, found) = json_of(
            http.get(format!("{}/v1/users?email_address={email}", b.url))
                .header("authorization", AUTH),
        )
        .await;
        assert_eq!(
            found.as_array().map(Vec::len),
            Some(1),
            "{email} was acknowledged"
        );
    }
    let (_, inbox) = json_of(http.get(format!(
        "{}/_emulator/v1/messages?limit=500&kind=email",
        b.url
    )))
    .await;
    let captured: HashSet<String> = inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["to"].as_str().unwrap().to_owned())
        .collect();
    for email in &emails {
        assert!(captured.contains(email), "the email to {email} is captured");
    }

    let mut ids_of: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for d in rx.got() {
        let body = d.json();
        let t = body["type"].as_str().unwrap().to_owned();
        let who = match t.as_str() {
            "user.created" => body["data"]["email_addresses"][0]["email_address"].clone(),
            "email.created" => body["data"]["to_email_address"].clone(),
            _ => continue,
        };
        let who = who.as_str().unwrap().to_owned();
        ids_of
            .entry((t, who))
            .or_default()
            .insert(d.header("svix-id"));
    }
    for (kind, list) in [("user.created", &users), ("email.created", &emails)] {
        for email in list {
            let ids = ids_of.get(&(kind.to_owned(), email.clone()));
            assert_eq!(
                ids.map(HashSet::len),
                Some(1),
                "{kind} for {email}: delivered, one svix-id"
            );
        }
    }

    // Every job ran and was completed once: none is left queued, running or dead, and the done
    // ones are one per cause (an email's delivery, an event's per endpoint).
    let (_, jobs) = json_of(http.get(format!("{}/_emulator/v1/jobs?limit=1", b.url))).await;
    for c in jobs["counts"].as_array().unwrap() {
        let (kind, state) = (c["kind"].as_str().unwrap(), c["state"].as_str().unwrap());
        if kind == "cleanup" {
            continue;
        }
        assert_eq!(state, "done", "{c}");
    }
    let done_of = |kind: &str| {
        jobs["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind && c["state"] == "done")
            .and_then(|c| c["count"].as_u64())
            .unwrap_or(0) as usize
    };
    assert!(done_of("deliver_webhook") >= users.len() + emails.len());
}

/// Lockout and rate-limit counters live in the database: what one process counts, another
/// refuses on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lockout_and_rate_limit_counters_are_shared_by_the_processes() {
    let Some(db) = database() else { return };
    let (a, b) = start_two(&db, &[]);
    let secret = a.ready["secret_key"].as_str().unwrap().to_owned();
    let http = reqwest::Client::new();
    let (status, body) = json_of(http.patch(format!("{}/_emulator/v1/instance", a.url)).json(
        &json!({"settings": {
            "attack_protection": {"user_lockout": {"max_attempts": 2}},
            "rate_limits": {"enabled": true, "sign_in_create": {"max": 4, "window_secs": 60}},
        }}),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, user) = json_of(
        http.post(format!("{}/v1/users", a.url))
            .bearer_auth(&secret)
            .json(&json!({"email_address": ["shared-lock@example.com"], "password": "lk-Test-pass-4921"})),
    )
    .await;
    assert_eq!(status, 200, "{user}");
    let sign_in = |url: &str, password: &str| {
        http.post(format!("{url}/v1/client/sign_ins?_is_native=true"))
            .form(&[
                ("identifier", "shared-lock@example.com"),
                ("password", password),
            ])
    };
    // B sees the settings; one wrong password on A, one on B: locked (max 2).
    eventually("B applies A's settings", async || {
        let (_, env) = json_of(http.get(format!("{}/v1/environment", b.url))).await;
        env["user_settings"]["attack_protection"]["user_lockout"]["max_attempts"] == 2
    })
    .await;
    let (status, body) = json_of(sign_in(&a.url, "lk-Wrong-pass-1")).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (422, Some("form_password_incorrect"))
    );
    let (status, body) = json_of(sign_in(&b.url, "lk-Wrong-pass-2")).await;
    assert_eq!(
        (status, body["errors"][0]["code"].as_str()),
        (422, Some("user_locked")),
        "{body}"
    );
    let (status, body) = json_of(sign_in(&a.url, "lk-Test-pass-4921")).await;
    assert_eq!(body["errors"][0]["code"], "user_locked", "{status} {body}");
    // Four sign-in attempts of this identifier so far (A, B, A, here B): the fifth, on either, is
    // over the limit of 4 a minute.
    let (status, _) = json_of(sign_in(&b.url, "lk-Test-pass-4921")).await;
    assert_eq!(status, 422);
    let res = sign_in(&a.url, "lk-Test-pass-4921").send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
}
