//! Email links (`strategy=email_link`): the classic flow through `GET /v1/verify` and its
//! `__clerk_status` redirects, the native PKCE flow through `POST /v1/client/magic_links/complete`
//! and a ticket, and every way a link or an approval is refused.

use base64::Engine as _;
use reqwest::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::*;

const PASSWORD: &str = "correct horse battery staple";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gXFQ2KrsA";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

async fn links_on() -> Harness {
    let h = start().await;
    h.set_settings(json!({"email_address": {"email_link": true}}))
        .await;
    h
}

/// Starts a sign-in for `email` on `c` and asks for a link with `extra` parameters; the
/// sign-in's JSON after the prepare.
async fn ask_for_link(c: &mut Native<'_>, email: &str, extra: &[(&str, &str)]) -> Value {
    let r = c
        .post("/v1/client/sign_ins", &[("identifier", email)])
        .await;
    let si = r.ok()["response"].clone();
    let factor = first_factor(&si, "email_link").clone();
    let mut form = vec![
        ("strategy", "email_link"),
        (
            "email_address_id",
            factor["email_address_id"].as_str().unwrap(),
        ),
    ];
    form.extend_from_slice(extra);
    let id = si["id"].as_str().unwrap();
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            &form,
        )
        .await;
    r.ok()["response"].clone()
}

/// The link in the newest email to `to`.
async fn link_in_inbox(h: &Harness, to: &str) -> String {
    let m = h.latest_message(to).await;
    assert_eq!(m["template"], "magic_link", "{m}");
    let link = m["link"].as_str().unwrap().to_owned();
    assert!(
        link.starts_with(&format!("{}/v1/verify?token=", h.url())),
        "{link}"
    );
    assert!(
        m["body_text"].as_str().unwrap().contains(&link),
        "the text shows the link"
    );
    link
}

/// Opens `link` as a browser would, without following the redirect; `token` is the client
/// token the request carries, if any. The `Location`.
async fn open(link: &str, token: Option<&str>) -> url::Url {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut req = http.get(link);
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let loc = r.headers()["location"].to_str().unwrap().to_owned();
    url::Url::parse(&loc).unwrap()
}

fn param(u: &url::Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
}

#[tokio::test]
async fn a_link_opened_anywhere_signs_in_the_client_that_asked_for_it() {
    let h = links_on().await;
    let email = "link@example.com";
    let user = h.create_user(email, PASSWORD).await;
    let env = h.fapi().get("/v1/environment").await;
    assert!(
        env.ok()["user_settings"]["attributes"]["email_address"]["first_factors"]
            .as_array()
            .unwrap()
            .contains(&json!("email_link")),
        "{}",
        env.body["user_settings"]["attributes"]["email_address"]
    );
    let mut c = h.fapi();
    let si = ask_for_link(
        &mut c,
        email,
        &[("redirect_url", "https://app.example/sign-in#/verify")],
    )
    .await;
    let v = &si["first_factor_verification"];
    assert_eq!(
        (
            v["object"].as_str(),
            v["strategy"].as_str(),
            v["status"].as_str()
        ),
        (
            Some("verification_email_link"),
            Some("email_link"),
            Some("unverified")
        )
    );
    let token_before = c.token.clone();
    let link = link_in_inbox(&h, email).await;

    // Another browser (no client token) opens it.
    let loc = open(&link, None).await;
    assert_eq!(
        (loc.scheme(), loc.host_str(), loc.path(), loc.fragment()),
        ("https", Some("app.example"), "/sign-in", Some("/verify")),
        "parameters go before the fragment: {loc}"
    );
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("verified"));
    let sid = param(&loc, "__clerk_created_session").expect("a session was created");

    // The asking client polls its sign-in with the token it has, which still works.
    let id = si["id"].as_str().unwrap();
    let r = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    let polled = &r.ok()["response"];
    assert_eq!(polled["status"], "complete");
    assert_eq!(polled["created_session_id"], sid.as_str());
    assert_eq!(polled["first_factor_verification"]["status"], "verified");
    assert_eq!(
        c.token, token_before,
        "the device's token was not rotated away"
    );
    let claims = verify_jwt(&h.jwks().await, &c.jwt(&sid).await).unwrap();
    assert_eq!(claims["sub"], user["id"]);

    // A link opens once.
    let again = open(&link, None).await;
    assert_eq!(param(&again, "__clerk_status").as_deref(), Some("failed"));
    assert!(param(&again, "__clerk_created_session").is_none());
}

#[tokio::test]
async fn expired_superseded_and_unknown_links_do_not_sign_in() {
    let h = links_on().await;
    let email = "stale@example.com";
    h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    let redirect = [("redirect_url", "http://localhost:3000/verify")];
    let si = ask_for_link(&mut c, email, &redirect).await;
    let old = link_in_inbox(&h, email).await;
    // A second link for the same sign-in replaces the first.
    let id = si["id"].as_str().unwrap();
    let factor_id = first_factor(&si, "email_link")["email_address_id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.post(
        &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
        &[
            ("strategy", "email_link"),
            ("email_address_id", &factor_id),
            redirect[0],
        ],
    )
    .await
    .ok();
    let new = link_in_inbox(&h, email).await;
    assert_ne!(old, new);
    let loc = open(&old, None).await;
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("failed"));

    // Past its lifetime (10 minutes by the emulator clock) the newer one is expired too.
    h.advance(10 * 60 + 1).await;
    let loc = open(&new, None).await;
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("expired"));
    let r = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.ok()["response"]["status"], "needs_first_factor");
    assert_eq!(
        r.body["response"]["first_factor_verification"]["status"],
        "expired"
    );

    // A token that is no link: 400, nowhere to redirect.
    let r = reqwest::get(format!("{}/v1/verify?token=nope", h.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["meta"]["param_name"], "token");
    let r = reqwest::get(format!("{}/v1/verify", h.url()))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        c.get("/v1/client").await.ok()["response"]["sessions"],
        json!([])
    );
}

#[tokio::test]
async fn require_same_client_refuses_a_link_opened_by_another_client() {
    let h = links_on().await;
    h.set_settings(json!({"attack_protection": {"email_link": {"require_same_client": true}}}))
        .await;
    let email = "same@example.com";
    h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    let si = ask_for_link(&mut c, email, &[("redirect_url", "https://app.example/v")]).await;
    let link = link_in_inbox(&h, email).await;
    let loc = open(&link, None).await;
    assert_eq!(
        param(&loc, "__clerk_status").as_deref(),
        Some("client_mismatch")
    );
    let mut other = h.fapi();
    other.get("/v1/client").await.ok();
    let loc = open(&link, other.token.as_deref()).await;
    assert_eq!(
        param(&loc, "__clerk_status").as_deref(),
        Some("client_mismatch")
    );
    let id = si["id"].as_str().unwrap();
    let r = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.ok()["response"]["status"], "needs_first_factor");
    // The asking client itself may open it.
    let loc = open(&link, c.token.as_deref()).await;
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("verified"));
}

#[tokio::test]
async fn a_redirect_the_instance_does_not_accept_is_refused_and_nothing_is_sent() {
    let h = links_on().await;
    let email = "redir@example.com";
    h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    let r = c
        .post("/v1/client/sign_ins", &[("identifier", email)])
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/client/sign_ins/{id}/prepare_first_factor");
    for (param_name, url, code) in [
        ("redirect_url", "myapp://callback", "resource_missmatch"),
        ("redirect_url", "javascript:alert(1)", "invalid_url_scheme"),
        ("redirect_uri", "myapp://callback", "resource_missmatch"),
    ] {
        let mut form = vec![("strategy", "email_link"), (param_name, url)];
        if param_name == "redirect_uri" {
            form.push((
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ));
        }
        let r = c.post(&path, &form).await;
        assert_eq!((r.status, r.code()), (422, code), "{url}: {}", r.body);
    }
    let r = c.post(&path, &[("strategy", "email_link")]).await;
    assert_eq!((r.status, r.code()), (422, "form_param_nil"));
    let r = c
        .post(
            &path,
            &[
                ("strategy", "email_link"),
                ("redirect_uri", "http://127.0.0.1:4567/cb"),
                ("code_challenge", "short"),
            ],
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "form_param_format_invalid"));
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/attempt_first_factor"),
            &[("strategy", "email_link"), ("code", "123456")],
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "form_param_value_invalid"));
    let inbox = h
        .control(Method::GET, "/messages?to=redir%40example.com", None)
        .await;
    assert_eq!(
        inbox.ok()["data"],
        json!([]),
        "no link was sent: {}",
        inbox.body
    );
}

#[tokio::test]
async fn email_links_are_off_unless_the_instance_turns_them_on() {
    let h = start().await;
    let email = "off@example.com";
    h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    let r = c
        .post("/v1/client/sign_ins", &[("identifier", email)])
        .await;
    let si = r.ok()["response"].clone();
    assert!(!si["supported_first_factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["strategy"] == "email_link"));
    let id = si["id"].as_str().unwrap();
    let r = c
        .post(
            &format!("/v1/client/sign_ins/{id}/prepare_first_factor"),
            &[
                ("strategy", "email_link"),
                ("redirect_url", "https://a.example/"),
            ],
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "form_param_value_invalid"));
}

#[tokio::test]
async fn the_native_flow_hands_the_app_an_approval_only_its_verifier_redeems() {
    let h = links_on().await;
    h.bapi(
        Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "myapp://magic"})),
    )
    .await
    .ok();
    let email = "native@example.com";
    let user = h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    let ch = challenge(VERIFIER);
    let si = ask_for_link(
        &mut c,
        email,
        &[
            ("redirect_uri", "myapp://magic"),
            ("code_challenge", &ch),
            ("code_challenge_method", "S256"),
        ],
    )
    .await;
    let id = si["id"].as_str().unwrap().to_owned();
    let link = link_in_inbox(&h, email).await;
    let loc = open(&link, None).await;
    assert_eq!(loc.scheme(), "myapp");
    assert_eq!(param(&loc, "flow_id").as_deref(), Some(id.as_str()));
    let approval = param(&loc, "approval_token").expect("an approval");
    assert!(param(&loc, "__clerk_created_session").is_none());
    // Opening the link signs nobody in: only the app can.
    let r = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.ok()["response"]["status"], "needs_first_factor");

    let complete = |flow: String, approval: String, verifier: String| {
        let mut app = h.fapi();
        async move {
            app.post(
                "/v1/client/magic_links/complete",
                &[
                    ("flow_id", flow.as_str()),
                    ("approval_token", approval.as_str()),
                    ("code_verifier", verifier.as_str()),
                ],
            )
            .await
        }
    };
    let r = complete(id.clone(), approval.clone(), "wrong-verifier".into()).await;
    assert_eq!((r.status, r.code()), (400, "pkce_verification_failed"));
    let r = complete("sia_other".into(), approval.clone(), VERIFIER.into()).await;
    assert_eq!((r.status, r.code()), (422, "form_param_value_invalid"));
    let r = complete(id.clone(), "nope".into(), VERIFIER.into()).await;
    assert_eq!((r.status, r.code()), (400, "approval_token_invalid"));
    let r = complete(id.clone(), approval.clone(), VERIFIER.into()).await;
    let ticket = r.ok()["response"]["ticket"].as_str().unwrap().to_owned();
    assert_eq!(r.body["response"]["flow_id"], id.as_str());
    let r = complete(id.clone(), approval, VERIFIER.into()).await;
    assert_eq!((r.status, r.code()), (400, "approval_token_consumed"));

    // The ticket signs the app in.
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[("strategy", "ticket"), ("ticket", &ticket)],
        )
        .await;
    let done = &r.ok()["response"];
    assert_eq!(done["status"], "complete");
    let sid = done["created_session_id"].as_str().unwrap();
    let claims = verify_jwt(&h.jwks().await, &c.jwt(sid).await).unwrap();
    assert_eq!(claims["sub"], user["id"]);

    // An approval left too long expires.
    let mut c2 = h.fapi();
    let si = ask_for_link(
        &mut c2,
        email,
        &[("redirect_uri", "myapp://magic"), ("code_challenge", &ch)],
    )
    .await;
    let loc = open(&link_in_inbox(&h, email).await, None).await;
    h.advance(5 * 60 + 1).await;
    let r = complete(
        si["id"].as_str().unwrap().into(),
        param(&loc, "approval_token").unwrap(),
        VERIFIER.into(),
    )
    .await;
    assert_eq!((r.status, r.code()), (400, "approval_token_expired"));
}

#[tokio::test]
async fn a_sign_up_is_verified_by_its_link_classic_and_native() {
    let h = links_on().await;
    // Classic.
    let mut c = h.fapi();
    let email = "new-link@example.com";
    let r = c
        .post(
            "/v1/client/sign_ups",
            &[("email_address", email), ("password", PASSWORD)],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/prepare_verification"),
            &[
                ("strategy", "email_link"),
                ("redirect_url", "https://app.example/up"),
            ],
        )
        .await;
    let v = &r.ok()["response"]["verifications"]["email_address"];
    assert_eq!(v["strategy"], "email_link");
    assert_eq!(v["status"], "unverified");
    // A code cannot verify a link.
    let r = c
        .post(
            &format!("/v1/client/sign_ups/{id}/attempt_verification"),
            &[("strategy", "email_code"), ("code", "424242")],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let loc = open(&link_in_inbox(&h, email).await, None).await;
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("verified"));
    let sid = param(&loc, "__clerk_created_session").expect("a session");
    let r = c.get(&format!("/v1/client/sign_ups/{id}")).await;
    let su = &r.ok()["response"];
    assert_eq!(su["status"], "complete");
    assert_eq!(su["created_session_id"], sid.as_str());
    let users = h
        .bapi(
            Method::GET,
            "/v1/users?email_address=new-link%40example.com",
            None,
        )
        .await;
    assert_eq!(users.ok().as_array().unwrap().len(), 1);

    // Native.
    h.bapi(
        Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "myapp://magic"})),
    )
    .await
    .ok();
    let mut n = h.fapi();
    let email = "native-up@example.com";
    let r = n
        .post(
            "/v1/client/sign_ups",
            &[("email_address", email), ("password", PASSWORD)],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let ch = challenge(VERIFIER);
    n.post(
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        &[
            ("strategy", "email_link"),
            ("redirect_uri", "myapp://magic"),
            ("code_challenge", &ch),
        ],
    )
    .await
    .ok();
    let loc = open(&link_in_inbox(&h, email).await, None).await;
    assert_eq!(param(&loc, "flow_id").as_deref(), Some(id.as_str()));
    let r = n
        .post(
            "/v1/client/magic_links/complete",
            &[
                ("flow_id", id.as_str()),
                ("approval_token", &param(&loc, "approval_token").unwrap()),
                ("code_verifier", VERIFIER),
            ],
        )
        .await;
    let su = &r.ok()["response"];
    assert_eq!(su["status"], "complete", "{su}");
    let sid = su["created_session_id"].as_str().unwrap();
    let r = n.get("/v1/client").await;
    assert!(
        r.ok()["response"]["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == sid),
        "the session is on the client that signed up: {}",
        r.body
    );
}

#[tokio::test]
async fn a_link_proves_the_first_factor_only() {
    let h = links_on().await;
    let email = "link-mfa@example.com";
    h.create_user(email, PASSWORD).await;
    let mut owner = h.fapi();
    owner.sign_in(email, PASSWORD).await;
    crate::mfa::enrol_totp(&h, &mut owner).await;
    let mut c = h.fapi();
    let si = ask_for_link(&mut c, email, &[("redirect_url", "https://app.example/v")]).await;
    let loc = open(&link_in_inbox(&h, email).await, None).await;
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("verified"));
    assert!(param(&loc, "__clerk_created_session").is_none());
    let id = si["id"].as_str().unwrap();
    let r = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.ok()["response"]["status"], "needs_second_factor");
}

#[tokio::test]
async fn a_link_can_be_the_second_factor_where_emailed_second_factors_are_on() {
    let h = links_on().await;
    h.set_settings(json!({"email_address": {"used_for_second_factor": true}}))
        .await;
    let email = "second-link@example.com";
    let user = h.create_user(email, PASSWORD).await;
    let mut owner = h.fapi();
    owner.sign_in(email, PASSWORD).await;
    crate::mfa::enrol_totp(&h, &mut owner).await;
    let mut c = h.fapi();
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[("identifier", email), ("password", PASSWORD)],
        )
        .await;
    let si = r.ok()["response"].clone();
    assert_eq!(si["status"], "needs_second_factor");
    assert!(si["supported_second_factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["strategy"] == "email_link"));
    let id = si["id"].as_str().unwrap();
    let path = format!("/v1/client/sign_ins/{id}/prepare_second_factor");
    let r = c
        .post(
            &path,
            &[
                ("strategy", "email_link"),
                ("redirect_uri", "http://127.0.0.1:5000/cb"),
                ("code_challenge", &challenge(VERIFIER)),
            ],
        )
        .await;
    assert_eq!(r.status, 422, "no ticket may skip the second factor");
    let r = c
        .post(
            &path,
            &[
                ("strategy", "email_link"),
                ("redirect_url", "https://app.example/2fa"),
            ],
        )
        .await;
    assert_eq!(
        r.ok()["response"]["second_factor_verification"]["strategy"],
        "email_link"
    );
    let loc = open(&link_in_inbox(&h, email).await, None).await;
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("verified"));
    let sid = param(&loc, "__clerk_created_session").expect("a session");
    let r = c.get(&format!("/v1/client/sign_ins/{id}")).await;
    assert_eq!(r.ok()["response"]["status"], "complete");
    let claims = verify_jwt(&h.jwks().await, &c.jwt(&sid).await).unwrap();
    assert_eq!(claims["sub"], user["id"]);
    assert_eq!(claims["fva"][1], 0, "the second factor was just verified");
}

#[tokio::test]
async fn a_signed_in_user_verifies_a_new_address_by_link() {
    let h = links_on().await;
    let email = "me-link@example.com";
    h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    c.sign_in(email, PASSWORD).await;
    let r = c
        .post(
            "/v1/me/email_addresses",
            &[("email_address", "second@example.com")],
        )
        .await;
    let idn = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/me/email_addresses/{idn}/prepare_verification");
    let r = c
        .post(
            &path,
            &[
                ("strategy", "email_link"),
                ("redirect_url", "https://app.example/profile"),
            ],
        )
        .await;
    let v = &r.ok()["response"]["verification"];
    assert_eq!(
        (v["strategy"].as_str(), v["status"].as_str()),
        (Some("email_link"), Some("unverified"))
    );
    let r = c
        .post(
            &format!("/v1/me/email_addresses/{idn}/attempt_verification"),
            &[("code", "424242")],
        )
        .await;
    assert_eq!(
        r.status, 400,
        "a code cannot stand in for the link: {}",
        r.body
    );
    let link = link_in_inbox(&h, "second@example.com").await;
    let loc = open(&link, None).await;
    assert_eq!(param(&loc, "__clerk_status").as_deref(), Some("verified"));
    assert!(param(&loc, "__clerk_created_session").is_none());
    let r = c.get(&format!("/v1/me/email_addresses/{idn}")).await;
    let v = &r.ok()["response"]["verification"];
    assert_eq!(
        (v["strategy"].as_str(), v["status"].as_str()),
        (Some("email_link"), Some("verified"))
    );
    let again = open(&link, None).await;
    assert_eq!(param(&again, "__clerk_status").as_deref(), Some("failed"));
}
