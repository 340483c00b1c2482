//! OAuth through the SDK against the in-process emulator's mock providers: the loopback round
//! trip with a plain HTTP client as the "browser" (the mock answers a queued identity at once),
//! transfers both ways, denial, cancellation and timeout (the listener closed each time), a
//! forged callback refused, a claimed-scheme deep link, and ID tokens. Real Chromium on the
//! mock's page is in tests/ui/oauth.test.mjs (through cli-login).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use latchkey::{Error, OAuthFailure, OAuthOutcome, OAuthProvider, SignInStatus};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::*;

const PASSWORD: &str = "lk-Test-pass-4921";

fn ann() -> Value {
    json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
           "email_verified": true, "provider_user_id": "g-ann-1"})
}

async fn next(h: &Harness, provider: &str, answer: Value) {
    let r = h
        .control(
            Method::POST,
            &format!("/oauth/{provider}/next"),
            Some(answer),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Where the "browser" got to: the loopback callback URL it reached (or would have).
#[derive(Clone, Default)]
struct Browser {
    callbacks: Arc<Mutex<Vec<String>>>,
}

impl Browser {
    async fn callback(&self) -> String {
        for _ in 0..500 {
            if let Some(u) = self.callbacks.lock().unwrap().first().cloned() {
                return u;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the browser never reached the app's callback");
    }
}

/// Follows `url` through the emulator's redirects, as a browser would, until they leave the
/// emulator for the app's loopback callback; records that URL, and requests it when `visit`.
async fn follow(emulator: String, url: String, visit: bool, browser: Browser) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut at = url;
    for _ in 0..8 {
        if !at.starts_with(&emulator) {
            browser.callbacks.lock().unwrap().push(at.clone());
            if visit {
                let page = http.get(&at).send().await.unwrap();
                assert_eq!(page.status(), 200, "the app's callback page");
            }
            return;
        }
        let r = http.get(&at).send().await.unwrap();
        assert!(r.status().is_redirection(), "{at}: {}", r.status());
        at = r.headers()["location"].to_str().unwrap().to_owned();
    }
    panic!("too many redirects");
}

/// An SDK whose "system browser" is [`follow`]: with `visit`, the whole automated round trip.
async fn sdk_with_browser(
    h: &Harness,
    visit: bool,
    timeout: Duration,
) -> (latchkey::Latchkey, Browser) {
    let browser = Browser::default();
    let (b, emulator) = (browser.clone(), h.url().to_owned());
    let lk = sdk_builder(&h.fapi_url, &h.clock)
        .store(latchkey::MemoryStore::new())
        .oauth_timeout(timeout)
        .browser_opener(move |url: &str| -> Result<(), Error> {
            tokio::spawn(follow(emulator.clone(), url.to_owned(), visit, b.clone()));
            Ok(())
        })
        .build()
        .unwrap();
    lk.ready().await.unwrap();
    (lk, browser)
}

fn port_of(callback: &str) -> u16 {
    let u = url::Url::parse(callback).unwrap();
    assert_eq!(u.host_str(), Some("127.0.0.1"), "{callback}");
    assert_eq!(u.path(), "/callback");
    assert!(u.query_pairs().any(|(k, _)| k == "lk_state"), "{callback}");
    u.port().unwrap()
}

async fn listening(port: u16) -> bool {
    tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .is_ok()
}

#[tokio::test]
async fn a_provider_account_with_a_users_verified_email_signs_that_user_in() {
    let h = start().await;
    let user = h.create_user("ann@example.com", PASSWORD).await;
    next(&h, "google", ann()).await;
    let (lk, browser) = sdk_with_browser(&h, true, WAIT).await;

    let outcome = lk.sign_in_with_oauth(&OAuthProvider::Google).await.unwrap();
    let OAuthOutcome::SignIn(attempt) = &outcome else {
        panic!("a sign-in, got {outcome:?}")
    };
    assert_eq!(attempt.status(), SignInStatus::Complete);
    assert!(outcome.is_complete());
    assert_eq!(
        lk.user().map(|u| u.id.clone()).as_deref(),
        user["id"].as_str()
    );
    lk.session_token()
        .await
        .expect("a session token for the signed-in user");

    let port = port_of(&browser.callback().await);
    assert!(
        !listening(port).await,
        "the listener is closed after the round trip"
    );
    let u = h
        .bapi(
            Method::GET,
            &format!("/v1/users/{}", user["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(u.body["external_accounts"][0]["provider"], "oauth_google");
}

#[tokio::test]
async fn nobody_with_the_account_signs_up_through_the_transfer_and_then_signs_in() {
    let h = start().await;
    next(
        &h,
        "github",
        json!({"email": "gus@example.com", "first_name": "Gus",
                                "email_verified": true, "provider_user_id": "gh-7"}),
    )
    .await;
    h.set_settings(json!({"social": {"oauth_github": {"enabled": true}}}))
        .await;
    let (lk, _) = sdk_with_browser(&h, true, WAIT).await;

    let outcome = lk.sign_in_with_oauth(&OAuthProvider::Github).await.unwrap();
    let OAuthOutcome::SignUp(sign_up) = &outcome else {
        panic!("a transfer to a sign-up, got {outcome:?}")
    };
    assert!(outcome.is_complete(), "{:?}", sign_up.raw());
    let user_id = sign_up.created_user_id().unwrap().to_owned();
    assert_eq!(lk.user().map(|u| u.id.clone()), Some(user_id.clone()));

    // Signed out, a sign-up through the same account is transferred the other way.
    lk.sign_out().await.unwrap();
    next(
        &h,
        "github",
        json!({"email": "gus@example.com", "email_verified": true,
                                "provider_user_id": "gh-7"}),
    )
    .await;
    let outcome = lk.sign_up_with_oauth(&OAuthProvider::Github).await.unwrap();
    assert!(
        matches!(&outcome, OAuthOutcome::SignIn(a) if a.is_complete()),
        "{outcome:?}"
    );
    assert_eq!(lk.user().map(|u| u.id.clone()), Some(user_id));
}

#[tokio::test]
async fn a_denial_is_a_typed_error_and_leaves_no_listener_or_session() {
    let h = start().await;
    next(&h, "google", json!({"error": "access_denied"})).await;
    let (lk, browser) = sdk_with_browser(&h, true, WAIT).await;
    let e = lk
        .sign_in_with_oauth(&OAuthProvider::Google)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::OAuth(OAuthFailure::Denied)), "{e:?}");
    let callback = browser.callback().await;
    assert!(!callback.contains("rotating_token_nonce"), "{callback}");
    assert!(!listening(port_of(&callback)).await);
    assert!(lk.current().session().is_none());
}

#[tokio::test]
async fn a_browser_that_never_comes_back_times_out_and_closes_the_listener() {
    let h = start().await;
    next(&h, "google", ann()).await;
    // The browser gets as far as the app's callback but never requests it.
    let (lk, browser) = sdk_with_browser(&h, false, Duration::from_millis(1500)).await;
    let e = lk
        .sign_in_with_oauth(&OAuthProvider::Google)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::OAuth(OAuthFailure::TimedOut)), "{e:?}");
    assert!(!listening(port_of(&browser.callback().await)).await);
    assert!(lk.current().session().is_none());
}

#[tokio::test]
async fn an_app_that_gives_up_waiting_drops_the_flow_and_its_listener() {
    let h = start().await;
    next(&h, "google", ann()).await;
    let (lk, browser) = sdk_with_browser(&h, false, WAIT).await;
    let task = tokio::spawn(async move { lk.sign_in_with_oauth(&OAuthProvider::Google).await });
    let port = port_of(&browser.callback().await);
    assert!(listening(port).await, "listening while the flow waits");
    task.abort(); // the user pressed Cancel: the app drops the future
    assert!(task.await.unwrap_err().is_cancelled());
    assert!(!listening(port).await, "the listener went with the future");
}

#[tokio::test]
async fn a_callback_without_this_attempts_state_is_refused_and_the_real_one_still_works() {
    let h = start().await;
    next(&h, "google", ann()).await;
    let (lk, browser) = sdk_with_browser(&h, false, WAIT).await;
    let task = tokio::spawn({
        let lk = lk.clone();
        async move { lk.sign_in_with_oauth(&OAuthProvider::Google).await }
    });
    let callback = browser.callback().await;
    let mut forged = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = forged.query_pairs().into_owned().collect();
    forged.query_pairs_mut().clear();
    for (k, v) in &pairs {
        let v = if k == "lk_state" {
            "forged"
        } else {
            v.as_str()
        };
        forged.query_pairs_mut().append_pair(k, v);
    }
    let http = reqwest::Client::new();
    let r = http.get(forged.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 400, "a forged state is refused");
    let r = http
        .get(callback.replace("/callback", "/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        !task.is_finished(),
        "the flow still waits for its own callback"
    );

    let r = http.get(&callback).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("<h1>Back to the app</h1>"),
        "{callback}: {page}"
    );
    let outcome = task.await.unwrap().unwrap();
    assert!(outcome.is_complete());
}

#[tokio::test]
async fn a_claimed_scheme_callback_completes_the_flow_the_app_hands_in() {
    let h = start().await;
    h.create_user("ann@example.com", PASSWORD).await;
    let lk = h.sdk().await;
    // Not on the allowlist yet: Clerk's refusal, nothing started.
    let e = lk
        .start_oauth_sign_in(&OAuthProvider::Google, "com.example.notes://callback")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("resource_missmatch"), "{e:?}");
    h.bapi(
        Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "com.example.notes://callback"})),
    )
    .await;
    next(&h, "google", ann()).await;
    let pending = lk
        .start_oauth_sign_in(&OAuthProvider::Google, "com.example.notes://callback")
        .await
        .unwrap();
    assert!(pending.redirect_url().contains("lk_state="));
    let browser = Browser::default();
    follow(
        h.url().to_owned(),
        pending.authorize_url().to_owned(),
        false,
        browser.clone(),
    )
    .await;
    let deep_link = browser.callback().await;
    assert!(
        deep_link.starts_with("com.example.notes://callback?"),
        "{deep_link}"
    );

    // Another address is refused before any request.
    let elsewhere = deep_link.replace("com.example.notes://", "evil.example://");
    let e = lk
        .start_oauth_sign_in(&OAuthProvider::Google, "com.example.notes://callback")
        .await
        .unwrap()
        .complete(&elsewhere)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidState(_)), "{e:?}");

    let outcome = pending.complete(&deep_link).await.unwrap();
    assert!(outcome.is_complete(), "{outcome:?}");
    assert!(lk.current().session().is_some());
}

#[tokio::test]
async fn a_callback_with_neither_result_nor_error_is_a_cancellation() {
    let h = start().await;
    let lk = h.sdk().await;
    let pending = lk
        .start_oauth_sign_in(&OAuthProvider::Google, "http://127.0.0.1:9/callback")
        .await
        .unwrap();
    let bare = pending.redirect_url().to_owned();
    let e = pending.complete(&bare).await.unwrap_err();
    assert!(matches!(e, Error::OAuth(OAuthFailure::Cancelled)), "{e:?}");
}

#[tokio::test]
async fn id_tokens_from_native_provider_sdks_sign_up_then_in() {
    let h = start().await;
    h.set_settings(json!({"social": {"oauth_apple": {"enabled": true}}}))
        .await;
    let token = |provider: &'static str| {
        let h = &h;
        async move {
            let r = h
                .control(
                    Method::POST,
                    &format!("/oauth/{provider}/id_token"),
                    Some(json!({"email": "ida@example.com", "email_verified": true,
                                "provider_user_id": format!("{provider}-ida")})),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            r.body["id_token"].as_str().unwrap().to_owned()
        }
    };
    let lk = h.sdk().await;
    let first = lk
        .sign_in_with_id_token(&OAuthProvider::Apple, &token("apple").await)
        .await
        .unwrap();
    assert!(matches!(&first, OAuthOutcome::SignUp(_)), "{first:?}");
    assert!(first.is_complete());
    let user = lk.user().unwrap().id.clone();
    lk.sign_out().await.unwrap();

    let again = lk
        .sign_in_with_id_token(&OAuthProvider::Apple, &token("apple").await)
        .await
        .unwrap();
    assert!(
        matches!(&again, OAuthOutcome::SignIn(a) if a.is_complete()),
        "{again:?}"
    );
    assert_eq!(lk.user().map(|u| u.id.clone()), Some(user.clone()));
    lk.sign_out().await.unwrap();

    // Google's (google_one_tap): the same verified email links the same user.
    let google = lk
        .sign_in_with_id_token(&OAuthProvider::Google, &token("google").await)
        .await
        .unwrap();
    assert!(google.is_complete(), "{google:?}");
    assert_eq!(lk.user().map(|u| u.id.clone()), Some(user));

    let e = lk
        .sign_in_with_id_token(&OAuthProvider::Apple, "not-a-token")
        .await
        .unwrap_err();
    assert!(e.api_error().is_some(), "the server's refusal: {e:?}");
}

#[tokio::test]
async fn idle_connections_to_the_listener_do_not_hold_up_the_callback() {
    let h = start().await;
    h.create_user("ann@example.com", PASSWORD).await;
    next(&h, "google", ann()).await;
    // Five idle sockets each used to cost the callback a 10 s read timeout in turn: 50 s, past
    // this flow's 8 s.
    let (lk, browser) = sdk_with_browser(&h, false, Duration::from_secs(8)).await;
    let task = tokio::spawn({
        let lk = lk.clone();
        async move { lk.sign_in_with_oauth(&OAuthProvider::Google).await }
    });
    let callback = browser.callback().await;
    let port = port_of(&callback);
    let mut idle = Vec::new();
    for _ in 0..5 {
        idle.push(
            tokio::net::TcpStream::connect(SocketAddr::from(([127, 0, 0, 1], port)))
                .await
                .unwrap(),
        );
    }
    let r = reqwest::get(&callback).await.unwrap();
    assert_eq!(r.status(), 200);
    let outcome = task
        .await
        .unwrap()
        .expect("signed in despite the idle sockets");
    assert!(outcome.is_complete());
    drop(idle);
}
