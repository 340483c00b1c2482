//! Browser mode on a development instance (clerk-js): the dev browser, CORS for any origin, the
//! environment "touch", and clerk-js served from a local folder. clerk-js itself runs against
//! the emulator in `tests/ui/clerk-js.test.mjs`.

use reqwest::Method;
use serde_json::json;

use crate::support::*;

const ORIGIN: &str = "http://localhost:5173";
const PASSWORD: &str = "lk-Test-pass-4921";

#[tokio::test]
async fn a_dev_browser_names_its_client_on_every_request_and_is_never_rotated() {
    let h = start().await;
    h.create_user("browser@example.com", PASSWORD).await;
    let mut b = h.browser(ORIGIN);
    let made = b.dev_browser().await;
    let db = b.db_jwt.clone().unwrap();
    assert_eq!(made.body["object"], "dev_browser");
    assert_eq!(
        made.body["token"], made.body["id"],
        "third-party clients read token"
    );
    assert_eq!(made.header("clerk-db-jwt"), db);

    let first = b.get("/v1/client").await;
    let client_id = first.ok()["response"]["id"].as_str().unwrap().to_owned();
    assert_eq!(first.header("clerk-db-jwt"), db);
    assert_eq!(first.authorization, None, "no native token for a browser");

    // Signing in changes nothing about the dev browser: the same client, the same token.
    let si = b
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "browser@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(si.ok()["response"]["status"], "complete");
    assert_eq!(si.header("clerk-db-jwt"), db);
    assert_eq!(si.body["client"]["id"], client_id.as_str());
    let sid = si.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The session token's azp is the page's origin.
    let t = b
        .post(&format!("/v1/client/sessions/{sid}/tokens"), &[])
        .await;
    let claims = verify_jwt(&h.jwks().await, t.ok()["jwt"].as_str().unwrap()).unwrap();
    assert_eq!(claims["azp"], ORIGIN);
    assert_eq!(claims["sid"], sid.as_str());

    // A same-origin GET (clerk-js behind the app's own proxy path) carries no Origin: the
    // token it refreshes names the page from its Referer. Not for a cross-site request, nor
    // from a Referer with no origin; an Origin always wins.
    let page = format!("{ORIGIN}/account?tab=1");
    let jwks = h.jwks().await;
    let mut azp = async |headers: &[(&str, &str)]| {
        let r = b.get_without_origin("/v1/client", headers).await;
        let session = &r.ok()["response"]["sessions"][0];
        let jwt = session["last_active_token"]["jwt"].as_str().unwrap();
        verify_jwt(&jwks, jwt).unwrap()["azp"].clone()
    };
    assert_eq!(
        azp(&[("referer", &page)]).await,
        ORIGIN,
        "the origin, not the path"
    );
    let same_site = [
        ("referer", page.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    assert_eq!(azp(&same_site).await, ORIGIN);
    let cross = [("referer", page.as_str()), ("sec-fetch-site", "cross-site")];
    assert_eq!(azp(&cross).await, serde_json::Value::Null);
    assert_eq!(
        azp(&[("referer", "about:blank")]).await,
        serde_json::Value::Null
    );
    let both = [
        ("referer", page.as_str()),
        ("origin", "http://127.0.0.1:3000"),
    ];
    assert_eq!(azp(&both).await, "http://127.0.0.1:3000");

    // Signed out of every session (clerk-js's signOut): the client and dev browser remain.
    let out = b.call(Method::DELETE, "/v1/client/sessions", &[]).await;
    assert_eq!(out.ok()["client"]["id"], client_id.as_str());
    let again = b.get("/v1/client").await;
    assert_eq!(again.ok()["response"]["id"], client_id.as_str());
    assert_eq!(again.body["response"]["sessions"], json!([]));

    // The legacy query name and the header name the same dev browser.
    for (path, headers) in [
        (
            format!("/v1/client?__dev_session={db}"),
            vec![("origin", ORIGIN)],
        ),
        (
            "/v1/client".to_owned(),
            vec![("origin", ORIGIN), ("clerk-db-jwt", db.as_str())],
        ),
    ] {
        let mut req = h.request(Method::GET, &path);
        for (k, v) in headers {
            req = req.header(k, v);
        }
        let r = latchkey_testkit::send(req).await;
        assert_eq!(r.ok()["response"]["id"], client_id.as_str(), "{path}");
    }
}

#[tokio::test]
async fn a_browser_without_a_known_dev_browser_is_asked_to_make_one() {
    let h = start().await;
    let mut b = h.browser(ORIGIN);
    // No dev browser yet: 401 dev_browser_unauthenticated, and no client is made.
    b.get("/v1/client")
        .await
        .err(401, "dev_browser_unauthenticated");
    b.post("/v1/client/sign_ins", &[("identifier", "x@example.com")])
        .await
        .err(401, "dev_browser_unauthenticated");
    b.db_jwt = Some("not-a-dev-browser".into());
    b.get("/v1/client")
        .await
        .err(401, "dev_browser_unauthenticated");

    // A native request from a page says so with `_is_native` and gets a client of its own.
    let mut native = h.fapi();
    native.origin = Some(ORIGIN.into());
    native.get("/v1/client").await.ok();

    // A dev browser and a native token together are refused.
    b.dev_browser().await;
    let db = b.db_jwt.clone().unwrap();
    let mixed = h
        .request(Method::GET, &format!("/v1/client?__clerk_db_jwt={db}"))
        .header("authorization", "some-client-token");
    latchkey_testkit::send(mixed)
        .await
        .err(400, "malformed_request");
}

#[tokio::test]
async fn any_origin_gets_cors_with_credentials_and_preflights_are_answered() {
    let h = start().await;
    let mut b = h.browser("https://preview-42.example.dev");
    let r = b.dev_browser().await;
    assert_eq!(
        r.header("access-control-allow-origin"),
        "https://preview-42.example.dev"
    );
    assert_eq!(r.header("access-control-allow-credentials"), "true");
    assert!(
        r.header("vary").contains("Origin"),
        "vary: {}",
        r.header("vary")
    );
    let exposed = r
        .header("access-control-expose-headers")
        .to_ascii_lowercase();
    for name in ["clerk-db-jwt", "retry-after", "authorization", "x-country"] {
        assert!(exposed.contains(name), "{name} exposed: {exposed}");
    }
    // Errors carry them too, so the page can read Clerk's error.
    let mut stranger = h.browser("http://127.0.0.1:3000");
    let e = stranger.get("/v1/client").await;
    assert_eq!(e.status, 401);
    assert_eq!(
        e.header("access-control-allow-origin"),
        "http://127.0.0.1:3000"
    );

    let pre = h
        .request(Method::OPTIONS, "/v1/client/sign_ins")
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type, authorization",
        );
    let pre = latchkey_testkit::send(pre).await;
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        "http://localhost:3000"
    );
    assert!(pre.header("access-control-allow-methods").contains("PATCH"));
    assert_eq!(
        pre.header("access-control-allow-headers"),
        "content-type, authorization"
    );

    // No Origin (a native SDK, a server): no CORS headers.
    let native = h.fapi().get("/v1/environment").await;
    assert_eq!(native.header("access-control-allow-origin"), "");
    // The Backend API is never opened to pages.
    let bapi = h
        .request(Method::GET, "/v1/users")
        .header("origin", "http://localhost:3000")
        .header("authorization", format!("Bearer {}", h.emu.secret_key()));
    let bapi = latchkey_testkit::send(bapi).await;
    assert_eq!(bapi.status, 200);
    assert_eq!(bapi.header("access-control-allow-origin"), "");
}

#[tokio::test]
async fn the_environment_is_touched_with_a_patch_as_development_loads_do() {
    let h = start().await;
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let touched = b.call(Method::PATCH, "/v1/environment", &[]).await;
    assert_eq!(touched.status, 200, "{}", touched.body);
    let got = b.get("/v1/environment").await;
    assert_eq!(touched.ok(), got.ok());
    assert!(
        touched.body["user_settings"].is_object(),
        "{}",
        touched.body
    );
    // Only a page touches it: without an Origin, a clear 400.
    h.fapi()
        .call(Method::PATCH, "/v1/environment", &[])
        .await
        .err(400, "malformed_request");
}

#[tokio::test]
async fn the_instance_names_the_publishable_key_for_clerk_js() {
    let h = start().await;
    let inst = h.control(Method::GET, "/instance", None).await;
    let key = inst.ok()["browser_publishable_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        latchkey_protocol::keys::frontend_api_host(&key).as_deref(),
        Some("latchkey-emulator.clerk.accounts.dev"),
        "a development suffix, so clerk-js makes a dev browser"
    );
    assert!(key.starts_with("pk_test_"));
    // Copy-paste set-ups name that key, the app's /__clerk proxy path and this emulator.
    let snippets = &inst.body["browser_snippets"];
    for name in ["clerk_js", "react", "express"] {
        let code = snippets[name]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: {snippets}"));
        assert!(code.contains(&key), "{name}: {code}");
    }
    assert!(snippets["clerk_js"]
        .as_str()
        .unwrap()
        .contains("data-clerk-proxy-url=\"/__clerk\""));
    assert!(snippets["express"].as_str().unwrap().contains(h.url()));
    assert!(
        !snippets["express"].as_str().unwrap().contains("sk_test_"),
        "the secret key is named, not shown"
    );
}

#[tokio::test]
async fn clerk_js_is_served_from_the_folder_it_is_pointed_at() {
    let dir = latchkey_testkit::temp_path("clerk-js-dir");
    let pkg = dir.join("node_modules/@clerk/clerk-js");
    std::fs::create_dir_all(pkg.join("dist")).unwrap();
    std::fs::write(
        pkg.join("package.json"),
        r#"{"name":"@clerk/clerk-js","version":"6.40.0"}"#,
    )
    .unwrap();
    std::fs::write(pkg.join("dist/clerk.browser.js"), "window.Clerk = 1;").unwrap();
    std::fs::write(pkg.join("dist/.hidden"), "no").unwrap();
    std::fs::write(dir.join("secret.txt"), "no").unwrap();
    let h = start_from(builder().clerk_js_dir(&dir)).await;
    let get = |path: &str| latchkey_testkit::send(h.request(Method::GET, path));

    for spec in ["6", "6.40", "6.40.0", "latest"] {
        let path = format!("/npm/@clerk/clerk-js@{spec}/dist/clerk.browser.js");
        let r = h.request(Method::GET, &path).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.starts_with("text/javascript"), "{path}: {ct}");
        assert_eq!(r.text().await.unwrap(), "window.Clerk = 1;");
    }
    for path in [
        "/npm/@clerk/clerk-js@5/dist/clerk.browser.js",
        "/npm/@clerk/clerk-js@6/dist/missing.js",
        "/npm/@clerk/clerk-js@6/dist/.hidden",
        "/npm/@clerk/clerk-js@6/../../../secret.txt",
        "/npm/@clerk/clerk-js@6/dist/..%2F..%2F..%2F..%2Fsecret.txt",
        "/npm/@clerk/ui@1/dist/ui.browser.js",
        "/npm/@clerk/backend@3/dist/index.js",
    ] {
        get(path).await.err(404, "resource_not_found");
    }
    // Without a folder: a 404 that says how to give one.
    let bare = start().await;
    let r = latchkey_testkit::send(
        bare.request(Method::GET, "/npm/@clerk/clerk-js@6/dist/clerk.browser.js"),
    )
    .await;
    assert_eq!(r.status, 404);
    assert!(r.body.to_string().contains("--clerk-js-dir"), "{}", r.body);
}

#[tokio::test]
async fn oauth_in_a_browser_lands_on_the_page_with_nothing_to_redeem() {
    let h = start().await;
    let user = h.create_user("gee@example.com", PASSWORD).await;
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let identity =
        json!({"email": "gee@example.com", "email_verified": true, "provider_user_id": "g-gee"});
    let r = h
        .control(Method::POST, "/oauth/google/next", Some(identity))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // clerk-js sends the complete URL as given: here a path, resolved against the page.
    let si = b
        .post(
            "/v1/client/sign_ins",
            &[
                ("strategy", "oauth_google"),
                ("redirect_url", &format!("{ORIGIN}/sso-callback")),
                ("action_complete_redirect_url", "/done"),
            ],
        )
        .await;
    let v = &si.ok()["response"]["first_factor_verification"];
    let landed = browse(
        &h,
        v["external_verification_redirect_url"].as_str().unwrap(),
    )
    .await;
    assert_eq!(
        landed.as_str(),
        format!("{ORIGIN}/done"),
        "no nonce, no status"
    );

    // The browser's own client holds the session, under the same dev browser.
    let client = b.get("/v1/client").await;
    let sessions = client.ok()["response"]["sessions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["user"]["id"], user["id"]);
    assert_eq!(client.header("clerk-db-jwt"), b.db_jwt.as_deref().unwrap());

    // A relative URL is only resolved for a page: a native app's is refused as before.
    let mut native = h.fapi();
    let refused = native
        .post(
            "/v1/client/sign_ins",
            &[
                ("strategy", "oauth_google"),
                ("redirect_url", "/sso-callback"),
            ],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
}

#[tokio::test]
async fn with_bot_protection_a_browser_sign_up_needs_a_token_from_the_test_widget() {
    let h = start().await;
    h.set_settings(json!({"captcha": {"enabled": true}})).await;
    let env = h.fapi().get("/v1/environment").await;
    let env = env.ok();
    assert_eq!(env["user_settings"]["sign_up"]["captcha_enabled"], true);
    assert_eq!(env["display_config"]["captcha_provider"], "turnstile");
    let site_key = env["display_config"]["captcha_public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        site_key, "1x00000000000000000000AA",
        "Cloudflare's always-passes test key"
    );

    let widget_token = |key: &str| {
        let req = h
            .request(Method::POST, "/captcha/turnstile/token")
            .form(&[("sitekey", key)]);
        latchkey_testkit::send(req)
    };
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let sign_up = |email: &'static str, extra: Vec<(&'static str, String)>| {
        let mut form = vec![
            ("email_address", email.to_owned()),
            ("password", PASSWORD.to_owned()),
        ];
        form.extend(extra);
        form
    };
    post(&mut b, sign_up("a@example.com", vec![]))
        .await
        .err(422, "captcha_missing_token");
    post(
        &mut b,
        sign_up("a@example.com", vec![("captcha_token", "made-up".into())]),
    )
    .await
    .err(422, "captcha_invalid");
    post(
        &mut b,
        sign_up("a@example.com", vec![("captcha_error", "600010".into())]),
    )
    .await
    .err(422, "captcha_invalid");

    let token = widget_token(&site_key).await;
    let token = token.ok()["token"].as_str().unwrap().to_owned();
    let ok = post(
        &mut b,
        sign_up("a@example.com", vec![("captcha_token", token.clone())]),
    )
    .await;
    assert_eq!(ok.ok()["response"]["status"], "missing_requirements");
    // A token works once.
    post(
        &mut b,
        sign_up("b@example.com", vec![("captcha_token", token)]),
    )
    .await
    .err(422, "captcha_invalid");
    // A token expires after 300 s by the emulator's clock.
    let stale = widget_token(&site_key).await.ok()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    h.advance(301).await;
    post(
        &mut b,
        sign_up("b@example.com", vec![("captcha_token", stale)]),
    )
    .await
    .err(422, "captcha_invalid");

    // The always-failing key and keys of no instance get no token.
    widget_token("2x00000000000000000000AB")
        .await
        .err(422, "captcha_invalid");
    widget_token("1x-not-this-instances")
        .await
        .err(422, "captcha_invalid");

    // Native requests are not asked, nor browsers with a testing token.
    h.fapi()
        .post(
            "/v1/client/sign_ups",
            &[("email_address", "n@example.com"), ("password", PASSWORD)],
        )
        .await
        .ok();
    let testing = h.bapi(Method::POST, "/v1/testing_tokens", None).await;
    let testing = testing.ok()["token"].as_str().unwrap().to_owned();
    let path = format!("/v1/client/sign_ups?__clerk_testing_token={testing}");
    b.post(
        &path,
        &[("email_address", "t@example.com"), ("password", PASSWORD)],
    )
    .await
    .ok();

    // The widget script names this emulator for its tokens.
    let js = h
        .request(Method::GET, "/captcha/turnstile/v0/api.js")
        .send()
        .await
        .unwrap();
    assert_eq!(js.headers()["access-control-allow-origin"], "*");
    let js = js.text().await.unwrap();
    assert!(
        js.contains(&format!("const BASE = \"{}\"", h.url())),
        "{}",
        &js[..300]
    );
    assert!(js.contains("window.turnstile"));
}

#[tokio::test]
async fn a_challenged_client_solves_a_captcha_before_its_next_change() {
    let h = start().await;
    h.create_user("doubted@example.com", PASSWORD).await;
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let client_id = b.get("/v1/client").await.ok()["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let challenge = |id: &str| {
        h.control(
            Method::POST,
            "/captcha/challenges",
            Some(json!({ "client_id": id })),
        )
    };
    // Only with bot protection on, and only a client that exists.
    challenge(&client_id).await.err(422, "captcha_not_enabled");
    h.set_settings(json!({"captcha": {"enabled": true}})).await;
    challenge("client_nobody")
        .await
        .err(404, "resource_not_found");
    let made = challenge(&client_id).await;
    assert_eq!(made.ok()["client_id"], client_id.as_str());

    let sign_in = [
        ("identifier", "doubted@example.com"),
        ("password", PASSWORD),
    ];
    let refused = b.post("/v1/client/sign_ins", &sign_in).await;
    refused.err(401, "requires_captcha");
    // Reads go on; nothing was started.
    let client = b.get("/v1/client").await;
    assert_eq!(client.ok()["response"]["sign_in"], serde_json::Value::Null);
    // A request with a testing token is not stopped (nor is a native one: another client).
    let testing = h.bapi(Method::POST, "/v1/testing_tokens", None).await;
    let testing = testing.ok()["token"].as_str().unwrap().to_owned();
    let path = format!("/v1/client/sign_ins?__clerk_testing_token={testing}");
    let bypass = b
        .post(&path, &[("identifier", "doubted@example.com")])
        .await;
    assert_eq!(bypass.ok()["response"]["status"], "needs_first_factor");

    // Solving it: no token, a made-up one and a failed widget are refused, and the client
    // stays challenged.
    b.post("/v1/client/verify", &[])
        .await
        .err(422, "captcha_missing_token");
    b.post("/v1/client/verify", &[("captcha_token", "made-up")])
        .await
        .err(422, "captcha_invalid");
    b.post("/v1/client/verify", &[("captcha_error", "600010")])
        .await
        .err(422, "captcha_invalid");
    let huge = "t".repeat(5000);
    b.post("/v1/client/verify", &[("captcha_token", huge.as_str())])
        .await
        .err(422, "captcha_invalid");
    b.post("/v1/client/sign_ins", &sign_in)
        .await
        .err(401, "requires_captcha");

    let token = latchkey_testkit::send(
        h.request(Method::POST, "/captcha/turnstile/token")
            .form(&[("sitekey", "1x00000000000000000000AA")]),
    )
    .await;
    let token = token.ok()["token"].as_str().unwrap().to_owned();
    let verified = b
        .post(
            "/v1/client/verify",
            &[
                ("captcha_token", token.as_str()),
                ("captcha_widget_type", "smart"),
                ("captcha_action", "verify"),
            ],
        )
        .await;
    assert_eq!(verified.ok()["response"]["id"], client_id.as_str());
    assert_eq!(verified.body["client"]["id"], client_id.as_str());
    // The token is used up; the client goes on.
    b.post("/v1/client/verify", &[("captcha_token", token.as_str())])
        .await
        .err(422, "captcha_invalid");
    let done = b.post("/v1/client/sign_ins", &sign_in).await;
    assert_eq!(done.ok()["response"]["status"], "complete");

    // Doubted again while signed in: the session goes on (its tokens, touch), and a person
    // can always sign out; what starts something new waits for the challenge.
    let sid = done.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    challenge(&client_id).await.ok();
    b.post(&format!("/v1/client/sessions/{sid}/tokens"), &[])
        .await
        .ok();
    b.post(&format!("/v1/client/sessions/{sid}/touch"), &[])
        .await
        .ok();
    b.post("/v1/client/sign_ups", &[("email_address", "x@example.com")])
        .await
        .err(401, "requires_captcha");
    b.post(&format!("/v1/client/sessions/{sid}/end"), &[])
        .await
        .ok();
    b.call(Method::DELETE, "/v1/client/sessions", &[])
        .await
        .ok();

    // Native apps are never asked, even on a client the control API doubts.
    let mut native = h.fapi();
    let native_id = native.get("/v1/client").await.ok()["response"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    challenge(&native_id).await.ok();
    let si = native.post("/v1/client/sign_ins", &sign_in).await;
    assert_eq!(si.ok()["response"]["status"], "complete");

    // With bot protection off there is nothing to solve, and nobody is asked.
    h.set_settings(json!({"captcha": {"enabled": false}})).await;
    b.post("/v1/client/verify", &[("captcha_token", "any")])
        .await
        .err(422, "captcha_not_enabled");
    b.post(
        "/v1/client/sign_ins",
        &[("identifier", "doubted@example.com")],
    )
    .await
    .ok();
}

async fn post(b: &mut Browser<'_>, form: Vec<(&'static str, String)>) -> Resp {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    b.post("/v1/client/sign_ups", &pairs).await
}

// ---- The handshake (`GET /v1/client/handshake`, clerk-wire-2 §5.4) ----

const APP_PAGE: &str = "http://localhost:5173/dashboard?tab=2";

/// The suffix `@clerk/backend` gives cookies for the browser publishable key
/// (`getCookieSuffix`: base64url of its SHA-1, first 8 characters), as computed outside the
/// emulator for `pk_test_bGF0Y2hrZXktZW11bGF0b3IuY2xlcmsuYWNjb3VudHMuZGV2JA==`.
fn browser_cookie_suffix() -> String {
    "aLyHrikT".to_owned()
}

/// `GET /v1/client/handshake?…` as the backend's redirect sends a browser there (a document
/// navigation: no Origin); validated against the spec.
async fn handshake(h: &Harness, query: &[(&str, &str)], headers: &[(&str, &str)]) -> Resp {
    let q = query
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let path = format!("/v1/client/handshake?{q}");
    let mut req = h.request(Method::GET, &path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = latchkey_testkit::send(req).await;
    validate(
        fapi_spec(),
        "GET",
        "/v1/client/handshake",
        r.status,
        &r.body,
    );
    r
}

/// Where a handshake sends the browser back, checked to be a 307 that is not cached.
fn back_to(r: &Resp) -> url::Url {
    assert_eq!(r.status, 307, "{}", r.body);
    assert_eq!(r.header("cache-control"), "no-store");
    url::Url::parse(r.header("location")).expect("an absolute Location")
}

fn query_param(u: &url::Url, k: &str) -> Option<String> {
    u.query_pairs()
        .find(|(n, _)| n == k)
        .map(|(_, v)| v.into_owned())
}

/// The value a `Set-Cookie` directive gives `name` (None when no directive names it).
fn cookie<'a>(directives: &'a [String], name: &str) -> Option<&'a str> {
    directives.iter().find_map(|d| {
        let (n, rest) = d.split_once('=')?;
        (n == name).then(|| rest.split(';').next().unwrap_or(""))
    })
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("an array: {v}"))
        .iter()
        .map(|d| d.as_str().expect("a string").to_owned())
        .collect()
}

/// A signed-in browser: its dev browser and session id.
async fn signed_in_browser(h: &Harness) -> (String, String) {
    h.create_user("hs@example.com", PASSWORD).await;
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let si = b
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "hs@example.com"), ("password", PASSWORD)],
        )
        .await;
    let sid = si.ok()["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    (b.db_jwt.unwrap(), sid)
}

#[tokio::test]
async fn the_token_form_handshake_is_signed_with_the_instance_key_and_carries_the_sessions_cookies()
{
    let h = start().await;
    let (db, sid) = signed_in_browser(&h).await;
    let page = format!("{APP_PAGE}&__clerk_db_jwt={db}");
    let r = handshake(
        &h,
        &[
            ("redirect_url", page.as_str()),
            ("__clerk_api_version", "2026-05-12"),
            ("suffixed_cookies", "true"),
            ("__clerk_hs_reason", "dev-browser-sync"),
            ("__clerk_db_jwt", db.as_str()),
        ],
        &[],
    )
    .await;
    let to = back_to(&r);
    assert_eq!(
        (to.origin().ascii_serialization(), to.path()),
        ("http://localhost:5173".to_owned(), "/dashboard")
    );
    assert_eq!(query_param(&to, "tab").as_deref(), Some("2"), "{to}");
    assert_eq!(
        query_param(&to, "__clerk_db_jwt"),
        None,
        "credentials stripped"
    );
    assert_eq!(query_param(&to, "__clerk_handshake_nonce"), None);
    let jwt = query_param(&to, "__clerk_handshake").expect("the token form");

    // As @clerk/backend checks it: RS256, typ JWT, the instance's kid, no other category,
    // verified with the Backend API's JWKS (what it fetches with the secret key).
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let bapi_jwks = h.bapi(Method::GET, "/v1/jwks", None).await.ok().clone();
    assert_eq!(
        header.kid.as_deref(),
        bapi_jwks["keys"][0]["kid"].as_str(),
        "the instance's kid"
    );
    let payload = verify_jwt(&bapi_jwks, &jwt).expect("signed with the instance key");
    let directives = strings(&payload["handshake"]);
    let sfx = browser_cookie_suffix();

    let session = cookie(&directives, "__session").expect("__session");
    assert_eq!(
        cookie(&directives, &format!("__session_{sfx}")),
        Some(session),
        "the suffixed copy"
    );
    let claims = verify_jwt(&h.jwks().await, session).expect("a session token");
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["azp"], "http://localhost:5173", "the page's origin");
    let uat: i64 = cookie(&directives, "__client_uat")
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        uat > 0 && uat <= claims["iat"].as_i64().unwrap(),
        "the client's updated_at, not after the token: {uat}"
    );
    assert_eq!(
        cookie(&directives, &format!("__client_uat_{sfx}")),
        Some(uat.to_string().as_str())
    );
    assert_eq!(cookie(&directives, "__clerk_db_jwt"), Some(db.as_str()));
    assert!(directives.contains(&format!("__clerk_db_jwt={db}; Path=/")));
    assert!(directives.contains(&format!("__session={session}; Path=/; SameSite=Lax")));

    // Without suffixed_cookies, the suffixed copies still go along: @clerk/backend reads them,
    // since the emulator's `iss` is not the publishable key's host.
    let r = handshake(
        &h,
        &[("redirect_url", APP_PAGE), ("__clerk_db_jwt", db.as_str())],
        &[],
    )
    .await;
    let jwt = query_param(&back_to(&r), "__clerk_handshake").unwrap();
    let directives = strings(&verify_jwt(&bapi_jwks, &jwt).unwrap()["handshake"]);
    let session = cookie(&directives, "__session").expect("__session");
    assert_eq!(
        cookie(&directives, &format!("__session_{sfx}")),
        Some(session)
    );
    assert_eq!(
        cookie(&directives, &format!("__clerk_db_jwt_{sfx}")),
        Some(db.as_str())
    );
}

#[tokio::test]
async fn the_nonce_form_is_redeemed_once_through_the_backend_api_and_expires() {
    let h = start().await;
    let (db, sid) = signed_in_browser(&h).await;
    let nonce_of = |r: &Resp| {
        let to = back_to(r);
        assert_eq!(query_param(&to, "__clerk_handshake"), None);
        query_param(&to, "__clerk_handshake_nonce").expect("the nonce form")
    };
    let ask = [
        ("redirect_url", APP_PAGE),
        ("format", "nonce"),
        ("suffixed_cookies", "false"),
        ("__clerk_db_jwt", db.as_str()),
    ];
    let nonce = nonce_of(&handshake(&h, &ask, &[]).await);

    // The backend redeems it with its secret key (the path has no body in the spec: checked
    // here field by field).
    let redeem = |nonce: String| {
        let h = &h;
        async move {
            let path = format!("/v1/clients/handshake_payload?nonce={}", urlencode(&nonce));
            h.bapi_raw(
                Method::GET,
                &path,
                Some(&format!("Bearer {}", h.emu.secret_key())),
                None,
            )
            .await
        }
    };
    let got = redeem(nonce.clone()).await;
    assert_eq!(got.status, 200, "{}", got.body);
    let directives = strings(&got.body["directives"]);
    let session = cookie(&directives, "__session").expect("signed in");
    let claims = verify_jwt(&h.jwks().await, session).unwrap();
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["azp"], "http://localhost:5173");
    assert_eq!(cookie(&directives, "__clerk_db_jwt"), Some(db.as_str()));

    // Once only.
    let again = redeem(nonce).await;
    again.err(404, "resource_not_found");
    validate(
        bapi_spec(),
        "GET",
        "/v1/clients/{id}",
        again.status,
        &again.body,
    );

    // Expired by the emulator's clock.
    let late = nonce_of(&handshake(&h, &ask, &[]).await);
    h.advance(301).await;
    redeem(late).await.err(404, "resource_not_found");
    // Within its lifetime it works.
    let soon = nonce_of(&handshake(&h, &ask, &[]).await);
    h.advance(240).await;
    let r = redeem(soon).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Bad input gets Clerk's envelope; the secret key is required.
    redeem("".into()).await.err(422, "form_param_nil");
    redeem("not-a-nonce".into())
        .await
        .err(404, "resource_not_found");
    let anon = h
        .bapi_raw(
            Method::GET,
            "/v1/clients/handshake_payload?nonce=x",
            None,
            None,
        )
        .await;
    assert_eq!(anon.status, 401, "{}", anon.body);
}

/// The directives of a token-form handshake's answer, verified.
async fn payload(h: &Harness, r: &Resp) -> Vec<String> {
    let jwt = query_param(&back_to(r), "__clerk_handshake").unwrap();
    strings(&verify_jwt(&h.jwks().await, &jwt).unwrap()["handshake"])
}

#[tokio::test]
async fn a_handshake_without_a_session_says_signed_out_and_one_without_a_dev_browser_makes_one() {
    let h = start().await;
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let db = b.db_jwt.clone().unwrap();
    let r = handshake(
        &h,
        &[
            ("redirect_url", APP_PAGE),
            ("__clerk_db_jwt", db.as_str()),
            ("suffixed_cookies", "true"),
        ],
        &[],
    )
    .await;
    let d = payload(&h, &r).await;
    let sfx = browser_cookie_suffix();
    for name in ["__session".to_owned(), format!("__session_{sfx}")] {
        assert!(
            d.contains(&format!("{name}=; Path=/; Max-Age=0; SameSite=Lax")),
            "{name} emptied: {d:?}"
        );
    }
    assert_eq!(cookie(&d, "__client_uat"), Some("0"));
    assert_eq!(cookie(&d, &format!("__client_uat_{sfx}")), Some("0"));
    assert_eq!(cookie(&d, "__clerk_db_jwt"), Some(db.as_str()));

    // Signed in, then signed out again: signed out.
    h.create_user("out@example.com", PASSWORD).await;
    b.post(
        "/v1/client/sign_ins",
        &[("identifier", "out@example.com"), ("password", PASSWORD)],
    )
    .await
    .ok();
    b.call(Method::DELETE, "/v1/client/sessions", &[])
        .await
        .ok();
    let r = handshake(
        &h,
        &[("redirect_url", APP_PAGE), ("__clerk_db_jwt", db.as_str())],
        &[],
    )
    .await;
    assert_eq!(cookie(&payload(&h, &r).await, "__client_uat"), Some("0"));

    // No dev browser (`dev-browser-missing`), or an unknown one: a new one, planted by a
    // directive, that names a client from then on.
    for asked in [
        vec![
            ("redirect_url", APP_PAGE),
            ("__clerk_hs_reason", "dev-browser-missing"),
        ],
        vec![
            ("redirect_url", APP_PAGE),
            ("__clerk_db_jwt", "unknown-dev-browser"),
        ],
    ] {
        let r = handshake(&h, &asked, &[]).await;
        let d = payload(&h, &r).await;
        assert_eq!(cookie(&d, "__client_uat"), Some("0"));
        let made = cookie(&d, "__clerk_db_jwt")
            .expect("a dev browser")
            .to_owned();
        assert!(made != db && made != "unknown-dev-browser" && !made.is_empty());
        let mut fresh = h.browser(ORIGIN);
        fresh.db_jwt = Some(made);
        assert_eq!(
            fresh.get("/v1/client").await.ok()["response"]["sessions"],
            json!([])
        );
    }
}

#[tokio::test]
async fn a_handshake_to_a_redirect_the_gate_refuses_is_answered_with_clerks_error_and_goes_nowhere()
{
    let h = start().await;
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let db = b.db_jwt.clone().unwrap();
    h.bapi(
        Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "myapp://callback"})),
    )
    .await
    .ok();
    for (url, status, code) in [
        (
            "javascript:alert(document.cookie)",
            422,
            "invalid_url_scheme",
        ),
        (
            "data:text/html,<script>alert(1)</script>",
            422,
            "invalid_url_scheme",
        ),
        ("otherapp://callback", 422, "resource_missmatch"),
        // On the allowlist, but a handshake returns to a page.
        ("myapp://callback", 422, "invalid_url_scheme"),
        ("/dashboard", 422, "form_param_format_invalid"),
        ("//evil.example/x", 422, "form_param_format_invalid"),
        (
            "https://good.example@evil.example/",
            422,
            "form_param_format_invalid",
        ),
        ("", 422, "form_param_nil"),
    ] {
        let r = handshake(
            &h,
            &[("redirect_url", url), ("__clerk_db_jwt", db.as_str())],
            &[],
        )
        .await;
        assert_eq!(r.header("location"), "", "{url}: followed nowhere");
        r.err(status, code);
    }
    let none = handshake(&h, &[("__clerk_db_jwt", db.as_str())], &[]).await;
    none.err(422, "form_param_nil");
    let bad_format = handshake(&h, &[("redirect_url", APP_PAGE), ("format", "cookie")], &[]).await;
    assert_eq!(bad_format.header("location"), "");
    bad_format.err(422, "form_param_format_invalid");
}

#[tokio::test]
async fn urls_built_for_a_proxied_request_start_with_its_clerk_proxy_url() {
    let h = start().await;
    const PROXY: &str = "http://localhost:5173/__clerk";
    let mut b = h.browser(ORIGIN);
    b.dev_browser().await;
    let db = b.db_jwt.clone().unwrap();
    let start_oauth = |proxy: Option<&'static str>| {
        let h = &h;
        let db = db.clone();
        async move {
            let mut req = h
                .request(
                    Method::POST,
                    &format!("/v1/client/sign_ins?__clerk_db_jwt={db}"),
                )
                .header("origin", ORIGIN)
                .form(&[
                    ("strategy", "oauth_google"),
                    ("redirect_url", "http://localhost:5173/sso-callback"),
                ]);
            if let Some(p) = proxy {
                req = req.header("clerk-proxy-url", p);
            }
            let r = latchkey_testkit::send(req).await;
            validate(
                fapi_spec(),
                "POST",
                "/v1/client/sign_ins",
                r.status,
                &r.body,
            );
            let v = &r.ok()["response"]["first_factor_verification"];
            url::Url::parse(v["external_verification_redirect_url"].as_str().unwrap()).unwrap()
        }
    };
    let proxied = start_oauth(Some(PROXY)).await;
    assert!(
        proxied
            .as_str()
            .starts_with(&format!("{PROXY}/_emulator/oauth/")),
        "{proxied}"
    );
    assert_eq!(
        query_param(&proxied, "redirect_uri").as_deref(),
        Some(format!("{PROXY}/v1/oauth_callback").as_str())
    );
    // The provider's page, reached through the proxy, answers to the proxy's callback.
    h.control(
        Method::POST,
        "/oauth/google/next",
        Some(json!({"email": "px@example.com", "provider_user_id": "g-px"})),
    )
    .await
    .ok();
    let path = &proxied.as_str()[PROXY.len()..];
    let page = h
        .request(Method::GET, path)
        .header("clerk-proxy-url", PROXY)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    let callback = page.headers()["location"].to_str().unwrap();
    assert!(
        callback.starts_with(&format!("{PROXY}/v1/oauth_callback?")),
        "{callback}"
    );

    // The email link a proxied request asks for, and the environment's URLs.
    h.set_settings(json!({"email_address": {"email_link": true}}))
        .await;
    h.create_user("link@example.com", PASSWORD).await;
    let proxied_post = |path: String, form: Vec<(&'static str, String)>| {
        let req = h
            .request(Method::POST, &format!("{path}?__clerk_db_jwt={db}"))
            .header("origin", ORIGIN)
            .header("clerk-proxy-url", PROXY)
            .form(&form);
        latchkey_testkit::send(req)
    };
    let si = proxied_post(
        "/v1/client/sign_ins".into(),
        vec![("identifier", "link@example.com".into())],
    )
    .await;
    let si = si.ok()["response"].clone();
    let email_id = first_factor(&si, "email_link")["email_address_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let prepare = format!(
        "/v1/client/sign_ins/{}/prepare_first_factor",
        si["id"].as_str().unwrap()
    );
    proxied_post(
        prepare,
        vec![
            ("strategy", "email_link".into()),
            ("email_address_id", email_id),
            ("redirect_url", "http://localhost:5173/verified".into()),
        ],
    )
    .await
    .ok();
    let link = h.latest_message("link@example.com").await["link"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        link.starts_with(&format!("{PROXY}/v1/verify?token=")),
        "{link}"
    );
    let env = latchkey_testkit::send(
        h.request(Method::GET, "/v1/environment")
            .header("clerk-proxy-url", PROXY),
    )
    .await;
    let sign_in_url = env.ok()["display_config"]["sign_in_url"].as_str().unwrap();
    assert!(sign_in_url.starts_with(PROXY), "{sign_in_url}");
    let own = h.fapi().get("/v1/environment").await;
    let own = own.ok()["display_config"]["sign_in_url"].as_str().unwrap();
    assert!(own.starts_with(h.url()), "{own}");

    // Not an http(s) URL, or one with a query or user name: the emulator's own address.
    for bogus in [
        "javascript:alert(1)",
        "/__clerk",
        "https://u:p@evil.example/__clerk",
        "https://evil.example/?x=1",
    ] {
        let own = start_oauth(Some(bogus)).await;
        assert!(own.as_str().starts_with(h.url()), "{bogus}: {own}");
    }
    // Per request: the next request without the header gets the emulator's own address.
    let own = start_oauth(None).await;
    assert!(own.as_str().starts_with(h.url()), "{own}");
}
