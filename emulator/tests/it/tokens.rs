use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn session_tokens_verify_from_the_jwks_alone_and_carry_the_v2_claims() {
    let h = start().await;
    let u = h.create_user("tok@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let sid = c.sign_in("tok@example.com", "lk-Test-pass-4921").await;
    let jwt = c.jwt(&sid).await;
    let jwks = h.jwks().await;
    let key = &jwks["keys"][0];
    for field in ["use", "kty", "kid", "alg", "n", "e"] {
        assert!(key[field].is_string(), "JWKS key has {field}");
    }
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["e"], "AQAB");
    let bapi_jwks = h.bapi(Method::GET, "/v1/jwks", None).await;
    assert_eq!(bapi_jwks.ok(), &jwks, "FAPI and BAPI serve the same keys");

    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    assert_eq!(header.kid.as_deref(), key["kid"].as_str());
    let claims = verify_jwt(&jwks, &jwt).unwrap();
    assert_eq!(claims["iss"], h.emu.url());
    assert_eq!(claims["sub"], u["id"]);
    assert_eq!(claims["sid"], sid);
    assert_eq!(claims["v"], 2);
    assert_eq!(claims["fva"], json!([0, -1]));
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat - 10);
    assert_eq!(claims["exp"].as_i64().unwrap(), iat + 60);
    assert!(claims.get("azp").is_none(), "native requests carry no azp");
    // The token was minted a moment ago: within the last second of the emulator's clock (a
    // second may turn between minting and reading the clock).
    let now = h.emu.clock().now_secs();
    assert!(
        iat == now || iat == now - 1,
        "iat is the emulator's clock, in seconds: iat {iat}, now {now}"
    );

    // A token from a different key does not verify against these keys.
    let other = start_with_own_key().await;
    other
        .create_user("tok@example.com", "lk-Test-pass-4921")
        .await;
    let mut oc = other.fapi();
    let osid = oc.sign_in("tok@example.com", "lk-Test-pass-4921").await;
    let foreign = oc.jwt(&osid).await;
    assert!(verify_jwt(&jwks, &foreign).is_err());
    // A tampered payload fails.
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    parts[1] = parts[1].chars().rev().collect();
    assert!(verify_jwt(&jwks, &parts.join(".")).is_err());
}

#[tokio::test]
async fn advancing_the_clock_expires_tokens_and_minting_again_gives_a_fresh_one() {
    let h = start().await;
    h.create_user("exp@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let sid = c.sign_in("exp@example.com", "lk-Test-pass-4921").await;
    let jwks = h.jwks().await;
    let first = verify_jwt(&jwks, &c.jwt(&sid).await).unwrap();
    h.advance(61).await;
    assert!(
        first["exp"].as_i64().unwrap() < h.emu.clock().now_secs(),
        "the old token is past exp on the emulator's clock"
    );
    let second = verify_jwt(&jwks, &c.jwt(&sid).await).unwrap();
    assert!(second["exp"].as_i64().unwrap() > h.emu.clock().now_secs());
    assert_eq!(
        second["fva"],
        json!([1, -1]),
        "a minute since the first factor"
    );
    // last_active_token in the client is refreshed too.
    let r = c.get("/v1/client").await;
    let lat = r.ok()["response"]["sessions"][0]["last_active_token"]["jwt"]
        .as_str()
        .unwrap();
    let lat_claims = verify_jwt(&jwks, lat).unwrap();
    assert!(lat_claims["exp"].as_i64().unwrap() - h.emu.clock().now_secs() >= 30);
}

#[tokio::test]
async fn a_sign_in_signs_once_and_reading_the_client_reuses_its_fresh_token() {
    use latchkey_emulator::testing::tokens_signed;
    // A clock that stands still (but for the test's own advances): the 30 s reuse margin below
    // is checked to the second, and a real second passing mid-test would move it.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let clock = std::sync::Arc::new(latchkey_emulator::Clock::pinned(now - now % 1000 + 500));
    let h = start_from(builder().clock(clock)).await;
    h.create_user("once@example.com", "lk-Test-pass-4921").await;
    let jwks = h.jwks().await;
    let mut c = h.fapi();
    let before = tokens_signed(&h.emu);
    let r = c
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "once@example.com"),
                ("password", "lk-Test-pass-4921"),
            ],
        )
        .await;
    let signed_in = r.ok()["client"]["sessions"][0]["last_active_token"]["jwt"]
        .as_str()
        .expect("the sign-in's client carries a token")
        .to_owned();
    let sid = r.body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(verify_jwt(&jwks, &signed_in).unwrap()["sid"], sid.as_str());
    assert_eq!(
        tokens_signed(&h.emu) - before,
        1,
        "a sign-in signs one token"
    );

    // Reading the client, touching the session, reading it: the same token, nothing signed.
    let lat = |r: &Resp| r.body["client"]["sessions"][0]["last_active_token"]["jwt"].clone();
    let r = c.get("/v1/client").await;
    assert_eq!(
        r.ok()["response"]["sessions"][0]["last_active_token"]["jwt"],
        signed_in.as_str()
    );
    assert_eq!(lat(&r), signed_in.as_str());
    let r = c
        .post(&format!("/v1/client/sessions/{sid}/touch"), &[])
        .await;
    assert_eq!(
        r.ok()["response"]["last_active_token"]["jwt"],
        signed_in.as_str()
    );
    assert_eq!(
        tokens_signed(&h.emu) - before,
        1,
        "piggybacked clients sign nothing"
    );

    // A minted token is new, and becomes the session's last_active_token.
    h.advance(5).await;
    let minted = c.jwt(&sid).await;
    assert_ne!(minted, signed_in);
    assert_eq!(tokens_signed(&h.emu) - before, 2);
    let r = c.get("/v1/client").await;
    assert_eq!(
        lat(&r),
        minted.as_str(),
        "the newest token is the one shown"
    );

    // 30 s before its expiry it is still handed out; within 30 s, no more: the next read signs.
    h.advance(30).await;
    assert_eq!(lat(&c.get("/v1/client").await), minted.as_str());
    h.advance(1).await;
    let r = c.get("/v1/client").await;
    let fresh = lat(&r).as_str().expect("a token").to_owned();
    assert_ne!(fresh, minted);
    let claims = verify_jwt(&jwks, &fresh).unwrap();
    assert_eq!(claims["iat"].as_i64().unwrap(), h.emu.clock().now_secs());
    assert_eq!(
        tokens_signed(&h.emu) - before,
        3,
        "one signature for the whole response"
    );
    c.get("/v1/client").await.ok();
    assert_eq!(tokens_signed(&h.emu) - before, 3);
}

#[tokio::test]
async fn a_revoked_session_can_no_longer_mint_tokens() {
    let h = start().await;
    h.create_user("rev@example.com", "lk-Test-pass-4921").await;
    let mut c = h.fapi();
    let sid = c.sign_in("rev@example.com", "lk-Test-pass-4921").await;
    c.token(&sid).await.ok();
    let r = h
        .bapi(Method::POST, &format!("/v1/sessions/{sid}/revoke"), None)
        .await;
    assert_eq!(r.ok()["status"], "revoked");
    c.token(&sid).await.err(401, "authentication_invalid");
    h.bapi(Method::POST, &format!("/v1/sessions/{sid}/tokens"), None)
        .await
        .err(401, "authentication_invalid");
    let r = c.get("/v1/client").await;
    assert_eq!(r.ok()["response"]["sessions"], json!([]));
    assert_eq!(r.body["response"]["last_active_session_id"], json!(null));
}

#[tokio::test]
async fn jwt_templates_add_claims_and_set_the_lifetime() {
    let h = start().await;
    h.set_settings(json!({"jwt_templates": {"backend": {
        "claims": {"email": "{{user.primary_email_address}}", "aud": "api.example.com", "meta": "{{user.public_metadata}}"},
        "lifetime_secs": 300
    }}}))
    .await;
    let u = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": ["tpl@example.com"], "password": "lk-Test-pass-4921", "public_metadata": {"role": "admin"}})),
        )
        .await;
    u.ok();
    let mut c = h.fapi();
    let sid = c.sign_in("tpl@example.com", "lk-Test-pass-4921").await;
    let r = c
        .post(&format!("/v1/client/sessions/{sid}/tokens/backend"), &[])
        .await;
    let claims = verify_jwt(&h.jwks().await, r.ok()["jwt"].as_str().unwrap()).unwrap();
    assert_eq!(claims["email"], "tpl@example.com");
    assert_eq!(claims["aud"], "api.example.com");
    assert_eq!(claims["meta"], json!({"role": "admin"}));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    c.post(&format!("/v1/client/sessions/{sid}/tokens/nope"), &[])
        .await
        .err(404, "resource_not_found");
    // The Backend API mints template tokens too: the same claims and lifetime, verified with the
    // public key PEM the control API hands out, and the template's audience.
    let r = h
        .bapi(
            Method::POST,
            &format!("/v1/sessions/{sid}/tokens/backend"),
            None,
        )
        .await;
    let jwt = r.ok()["jwt"].as_str().unwrap().to_owned();
    let pem = h.control(Method::GET, "/instance", None).await.ok()["public_key_pem"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = {
        use rsa::pkcs8::DecodePublicKey;
        use rsa::traits::PublicKeyParts;
        let public = rsa::RsaPublicKey::from_public_key_pem(&pem).unwrap();
        jsonwebtoken::DecodingKey::from_rsa_raw_components(
            &public.n().to_bytes_be(),
            &public.e().to_bytes_be(),
        )
    };
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&["api.example.com"]);
    v.set_issuer(&[h.emu.url()]);
    v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "sub", "aud"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&jwt, &key, &v)
        .expect("the Backend API's template token verifies")
        .claims;
    let uid = u.body["id"].as_str().unwrap();
    assert_eq!(claims["sub"], uid);
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["email"], "tpl@example.com");
    assert_eq!(claims["meta"], json!({"role": "admin"}));
    let iat = claims["iat"].as_i64().unwrap();
    assert_eq!(
        claims["exp"].as_i64().unwrap() - iat,
        300,
        "the template's lifetime"
    );
    assert_eq!(claims["nbf"].as_i64().unwrap(), iat - 10);
    assert!(claims.get("azp").is_none(), "no Origin, no azp: {claims}");
    // A template that does not exist is a 404 here too.
    h.bapi(
        Method::POST,
        &format!("/v1/sessions/{sid}/tokens/nope"),
        None,
    )
    .await
    .err(404, "resource_not_found");
}

#[tokio::test]
async fn a_fresh_instance_serves_at_once_and_signs_once_its_key_exists() {
    // No key given: the emulator generates one in the background while it already answers.
    let h = start_with_own_key().await;
    h.fapi().get("/v1/health").await.ok();
    h.create_user("fresh@example.com", "lk-Test-pass-4921")
        .await;
    let mut c = h.fapi();
    let sid = c.sign_in("fresh@example.com", "lk-Test-pass-4921").await;
    let claims = verify_jwt(&h.jwks().await, &c.jwt(&sid).await).unwrap();
    assert_eq!(claims["sid"], sid);
}
