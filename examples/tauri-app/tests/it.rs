//! The plugin's commands through Tauri's mock runtime, with this app's real capabilities
//! (`capabilities/*.json`, loaded by `generate_context!`), against an in-process emulator. The
//! session lives in a `MemoryStore` here; the keychain is exercised by the end-to-end test
//! (`e2e/`), which runs the real app under Xvfb.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use latchkey::MemoryStore;
use latchkey_testkit::{Kit, PASSWORD};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, MockRuntime, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{Listener, Manager, WebviewUrl, WebviewWindow, WebviewWindowBuilder};
use tauri_plugin_latchkey::LatchkeyExt;

struct Harness {
    kit: Kit,
    app: tauri::App<MockRuntime>,
    main: WebviewWindow<MockRuntime>,
    events: mpsc::Receiver<Value>,
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tauri::async_runtime::block_on(f)
}

/// The app as `main.rs` builds it, on the mock runtime, its SDK pointed at a fresh emulator.
fn start() -> Harness {
    start_with(|_| {})
}

fn start_with(settings: impl FnOnce(&Kit)) -> Harness {
    start_configured(settings, |b| b)
}

fn start_configured(
    settings: impl FnOnce(&Kit),
    configure: impl FnOnce(latchkey::Builder) -> latchkey::Builder + Send + 'static,
) -> Harness {
    // The emulator runs on Tauri's runtime, where the plugin's SDK runs too.
    let kit = block_on(latchkey_testkit::start());
    settings(&kit);
    let url = kit.url().to_owned();
    let plugin = tauri_plugin_latchkey::Builder::new()
        .frontend_api_url(url)
        .configure(|b| configure(b.store(MemoryStore::new())));
    let app = tauri_app_lib::app(mock_builder(), plugin, "http://127.0.0.1:9".into())
        .build(tauri_app_lib::context())
        .expect("the app builds");
    let (tx, events) = mpsc::channel();
    app.listen_any(tauri_plugin_latchkey::AUTH_STATE_EVENT, move |e| {
        let _ = tx.send(serde_json::from_str::<Value>(e.payload()).unwrap());
    });
    let main = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default())
        .build()
        .expect("the main window");
    Harness {
        kit,
        app,
        main,
        events,
    }
}

/// Invokes `plugin:latchkey|<cmd>` from `window` as the webview would.
fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    get_ipc_response(
        window,
        InvokeRequest {
            cmd: format!("plugin:latchkey|{cmd}"),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            // Linux's origin for app pages (`http://tauri.localhost` is Windows'; here it would
            // count as a remote URL and be refused).
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.into(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}

impl Harness {
    fn ok(&self, cmd: &str, args: Value) -> Value {
        invoke(&self.main, cmd, args).unwrap_or_else(|e| panic!("{cmd} failed: {e}"))
    }

    fn err(&self, cmd: &str, args: Value) -> Value {
        match invoke(&self.main, cmd, args) {
            Ok(v) => panic!("{cmd} should fail, returned {v}"),
            Err(e) => e,
        }
    }

    fn code(&self, to: &str) -> String {
        block_on(self.kit.latest_code(to))
    }

    /// Waits for the next auth-state event with this status, skipping others.
    fn event(&self, status: &str) -> Value {
        loop {
            let e = self
                .events
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| panic!("an auth-state event {status}"));
            if e["status"] == status {
                return e;
            }
        }
    }

    fn state(&self) -> Value {
        self.ok("get_auth_state", json!({}))
    }
}

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[test]
fn sign_up_with_the_emailed_code_signs_in_and_tells_the_webview() {
    let h = start();
    h.event("signedOut");
    assert_eq!(h.state()["status"], "signedOut");
    let su = h.ok(
        "sign_up",
        json!({"fields": {"emailAddress": "jane@example.com", "password": PASSWORD}}),
    );
    assert_eq!(su["status"], "missing_requirements");
    assert_eq!(
        su["nextStep"],
        json!({"kind": "verifyEmail", "codeSent": false})
    );
    let id = su["id"].as_str().unwrap();
    let su = h.ok(
        "prepare_sign_up_verification",
        json!({"signUpId": id, "strategy": "email_code"}),
    );
    assert_eq!(
        su["nextStep"],
        json!({"kind": "verifyEmail", "codeSent": true})
    );
    // A wrong code keeps the kind and the Clerk code, and the attempt stays usable.
    let e = h.err(
        "attempt_sign_up_verification",
        json!({"signUpId": id, "strategy": "email_code", "code": "000000"}),
    );
    assert_eq!(e["kind"], "api");
    assert_eq!(e["code"], "form_code_incorrect");
    assert_eq!(e["status"], 422);
    assert_eq!(e["errors"][0]["code"], "form_code_incorrect");
    let code = h.code("jane@example.com");
    let su = h.ok(
        "attempt_sign_up_verification",
        json!({"signUpId": id, "strategy": "email_code", "code": code}),
    );
    assert_eq!(su["status"], "complete");
    assert_eq!(su["nextStep"]["kind"], "complete");
    let sid = su["createdSessionId"].as_str().unwrap();

    let ev = h.event("signedIn");
    assert_eq!(ev["session"]["id"], sid);
    assert_eq!(
        ev["user"]["email_addresses"][0]["email_address"],
        "jane@example.com"
    );
    assert!(
        !ev.to_string().contains("last_active_token") && !ev.to_string().contains("eyJ"),
        "no token in the event: {ev}"
    );
    let state = h.state();
    assert_eq!(state["status"], "signedIn");
    assert_eq!(state["session"]["id"], sid);

    // The token is the session's, for the signed-up user.
    let t = h.ok("get_token", json!({}));
    let c = claims(t["jwt"].as_str().unwrap());
    assert_eq!(c["sid"], sid);
    assert_eq!(c["sub"], su["createdUserId"]);
    assert_eq!(t["expiresAt"], c["exp"]);
    // A finished sign-up is forgotten.
    let e = h.err(
        "attempt_sign_up_verification",
        json!({"signUpId": id, "strategy": "email_code", "code": code}),
    );
    assert_eq!(e["kind"], "unknownAttempt");
    drop(h.app);
}

#[test]
fn sign_up_by_sms_code_when_the_instance_uses_phone_numbers() {
    let h = start_with(|kit| {
        block_on(kit.set_settings(json!({
            "email_address": {"enabled": false, "required": false, "used_for_first_factor": false},
            "phone_number": {"enabled": true, "required": true, "used_for_first_factor": true, "verify_at_sign_up": true}
        })))
    });
    let su = h.ok(
        "sign_up",
        json!({"fields": {"phoneNumber": "+14155552671", "password": PASSWORD}}),
    );
    assert_eq!(
        su["nextStep"],
        json!({"kind": "verifyPhone", "codeSent": false})
    );
    let id = su["id"].as_str().unwrap();
    h.ok(
        "prepare_sign_up_verification",
        json!({"signUpId": id, "strategy": "phone_code"}),
    );
    let code = h.code("+14155552671");
    let su = h.ok(
        "attempt_sign_up_verification",
        json!({"signUpId": id, "strategy": "phone_code", "code": code}),
    );
    assert_eq!(su["status"], "complete");
    h.event("signedIn");

    // Then sign out and back in with an SMS code.
    h.ok("sign_out", json!({}));
    h.event("signedOut");
    let si = h.ok("sign_in_with_phone_code", json!({"phone": "+14155552671"}));
    assert_eq!(si["pendingCode"], "phone_code");
    let code = h.code("+14155552671");
    let si = h.ok(
        "attempt_sign_in_code",
        json!({"signInId": si["id"], "code": code}),
    );
    assert_eq!(si["status"], "complete");
    assert_eq!(h.state()["status"], "signedIn");
    // An unknown strategy is the caller's mistake, named.
    let e = h.err(
        "attempt_second_factor",
        json!({"signInId": si["id"], "strategy": "carrier_pigeon", "code": "1"}),
    );
    assert_eq!(e["kind"], "invalidArgument");
    assert!(e["message"].as_str().unwrap().contains("carrier_pigeon"));
    // A finished sign-up is forgotten: its id no longer continues anything.
    let e = h.err(
        "prepare_sign_up_verification",
        json!({"signUpId": id, "strategy": "phone_code"}),
    );
    assert_eq!(e["kind"], "unknownAttempt");
}

#[test]
fn password_and_email_code_sign_in_sessions_switch_and_sign_out() {
    let h = start();
    block_on(h.kit.create_user("ann@example.com", PASSWORD));
    block_on(h.kit.create_user("bob@example.com", PASSWORD));

    // A wrong password: the SDK's kind and the Clerk code survive the IPC.
    let e = h.err(
        "sign_in_with_password",
        json!({"identifier": "ann@example.com", "password": "lk-Wrong-pass-0000"}),
    );
    assert_eq!(e["kind"], "api");
    assert_eq!(e["code"], "form_password_incorrect");
    assert_eq!(e["status"], 422);
    assert!(e["errors"][0]["longMessage"].as_str().unwrap().len() > 3);
    // Nobody signed in: no token.
    let e = h.err("get_token", json!({}));
    assert_eq!(e["kind"], "signedOut");
    assert_eq!(e["code"], Value::Null);

    let a = h.ok(
        "sign_in_with_password",
        json!({"identifier": "ann@example.com", "password": PASSWORD}),
    );
    assert_eq!(a["status"], "complete");
    let sid_a = a["createdSessionId"].as_str().unwrap().to_owned();

    let b = h.ok(
        "sign_in_with_email_code",
        json!({"email": "bob@example.com"}),
    );
    assert_eq!(b["status"], "needs_first_factor");
    assert_eq!(b["pendingCode"], "email_code");
    let code = h.code("bob@example.com");
    let b = h.ok(
        "attempt_sign_in_code",
        json!({"signInId": b["id"], "code": code}),
    );
    assert_eq!(b["status"], "complete");
    let sid_b = b["createdSessionId"].as_str().unwrap().to_owned();
    assert_eq!(h.state()["session"]["id"], sid_b.as_str());

    let sessions = h.ok("list_sessions", json!({}));
    let mut ids: Vec<&str> = sessions
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    ids.sort();
    let mut want = vec![sid_a.as_str(), sid_b.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(
        !sessions.to_string().contains("eyJ"),
        "no tokens in sessions"
    );

    h.ok("set_active_session", json!({"sessionId": sid_a}));
    let ev = h.event("signedIn");
    let ev = if ev["session"]["id"] == sid_a.as_str() {
        ev
    } else {
        h.event("signedIn")
    };
    assert_eq!(ev["session"]["id"], sid_a.as_str());
    let t = h.ok("get_token", json!({}));
    assert_eq!(claims(t["jwt"].as_str().unwrap())["sid"], sid_a.as_str());

    h.ok("sign_out_session", json!({"sessionId": sid_b}));
    assert_eq!(
        h.ok("list_sessions", json!({})).as_array().unwrap().len(),
        1
    );
    h.ok("sign_out", json!({}));
    assert_eq!(h.state()["status"], "signedOut");
    h.event("signedOut");

    // Signed in again, then every session out at once.
    h.ok(
        "sign_in_with_password",
        json!({"identifier": "bob@example.com", "password": PASSWORD}),
    );
    h.ok("sign_out_all", json!({}));
    assert_eq!(h.state()["status"], "signedOut");
    assert_eq!(h.ok("list_sessions", json!({})), json!([]));
}

#[test]
fn password_reset_with_the_emailed_code_then_template_tokens() {
    let h = start_with(|kit| {
        block_on(kit.set_settings(json!({"jwt_templates": {"backend": {
            "claims": {"email": "{{user.primary_email_address}}", "aud": "api.example.com"},
            "lifetime_secs": 300
        }}})))
    });
    block_on(h.kit.create_user("cy@example.com", PASSWORD));
    let r = h.ok("start_password_reset", json!({"email": "cy@example.com"}));
    assert_eq!(r["pendingCode"], "reset_password_email_code");
    let code = h.code("cy@example.com");
    let r = h.ok(
        "attempt_sign_in_code",
        json!({"signInId": r["id"], "code": code}),
    );
    assert_eq!(r["status"], "needs_new_password");
    // A weak new password is refused with its Clerk code; the attempt is kept.
    let e = h.err(
        "reset_password",
        json!({"signInId": r["id"], "password": "short"}),
    );
    assert_eq!(e["kind"], "api");
    assert!(
        e["code"].as_str().unwrap().starts_with("form_password"),
        "{e}"
    );
    let r = h.ok(
        "reset_password",
        json!({"signInId": r["id"], "password": "lk-New-pass-8142", "signOutOfOtherSessions": true}),
    );
    assert_eq!(r["status"], "complete");
    h.event("signedIn");
    // The new password works, the old one does not.
    h.ok("sign_out", json!({}));
    let e = h.err(
        "sign_in_with_password",
        json!({"identifier": "cy@example.com", "password": PASSWORD}),
    );
    assert_eq!(e["code"], "form_password_incorrect");
    h.ok(
        "sign_in_with_password",
        json!({"identifier": "cy@example.com", "password": "lk-New-pass-8142"}),
    );

    let t = h.ok("get_template_token", json!({"template": "backend"}));
    let c = claims(t["jwt"].as_str().unwrap());
    assert_eq!(c["email"], "cy@example.com");
    assert_eq!(c["aud"], "api.example.com");
    let e = h.err("get_template_token", json!({"template": "nope"}));
    assert_eq!(e["kind"], "api");
    assert_eq!(e["code"], "resource_not_found");
    assert_eq!(e["status"], 404);
}

#[test]
fn the_about_window_may_read_the_auth_state_and_nothing_else() {
    let h = start();
    block_on(h.kit.create_user("dee@example.com", PASSWORD));
    let about = WebviewWindowBuilder::new(&h.app, "about", WebviewUrl::App("about.html".into()))
        .build()
        .unwrap();
    assert_eq!(
        invoke(&about, "get_auth_state", json!({})).unwrap()["status"],
        "signedOut"
    );
    let refused = invoke(
        &about,
        "sign_in_with_password",
        json!({"identifier": "dee@example.com", "password": PASSWORD}),
    )
    .unwrap_err();
    assert!(
        refused.as_str().is_some_and(|m| m.contains("not allowed")),
        "refused by the ACL: {refused}"
    );
    // Refused before it ran: nobody signed in.
    assert_eq!(h.state()["status"], "signedOut");

    h.ok(
        "sign_in_with_password",
        json!({"identifier": "dee@example.com", "password": PASSWORD}),
    );
    for cmd in ["get_token", "list_sessions", "sign_out"] {
        let refused = invoke(&about, cmd, json!({})).unwrap_err();
        assert!(
            refused.as_str().is_some_and(|m| m.contains("not allowed")),
            "{cmd} refused: {refused}"
        );
    }
    assert_eq!(
        h.state()["status"],
        "signedIn",
        "the refused sign-out did not run"
    );
    // A window no capability names gets nothing at all.
    let stray = WebviewWindowBuilder::new(&h.app, "stray", WebviewUrl::default())
        .build()
        .unwrap();
    assert!(invoke(&stray, "get_auth_state", json!({})).is_err());
}

/// Opens the latest emailed link as a browser would and returns where it redirects (not
/// followed: for the PKCE flow that is the app's own callback, which the OS hands to the app).
fn open_latest_link(h: &Harness, to: &str) -> String {
    let m = block_on(h.kit.latest_message(to));
    let link = m["link"].as_str().expect("an emailed link").to_owned();
    // The kit's client follows no redirects.
    let r = block_on(h.kit.http.get(&link).send()).unwrap();
    assert_eq!(r.status(), 303);
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The RFC 6238 code for `secret` (base32) at the emulator's time, from `totp-rs` (not the
/// emulator's own code).
fn totp_now(secret: &str, kit: &Kit) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .expect("base32 secret");
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes);
    totp.generate(u64::try_from(kit.emu.clock().now_secs()).unwrap())
}

fn email_links_on(kit: &Kit) {
    block_on(kit.set_settings(json!({"email_address": {"email_link": true}})));
}

#[test]
fn an_email_link_back_to_the_app_signs_in_through_its_callback_url() {
    let h = start_with(email_links_on);
    let user = block_on(h.kit.create_user("eli@example.com", PASSWORD));
    // A loopback callback, as an app without a claimed scheme would listen on.
    let redirect = "http://127.0.0.1:53682/email-link";
    let s = h.ok(
        "sign_in_with_email_link",
        json!({"email": "eli@example.com", "redirectUri": redirect}),
    );
    assert_eq!(s["status"], "needs_first_factor");
    let id = s["id"].as_str().unwrap().to_owned();
    let callback = open_latest_link(&h, "eli@example.com");
    assert!(callback.starts_with(&format!("{redirect}?")), "{callback}");
    assert_eq!(
        h.state()["status"],
        "signedOut",
        "nothing before the callback"
    );

    // Another sign-in's callback is refused without ending this one.
    let forged = callback.replace(&id, "sia_someone_else");
    let e = h.err(
        "complete_email_link",
        json!({"signInId": id, "url": forged}),
    );
    assert_eq!(e["kind"], "invalidState");
    let e = h.err(
        "complete_email_link",
        json!({"signInId": "sia_not_started_here", "url": callback}),
    );
    assert_eq!(e["kind"], "unknownAttempt");

    let done = h.ok(
        "complete_email_link",
        json!({"signInId": id, "url": callback}),
    );
    assert_eq!(done["status"], "complete");
    let ev = h.event("signedIn");
    assert_eq!(ev["user"]["id"], user["id"]);
    // Completed: the attempt is gone.
    let e = h.err(
        "complete_email_link",
        json!({"signInId": id, "url": callback}),
    );
    assert_eq!(e["kind"], "unknownAttempt");
}

#[test]
fn an_email_link_opened_on_another_device_is_waited_for() {
    let h = start_with(email_links_on);
    block_on(h.kit.create_user("ola@example.com", PASSWORD));
    let s = h.ok(
        "sign_in_with_email_link_elsewhere",
        json!({"email": "ola@example.com", "landingUrl": "http://localhost:3000/signed-in"}),
    );
    let id = s["id"].as_str().unwrap().to_owned();
    // Not opened yet: the wait ends with its kind, and the sign-in is kept.
    let e = h.err(
        "wait_for_email_link",
        json!({"signInId": id, "timeoutMs": 1500}),
    );
    assert_eq!(e["kind"], "invalidState", "{e}");
    let landing = open_latest_link(&h, "ola@example.com");
    assert!(
        landing.starts_with("http://localhost:3000/signed-in")
            && landing.contains("__clerk_status=verified"),
        "{landing}"
    );
    let done = h.ok(
        "wait_for_email_link",
        json!({"signInId": id, "timeoutMs": 10000}),
    );
    assert_eq!(done["status"], "complete");
    assert_eq!(h.state()["status"], "signedIn");
}

#[test]
fn an_email_link_refused_by_the_instance_keeps_the_clerk_code() {
    // Email links are off on a new instance: the SDK says so before sending anything.
    let h = start();
    block_on(h.kit.create_user("nol@example.com", PASSWORD));
    let e = h.err(
        "sign_in_with_email_link",
        json!({"email": "nol@example.com", "redirectUri": "http://127.0.0.1:53682/cb"}),
    );
    assert_eq!(e["kind"], "invalidState", "{e}");
    // An unknown address: the server's code survives.
    let h = start_with(email_links_on);
    let e = h.err(
        "sign_in_with_email_link_elsewhere",
        json!({"email": "nobody@example.com", "landingUrl": "http://localhost:3000/"}),
    );
    assert_eq!(e["kind"], "api");
    assert_eq!(e["code"], "form_identifier_not_found");
}

#[test]
fn a_second_factor_through_the_commands_backup_code_once() {
    let h = start();
    block_on(h.kit.create_user("sec@example.com", PASSWORD));
    h.ok(
        "sign_in_with_password",
        json!({"identifier": "sec@example.com", "password": PASSWORD}),
    );
    // Enrolment is not a command (the app's Rust side does it through the SDK).
    let sdk = h
        .app
        .state::<tauri_plugin_latchkey::Latchkey>()
        .sdk()
        .clone();
    let codes: Vec<String> = block_on(async {
        let enrolment = sdk.create_totp().await.unwrap();
        let wrong = sdk.verify_totp("000000").await;
        assert!(wrong.is_err());
        // The enrolment needs a real authenticator code: compute it from the secret (RFC 6238).
        let code = totp_now(enrolment.secret().expose(), &h.kit);
        let backup = sdk.verify_totp(&code).await.unwrap();
        backup
            .codes()
            .iter()
            .map(|c| c.expose().to_owned())
            .collect()
    });
    h.ok("sign_out", json!({}));

    let s = h.ok(
        "sign_in_with_password",
        json!({"identifier": "sec@example.com", "password": PASSWORD}),
    );
    assert_eq!(s["status"], "needs_second_factor");
    let factors = s["secondFactors"].as_array().unwrap();
    assert!(
        factors.contains(&json!("totp")) && factors.contains(&json!("backup_code")),
        "{s}"
    );
    assert_eq!(h.state()["status"], "signedOut");

    let e = h.err(
        "attempt_second_factor",
        json!({"signInId": s["id"], "strategy": "totp", "code": "000000"}),
    );
    assert_eq!(e["kind"], "api");
    assert_eq!(e["code"], "form_code_incorrect");
    let e = h.err(
        "attempt_second_factor",
        json!({"signInId": s["id"], "strategy": "carrier_pigeon", "code": "1"}),
    );
    assert_eq!(e["kind"], "invalidArgument");
    let e = h.err(
        "prepare_second_factor",
        json!({"signInId": s["id"], "strategy": "phone_code"}),
    );
    assert_eq!(
        e["kind"], "api",
        "no phone second factor for this user: {e}"
    );

    let done = h.ok(
        "attempt_second_factor",
        json!({"signInId": s["id"], "strategy": "backup_code", "code": codes[0]}),
    );
    assert_eq!(done["status"], "complete");
    assert_eq!(h.state()["status"], "signedIn");

    // A backup code works once.
    h.ok("sign_out", json!({}));
    let s = h.ok(
        "sign_in_with_password",
        json!({"identifier": "sec@example.com", "password": PASSWORD}),
    );
    let e = h.err(
        "attempt_second_factor",
        json!({"signInId": s["id"], "strategy": "backup_code", "code": codes[0]}),
    );
    assert_eq!(e["kind"], "api");
}

/// Follows `url` through the emulator's redirects as a browser would, until they leave it for the
/// app (its loopback listener, or its claimed scheme); requests a loopback callback, and returns
/// where it landed.
async fn browse(emulator: String, url: String) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut at = url;
    for _ in 0..8 {
        if !at.starts_with(&emulator) {
            if at.starts_with("http://127.0.0.1:") {
                let page = http.get(&at).send().await.unwrap();
                assert_eq!(page.status(), 200, "the app's callback page");
            }
            return at;
        }
        let r = http.get(&at).send().await.unwrap();
        assert!(r.status().is_redirection(), "{at}: {}", r.status());
        at = r.headers()["location"].to_str().unwrap().to_owned();
    }
    panic!("too many redirects");
}

fn queue(kit: &Kit, provider: &str, answer: Value) {
    let r = block_on(kit.control(
        latchkey_testkit::Method::POST,
        &format!("/oauth/{provider}/next"),
        Some(answer),
    ));
    assert_eq!(r.status, 200, "{}", r.body);
}

/// The app with a "system browser" that follows the provider page's redirects (the mock answers
/// a queued identity at once); where it landed goes to `landed`.
fn start_with_browser() -> (Harness, mpsc::Receiver<String>) {
    let (tx, landed) = mpsc::channel();
    let emulator = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let e = emulator.clone();
    let h = start_configured(
        |kit| *e.lock().unwrap() = kit.url().to_owned(),
        move |b| {
            b.browser_opener(move |url: &str| -> Result<(), latchkey::Error> {
                let (tx, emulator, url) =
                    (tx.clone(), emulator.lock().unwrap().clone(), url.to_owned());
                tauri::async_runtime::spawn(async move {
                    let _ = tx.send(browse(emulator, url).await);
                });
                Ok(())
            })
        },
    );
    (h, landed)
}

#[test]
fn oauth_in_the_system_browser_signs_a_new_user_up_then_in_and_tells_the_webview() {
    let (h, _landed) = start_with_browser();
    let ann = json!({"email": "ann@example.com", "first_name": "Ann", "email_verified": true,
                     "provider_user_id": "g-ann"});
    queue(&h.kit, "google", ann.clone());
    let r = h.ok("sign_in_with_oauth", json!({"provider": "google"}));
    assert!(r["signIn"].is_null(), "someone new is signed up: {r}");
    assert_eq!(r["signUp"]["status"], "complete", "{r}");
    let user = h.event("signedIn")["user"]["id"].clone();
    assert_eq!(h.state()["user"]["id"], user);

    h.ok("sign_out", json!({}));
    h.event("signedOut");
    queue(&h.kit, "google", ann);
    let r = h.ok("sign_up_with_oauth", json!({"provider": "google"}));
    assert_eq!(
        r["signIn"]["status"], "complete",
        "an existing account signs in: {r}"
    );
    assert_eq!(h.event("signedIn")["user"]["id"], user);

    // Denied at the provider: kind oauth, Clerk's code, still signed in as before.
    queue(&h.kit, "google", json!({"error": "access_denied"}));
    let e = h.err("sign_in_with_oauth", json!({"provider": "google"}));
    assert_eq!(e["kind"], "oauth", "{e}");
    assert_eq!(e["code"], "oauth_access_denied", "{e}");
    let e = h.err("sign_in_with_oauth", json!({"provider": "myspace"}));
    assert_eq!(e["kind"], "invalidArgument", "{e}");
}

#[test]
fn a_claimed_scheme_deep_link_completes_the_oauth_attempt_it_belongs_to() {
    let (h, landed) = start_with_browser();
    let r = block_on(h.kit.bapi(
        latchkey_testkit::Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "dev.latchkey.notes://oauth"})),
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    queue(
        &h.kit,
        "google",
        json!({"email": "dee@example.com", "email_verified": true,
                                     "provider_user_id": "g-dee"}),
    );
    let started = h.ok(
        "start_oauth",
        json!({"provider": "google", "redirectUrl": "dev.latchkey.notes://oauth", "signUp": true}),
    );
    let id = started["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("sua_"), "{started}");
    let deep_link = landed
        .recv_timeout(Duration::from_secs(10))
        .expect("the browser ran");
    assert!(
        deep_link.starts_with("dev.latchkey.notes://oauth?"),
        "{deep_link}"
    );

    // Not its callback: refused, the attempt kept.
    let e = h.err(
        "complete_oauth",
        json!({"id": id, "url": deep_link.replace("lk_state=", "lk_state=x")}),
    );
    assert_eq!(e["kind"], "invalidState", "{e}");
    assert!(block_on(
        h.app
            .latchkey()
            .complete_oauth_deep_link("dev.latchkey.notes://oauth?x=1")
    )
    .is_none());
    // What the app's tauri-plugin-deep-link handler calls with the URL the OS hands it.
    let r = block_on(h.app.latchkey().complete_oauth_deep_link(&deep_link))
        .expect("the pending attempt's callback")
        .unwrap();
    assert_eq!(r.sign_up.map(|s| s.status).as_deref(), Some("complete"));
    h.event("signedIn");
    let e = h.err("complete_oauth", json!({"id": id, "url": deep_link}));
    assert_eq!(
        e["kind"], "unknownAttempt",
        "finished attempts are gone: {e}"
    );
}
