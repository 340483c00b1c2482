//! Background-work benchmark: durable job throughput, webhook latency from API call to receiver,
//! and how long a verification email takes to be captured while 10,000 webhook jobs are queued.
//!
//! Run with `cargo bench -p latchkey-emulator --bench jobs`. Prints one JSON object.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Router;
use latchkey_emulator::{testing, Emulator};
use latchkey_testkit::{Kit, Method};
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

/// How many jobs of `kind` are in `state`, from the control API's job counts.
async fn job_count(kit: &Kit, kind: &str, state: &str) -> i64 {
    let r = kit.control(Method::GET, "/jobs?limit=1", None).await;
    r.ok()["counts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == kind && c["state"] == state)
        .map_or(0, |c| c["count"].as_i64().unwrap())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dir = latchkey_testkit::temp_path("jobs-bench");

    // 1. Durable throughput: message-capture jobs in a WAL database on disk.
    let kit = latchkey_testkit::start_from(Emulator::builder().data_dir(&dir)).await;
    let t0 = Instant::now();
    testing::queue_message_deliveries(&kit.emu, THROUGHPUT_JOBS).unwrap();
    let enqueue_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    let idle = kit
        .control(
            Method::POST,
            "/jobs/wait_idle",
            Some(json!({"timeout_ms": 60_000})),
        )
        .await;
    let run_s = t1.elapsed().as_secs_f64();
    assert_eq!(idle.status, 200, "{}", idle.body);
    let captured = job_count(&kit, "deliver_message", "done").await;
    assert_eq!(captured, THROUGHPUT_JOBS as i64);
    eprintln!("throughput: {THROUGHPUT_JOBS} jobs in {run_s:.2}s");
    kit.shutdown().await;

    // 2. Webhook latency: BAPI create user → user.created at the receiver.
    let (url, got, notify) = receiver().await;
    let kit = latchkey_testkit::start_from(Emulator::builder().ephemeral().webhook_url(&url)).await;
    kit.emu.public_key_pem().unwrap();
    let mut lat = Vec::new();
    for i in 0..LATENCY_RUNS {
        let before = got.lock().unwrap().len();
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let sent = Instant::now();
        let r = kit
            .request(Method::POST, "/v1/users")
            .bearer_auth(kit.emu.secret_key())
            .json(&json!({"email_address": [format!("lat{i}@example.com")], "password": "lk-Test-pass-4921"}))
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
    kit.shutdown().await;

    // 3. A verification email behind 10,000 queued webhook jobs.
    let (url, _got, _n) = receiver().await;
    let kit = latchkey_testkit::start_from(Emulator::builder().ephemeral().webhook_url(&url)).await;
    kit.emu.public_key_pem().unwrap(); // a first start generates its RSA key in the background
    testing::queue_webhook_events(&kit.emu, latchkey_protocol::EventType::UserUpdated, BACKLOG)
        .unwrap();
    let mut capture = Vec::new();
    let mut backlog_left = Vec::new();
    for i in 0..EMAIL_RUNS {
        let email = format!("urgent{i}@example.com");
        let sent = Instant::now();
        let r = kit
            .request(Method::POST, "/v1/client/sign_ups?_is_native=true")
            .form(&[
                ("email_address", email.as_str()),
                ("password", "lk-Test-pass-4921"),
                ("strategy", "email_code"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let r = kit
            .request(
                Method::GET,
                &format!("/_emulator/v1/messages/latest?to={email}&wait_ms=5000"),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        capture.push(sent.elapsed().as_secs_f64() * 1e3);
        backlog_left.push(job_count(&kit, "deliver_webhook", "queued").await as f64);
    }
    kit.shutdown().await;
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
