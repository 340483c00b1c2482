//! Graceful shutdown of the real `auth-emulator` process on SIGTERM and SIGINT: it stops
//! accepting connections, finishes the request in flight with a whole response, ends the message
//! stream, lets the webhook delivery in flight finish and records it, and exits 0.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::process::Proc;
use crate::receiver::Receiver;
use latchkey_testkit::temp_path;

const SECRET: &str = "sk_test_shutdownshutdown";

fn start(dir: &std::path::Path) -> (Proc, String) {
    let mut p = Proc::spawn(
        &[
            "start",
            "--port",
            "0",
            "--json",
            "--secret-key",
            SECRET,
            "--data-dir",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let url = p.ready_json()["frontend_api_url"]
        .as_str()
        .unwrap()
        .to_owned();
    (p, url)
}

/// Reads from `sock` until `\r\n\r\n`; returns the head.
async fn read_head(sock: &mut tokio::net::TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = sock.read(&mut byte).await.expect("no reset");
        assert_eq!(n, 1, "the connection closed mid-head: {head:?}");
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

async fn graceful_stop_on(signal: &str) {
    let dir = temp_path(&format!("shutdown-{signal}"));
    let rx = Receiver::start().await;
    rx.hold();
    let (mut p, url) = start(&dir);
    let addr = url.strip_prefix("http://").unwrap().to_owned();
    let http = reqwest::Client::new();
    let auth = format!("Bearer {SECRET}");
    let r = http
        .post(format!("{url}/_emulator/v1/webhooks/endpoints"))
        .json(&json!({"url": rx.url, "events": ["user.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{url}/v1/users"))
        .header("authorization", &auth)
        .json(&json!({"email_address": ["early@example.com"], "password": "lk-Test-pass-4921"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Its user.created delivery is in flight: the receiver holds its answer.
    rx.wait_for(1).await;

    // A message stream, open: its first event says the server is serving it.
    let mut stream = http
        .get(format!("{url}/_emulator/v1/messages/stream"))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.chunk().await.unwrap().is_some(),
        "the stream's hello"
    );

    // A request in flight: headers sent, and the server has asked for the body (100 Continue,
    // sent when the handler starts reading it).
    let body =
        json!({"email_address": ["late@example.com"], "password": "lk-Test-pass-4921"}).to_string();
    let mut sock = tokio::net::TcpStream::connect(&addr).await.unwrap();
    sock.write_all(
        format!(
            "POST /v1/users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let head = read_head(&mut sock).await;
    assert!(head.starts_with("HTTP/1.1 100"), "{head}");

    p.signal(signal).await;
    // Shutdown has begun once new connections are refused (bounded).
    let mut refused = false;
    for _ in 0..2000 {
        match tokio::net::TcpStream::connect(&addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
    assert!(
        refused,
        "after SIG{signal} the emulator stops accepting connections"
    );

    // The request in flight still gets its whole response.
    sock.write_all(body.as_bytes()).await.unwrap();
    let head = read_head(&mut sock).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse().unwrap())
        })
        .expect("a content-length");
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest)
        .await
        .expect("the connection closes cleanly, without a reset");
    assert_eq!(
        rest.len(),
        len,
        "the whole body, then the connection closes"
    );
    let user: Value = serde_json::from_slice(&rest).unwrap();
    assert_eq!(user["object"], "user");
    assert_eq!(
        user["email_addresses"][0]["email_address"],
        "late@example.com"
    );
    // The message stream ends (cleanly) instead of holding the shutdown open.
    let drain = async {
        while let Some(_event) = stream
            .chunk()
            .await
            .expect("the stream ends cleanly, without a reset")
        {}
    };
    tokio::time::timeout(Duration::from_secs(30), drain)
        .await
        .expect("the message stream ends on shutdown");

    // Every connection is closed now; only the delivery in flight keeps the process alive. It
    // must not exit while the delivery is unanswered (watched for a while: a process that does
    // not wait for its workers is gone within milliseconds here), and it exits 0 once answered.
    assert_eq!(
        p.exit_within(Duration::from_millis(500)).await,
        None,
        "the process exited with a webhook delivery in flight"
    );
    rx.release();
    let status = p.exit_status().await;
    assert_eq!(status.code(), Some(0), "SIG{signal}: {status:?}");

    // Restarted on the same data: both users are there; each user.created was delivered exactly
    // once (a delivery cut off by the exit would be retried after the restart), and the attempt
    // that was in flight is in the log.
    let (mut p, url) = start(&dir);
    let r = http
        .post(format!("{url}/_emulator/v1/jobs/wait_idle"))
        .json(&json!({"timeout_ms": 30000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let count: Value = http
        .get(format!("{url}/v1/users/count"))
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["total_count"], 2);
    let mut per_user: HashMap<String, usize> = HashMap::new();
    for d in rx.got() {
        let who = d.json()["data"]["email_addresses"][0]["email_address"]
            .as_str()
            .unwrap()
            .to_owned();
        *per_user.entry(who).or_default() += 1;
    }
    assert_eq!(
        per_user,
        HashMap::from([
            ("early@example.com".to_owned(), 1),
            ("late@example.com".to_owned(), 1)
        ]),
        "each event delivered once"
    );
    let log: Value = http
        .get(format!(
            "{url}/_emulator/v1/webhooks/deliveries?event_type=user.created"
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let log = log["data"].as_array().unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log.iter().all(|a| a["succeeded"] == true), "{log:?}");
    let jobs: Value = http
        .get(format!("{url}/_emulator/v1/jobs?kind=deliver_webhook"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jobs = jobs["data"].as_array().unwrap();
    assert_eq!(jobs.len(), 2);
    assert!(
        jobs.iter()
            .all(|j| j["state"] == "done" && j["attempts"] == 1),
        "{jobs:?}"
    );
    p.signal("TERM").await;
    assert_eq!(p.exit_status().await.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_work_and_exits_0() {
    graceful_stop_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_finishes_in_flight_work_and_exits_0() {
    graceful_stop_on("INT").await;
}

/// A supervisor (or test harness) that stops the emulator as soon as it has printed its start-up
/// line gets a graceful stop: the SIGTERM/SIGINT handlers are installed before the line is
/// printed (they once were installed after it). Each try would race, so the test tries 20 times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_right_after_the_ready_line_still_stops_gracefully() {
    for attempt in 0..20 {
        let mut p = Proc::spawn(&["start", "--ephemeral", "--port", "0", "--json"], &[]);
        p.ready_json();
        p.signal_now("TERM");
        let status = p.exit_status().await;
        assert_eq!(status.code(), Some(0), "try {attempt}: {status:?}");
    }
}
