use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn session_tokens_verify_from_the_jwks_alone_and_carry_the_v2_claims() {
    let h = start().await;
    let u = h.create_user("tok@example.com", "password123").await;
    let mut c = h.fapi();
    let sid = c.sign_in("tok@example.com", "password123").await;
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
    assert_eq!(
        iat,
        h.emu.clock().now_secs(),
        "iat is the emulator's clock, in seconds"
    );

    // A token from a different key does not verify against these keys.
    let other = start_with_own_key().await;
    other.create_user("tok@example.com", "password123").await;
    let mut oc = other.fapi();
    let osid = oc.sign_in("tok@example.com", "password123").await;
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
    h.create_user("exp@example.com", "password123").await;
    let mut c = h.fapi();
    let sid = c.sign_in("exp@example.com", "password123").await;
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
async fn a_revoked_session_can_no_longer_mint_tokens() {
    let h = start().await;
    h.create_user("rev@example.com", "password123").await;
    let mut c = h.fapi();
    let sid = c.sign_in("rev@example.com", "password123").await;
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
            Some(json!({"email_address": ["tpl@example.com"], "password": "password123", "public_metadata": {"role": "admin"}})),
        )
        .await;
    u.ok();
    let mut c = h.fapi();
    let sid = c.sign_in("tpl@example.com", "password123").await;
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
    h.create_user("fresh@example.com", "password123").await;
    let mut c = h.fapi();
    let sid = c.sign_in("fresh@example.com", "password123").await;
    let claims = verify_jwt(&h.jwks().await, &c.jwt(&sid).await).unwrap();
    assert_eq!(claims["sid"], sid);
}
