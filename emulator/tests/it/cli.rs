//! The `auth-emulator` command line: every setting from a flag or its `LATCHKEY_*` variable, the
//! start-up output (one JSON line, or lines for people), production-strength password hashes.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};

use crate::process::{hash_params, stored_hash_params, Proc};
use crate::receiver::Receiver;
use crate::support::*;
use latchkey_testkit::temp_path;

const PRODUCTION: &str = "m=19456,t=2,p=1";
const FAST: &str = "m=64,t=1,p=1";

fn pk_for(host: &str) -> String {
    format!(
        "pk_test_{}",
        base64::engine::general_purpose::STANDARD.encode(format!("{host}$"))
    )
}

/// Creates a user through the Backend API of the process at `url`; returns its id.
async fn create_user(http: &reqwest::Client, url: &str, secret: &str, email: &str) -> String {
    let r = http
        .post(format!("{url}/v1/users"))
        .header("authorization", format!("Bearer {secret}"))
        .json(&json!({"email_address": [email], "password": "lk-Test-pass-4921"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_setting_comes_from_its_latchkey_variable() {
    let dir = temp_path("cli-env");
    let rx = Receiver::start().await;
    let pk = pk_for("auth.example.com");
    let mut p = Proc::spawn(
        &["start"],
        &[
            // Another loopback address than the default, so the variable's effect shows.
            ("LATCHKEY_HOST", "127.0.0.2"),
            ("LATCHKEY_PORT", "0"),
            ("LATCHKEY_DATA_DIR", dir.to_str().unwrap()),
            ("LATCHKEY_SECRET_KEY", "sk_test_fromtheenvironment"),
            ("LATCHKEY_PUBLISHABLE_KEY", &pk),
            ("LATCHKEY_PRODUCTION_PASSWORDS", "true"),
            ("LATCHKEY_WEBHOOK_URL", &rx.url),
            ("LATCHKEY_JSON", "true"),
        ],
    );
    let ready = p.ready_json();
    assert_eq!(ready["secret_key"], "sk_test_fromtheenvironment");
    assert_eq!(ready["publishable_key"], pk.as_str());
    assert_eq!(ready["data_dir"], dir.to_str().unwrap());
    let url = ready["frontend_api_url"].as_str().unwrap().to_owned();
    let port: u16 = url
        .strip_prefix("http://127.0.0.2:")
        .expect("on LATCHKEY_HOST")
        .parse()
        .unwrap();
    assert_ne!(port, 4100, "LATCHKEY_PORT=0 picks a free port");
    assert_eq!(ready["control_api_url"], format!("{url}/_emulator/v1"));
    let webhook_secret = ready["webhook_secret"].as_str().unwrap().to_owned();

    let http = reqwest::Client::new();
    let inst: Value = http
        .get(format!("{url}/_emulator/v1/instance"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inst["publishable_key"], pk.as_str());
    assert_eq!(inst["secret_key"], "sk_test_fromtheenvironment");
    let r = http
        .get(format!("{url}/v1/users"))
        .header("authorization", "Bearer sk_test_someotherkeyentirely")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "only the given secret key opens the Backend API"
    );
    let id = create_user(&http, &url, "sk_test_fromtheenvironment", "env@example.com").await;

    // LATCHKEY_WEBHOOK_URL: every event, signed with the instance's webhook secret.
    let got = rx.wait_for(1).await;
    let wh = standardwebhooks::Webhook::new(&webhook_secret).unwrap();
    wh.verify(&got[0].body, &got[0].headers)
        .expect("signed with the printed webhook secret");
    assert_eq!(got[0].json()["type"], "user.created");

    p.signal("TERM").await;
    assert!(p.exit_status().await.success());
    // LATCHKEY_DATA_DIR holds the database; LATCHKEY_PRODUCTION_PASSWORDS set the hash cost.
    assert_eq!(stored_hash_params(&dir, &id), PRODUCTION);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_set_keys_and_hash_cost_and_the_default_output_is_for_people() {
    let dir = temp_path("cli-flags");
    let pk = pk_for("flags.example.com");
    let mut p = Proc::spawn(
        &[
            "start",
            "--port",
            "0",
            "--data-dir",
            dir.to_str().unwrap(),
            "--secret-key",
            "sk_test_fromtheflagsonly",
            "--publishable-key",
            &pk,
            "--production-passwords",
        ],
        &[],
    );
    let mut lines = vec![p.line()];
    while lines.last().map(String::as_str) != Some("Press Ctrl-C to stop.") {
        lines.push(p.line());
    }
    assert!(lines[0].starts_with("Latchkey auth emulator "), "{lines:?}");
    let field = |name: &str| -> String {
        lines
            .iter()
            .find_map(|l| l.trim_start().strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} line in {lines:?}"))
            .trim()
            .to_owned()
    };
    let url = field("Frontend API");
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert_eq!(field("Backend API"), url);
    assert_eq!(field("Control API"), format!("{url}/_emulator/v1"));
    assert_eq!(field("Inbox"), format!("{url}/_emulator/inbox"));
    assert_eq!(field("Publishable key"), pk);
    assert_eq!(field("Secret key"), "sk_test_fromtheflagsonly");
    assert!(field("Webhook secret").starts_with("whsec_"));
    assert_eq!(field("Data"), dir.to_str().unwrap());
    // clerk-js's key, and the set-ups that use it: a script tag, React's and Express's.
    let browser_key = latchkey_protocol::keys::browser_publishable_key();
    assert!(field("Browser key").starts_with(&browser_key), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("clerk.browser.js")
            && l.contains(&format!("data-clerk-publishable-key=\"{browser_key}\""))),
        "{lines:?}"
    );
    let react = field("React:");
    assert!(react.contains("proxyUrl=\"/__clerk\""), "{react}");
    let express = field("Express:");
    assert!(
        express.contains(&format!("CLERK_FAPI_URL={url}")),
        "{express}"
    );
    assert!(!express.contains("sk_test_fromtheflagsonly"), "{express}");

    let http = reqwest::Client::new();
    let id = create_user(&http, &url, "sk_test_fromtheflagsonly", "flags@example.com").await;
    p.signal("TERM").await;
    assert!(p.exit_status().await.success());
    assert_eq!(stored_hash_params(&dir, &id), PRODUCTION);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_wins_over_its_variable_and_latchkey_json_false_prints_for_people() {
    let mut p = Proc::spawn(
        &[
            "start",
            "--ephemeral",
            "--port",
            "0",
            "--secret-key",
            "sk_test_theflagwinsover",
        ],
        &[
            ("LATCHKEY_SECRET_KEY", "sk_test_thevariableloses"),
            ("LATCHKEY_JSON", "false"),
            // Not even parsed when the flag is given.
            ("LATCHKEY_PORT", "notaport"),
        ],
    );
    assert!(p.line().starts_with("Latchkey auth emulator "));
    let secret = loop {
        let line = p.line();
        if let Some(k) = line.trim_start().strip_prefix("Secret key") {
            break k.trim().to_owned();
        }
    };
    assert_eq!(secret, "sk_test_theflagwinsover");
    let mut p2 = Proc::spawn(
        &["start", "--json"],
        &[
            ("LATCHKEY_EPHEMERAL", "true"),
            ("LATCHKEY_PORT", "0"),
            ("LATCHKEY_SECRET_KEY", "sk_test_thevariableapplies"),
        ],
    );
    let ready = p2.ready_json();
    assert_eq!(ready["secret_key"], "sk_test_thevariableapplies");
    assert_eq!(ready["data_dir"], Value::Null, "LATCHKEY_EPHEMERAL");
    let url = ready["frontend_api_url"].as_str().unwrap();
    let host = url.strip_prefix("http://").unwrap();
    assert_eq!(
        ready["publishable_key"],
        pk_for(host),
        "the default publishable key encodes the Frontend API host"
    );
    p.signal("TERM").await;
    p2.signal("TERM").await;
    assert!(p.exit_status().await.success());
    assert!(p2.exit_status().await.success());
}

#[tokio::test]
async fn the_builder_sets_the_publishable_key_and_the_hash_cost() {
    let pk = pk_for("builder.example.com");
    let h = start_from(builder().publishable_key(&pk).production_passwords(true)).await;
    assert_eq!(h.emu.publishable_key(), pk);
    let inst = h.control(Method::GET, "/instance", None).await;
    assert_eq!(inst.ok()["publishable_key"], pk.as_str());
    let id = h
        .create_user("strong@example.com", "lk-Test-pass-4921")
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let stored = |h: &Harness, id: &str| {
        let digest = latchkey_emulator::testing::password_digest(&h.emu, id).unwrap();
        hash_params(&digest.unwrap())
    };
    assert_eq!(stored(&h, &id), PRODUCTION);
    // A production-cost hash still signs in.
    h.fapi()
        .sign_in("strong@example.com", "lk-Test-pass-4921")
        .await;

    let d = start().await;
    assert_eq!(
        d.emu.publishable_key(),
        pk_for(d.emu.url().strip_prefix("http://").unwrap())
    );
    let id = d.create_user("fast@example.com", "lk-Test-pass-4921").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        stored(&d, &id),
        FAST,
        "the default is the cheap emulator cost"
    );
}

#[test]
fn a_port_in_use_is_a_one_line_error_naming_it_and_a_failing_exit() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-emulator"))
        .args(["start", "--ephemeral", "--port", &port])
        .env_remove("LATCHKEY_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "one line: {err:?}");
    assert!(err.contains(&port), "names the port: {err:?}");
    drop(taken);
}
