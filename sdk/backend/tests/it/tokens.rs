//! Session-token verification: real emulator tokens, and each way a token can be wrong.

use std::sync::atomic::Ordering;
use std::time::Duration;

use latchkey_backend::{FactorVerificationAge, Verifier, VerifyError};
use latchkey_testkit::Method;
use serde_json::json;

use crate::support::*;

/// An emulator given no signing key generates one in the background at start. The very first
/// requests — a Frontend API sign-up (then its code, session and first token mint) racing a
/// Backend API user creation — arrive while it may still be doing so, and must neither
/// deadlock nor fail. (The harness does not wait for the key either.)
#[tokio::test]
async fn the_first_requests_of_a_cold_emulator_go_through_the_frontend_api_and_verify() {
    let env = start_with_own_key().await;
    let (signed_up, created) = tokio::time::timeout(WAIT, async {
        tokio::join!(
            fapi_sign_up(&env, "cold@example.com"),
            env.create_user("also-cold@example.com")
        )
    })
    .await
    .expect("the first requests on a cold key completed (no deadlock)");
    let (user_id, sid, jwt) = signed_up;
    let verifier = env.verifier().build().unwrap();
    let claims = verifier.verify(&jwt).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.sid.as_str()),
        (user_id.as_str(), sid.as_str())
    );
    assert_eq!(
        header_kid(&jwt),
        env.kid(),
        "signed with the key generated at start"
    );
    assert_eq!(created.primary_email(), Some("also-cold@example.com"));
}

/// A native sign-up through the Frontend API alone (email, password, emailed code); returns the
/// user id, the session id and the session's first minted token.
async fn fapi_sign_up(env: &Env, email: &str) -> (String, String, String) {
    let (token, body) = fapi_post(
        env,
        None,
        "/v1/client/sign_ups",
        &[("email_address", email), ("password", PASSWORD)],
    )
    .await;
    let id = body["response"]["id"].as_str().unwrap().to_owned();
    let (token, _) = fapi_post(
        env,
        Some(&token),
        &format!("/v1/client/sign_ups/{id}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await;
    let code = env.latest_code(email).await;
    let (token, body) = fapi_post(
        env,
        Some(&token),
        &format!("/v1/client/sign_ups/{id}/attempt_verification"),
        &[("strategy", "email_code"), ("code", &code)],
    )
    .await;
    assert_eq!(body["response"]["status"], "complete", "{body}");
    let sid = body["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let user_id = body["response"]["created_user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let jwt = env.mint(&token, &sid).await;
    (user_id, sid, jwt)
}

/// A native Frontend API POST; returns the client token to use next (rotated or kept) and the
/// body.
async fn fapi_post(
    env: &Env,
    token: Option<&str>,
    path: &str,
    form: &[(&str, &str)],
) -> (String, serde_json::Value) {
    let mut req = env
        .request(Method::POST, &format!("{path}?_is_native=true"))
        .form(form);
    if let Some(t) = token {
        req = req.header("authorization", t);
    }
    let r = latchkey_testkit::send(req).await;
    assert!(
        (200..300).contains(&r.status),
        "{path}: {} {}",
        r.status,
        r.body
    );
    let next = r
        .authorization
        .or(token.map(str::to_owned))
        .expect("a client token");
    let body = r.body;
    (next, body)
}

/// The `kid` in a token's header.
fn header_kid(token: &str) -> String {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_token_from_a_real_sign_in_verifies_with_typed_claims() {
    let env = start().await;
    let user = env.create_user("ada@example.com").await;
    let s = env.sign_in("ada@example.com").await;
    let verifiers = [
        ("frontend jwks", env.verifier().build().unwrap()),
        (
            "backend jwks",
            Verifier::builder()
                .jwks(env.backend())
                .issuer(env.emu.url())
                .clock(env.clock())
                .build()
                .unwrap(),
        ),
        (
            "pem",
            Verifier::builder()
                .pem_public_key(env.pem())
                .clock(env.clock())
                .build()
                .unwrap(),
        ),
    ];
    for (name, verifier) in verifiers {
        let claims = verifier
            .verify(&s.jwt)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(claims.sub, user.id, "{name}");
        assert_eq!(claims.sub, s.user_id, "{name}");
        assert_eq!(claims.sid, s.sid, "{name}");
        assert_eq!(claims.iss, env.emu.url(), "{name}");
        assert_eq!(claims.v, Some(2));
        assert_eq!(
            claims.fva,
            Some(FactorVerificationAge {
                first_factor_minutes: Some(0),
                second_factor_minutes: None
            })
        );
        assert_eq!(claims.exp - claims.iat, 60);
        assert_eq!(claims.nbf, Some(claims.iat - 10));
        assert_eq!(claims.azp, None, "native tokens carry no azp");
        assert!(claims.act.is_none() && claims.organization.is_none());
    }
}

#[tokio::test]
async fn after_61_seconds_on_the_emulator_clock_the_token_has_expired() {
    let env = start().await;
    env.create_user("exp@example.com").await;
    let s = env.sign_in("exp@example.com").await;
    let no_skew = env.verifier().skew(Duration::ZERO).build().unwrap();
    let default_skew = env.verifier().build().unwrap();
    assert!(no_skew.verify(&s.jwt).await.is_ok());

    env.advance_secs(61);
    match no_skew.verify(&s.jwt).await {
        Err(VerifyError::Expired { exp, now }) => {
            assert_eq!(exp, payload(&s.jwt)["exp"].as_i64().unwrap());
            assert!(now > exp, "now {now} exp {exp}");
        }
        other => panic!("expected Expired, got {other:?}"),
    }
    // The default 5 s skew still accepts it one second past exp, but not six.
    assert!(default_skew.verify(&s.jwt).await.is_ok());
    env.advance_secs(5);
    assert!(matches!(
        default_skew.verify(&s.jwt).await,
        Err(VerifyError::Expired { .. })
    ));
    // A token minted now is fine again.
    let fresh = env.mint(&s.client_token, &s.sid).await;
    assert!(no_skew.verify(&fresh).await.is_ok());
}

#[tokio::test]
async fn a_token_not_yet_valid_is_refused_beyond_the_skew() {
    let env = start().await;
    let verifier = env.verifier().build().unwrap();
    let signer = env.signer();
    let mut claims = env.claims("user_1", "sess_1");
    claims["nbf"] = json!(env.now_secs() + 30);
    match verifier.verify(&signer.sign(&claims)).await {
        Err(VerifyError::NotYetValid { nbf, .. }) => assert_eq!(nbf, env.now_secs() + 30),
        other => panic!("expected NotYetValid, got {other:?}"),
    }
    claims["nbf"] = json!(env.now_secs() + 3);
    assert!(verifier.verify(&signer.sign(&claims)).await.is_ok());
}

#[tokio::test]
async fn a_tampered_payload_or_signature_is_a_bad_signature() {
    let env = start().await;
    env.create_user("tamper@example.com").await;
    let s = env.sign_in("tamper@example.com").await;
    let verifier = env.verifier().build().unwrap();

    let mut claims = payload(&s.jwt);
    claims["sub"] = json!("user_someone_else");
    assert!(matches!(
        verifier.verify(&with_payload(&s.jwt, &claims)).await,
        Err(VerifyError::BadSignature)
    ));

    let (input, sig) = s.jwt.rsplit_once('.').unwrap();
    let mut sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    sig[10] ^= 1;
    assert!(matches!(
        verifier.verify(&format!("{input}.{}", b64(&sig))).await,
        Err(VerifyError::BadSignature)
    ));
}

#[tokio::test]
async fn a_token_signed_by_another_instance_is_an_unknown_key_after_one_refetch() {
    let env = start().await;
    let other = start_with_own_key().await;
    assert_ne!(env.kid(), other.kid());
    other.create_user("elsewhere@example.com").await;
    let foreign = other.sign_in("elsewhere@example.com").await;

    let (builder, fetches) = env.counting_verifier();
    let verifier = builder.build().unwrap();
    match verifier.verify(&foreign.jwt).await {
        Err(VerifyError::UnknownKey { kid }) => assert_eq!(kid, Some(other.kid())),
        other => panic!("expected UnknownKey, got {other:?}"),
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "the first fetch is the lookup"
    );
    match verifier.verify(&foreign.jwt).await {
        Err(VerifyError::UnknownKey { .. }) => {}
        other => panic!("expected UnknownKey, got {other:?}"),
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "within the refetch floor the server is not asked again"
    );
    env.advance_secs(6);
    assert!(matches!(
        verifier.verify(&foreign.jwt).await,
        Err(VerifyError::UnknownKey { .. })
    ));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "past the floor it asks once more"
    );
}

#[tokio::test]
async fn alg_none_is_refused_before_any_key_is_fetched() {
    let env = start().await;
    let (builder, fetches) = env.counting_verifier();
    let verifier = builder.build().unwrap();
    let claims = env.claims("user_1", "sess_1");
    for alg in ["none", "None", "NONE"] {
        let header = json!({"alg": alg, "kid": env.kid(), "typ": "JWT"});
        for sig in ["", "c2ln"] {
            let token = format!("{}.{}.{sig}", b64_json(&header), b64_json(&claims));
            match verifier.verify(&token).await {
                Err(VerifyError::UnsupportedAlgorithm(a)) => assert_eq!(a, alg),
                other => panic!("{alg}: expected UnsupportedAlgorithm, got {other:?}"),
            }
        }
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let env = start().await;
    let pem = env.pem();
    let claims = env.claims("user_1", "sess_1");
    let header = json!({"alg": "HS256", "kid": env.kid(), "typ": "JWT"});
    let pem_verifier = Verifier::builder()
        .pem_public_key(pem.clone())
        .clock(env.clock())
        .build()
        .unwrap();
    let jwks_verifier = env.verifier().build().unwrap();
    for key in [pem.as_bytes(), pem.trim_end().as_bytes()] {
        let forged = hs256(&header, &claims, key);
        for verifier in [&pem_verifier, &jwks_verifier] {
            match verifier.verify(&forged).await {
                Err(VerifyError::UnsupportedAlgorithm(a)) => assert_eq!(a, "HS256"),
                other => panic!("expected UnsupportedAlgorithm, got {other:?}"),
            }
        }
    }
}

#[tokio::test]
async fn rs384_and_rs512_verify_with_a_pem_key_but_not_with_a_jwk_bound_to_rs256() {
    let env = start().await;
    let signer = env.signer();
    let pem = Verifier::builder()
        .pem_public_key(env.pem())
        .clock(env.clock())
        .build()
        .unwrap();
    let jwks = env.verifier().build().unwrap();
    let claims = env.claims("user_1", "sess_1");
    for alg in ["RS256", "RS384", "RS512"] {
        let token = signer.sign_with(alg, json!({"kid": signer.kid}), &claims);
        let verified = pem.verify(&token).await;
        assert_eq!(
            verified.map(|c| c.sub).ok().as_deref(),
            Some("user_1"),
            "{alg}"
        );
        let via_jwks = jwks.verify(&token).await;
        if alg == "RS256" {
            assert!(via_jwks.is_ok());
        } else {
            assert!(
                matches!(via_jwks, Err(VerifyError::UnsupportedAlgorithm(ref a)) if a == alg),
                "{alg}: {via_jwks:?}"
            );
        }
    }
    // An RS512 signature relabelled RS256 does not verify.
    let rs512 = signer.sign_with("RS512", json!({"kid": signer.kid}), &claims);
    let parts: Vec<&str> = rs512.split('.').collect();
    let relabelled = format!(
        "{}.{}.{}",
        b64_json(&json!({"alg": "RS256", "kid": signer.kid})),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        pem.verify(&relabelled).await,
        Err(VerifyError::BadSignature)
    ));
}

#[tokio::test]
async fn a_wrong_issuer_is_refused() {
    let env = start().await;
    env.create_user("iss@example.com").await;
    let s = env.sign_in("iss@example.com").await;
    let verifier = env
        .verifier()
        .issuer("https://clerk.other.example")
        .build()
        .unwrap();
    match verifier.verify(&s.jwt).await {
        Err(VerifyError::WrongIssuer { expected, found }) => {
            assert_eq!(expected, "https://clerk.other.example");
            assert_eq!(found, env.emu.url());
        }
        other => panic!("expected WrongIssuer, got {other:?}"),
    }
    // A Frontend API source expects its own URL as issuer (a trailing slash does not matter).
    let default = env.verifier().build().unwrap();
    assert!(default.verify(&s.jwt).await.is_ok());
    let slash = env
        .verifier()
        .issuer(format!("{}/", env.emu.url()))
        .build()
        .unwrap();
    assert!(slash.verify(&s.jwt).await.is_ok());
    let mut claims = env.claims("user_1", "sess_1");
    claims["iss"] = json!("https://evil.example");
    assert!(matches!(
        default.verify(&env.signer().sign(&claims)).await,
        Err(VerifyError::WrongIssuer { .. })
    ));
}

#[tokio::test]
async fn authorized_parties_accept_listed_origins_and_native_tokens_only() {
    let env = start().await;
    env.create_user("azp@example.com").await;
    let from_app = env
        .sign_in_from("azp@example.com", "https://app.example")
        .await;
    let from_evil = env
        .sign_in_from("azp@example.com", "https://evil.example")
        .await;
    let native = env.sign_in("azp@example.com").await;
    assert_eq!(payload(&from_app)["azp"], "https://app.example");

    let verifier = env
        .verifier()
        .authorized_parties(["https://app.example", "http://localhost:3000"])
        .build()
        .unwrap();
    let claims = verifier.verify(&from_app).await.unwrap();
    assert_eq!(claims.azp.as_deref(), Some("https://app.example"));
    match verifier.verify(&from_evil).await {
        Err(VerifyError::UnauthorizedParty { azp }) => assert_eq!(azp, "https://evil.example"),
        other => panic!("expected UnauthorizedParty, got {other:?}"),
    }
    assert!(verifier.verify(&native.jwt).await.is_ok(), "no azp: native");
    // Without a list, any party is accepted.
    assert!(
        env.verifier()
            .build()
            .unwrap()
            .verify(&from_evil)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn organization_actor_and_custom_claims_are_typed() {
    let env = start().await;
    let mut claims = env.claims("user_1", "sess_1");
    claims["o"] =
        json!({"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3"});
    claims["fea"] = json!("o:reports");
    claims["act"] = json!({"sub": "user_support", "iss": "https://dashboard.example"});
    claims["sts"] = json!("pending");
    claims["plan"] = json!("pro");
    let verified = env
        .verifier()
        .build()
        .unwrap()
        .verify(&env.signer().sign(&claims))
        .await
        .unwrap();
    let org = verified.organization.as_ref().unwrap();
    assert_eq!(
        (org.id.as_str(), org.slug.as_deref()),
        ("org_1", Some("acme"))
    );
    assert_eq!(verified.org_role().as_deref(), Some("org:admin"));
    assert_eq!(
        verified.org_permissions(),
        ["org:reports:read", "org:reports:manage"]
    );
    assert_eq!(verified.act.as_ref().unwrap().sub, "user_support");
    assert_eq!(verified.sts.as_deref(), Some("pending"));
    assert_eq!(verified.extra["plan"], "pro");
}

#[tokio::test]
async fn malformed_tokens_and_claims_are_malformed() {
    let env = start().await;
    let verifier = env.verifier().build().unwrap();
    for token in ["", "not-a-token", "a.b.c", "eyJhbGciOiJSUzI1NiJ9..."] {
        assert!(
            matches!(verifier.verify(token).await, Err(VerifyError::Malformed(_))),
            "{token:?}"
        );
    }
    // Correctly signed, but not a session token (no sid).
    let mut claims = env.claims("user_1", "sess_1");
    claims.as_object_mut().unwrap().remove("sid");
    assert!(matches!(
        verifier.verify(&env.signer().sign(&claims)).await,
        Err(VerifyError::Malformed(_))
    ));
}

#[tokio::test]
async fn a_pem_verifier_needs_no_network() {
    let env = start().await;
    env.create_user("offline@example.com").await;
    let s = env.sign_in("offline@example.com").await;
    let clock = env.clock();
    let verifier = Verifier::builder()
        .pem_public_key(env.pem().replace('\n', "\\n"))
        .clock(clock)
        .build()
        .unwrap();
    env.kit.shutdown().await;
    let claims = verifier.verify(&s.jwt).await.unwrap();
    assert_eq!(claims.sid, s.sid);
}
