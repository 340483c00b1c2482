//! Background-work benchmark: durable job throughput, webhook latency from API call to receiver,
//! and how long a verification email takes to be captured while 10,000 webhook jobs are queued.
//!
//! Run with `cargo bench -p latchkey-emulator --bench jobs`. Prints one JSON object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use latchkey_emulator::jobs::{self, Job};
use latchkey_emulator::store::records::{Message, MessageKind};
use latchkey_emulator::Emulator;
use serde_json::json;

const THROUGHPUT_JOBS: usize = 20_000;
const LATENCY_RUNS: usize = 300;
const BACKLOG: usize = 10_000;
const EMAIL_RUNS: usize = 20;

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// A receiver that records when each delivery arrived.
async fn receiver() -> (String, Arc<Mutex<Vec<Instant>>>, Arc<tokio::sync::Notify>) {
    let got: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let notify = Arc::new(tokio::sync::Notify::new());
    let (g, n) = (got.clone(), notify.clone());
    let app = Router::new().route(
        "/hook",
        post(move || {
            let (g, n) = (g.clone(), n.clone());
            async move {
                g.lock().unwrap().push(Instant::now());
                n.notify_waiters();
                axum::http::StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got, notify)
}

fn enqueue_messages(emu: &Emulator, n: usize) {
    let app = emu.app().clone();
    let settings = app.settings();
    let now = app.clock.now_ms();
    let env = app.env(
        &settings,
        now,
        None,
        &latchkey_emulator::domain::RequestInfo::NONE,
    );
    app.store
        .write(|tx| -> Result<(), latchkey_emulator::domain::DomainError> {
            for i in 0..n {
                let id = format!("ema_bench{i}");
                tx.insert_message(&Message {
                    id: id.clone(),
                    kind: MessageKind::Email,
                    to: format!("bench{i}@example.com"),
                    subject: Some("s".into()),
                    body_text: "123456".into(),
                    body_html: None,
                    code: Some("123456".into()),
                    link: None,
                    template: "verification_code".into(),
                    created_at: now,
                    status: "queued".into(),
                    delivered_by_clerk: true,
                    delivered_via: None,
                })?;
                latchkey_emulator::domain::outbox::record(
                    tx,
                    &env,
                    &Job::DeliverMessage { message_id: id },
                    now,
                )?;
            }
            Ok(())
        })
        .unwrap();
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = std::env::temp_dir().join(format!("latchkey-jobs-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let http = reqwest::Client::new();

    // 1. Durable throughput: message-capture jobs in a WAL database on disk.
    let emu = Emulator::builder().data_dir(&dir).start().await.unwrap();
    let t0 = Instant::now();
    enqueue_messages(&emu, THROUGHPUT_JOBS);
    let enqueue_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    assert!(jobs::wait_idle(emu.app(), Duration::from_secs(120))
        .await
        .unwrap());
    let run_s = t1.elapsed().as_secs_f64();
    let captured = emu
        .app()
        .store
        .read(|tx| tx.messages(None, None, 100_000))
        .unwrap()
        .len();
    assert_eq!(captured, THROUGHPUT_JOBS);
    eprintln!("throughput: {THROUGHPUT_JOBS} jobs in {run_s:.2}s");
    emu.shutdown().await;

    // 2. Webhook latency: BAPI create user → user.created at the receiver.
    let emu = Emulator::builder().ephemeral().start().await.unwrap();
    emu.public_key_pem().unwrap();
    let (url, got, notify) = receiver().await;
    emu.app().ensure_endpoint(&url).unwrap();
    let mut lat = Vec::new();
    for i in 0..LATENCY_RUNS {
        let before = got.lock().unwrap().len();
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let sent = Instant::now();
        let r = http
            .post(format!("{}/v1/users", emu.url()))
            .header("authorization", format!("Bearer {}", emu.secret_key()))
            .json(&json!({"email_address": [format!("lat{i}@example.com")], "password": "password123"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        loop {
            if got.lock().unwrap().len() > before {
                break;
            }
            tokio::time::timeout(Duration::from_secs(5), notified.as_mut())
                .await
                .unwrap();
            notified.set(notify.notified());
            notified.as_mut().enable();
        }
        let at = got.lock().unwrap()[before];
        lat.push(at.duration_since(sent).as_secs_f64() * 1e6);
    }
    emu.shutdown().await;

    // 3. A verification email behind 10,000 queued webhook jobs.
    let emu = Emulator::builder().ephemeral().start().await.unwrap();
    emu.public_key_pem().unwrap(); // a first start generates its RSA key in the background
    let (url, _got, _n) = receiver().await;
    emu.app().ensure_endpoint(&url).unwrap();
    {
        let app = emu.app().clone();
        let settings = app.settings();
        let now = app.clock.now_ms();
        let env = app.env(
            &settings,
            now,
            None,
            &latchkey_emulator::domain::RequestInfo::NONE,
        );
        app.store
            .write(|tx| -> Result<(), latchkey_emulator::domain::DomainError> {
                for _ in 0..BACKLOG {
                    latchkey_emulator::domain::events::emit(
                        tx,
                        &env,
                        latchkey_protocol::EventType::UserUpdated,
                        json!({"object": "user"}),
                    )?;
                }
                Ok(())
            })
            .unwrap();
    }
    let mut capture = Vec::new();
    let mut backlog_left = Vec::new();
    for i in 0..EMAIL_RUNS {
        let email = format!("urgent{i}@example.com");
        let sent = Instant::now();
        let r = http
            .post(format!("{}/v1/client/sign_ups?_is_native=true", emu.url()))
            .form(&[
                ("email_address", email.as_str()),
                ("password", "password123"),
                ("strategy", "email_code"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = http
            .get(format!(
                "{}/_emulator/v1/messages/latest?to={email}&wait_ms=5000",
                emu.url()
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        capture.push(sent.elapsed().as_secs_f64() * 1e3);
        let queued = emu
            .app()
            .store
            .read(|tx| tx.list_jobs(Some("queued"), Some("deliver_webhook"), 100_000))
            .unwrap()
            .len();
        backlog_left.push(queued as f64);
    }
    emu.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);

    println!(
        "{}",
        json!({
            "bench": "jobs",
            "durable_jobs": THROUGHPUT_JOBS,
            "durable_enqueue_s": (enqueue_s * 1000.0).round() / 1000.0,
            "durable_jobs_per_sec": (THROUGHPUT_JOBS as f64 / run_s).round(),
            "webhook_latency_p50_us": pct(lat.clone(), 0.5).round(),
            "webhook_latency_p99_us": pct(lat, 0.99).round(),
            "email_capture_with_backlog_p50_ms": (pct(capture.clone(), 0.5) * 100.0).round() / 100.0,
            "email_capture_with_backlog_max_ms": (pct(capture, 1.0) * 100.0).round() / 100.0,
            "webhook_backlog_at_start": BACKLOG,
            "webhook_jobs_still_queued_min": pct(backlog_left, 0.0),
        })
    );
}
