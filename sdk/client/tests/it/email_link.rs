//! Sign-in by email link through the SDK: the native PKCE flow completed from the callback URL
//! the link leads to, and the flow opened on another device, found by polling.

use std::time::Duration;

use latchkey::{Error, SignInStatus};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

const PASSWORD: &str = "lk-Test-pass-4921";

async fn links_on() -> Harness {
    let h = start().await;
    h.set_settings(json!({"email_address": {"email_link": true}}))
        .await;
    h
}

/// Opens the emailed link as a browser would and returns where it redirects (not followed:
/// for the PKCE flow that is the app's own scheme, which the OS would hand to the app).
async fn open_latest_link(h: &Harness, email: &str) -> String {
    let m = h.latest_message(email).await;
    let link = m["link"].as_str().expect("a link").to_owned();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 303);
    r.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_link_back_to_the_app_signs_in_with_the_verifier_only_this_attempt_holds() {
    let h = links_on().await;
    h.bapi(
        Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "myapp://email-link"})),
    )
    .await;
    let user = h.create_user("link@example.com", PASSWORD).await;
    let lk = h.sdk().await;
    let pending = lk
        .sign_in_with_email_link("link@example.com", "myapp://email-link")
        .await
        .unwrap();
    assert!(lk.current().session().is_none());
    let callback = open_latest_link(&h, "link@example.com").await;
    assert!(callback.starts_with("myapp://email-link?"), "{callback}");

    // A callback for another sign-in, or to another address, is refused before any request.
    let forged = callback.replace(pending.sign_in_id(), "sia_someone_else");
    assert!(matches!(
        pending.complete(&forged).await,
        Err(Error::InvalidState(_))
    ));
    let elsewhere = callback.replace("myapp://email-link", "evil://email-link");
    assert!(matches!(
        pending.complete(&elsewhere).await,
        Err(Error::InvalidState(_))
    ));

    let done = pending.complete(&callback).await.unwrap();
    assert_eq!(done.status(), SignInStatus::Complete);
    let state = lk.current();
    assert_eq!(state.user().unwrap().id, user["id"].as_str().unwrap());
    let token = lk.session_token().await.unwrap();
    assert!(!token.expose().is_empty());

    // The approval works once.
    let again = pending.complete(&callback).await.unwrap_err();
    assert_eq!(again.code(), Some("approval_token_consumed"), "{again}");
}

#[tokio::test]
async fn a_link_opened_on_another_device_is_found_by_polling() {
    let h = links_on().await;
    let user = h.create_user("poll@example.com", PASSWORD).await;
    let lk = h.sdk().await;
    let mut attempt = lk
        .sign_in_with_email_link_elsewhere("poll@example.com", "https://app.example/done")
        .await
        .unwrap();
    // Not opened yet: the wait gives up, and the attempt is still usable.
    let err = attempt
        .wait_for_email_link(Duration::from_millis(1500))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err}");

    let landing = open_latest_link(&h, "poll@example.com").await;
    assert!(
        landing.starts_with("https://app.example/done?__clerk_status=verified"),
        "{landing}"
    );
    let status = attempt
        .wait_for_email_link(Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(status, SignInStatus::Complete);
    assert_eq!(
        lk.current().user().unwrap().id,
        user["id"].as_str().unwrap()
    );
}

#[tokio::test]
async fn without_email_links_on_the_instance_the_sdk_says_so() {
    let h = start().await;
    h.create_user("off@example.com", PASSWORD).await;
    let lk = h.sdk().await;
    let err = lk
        .sign_in_with_email_link_elsewhere("off@example.com", "https://app.example/done")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidState(_)), "{err}");
}
