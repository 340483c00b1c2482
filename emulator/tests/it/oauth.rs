//! OAuth through the mock providers: sign-up and sign-in with the native callback contract
//! (`rotating_token_nonce`), transfers both ways, linking by verified email, the provider's page,
//! and every refusal (denied, forged state, replayed code, reused or foreign nonce, redirect not
//! allowed, provider off). Every Frontend API answer is validated against the spec.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

const APP: &str = "http://127.0.0.1:53682/oauth-callback";

/// Queues the mock provider's next answer (automation).
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

fn ann() -> Value {
    json!({"email": "ann@example.com", "first_name": "Ann", "last_name": "Lee",
           "provider_user_id": "g-ann-1", "image_url": "https://img.example/ann.png"})
}

/// Starts a sign-in (`sign_ins`) or sign-up (`sign_ups`) through `strategy` on `app`, back to
/// `APP`; the attempt's JSON.
async fn begin(app: &mut Native<'_>, attempts: &str, strategy: &str) -> Value {
    let r = app
        .post(
            &format!("/v1/client/{attempts}"),
            &[("strategy", strategy), ("redirect_url", APP)],
        )
        .await;
    r.ok()["response"].clone()
}

/// The provider URL of an attempt's OAuth verification (sign-in or sign-up).
fn attempt_url(attempt: &Value) -> String {
    if attempt["object"] == "sign_up_attempt" {
        provider_url(&attempt["verifications"]["external_account"])
    } else {
        provider_url(&attempt["first_factor_verification"])
    }
}

/// Reauthorizes the external account `id`; where the browser lands after the provider.
async fn reauthorize(h: &Harness, app: &mut Native<'_>, id: &str) -> url::Url {
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/me/external_accounts/{id}/reauthorize"),
            &[("redirect_url", APP)],
        )
        .await;
    browse(h, &provider_url(&r.ok()["response"]["verification"])).await
}

fn param(u: &url::Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
}

/// The verification's provider URL, checked to be what clients need.
fn provider_url(v: &Value) -> String {
    assert_eq!(v["object"], "verification_oauth", "{v}");
    assert_eq!(v["status"], "unverified", "{v}");
    let url = v["external_verification_redirect_url"].as_str().unwrap();
    let parsed = url::Url::parse(url).expect("an absolute URL (clerk-js parses it)");
    assert!(param(&parsed, "state").is_some(), "{url}");
    url.to_owned()
}

#[tokio::test]
async fn a_new_user_signs_up_through_the_provider_and_the_app_redeems_its_nonce() {
    let h = start().await;
    next(&h, "google", ann()).await;
    let mut app = h.fapi();
    let su = begin(&mut app, "sign_ups", "oauth_google").await;
    let id = su["id"].as_str().unwrap().to_owned();
    assert_eq!(su["status"], "missing_requirements");
    let url = provider_url(&su["verifications"]["external_account"]);
    let before = app.token.clone().unwrap();

    let landed = browse(&h, &url).await;
    assert!(landed.as_str().starts_with(APP), "{landed}");
    let nonce = param(&landed, "rotating_token_nonce").expect("a nonce");
    assert_eq!(param(&landed, "__clerk_status"), None);

    let r = app
        .get(&format!(
            "/v1/client/sign_ups/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    let su = r.ok()["response"].clone();
    assert_eq!(su["status"], "complete", "{su}");
    assert_eq!(
        su["verifications"]["external_account"]["status"],
        "verified"
    );
    assert_ne!(
        app.token.as_deref(),
        Some(before.as_str()),
        "the token is rotated"
    );
    let sid = su["created_session_id"].as_str().unwrap().to_owned();
    let client = &r.body["client"];
    assert_eq!(client["last_active_session_id"], sid.as_str());
    assert!(!app.jwt(&sid).await.is_empty());

    // The user: the provider's names, its verified email, the external account.
    let uid = su["created_user_id"].as_str().unwrap();
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    let u = u.ok();
    assert_eq!(u["first_name"], "Ann");
    assert!(!u["password_enabled"].as_bool().unwrap());
    let email = &u["email_addresses"][0];
    assert_eq!(email["email_address"], "ann@example.com");
    assert_eq!(email["verification"]["status"], "verified");
    assert_eq!(email["verification"]["strategy"], "from_oauth_google");
    let ea = &u["external_accounts"][0];
    assert_eq!(ea["provider"], "oauth_google");
    assert_eq!(ea["provider_user_id"], "g-ann-1");
    assert_eq!(ea["email_address"], "ann@example.com");
    assert_eq!(ea["identification_id"], email["id"]);
    assert_eq!(ea["verification"]["status"], "verified");
    assert!(ea["id"].as_str().unwrap().starts_with("eac_"));
    // The Backend API hands out the provider's access token (spec-validated).
    let t = h
        .bapi(
            Method::GET,
            &format!("/v1/users/{uid}/oauth_access_tokens/oauth_google"),
            None,
        )
        .await;
    let t = t.ok();
    assert_eq!(t[0]["external_account_id"], ea["id"]);
    assert!(t[0]["token"].as_str().unwrap().len() > 20);
    let none = h
        .bapi(
            Method::GET,
            &format!("/v1/users/{uid}/oauth_access_tokens/oauth_github?paginated=true"),
            None,
        )
        .await;
    assert_eq!(none.ok()["total_count"], 0);
    // The Frontend API shows it too.
    let me = app.get("/v1/me").await;
    assert_eq!(
        me.ok()["response"]["external_accounts"][0]["provider"],
        "oauth_google"
    );

    // The nonce works once.
    let again = app
        .get(&format!(
            "/v1/client/sign_ups/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    again.err(400, "rotating_token_nonce_invalid");
}

#[tokio::test]
async fn the_user_created_webhook_carries_the_external_account() {
    let h = start().await;
    let rx = crate::receiver::Receiver::start().await;
    crate::webhooks::endpoint(&h, &rx.url, json!(["user.created"])).await;
    next(&h, "google", ann()).await;
    let mut app = h.fapi();
    let url = attempt_url(&begin(&mut app, "sign_ups", "oauth_google").await);
    browse(&h, &url).await;
    let got = rx.wait_for(1).await;
    let event = got[0].json();
    crate::webhooks::validate_event(&event);
    assert_eq!(event["type"], "user.created");
    let ea = &event["data"]["external_accounts"][0];
    assert_eq!(ea["provider"], "oauth_google", "{event}");
    assert_eq!(ea["provider_user_id"], "g-ann-1");
}

#[tokio::test]
async fn an_unknown_identity_signing_in_is_transferred_to_a_sign_up() {
    let h = start().await;
    next(&h, "google", ann()).await;
    let mut app = h.fapi();
    let si = begin(&mut app, "sign_ins", "oauth_google").await;
    let id = si["id"].as_str().unwrap().to_owned();
    let landed = browse(&h, &provider_url(&si["first_factor_verification"])).await;
    assert!(landed.as_str().starts_with(APP));
    assert_eq!(param(&landed, "__clerk_status").as_deref(), Some("failed"));
    assert_eq!(
        param(&landed, "__clerk_error_code").as_deref(),
        Some("external_account_not_found")
    );
    assert_eq!(
        param(&landed, "rotating_token_nonce"),
        None,
        "no nonce on a transfer"
    );

    let si = app.get(&format!("/v1/client/sign_ins/{id}")).await;
    let si = si.ok()["response"].clone();
    assert_eq!(si["status"], "needs_identifier");
    let v = &si["first_factor_verification"];
    assert_eq!(v["status"], "transferable");
    assert_eq!(v["external_verification_redirect_url"], "");
    assert_eq!(v["error"]["code"], "external_account_not_found");

    let r = app
        .post("/v1/client/sign_ups", &[("transfer", "true")])
        .await;
    let su = r.ok()["response"].clone();
    assert_eq!(su["status"], "complete", "{su}");
    assert!(su["created_session_id"].is_string());
    let u = h
        .bapi(Method::GET, "/v1/users?email_address=ann@example.com", None)
        .await;
    assert_eq!(
        u.ok()[0]["external_accounts"][0]["provider_user_id"],
        "g-ann-1"
    );

    // Nothing left to transfer.
    let mut other = h.fapi();
    let r = other
        .post("/v1/client/sign_ups", &[("transfer", "true")])
        .await;
    r.err(422, "external_account_not_found");
}

#[tokio::test]
async fn a_user_with_the_verified_email_is_linked_and_signed_in_again_by_the_account() {
    let h = start().await;
    let user = h
        .create_user("ann@example.com", "correct horse battery")
        .await;
    next(&h, "google", ann()).await;
    let mut app = h.fapi();
    let r = app
        .post(
            "/v1/client/sign_ins",
            &[
                ("strategy", "oauth_google"),
                ("redirect_url", APP),
                (
                    "action_complete_redirect_url",
                    "http://127.0.0.1:53682/done",
                ),
            ],
        )
        .await;
    let si = r.ok()["response"].clone();
    let id = si["id"].as_str().unwrap().to_owned();
    let landed = browse(&h, &provider_url(&si["first_factor_verification"])).await;
    // A session was created: the action-complete URL.
    assert!(
        landed.as_str().starts_with("http://127.0.0.1:53682/done?"),
        "{landed}"
    );
    let nonce = param(&landed, "rotating_token_nonce").unwrap();
    let r = app
        .get(&format!(
            "/v1/client/sign_ins/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    let si = r.ok()["response"].clone();
    assert_eq!(si["status"], "complete");
    assert_eq!(si["first_factor_verification"]["status"], "verified");
    assert_eq!(
        r.body["client"]["last_authentication_strategy"],
        "oauth_google"
    );
    let u = h
        .bapi(
            Method::GET,
            &format!("/v1/users/{}", user["id"].as_str().unwrap()),
            None,
        )
        .await;
    let u = u.ok();
    assert_eq!(
        u["external_accounts"][0]["identification_id"],
        u["email_addresses"][0]["id"]
    );

    // Later the provider reports another email for the same account: still this user.
    next(
        &h,
        "google",
        json!({"email": "ann.lee@example.org", "provider_user_id": "g-ann-1"}),
    )
    .await;
    let mut second = h.fapi();
    let si = begin(&mut second, "sign_ins", "oauth_google").await;
    let landed = browse(&h, &provider_url(&si["first_factor_verification"])).await;
    let nonce = param(&landed, "rotating_token_nonce").unwrap();
    let r = second
        .get(&format!(
            "/v1/client/sign_ins/{}?rotating_token_nonce={nonce}",
            si["id"].as_str().unwrap()
        ))
        .await;
    let sid = r.ok()["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{sid}"), None)
        .await;
    assert_eq!(s.ok()["user_id"], user["id"]);
}

#[tokio::test]
async fn a_sign_up_for_an_existing_account_is_transferred_to_a_sign_in() {
    let h = start().await;
    h.create_user("ann@example.com", "correct horse battery")
        .await;
    next(&h, "google", ann()).await;
    let mut app = h.fapi();
    let su = begin(&mut app, "sign_ups", "oauth_google").await;
    let landed = browse(&h, &provider_url(&su["verifications"]["external_account"])).await;
    assert_eq!(
        param(&landed, "__clerk_error_code").as_deref(),
        Some("external_account_exists")
    );
    assert_eq!(param(&landed, "rotating_token_nonce"), None);
    let su = app
        .get(&format!(
            "/v1/client/sign_ups/{}",
            su["id"].as_str().unwrap()
        ))
        .await;
    let ea = &su.ok()["response"]["verifications"]["external_account"];
    assert_eq!(ea["status"], "transferable");
    assert_eq!(ea["error"]["code"], "external_account_exists");

    let r = app
        .post("/v1/client/sign_ins", &[("transfer", "true")])
        .await;
    let si = r.ok()["response"].clone();
    assert_eq!(si["status"], "complete", "{si}");
    assert!(si["created_session_id"].is_string());
}

#[tokio::test]
async fn a_user_with_a_second_factor_still_needs_it_after_the_provider() {
    let h = start().await;
    let mut setup = h.fapi();
    setup
        .sign_up("ann@example.com", "correct horse battery")
        .await;
    let uid = h
        .bapi(Method::GET, "/v1/users?email_address=ann@example.com", None)
        .await
        .ok()[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // An authenticator app turns two-step verification on.
    let r = setup.post("/v1/me/totp", &[]).await;
    let secret = r.ok()["response"]["secret"].as_str().unwrap().to_owned();
    let now = h.control(Method::GET, "/time", None).await.ok()["now"]
        .as_i64()
        .unwrap();
    let code = totp_at(&secret, now);
    setup
        .post("/v1/me/totp/attempt_verification", &[("code", &code)])
        .await
        .ok();
    next(&h, "google", ann()).await;
    let mut app = h.fapi();
    let si = begin(&mut app, "sign_ins", "oauth_google").await;
    let landed = browse(&h, &provider_url(&si["first_factor_verification"])).await;
    let nonce = param(&landed, "rotating_token_nonce").expect("a nonce: the sign-in goes on");
    let r = app
        .get(&format!(
            "/v1/client/sign_ins/{}?rotating_token_nonce={nonce}",
            si["id"].as_str().unwrap()
        ))
        .await;
    let si = r.ok()["response"].clone();
    assert_eq!(si["status"], "needs_second_factor", "{si}");
    assert!(si["created_session_id"].is_null());
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["external_accounts"][0]["provider"], "oauth_google");
}

/// RFC 6238 with SHA-1, 6 digits, 30 s (what the emulator's TOTP uses), from `totp-rs`.
fn totp_at(secret: &str, now_ms: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .generate(u64::try_from(now_ms / 1000).unwrap())
}

#[tokio::test]
async fn denied_forged_replayed_and_foreign_callbacks_are_refused() {
    let h = start().await;
    let mut app = h.fapi();

    // Denied at the provider: failed, with the code, no nonce.
    next(&h, "google", json!({"error": "access_denied"})).await;
    let si = begin(&mut app, "sign_ins", "oauth_google").await;
    let landed = browse(&h, &provider_url(&si["first_factor_verification"])).await;
    assert_eq!(param(&landed, "__clerk_status").as_deref(), Some("failed"));
    assert_eq!(
        param(&landed, "__clerk_error_code").as_deref(),
        Some("oauth_access_denied")
    );
    let si = app
        .get(&format!(
            "/v1/client/sign_ins/{}",
            si["id"].as_str().unwrap()
        ))
        .await;
    let v = &si.ok()["response"]["first_factor_verification"];
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"]["code"], "oauth_access_denied");

    // A fresh attempt; its callback with a forged state, then replayed.
    h.create_user("ann@example.com", "correct horse battery")
        .await;
    next(&h, "google", ann()).await;
    let si = begin(&mut app, "sign_ins", "oauth_google").await;
    let id = si["id"].as_str().unwrap().to_owned();
    let authorize = provider_url(&si["first_factor_verification"]);
    let r = h.http.get(&authorize).send().await.unwrap();
    assert_eq!(r.status(), 303);
    let callback = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    assert!(callback
        .as_str()
        .starts_with(&format!("{}/v1/oauth_callback?", h.url())));
    let state = param(&callback, "state").unwrap();
    let code = param(&callback, "code").unwrap();
    for forged in [
        format!("{id}.not-the-secret"),
        "sia_nobody.x".to_owned(),
        "no-dot".to_owned(),
    ] {
        let r = h
            .request(
                Method::GET,
                &format!(
                    "/v1/oauth_callback?code={code}&state={}",
                    urlencode(&forged)
                ),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "forged state {forged}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["code"], "oauth_callback_invalid");
    }
    let r = h
        .request(
            Method::GET,
            &format!("/v1/oauth_callback?code=wrong&state={}", urlencode(&state)),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a code the provider did not issue");
    // The real callback, once.
    let landed = browse(&h, callback.as_str()).await;
    let nonce = param(&landed, "rotating_token_nonce").unwrap();
    let r = h.http.get(callback.as_str()).send().await.unwrap();
    assert_eq!(r.status(), 400, "the callback works once");

    // The nonce, from another client: refused, and still usable by its own.
    let mut other = h.fapi();
    other.post("/v1/client/sign_ins", &[]).await;
    assert!(other.token.is_some());
    let r = other
        .get(&format!(
            "/v1/client/sign_ins/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    r.err(400, "rotating_token_nonce_invalid");
    let r = app
        .get(&format!(
            "/v1/client/sign_ins/{id}?rotating_token_nonce=wrong"
        ))
        .await;
    r.err(400, "rotating_token_nonce_invalid");
    let r = app
        .get(&format!(
            "/v1/client/sign_ins/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
}

#[tokio::test]
async fn the_provider_page_offers_earlier_identities_and_a_form() {
    let h = start().await;
    let mut app = h.fapi();
    let url = attempt_url(&begin(&mut app, "sign_ups", "oauth_google").await);
    let page = h.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in with Google"), "{html}");
    assert!(html.contains(r#"name="email""#) && html.contains("Deny access"));
    let state = param(&url::Url::parse(&url).unwrap(), "state").unwrap();

    // The person fills in the form (email not verified by the provider).
    let r = h
        .http
        .post(format!("{}/_emulator/oauth/google/authorize", h.url()))
        .form(&[
            ("state", state.as_str()),
            ("email", "bo@example.com"),
            ("first_name", "Bo"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let landed = browse(&h, r.headers()["location"].to_str().unwrap()).await;
    let nonce = param(&landed, "rotating_token_nonce").unwrap();
    let su = app
        .get(&format!(
            "/v1/client/sign_ups/{}?rotating_token_nonce={nonce}",
            param(&url::Url::parse(&url).unwrap(), "state")
                .unwrap()
                .split('.')
                .next()
                .unwrap()
        ))
        .await;
    let su = su.ok()["response"].clone();
    // An email the provider did not verify still needs its code.
    assert_eq!(su["status"], "missing_requirements", "{su}");
    assert_eq!(su["unverified_fields"], json!(["email_address"]));
    assert_eq!(su["email_address"], "bo@example.com");

    // A finished sign-up's identity is offered on the next page (its markup escaped).
    next(
        &h,
        "google",
        json!({"email": "ann@example.com", "first_name": "<script>alert(1)</script>"}),
    )
    .await;
    let mut two = h.fapi();
    let r = two
        .post(
            "/v1/client/sign_ups",
            &[("strategy", "oauth_google"), ("redirect_url", APP)],
        )
        .await;
    browse(
        &h,
        &provider_url(&r.ok()["response"]["verifications"]["external_account"]),
    )
    .await;
    let mut three = h.fapi();
    let url = attempt_url(&begin(&mut three, "sign_ins", "oauth_google").await);
    let html = h.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("Choose an account") && html.contains("ann@example.com"),
        "{html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
}

#[tokio::test]
async fn refused_redirects_disabled_providers_and_bad_automation() {
    let h = start().await;
    let mut app = h.fapi();
    // A custom scheme not on the allowlist.
    let r = app
        .post(
            "/v1/client/sign_ins",
            &[
                ("strategy", "oauth_google"),
                ("redirect_url", "myapp://callback"),
            ],
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);
    // Allowed once on the allowlist.
    h.bapi(
        Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "myapp://callback"})),
    )
    .await
    .ok();
    let r = app
        .post(
            "/v1/client/sign_ins",
            &[
                ("strategy", "oauth_google"),
                ("redirect_url", "myapp://callback"),
            ],
        )
        .await;
    r.ok();
    // No redirect_url at all.
    let r = app
        .post("/v1/client/sign_ins", &[("strategy", "oauth_google")])
        .await;
    r.err(422, "form_param_nil");
    // GitHub is off until turned on.
    let r = app
        .post(
            "/v1/client/sign_ups",
            &[("strategy", "oauth_github"), ("redirect_url", APP)],
        )
        .await;
    r.err(422, "form_param_value_invalid");
    h.set_settings(json!({"social": {"oauth_github": {"enabled": true}}}))
        .await;
    let env = app.get("/v1/environment").await;
    let social = &env.ok()["user_settings"]["social"];
    assert_eq!(social["oauth_github"]["strategy"], "oauth_github");
    assert_eq!(social["oauth_google"]["enabled"], true);
    let url = attempt_url(&begin(&mut app, "sign_ups", "oauth_github").await);
    assert!(url.contains("/_emulator/oauth/github/authorize"), "{url}");
    // An unknown provider in the settings is refused.
    let r = h
        .control(
            Method::PATCH,
            "/instance",
            Some(json!({"settings": {"social": {"oauth_myspace": {"enabled": true}}}})),
        )
        .await;
    assert!(r.status >= 400, "{}", r.body);

    // Automation: a malformed identity, an unknown provider.
    let r = h
        .control(
            Method::POST,
            "/oauth/google/next",
            Some(json!({"email": "nope"})),
        )
        .await;
    assert!(r.status == 400 || r.status == 422, "{}", r.body);
    let r = h
        .control(
            Method::POST,
            "/oauth/google/next",
            Some(json!({"emial": "a@b.co"})),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let r = h
        .control(Method::POST, "/oauth/myspace/next", Some(ann()))
        .await;
    assert_eq!(r.status, 404, "{}", r.body);
    // The authorize page with a state nobody issued.
    let r = h
        .http
        .get(format!(
            "{}/_emulator/oauth/google/authorize?state=sia_x.y",
            h.url()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_signed_in_user_connects_reauthorizes_and_removes_an_account() {
    let h = start().await;
    let mut app = h.fapi();
    app.sign_up("cy@example.com", "correct horse battery").await;
    let me = app.get("/v1/me").await;
    let email_id = me.ok()["response"]["email_addresses"][0]["id"].clone();
    let uid = me.body["response"]["id"].as_str().unwrap().to_owned();

    next(
        &h,
        "google",
        json!({"email": "cy@example.com", "provider_user_id": "g-cy", "first_name": "Cy"}),
    )
    .await;
    let r = app
        .post(
            "/v1/me/external_accounts",
            &[
                ("strategy", "oauth_google"),
                ("redirect_url", "http://127.0.0.1:53682/settings"),
                ("additional_scope", "calendar"),
            ],
        )
        .await;
    let ea = r.ok()["response"].clone();
    let id = ea["id"].as_str().unwrap().to_owned();
    let landed = browse(&h, &provider_url(&ea["verification"])).await;
    assert_eq!(landed.as_str(), "http://127.0.0.1:53682/settings");
    let me = app.get("/v1/me").await;
    let accounts = me.ok()["response"]["external_accounts"].clone();
    assert_eq!(accounts[0]["id"], id.as_str());
    assert_eq!(accounts[0]["provider_user_id"], "g-cy");
    assert_eq!(accounts[0]["identification_id"], email_id);

    // Another user's provider account cannot be connected here.
    let mut other = h.fapi();
    other
        .sign_up("dee@example.com", "correct horse battery")
        .await;
    next(
        &h,
        "google",
        json!({"email": "cy@example.com", "provider_user_id": "g-cy"}),
    )
    .await;
    let r = other
        .post(
            "/v1/me/external_accounts",
            &[("strategy", "oauth_google"), ("redirect_url", APP)],
        )
        .await;
    let landed = browse(&h, &provider_url(&r.ok()["response"]["verification"])).await;
    assert_eq!(
        param(&landed, "__clerk_error_code").as_deref(),
        Some("external_account_exists")
    );
    let me = other.get("/v1/me").await;
    assert_eq!(me.ok()["response"]["external_accounts"], json!([]));

    // Reauthorize: back through the provider as the same account.
    let r = app
        .call(
            Method::PATCH,
            &format!("/v1/me/external_accounts/{id}/reauthorize"),
            &[],
        )
        .await;
    r.err(422, "form_param_nil");
    next(
        &h,
        "google",
        json!({"email": "cy@example.com", "provider_user_id": "g-cy"}),
    )
    .await;
    let landed = reauthorize(&h, &mut app, &id).await;
    assert_eq!(param(&landed, "__clerk_status"), None, "{landed}");
    // As another account at the provider: refused.
    next(
        &h,
        "google",
        json!({"email": "cy@example.com", "provider_user_id": "g-other"}),
    )
    .await;
    let landed = reauthorize(&h, &mut app, &id).await;
    assert_eq!(param(&landed, "__clerk_status").as_deref(), Some("failed"));

    // The provider's tokens revoked, then the account removed.
    let path = format!("/v1/users/{uid}/oauth_access_tokens/oauth_google");
    assert_eq!(
        h.bapi(Method::GET, &path, None)
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/me/external_accounts/{id}/tokens"),
            &[],
        )
        .await;
    assert_eq!(r.ok()["response"]["id"], uid.as_str());
    assert_eq!(h.bapi(Method::GET, &path, None).await.ok(), &json!([]));
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/me/external_accounts/{id}"),
            &[],
        )
        .await;
    assert_eq!(r.ok()["response"]["deleted"], true);
    let me = app.get("/v1/me").await;
    assert_eq!(me.ok()["response"]["external_accounts"], json!([]));
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/me/external_accounts/{id}"),
            &[],
        )
        .await;
    r.err(404, "resource_not_found");
    // Someone else's account id is not found either.
    let r = other
        .call(
            Method::DELETE,
            &format!("/v1/me/external_accounts/{id}/tokens"),
            &[],
        )
        .await;
    r.err(404, "resource_not_found");
}

/// An ID token the mock provider signs for `identity`.
async fn id_token(h: &Harness, provider: &str, identity: Value) -> String {
    let r = h
        .control(
            Method::POST,
            &format!("/oauth/{provider}/id_token"),
            Some(identity),
        )
        .await;
    r.ok()["id_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_apple_id_token_of_nobody_is_transferable_then_signs_up_with_the_names() {
    let h = start().await;
    h.set_settings(json!({"social": {"oauth_apple": {"enabled": true}}}))
        .await;
    let token = id_token(
        &h,
        "apple",
        json!({"email": "pat@privaterelay.example.com", "provider_user_id": "001234.apple"}),
    )
    .await;
    let mut app = h.fapi();
    let r = app
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_token_apple"), ("token", &token)],
        )
        .await;
    let si = r.ok()["response"].clone();
    assert_eq!(si["status"], "needs_identifier");
    let v = &si["first_factor_verification"];
    assert_eq!(v["status"], "transferable", "{si}");
    assert_eq!(v["strategy"], "oauth_token_apple");
    assert_eq!(v["error"]["code"], "external_account_not_found");
    // iOS then transfers, with the name Apple gave it once.
    let r = app
        .post(
            "/v1/client/sign_ups",
            &[
                ("transfer", "true"),
                ("first_name", "Pat"),
                ("last_name", "Kim"),
            ],
        )
        .await;
    let su = r.ok()["response"].clone();
    assert_eq!(su["status"], "complete", "{su}");
    let uid = su["created_user_id"].as_str().unwrap();
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    let u = u.ok();
    assert_eq!(u["first_name"], "Pat");
    assert_eq!(u["external_accounts"][0]["provider"], "oauth_apple");
    assert_eq!(
        u["external_accounts"][0]["provider_user_id"],
        "001234.apple"
    );

    // Next time the same token's account signs in at once.
    let mut again = h.fapi();
    let r = again
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_token_apple"), ("token", &token)],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    assert_eq!(
        r.body["client"]["last_authentication_strategy"],
        "oauth_apple"
    );
}

#[tokio::test]
async fn google_id_tokens_sign_in_sign_up_one_tap_and_are_checked() {
    let h = start().await;
    h.create_user("gia@example.com", "correct horse battery")
        .await;
    let gia = json!({"email": "gia@example.com", "provider_user_id": "g-gia"});
    let token = id_token(&h, "google", gia.clone()).await;

    // A sign-up for an existing (verified) email: transferable, then the sign-in transfer.
    let mut app = h.fapi();
    let r = app
        .post(
            "/v1/client/sign_ups",
            &[("strategy", "oauth_token_google"), ("token", &token)],
        )
        .await;
    let ea = &r.ok()["response"]["verifications"]["external_account"];
    assert_eq!(ea["status"], "transferable");
    assert_eq!(ea["error"]["code"], "external_account_exists");
    let r = app
        .post("/v1/client/sign_ins", &[("transfer", "true")])
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete", "{}", r.body);

    // An ID token on attempt_first_factor of an existing sign-in (iOS).
    let mut ios = h.fapi();
    let r = ios.post("/v1/client/sign_ins", &[]).await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let r = ios
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &[("strategy", "oauth_token_google"), ("token", &token)],
        )
        .await;
    assert_eq!(r.ok()["response"]["status"], "complete", "{}", r.body);

    // Google One Tap: an unknown account fails (the client then signs up itself).
    let new = id_token(
        &h,
        "google",
        json!({"email": "new@example.com", "provider_user_id": "g-new"}),
    )
    .await;
    let mut web = h.fapi();
    let r = web
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "google_one_tap"), ("token", &new)],
        )
        .await;
    r.err(422, "external_account_not_found");
    let r = web
        .post(
            "/v1/client/sign_ups",
            &[("strategy", "google_one_tap"), ("token", &new)],
        )
        .await;
    let su = r.ok()["response"].clone();
    assert_eq!(su["status"], "complete", "{su}");
    assert_eq!(
        su["verifications"]["external_account"]["object"],
        "verification_google_one_tap"
    );

    // Refused: no token, a forged signature, another provider's token, an expired one.
    let mut bad = h.fapi();
    let r = bad
        .post("/v1/client/sign_ins", &[("strategy", "oauth_token_google")])
        .await;
    r.err(422, "form_param_nil");
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let last = if parts[2].ends_with('A') { "B" } else { "A" };
    parts[2] = format!("{}{last}", &parts[2][..parts[2].len() - 1]);
    let forged = parts.join(".");
    for t in [forged.as_str(), "not.a.jwt", "nope"] {
        let r = bad
            .post(
                "/v1/client/sign_ins",
                &[("strategy", "oauth_token_google"), ("token", t)],
            )
            .await;
        r.err(422, "form_param_value_invalid");
    }
    h.set_settings(json!({"social": {"oauth_apple": {"enabled": true}}}))
        .await;
    let r = bad
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_token_apple"), ("token", &token)],
        )
        .await;
    r.err(422, "form_param_value_invalid");
    h.advance(11 * 60).await;
    let r = bad
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_token_google"), ("token", &token)],
        )
        .await;
    r.err(422, "form_param_value_invalid");
}

#[tokio::test]
async fn an_unreachable_or_misconfigured_oidc_upstream_is_a_clear_error() {
    let h = start().await;
    for bad in [
        json!({"issuer": "ftp://idp.example", "client_id": "c", "client_secret": "s"}),
        // Plain http off this machine: the secret would travel in clear.
        json!({"issuer": "http://idp.example", "client_id": "c", "client_secret": "s"}),
        json!({"issuer": "http://127.0.0.1:1", "client_id": "", "client_secret": "s"}),
        json!({"issuer": "http://127.0.0.1:1", "client_id": "c", "client_secret": "s", "tenant": "x"}),
    ] {
        let r = h
            .control(
                Method::PATCH,
                "/instance",
                Some(json!({"settings": {"social": {"oauth_github": {"enabled": true, "oidc": bad}}}})),
            )
            .await;
        assert!(r.status == 400 || r.status == 422, "{bad}: {}", r.body);
    }
    // A refusing
    // upstream makes starting the flow a 4xx, not a 500.
    let (sock, addr) = latchkey_testkit::refusing_addr();
    h.set_settings(
        json!({"social": {"oauth_github": {"enabled": true, "oidc": {
        "issuer": format!("http://{addr}"), "client_id": "c", "client_secret": "s"}}}}),
    )
    .await;
    let mut app = h.fapi();
    let r = app
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_github"), ("redirect_url", APP)],
        )
        .await;
    assert!((400..500).contains(&r.status), "{}", r.body);
    assert!(
        r.body["errors"][0]["long_message"]
            .as_str()
            .unwrap()
            .contains("could not be reached"),
        "{}",
        r.body
    );
    // A real upstream's ID tokens cannot be checked offline, so the mock's are not minted for
    // it nor taken.
    let r = h
        .control(Method::POST, "/oauth/github/id_token", Some(ann()))
        .await;
    assert!((400..500).contains(&r.status), "{}", r.body);
    let r = app
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_token_github"), ("token", "x.y.z")],
        )
        .await;
    assert!((400..500).contains(&r.status), "{}", r.body);
    drop(sock);
}

/// Signs up through the mock Google with `identity` queued, on a new client: the client, the
/// attempt, and where the browser landed.
async fn google_sign_up(h: &Harness, identity: Value) -> (Native<'_>, Value, url::Url) {
    next(h, "google", identity).await;
    let mut app = h.fapi();
    let su = begin(&mut app, "sign_ups", "oauth_google").await;
    let landed = browse(h, &attempt_url(&su)).await;
    (app, su, landed)
}

/// Posts a choice to the mock page for `state`: the status it answers.
async fn choose_on_page(h: &Harness, state: &str, email: &str) -> u16 {
    h.http
        .post(format!("{}/_emulator/oauth/google/authorize", h.url()))
        .form(&[
            ("state", state),
            ("email", email),
            ("email_verified", "on"),
            ("provider_user_id", "g-mallory"),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn an_answered_verification_cannot_be_rewritten_on_the_page_and_a_transfer_works_once() {
    let h = start().await;
    let victim = h
        .create_user("victim@example.com", "correct horse battery")
        .await;
    // Mallory signs up with her own account, then starts a sign-up with it again.
    let (_first, _, landed) = google_sign_up(
        &h,
        json!({"email": "mallory@example.com", "email_verified": true,
                               "provider_user_id": "g-mallory"}),
    )
    .await;
    assert!(param(&landed, "rotating_token_nonce").is_some(), "{landed}");

    let (mut app, su, landed) = google_sign_up(
        &h,
        json!({"email": "mallory@example.com", "email_verified": true,
                               "provider_user_id": "g-mallory"}),
    )
    .await;
    let url = attempt_url(&su);
    let state = param(&url::Url::parse(&url).unwrap(), "state").unwrap();
    assert_eq!(
        param(&landed, "__clerk_error_code").as_deref(),
        Some("external_account_exists")
    );
    // The answered (now transferable) verification's identity cannot be swapped for the
    // victim's on the mock page.
    assert_eq!(choose_on_page(&h, &state, "victim@example.com").await, 400);
    let r = app
        .post("/v1/client/sign_ins", &[("transfer", "true")])
        .await;
    let si = r.ok()["response"].clone();
    assert_eq!(si["status"], "complete", "{si}");
    let sess = h
        .bapi(
            Method::GET,
            &format!(
                "/v1/sessions/{}",
                si["created_session_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_ne!(
        sess.body["user_id"], victim["id"],
        "signed in as Mallory, not the victim"
    );

    // Signed out, the used-up sign-up does not sign her back in without the provider.
    let r = app
        .post(
            &format!(
                "/v1/client/sessions/{}/remove",
                si["created_session_id"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    r.ok();
    let r = app
        .post("/v1/client/sign_ins", &[("transfer", "true")])
        .await;
    r.err(422, "external_account_exists");
}

#[tokio::test]
async fn a_provider_account_taken_while_a_sign_up_waited_for_its_code_is_refused_not_a_500() {
    let h = start().await;
    let unverified =
        json!({"email": "dup@example.com", "email_verified": false, "provider_user_id": "g-dup"});
    next(&h, "google", unverified).await;
    let mut waiting = h.fapi();
    let su = begin(&mut waiting, "sign_ups", "oauth_google").await;
    let landed = browse(&h, &attempt_url(&su)).await;
    let nonce = param(&landed, "rotating_token_nonce").unwrap();
    let id = su["id"].as_str().unwrap().to_owned();
    let r = waiting
        .get(&format!(
            "/v1/client/sign_ups/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    assert_eq!(
        r.ok()["response"]["unverified_fields"],
        json!(["email_address"])
    );
    let r = waiting
        .post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            &[("strategy", "email_code")],
        )
        .await;
    r.ok();
    let code = h.latest_code("dup@example.com").await;

    // Meanwhile the same provider account signs up elsewhere, with another (verified) email.
    let (_other, _, landed) = google_sign_up(
        &h,
        json!({"email": "other@example.com", "email_verified": true,
                               "provider_user_id": "g-dup"}),
    )
    .await;
    assert!(param(&landed, "rotating_token_nonce").is_some(), "{landed}");

    let r = waiting
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "email_code"), ("code", code.as_str())],
        )
        .await;
    r.err(422, "external_account_exists");
    let users = h
        .bapi(Method::GET, "/v1/users?email_address=dup@example.com", None)
        .await;
    assert_eq!(users.body, json!([]), "nothing half-written");
}

#[tokio::test]
async fn a_reset_forgets_queued_provider_answers() {
    let h = start().await;
    next(&h, "google", ann()).await;
    let r = h.control(Method::POST, "/reset", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut app = h.fapi();
    let url = attempt_url(&begin(&mut app, "sign_ins", "oauth_google").await);
    let page = h.http.get(&url).send().await.unwrap();
    assert_eq!(
        page.status(),
        200,
        "the page, not the leftover identity's redirect"
    );
    assert!(page.text().await.unwrap().contains("Sign in with Google"));
}

/// The instance with a custom mock provider `oauth_custom_acme` ("Acme SSO") on.
async fn with_acme(h: &Harness) {
    h.set_settings(json!({"social": {"oauth_custom_acme": {"enabled": true, "name": "Acme SSO"}}}))
        .await;
}

#[tokio::test]
async fn a_custom_mock_provider_signs_up_and_in_through_the_automation_queue() {
    let h = start().await;
    with_acme(&h).await;
    // Sign-up: the mock's page for `custom_acme`, answered by automation.
    next(&h, "custom_acme", ann()).await;
    let mut app = h.fapi();
    let su = begin(&mut app, "sign_ups", "oauth_custom_acme").await;
    let v = &su["verifications"]["external_account"];
    assert_eq!(v["strategy"], "oauth_custom_acme", "{su}");
    let url = provider_url(v);
    assert!(
        url.contains("/_emulator/oauth/custom_acme/authorize"),
        "{url}"
    );
    let id = su["id"].as_str().unwrap().to_owned();
    let landed = browse(&h, &url).await;
    let nonce = param(&landed, "rotating_token_nonce").expect("a nonce");
    let r = app
        .get(&format!(
            "/v1/client/sign_ups/{id}?rotating_token_nonce={nonce}"
        ))
        .await;
    let su = r.ok()["response"].clone();
    assert_eq!(su["status"], "complete", "{su}");
    assert_eq!(
        r.body["client"]["last_authentication_strategy"],
        "oauth_custom_acme"
    );
    let uid = su["created_user_id"].as_str().unwrap().to_owned();
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    let u = u.ok();
    let email = &u["email_addresses"][0];
    assert_eq!(email["verification"]["strategy"], "from_oauth_custom_acme");
    assert_eq!(email["verification"]["object"], "verification_from_oauth");
    let ea = &u["external_accounts"][0];
    assert_eq!(ea["provider"], "oauth_custom_acme");
    assert_eq!(ea["verification"]["strategy"], "oauth_custom_acme");
    assert_eq!(ea["provider_user_id"], "g-ann-1");
    // The Backend API's access tokens, by strategy and by path name.
    for provider in ["oauth_custom_acme", "custom_acme"] {
        let t = h
            .bapi(
                Method::GET,
                &format!("/v1/users/{uid}/oauth_access_tokens/{provider}"),
                None,
            )
            .await;
        let t = t.ok();
        assert_eq!(t[0]["external_account_id"], ea["id"], "{provider}");
        assert_eq!(t[0]["provider"], "oauth_custom_acme");
    }
    // A provider the instance does not have is a 422, not an empty list.
    let r = h
        .bapi(
            Method::GET,
            &format!("/v1/users/{uid}/oauth_access_tokens/oauth_custom_nope"),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let me = app.get("/v1/me").await;
    assert_eq!(
        me.ok()["response"]["external_accounts"][0]["provider"],
        "oauth_custom_acme"
    );

    // Sign-in on another device, the page shown this time: it carries the configured name and
    // offers the account used before.
    let mut other = h.fapi();
    let si = begin(&mut other, "sign_ins", "oauth_custom_acme").await;
    let url = attempt_url(&si);
    let page = h.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Sign in with Acme SSO"), "{html}");
    assert!(html.contains("ann@example.com"), "{html}");
    next(&h, "custom_acme", ann()).await;
    let landed = browse(&h, &url).await;
    let nonce = param(&landed, "rotating_token_nonce").expect("a nonce");
    let sid = si["id"].as_str().unwrap();
    let r = other
        .get(&format!(
            "/v1/client/sign_ins/{sid}?rotating_token_nonce={nonce}"
        ))
        .await;
    let si = r.ok()["response"].clone();
    assert_eq!(si["status"], "complete", "{si}");
    assert_eq!(
        si["first_factor_verification"]["strategy"],
        "oauth_custom_acme"
    );
    let session = h
        .bapi(
            Method::GET,
            &format!(
                "/v1/sessions/{}",
                si["created_session_id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(session.ok()["user_id"], uid.as_str());
    // Through prepare_first_factor too (iOS's way).
    let mut third = h.fapi();
    let r = third
        .post("/v1/client/sign_ins", &[("identifier", "ann@example.com")])
        .await;
    let sid = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let r = third
        .post(
            &format!("/v1/client/sign_ins/{sid}/prepare_first_factor"),
            &[("strategy", "oauth_custom_acme"), ("redirect_url", APP)],
        )
        .await;
    let url = provider_url(&r.ok()["response"]["first_factor_verification"]);
    assert!(url.contains("/_emulator/oauth/custom_acme/"), "{url}");
}

#[tokio::test]
async fn a_signed_in_user_connects_a_custom_provider_account() {
    let h = start().await;
    with_acme(&h).await;
    let mut app = h.fapi();
    app.sign_up("cy@example.com", "correct horse battery").await;
    next(
        &h,
        "custom_acme",
        json!({"email": "cy@example.com", "provider_user_id": "acme-cy"}),
    )
    .await;
    let r = app
        .post(
            "/v1/me/external_accounts",
            &[("strategy", "oauth_custom_acme"), ("redirect_url", APP)],
        )
        .await;
    let ea = r.ok()["response"].clone();
    assert_eq!(ea["provider"], "oauth_custom_acme");
    let id = ea["id"].as_str().unwrap().to_owned();
    let landed = browse(&h, &provider_url(&ea["verification"])).await;
    assert!(landed.as_str().starts_with(APP), "{landed}");
    let me = app.get("/v1/me").await;
    let accounts = &me.ok()["response"]["external_accounts"];
    assert_eq!(accounts[0]["provider"], "oauth_custom_acme");
    assert_eq!(accounts[0]["provider_user_id"], "acme-cy");
    // Reauthorized through the same provider, then removed.
    next(
        &h,
        "custom_acme",
        json!({"email": "cy@example.com", "provider_user_id": "acme-cy"}),
    )
    .await;
    let landed = reauthorize(&h, &mut app, &id).await;
    assert!(landed.as_str().starts_with(APP), "{landed}");
    let r = app
        .call(
            Method::DELETE,
            &format!("/v1/me/external_accounts/{id}"),
            &[],
        )
        .await;
    r.ok();
}

#[tokio::test]
async fn unknown_and_disabled_custom_strategies_are_refused_as_built_in_ones_are() {
    let h = start().await;
    let mut app = h.fapi();
    // What an unknown built-in provider gets today…
    let unknown = app
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_myspace"), ("redirect_url", APP)],
        )
        .await;
    unknown.err(422, "form_param_value_invalid");
    // …a custom provider the instance does not have gets too, on every way in.
    for (path, strategy) in [
        ("/v1/client/sign_ins", "oauth_custom_acme"),
        ("/v1/client/sign_ups", "oauth_custom_acme"),
        ("/v1/client/sign_ins", "oauth_custom_NOT-a-key"),
        ("/v1/client/sign_ups", "oauth_token_custom_acme"),
        ("/v1/client/sign_ins", "from_oauth_custom_acme"),
    ] {
        let r = app
            .post(path, &[("strategy", strategy), ("redirect_url", APP)])
            .await;
        r.err(422, "form_param_value_invalid");
        assert_eq!(
            r.body["errors"][0]["meta"]["param_name"], "strategy",
            "{strategy}: {}",
            r.body
        );
    }
    let r = app
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "oauth_custom_acme"), ("redirect_url", APP)],
        )
        .await;
    assert!(
        r.body["errors"][0]["long_message"]
            .as_str()
            .unwrap()
            .contains("is not a known strategy"),
        "{}",
        r.body
    );
    let r = h
        .control(Method::POST, "/oauth/custom_acme/next", Some(ann()))
        .await;
    assert_eq!(
        r.status, 404,
        "an unknown provider, as /oauth/myspace/next: {}",
        r.body
    );

    // Configured but off: refused as GitHub is while off, and not listed.
    h.set_settings(json!({"social": {"oauth_custom_acme": {"enabled": false, "name": "Acme"}}}))
        .await;
    let off = app
        .post(
            "/v1/client/sign_ups",
            &[("strategy", "oauth_custom_acme"), ("redirect_url", APP)],
        )
        .await;
    off.err(422, "form_param_value_invalid");
    assert!(
        off.body["errors"][0]["long_message"]
            .as_str()
            .unwrap()
            .contains("is not enabled on this instance"),
        "{}",
        off.body
    );
    let env = app.get("/v1/environment").await;
    assert!(env.ok()["user_settings"]["social"]
        .get("oauth_custom_acme")
        .is_none());
    let mut signed_in = h.fapi();
    signed_in
        .sign_up("dee@example.com", "correct horse battery")
        .await;
    let r = signed_in
        .post(
            "/v1/me/external_accounts",
            &[("strategy", "oauth_custom_acme"), ("redirect_url", APP)],
        )
        .await;
    r.err(422, "form_param_value_invalid");
    // Custom providers have no ID-token strategy.
    let r = h
        .control(
            Method::POST,
            "/oauth/custom_acme/id_token",
            Some(json!({"email": "a@example.com"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
}

#[tokio::test]
async fn the_environment_lists_custom_providers_as_clerk_does() {
    let h = start().await;
    h.set_settings(json!({"social": {
        "oauth_custom_acme": {"enabled": true, "name": "Acme SSO"},
        "oauth_custom_b2": {"enabled": true},
    }}))
    .await;
    let mut app = h.fapi();
    let env = app.get("/v1/environment").await;
    let env = env.ok().clone();
    let social = &env["user_settings"]["social"];
    let acme = &social["oauth_custom_acme"];
    assert_eq!(acme["strategy"], "oauth_custom_acme");
    assert_eq!(acme["name"], "Acme SSO");
    assert_eq!(acme["enabled"], true);
    assert_eq!(acme["authenticatable"], true);
    assert_eq!(social["oauth_custom_b2"]["name"], "b2", "no name: the key");
    assert_eq!(social["oauth_google"]["name"], "Google");
    // The written-down exception: the spec's `UserSettings.Socials` has
    // `additionalProperties: false` over a fixed list of providers (oauth_custom_mock among
    // them, but no other custom key), while Clerk lists each custom provider under its own
    // `oauth_custom_<key>`. Checked strictly, those keys are the only violations.
    let strict = fapi_spec().clone().strict_additional_properties(true);
    let errs = strict
        .check_response_for_url("GET", "/v1/environment", 200, &env)
        .unwrap();
    assert!(!errs.is_empty(), "strict checking sees the custom keys");
    for e in &errs {
        assert!(
            e.contains("oauth_custom_acme") || e.contains("oauth_custom_b2"),
            "only the custom providers' keys are off the spec: {e}"
        );
    }
}

#[tokio::test]
async fn bad_custom_provider_settings_are_refused_with_a_clear_error() {
    let h = start().await;
    for (bad, says) in [
        (json!({"oauth_custom_": {"enabled": true}}), "key"),
        (json!({"oauth_custom_Acme": {"enabled": true}}), "key"),
        (json!({"oauth_custom_a b": {"enabled": true}}), "key"),
        (json!({"oauth_custom_-x": {"enabled": true}}), "key"),
        (
            json!({format!("oauth_custom_{}", "a".repeat(33)): {"enabled": true}}),
            "key",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "name": ""}}),
            "name",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "name": "x".repeat(65)}}),
            "name",
        ),
        (
            json!({"oauth_google": {"enabled": true, "name": "Gugl"}}),
            "name",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "name": 7}}),
            "social.oauth_custom_acme: invalid type",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "colour": "red"}}),
            "colour",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "oidc": "https://idp.example"}}),
            "social.oauth_custom_acme: invalid type",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "oidc": {"issuer": "idp.example", "client_id": "c", "client_secret": "s"}}}),
            "issuer",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "oidc": {"issuer": "https://idp.example", "client_id": "c"}}}),
            "social.oauth_custom_acme: missing field `client_secret`",
        ),
        (
            json!({"oauth_custom_acme": {"enabled": true, "oidc": {"issuer": "https://idp.example", "client_id": "c", "client_secret": "s", "scopes": "email profile"}}}),
            "openid",
        ),
    ] {
        let r = h
            .control(
                Method::PATCH,
                "/instance",
                Some(json!({"settings": {"social": bad}})),
            )
            .await;
        assert_eq!(r.status, 422, "{bad}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], "form_param_format_invalid");
        let long = r.body["errors"][0]["long_message"].as_str().unwrap();
        assert!(long.contains(says), "{bad}: {long}");
    }
    // A well-formed one is taken.
    h.set_settings(
        json!({"social": {"oauth_custom_acme-sso_2": {"enabled": true,
        "name": "Acme SSO", "oidc": {"issuer": "https://idp.example", "client_id": "c",
        "client_secret": "s", "scopes": "openid email"}}}}),
    )
    .await;
}

#[tokio::test]
async fn a_custom_providers_name_is_text_on_its_page() {
    let h = start().await;
    h.set_settings(json!({"social": {"oauth_custom_acme": {"enabled": true,
        "name": "<b>Acme</b> & \"Co\""}}}))
        .await;
    let mut app = h.fapi();
    let url = attempt_url(&begin(&mut app, "sign_ins", "oauth_custom_acme").await);
    let html = h.http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(
        html.contains("Sign in with &lt;b&gt;Acme&lt;/b&gt; &amp; &quot;Co&quot;"),
        "{html}"
    );
    assert!(!html.contains("<b>Acme"), "{html}");
}

#[tokio::test]
async fn a_connection_finished_after_sign_out_connects_nothing() {
    let h = start().await;
    let mut app = h.fapi();
    let sid = app
        .sign_up("eve@example.com", "correct horse battery")
        .await;
    next(
        &h,
        "google",
        json!({"email": "eve@example.com", "provider_user_id": "g-eve"}),
    )
    .await;
    let r = app
        .post(
            "/v1/me/external_accounts",
            &[("strategy", "oauth_google"), ("redirect_url", APP)],
        )
        .await;
    let to_provider = provider_url(&r.ok()["response"]["verification"]);
    // Signed out while the provider's page was open.
    app.post(&format!("/v1/client/sessions/{sid}/end"), &[])
        .await
        .ok();
    let landed = browse(&h, &to_provider).await;
    assert_eq!(
        param(&landed, "__clerk_error_code").as_deref(),
        Some("authentication_invalid")
    );
    let users = h
        .bapi(Method::GET, "/v1/users?email_address=eve@example.com", None)
        .await;
    assert_eq!(users.ok()[0]["external_accounts"], json!([]));
}

#[tokio::test]
async fn a_banned_users_address_is_not_linked_to_the_provider() {
    let h = start().await;
    let u = h
        .create_user("fay@example.com", "correct horse battery")
        .await;
    let uid = u["id"].as_str().unwrap();
    h.bapi(Method::POST, &format!("/v1/users/{uid}/ban"), None)
        .await
        .ok();
    next(
        &h,
        "google",
        json!({"email": "fay@example.com", "email_verified": true, "provider_user_id": "g-fay"}),
    )
    .await;
    let mut app = h.fapi();
    let si = begin(&mut app, "sign_ins", "oauth_google").await;
    let landed = browse(&h, &provider_url(&si["first_factor_verification"])).await;
    assert_eq!(
        param(&landed, "__clerk_error_code").as_deref(),
        Some("not_allowed_access")
    );
    let user = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(user.ok()["external_accounts"], json!([]), "nothing linked");
}
