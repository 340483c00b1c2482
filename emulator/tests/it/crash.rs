//! Crash safety: a real `auth-emulator` process on a data directory is SIGKILLed while it
//! creates users (each causing an email and webhooks); after a restart every committed user is
//! there, every email is captured, and every event is delivered at least once under one svix-id.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::receiver::Receiver;

struct Proc {
    child: Child,
    url: String,
}

fn spawn(dir: &std::path::Path, hook: &str) -> Proc {
    let mut child = Command::new(env!("CARGO_BIN_EXE_auth-emulator"))
        .args([
            "start",
            "--port",
            "0",
            "--json",
            "--secret-key",
            "sk_test_crashcrashcrash",
        ])
        .arg("--data-dir")
        .arg(dir)
        .args(["--webhook-url", hook])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("auth-emulator starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Value = serde_json::from_str(&line).unwrap();
    Proc {
        child,
        url: ready["frontend_api_url"].as_str().unwrap().to_owned(),
    }
}

const N: usize = 500;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_work_survives_sigkill() {
    let dir = latchkey_testkit::temp_path("crash");
    let rx = Receiver::start().await;
    // Webhook work lags behind the API; until the first kill, deliveries arrive but get no
    // answer, so work is surely pending then, however fast or loaded the machine is.
    rx.delay(Duration::from_millis(20));
    rx.hold();
    let http = reqwest::Client::new();
    let mut p = spawn(&dir, &rx.url);
    let auth = "Bearer sk_test_crashcrashcrash";

    let mut committed_users = Vec::new();
    let mut committed_emails = Vec::new();
    let kill_at = N / 2;
    for i in 0..N {
        if i == kill_at {
            let events = committed_users.len() + committed_emails.len();
            assert!(
                rx.got().len() < events,
                "deliveries are still pending when the process dies"
            );
            p.child.kill().unwrap(); // SIGKILL
            p.child.wait().unwrap();
            rx.release();
            p = spawn(&dir, &rx.url);
        }
        let email = format!("crash{i}@example.com");
        let r = http
            .post(format!("{}/v1/users", p.url))
            .header("authorization", auth)
            .json(&json!({"email_address": [email], "password": "lk-Test-pass-4921"}))
            .send()
            .await;
        if !matches!(&r, Ok(res) if res.status() == 200) {
            continue;
        }
        committed_users.push(email.clone());
        let r = http
            .post(format!("{}/v1/client/sign_ins?_is_native=true", p.url))
            .form(&[("identifier", email.as_str()), ("strategy", "email_code")])
            .send()
            .await;
        if matches!(&r, Ok(res) if res.status() == 200) {
            committed_emails.push(email);
        }
    }
    assert!(committed_users.len() >= N - 1);
    // Kill once more with work surely pending, then restart and let it finish.
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    let mut p = spawn(&dir, &rx.url);
    let r = http
        .post(format!("{}/_emulator/v1/jobs/wait_idle", p.url))
        .json(&json!({"timeout_ms": 60000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let count: Value = http
        .get(format!("{}/v1/users/count", p.url))
        .header("authorization", auth)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(count["total_count"].as_u64().unwrap() as usize >= committed_users.len());
    for email in &committed_users {
        let users: Value = http
            .get(format!("{}/v1/users?email_address={email}", p.url))
            .header("authorization", auth)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            users.as_array().unwrap().len(),
            1,
            "{email} was committed and must exist"
        );
    }
    let inbox: Value = http
        .get(format!(
            "{}/_emulator/v1/messages?limit=500&kind=email",
            p.url
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let captured: HashSet<String> = inbox["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["to"].as_str().unwrap().to_owned())
        .collect();
    for email in &committed_emails {
        assert!(
            captured.contains(email),
            "the email to {email} was committed and must be captured"
        );
    }

    // Every event at least once; duplicates (at-least-once) share their svix-id and body.
    let mut by_id: HashMap<String, Vec<String>> = HashMap::new();
    let mut ids_of: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for d in rx.got() {
        let body = d.json();
        let t = body["type"].as_str().unwrap().to_owned();
        let who = match t.as_str() {
            "user.created" => body["data"]["email_addresses"][0]["email_address"]
                .as_str()
                .unwrap()
                .to_owned(),
            "email.created" => body["data"]["to_email_address"]
                .as_str()
                .unwrap()
                .to_owned(),
            _ => continue,
        };
        let id = d.header("svix-id");
        by_id
            .entry(id.clone())
            .or_default()
            .push(String::from_utf8(d.body.to_vec()).unwrap());
        ids_of.entry((t, who)).or_default().insert(id);
    }
    for bodies in by_id.values() {
        assert!(
            bodies.iter().all(|b| b == &bodies[0]),
            "a redelivery carries the same event"
        );
    }
    for email in &committed_users {
        let ids = ids_of.get(&("user.created".into(), email.clone()));
        assert_eq!(
            ids.map(HashSet::len),
            Some(1),
            "user.created for {email}: one svix-id"
        );
    }
    for email in &committed_emails {
        let ids = ids_of.get(&("email.created".into(), email.clone()));
        assert_eq!(
            ids.map(HashSet::len),
            Some(1),
            "email.created for {email}: one svix-id"
        );
    }
    p.child.kill().unwrap();
    p.child.wait().unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
