//! The Backend API client against the emulator (and a proxy that injects failures).

use std::time::{Duration, Instant};

use latchkey_backend::ApiError;
use latchkey_backend::api::{
    BackendClient, CreateUser, MetadataUpdate, SessionListParams, UpdateUser, UserListParams,
};
use serde_json::{Map, Value, json};

use crate::support::*;

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[tokio::test]
async fn users_are_listed_in_the_order_asked_for_and_paged() {
    let env = start().await;
    let users = env.bapi.users();
    let mut ids = std::collections::HashMap::new();
    for name in ["Carol", "Ada", "Dan", "Bea"] {
        let u = users
            .create(&CreateUser {
                email_address: vec![format!("{}@example.com", name.to_lowercase())],
                password: Some(PASSWORD.into()),
                first_name: Some(name.into()),
                ..Default::default()
            })
            .await
            .unwrap();
        ids.insert(u.id.clone(), name);
        // Distinct creation times, so the created_at order is defined.
        env.advance_secs(1);
    }
    let names = |list: Vec<latchkey_protocol::User>| -> Vec<String> {
        list.into_iter()
            .map(|u| u.first_name.unwrap_or_default())
            .collect()
    };
    let list = |order_by: &str, limit: Option<u32>, offset: Option<u32>| {
        let params = UserListParams {
            order_by: Some(order_by.into()),
            limit,
            offset,
            ..Default::default()
        };
        async move { users.list(&params).await }
    };
    assert_eq!(
        names(list("+first_name", None, None).await.unwrap()),
        ["Ada", "Bea", "Carol", "Dan"]
    );
    assert_eq!(
        names(list("-first_name", None, None).await.unwrap()),
        ["Dan", "Carol", "Bea", "Ada"]
    );
    assert_eq!(
        names(list("+first_name", Some(2), Some(1)).await.unwrap()),
        ["Bea", "Carol"]
    );
    assert_eq!(
        names(list("-first_name", Some(3), Some(3)).await.unwrap()),
        ["Ada"]
    );
    // Creation order, oldest first, and the default: newest first.
    assert_eq!(
        names(list("+created_at", None, None).await.unwrap()),
        ["Carol", "Ada", "Dan", "Bea"]
    );
    assert_eq!(
        names(users.list(&UserListParams::default()).await.unwrap()),
        ["Bea", "Dan", "Ada", "Carol"]
    );
    assert_eq!(ids.len(), 4);
}

#[tokio::test]
async fn a_password_is_verified_without_ever_being_shown() {
    let env = start().await;
    let user = env.create_user("pw@example.com").await;
    let users = env.bapi.users();
    assert!(
        users
            .verify_password(&user.id, &PASSWORD.into())
            .await
            .unwrap()
    );
    assert!(
        !users
            .verify_password(&user.id, &"not-the-password".into())
            .await
            .unwrap()
    );
    let missing = users
        .verify_password("user_missing", &PASSWORD.into())
        .await
        .unwrap_err();
    assert_eq!(missing.status(), Some(404), "{missing}");
}

#[tokio::test]
async fn users_are_created_listed_filtered_updated_and_deleted() {
    let env = start().await;
    let users = env.bapi.users();
    let ada = users
        .create(&CreateUser {
            email_address: vec!["ada@example.com".into()],
            password: Some(PASSWORD.into()),
            first_name: Some("Ada".into()),
            last_name: Some("Lovelace".into()),
            public_metadata: Some(obj(json!({"plan": "free"}))),
            private_metadata: Some(obj(json!({"stripe": "cus_1", "flag": true}))),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ada.primary_email(), Some("ada@example.com"));
    assert_eq!(ada.first_name.as_deref(), Some("Ada"));
    assert!(ada.password_enabled);
    let bob = env.create_user("bob@example.com").await;

    let all = users.list(&UserListParams::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    let only_ada = users
        .list(&UserListParams {
            email_address: vec!["ada@example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        only_ada.iter().map(|u| &u.id).collect::<Vec<_>>(),
        [&ada.id]
    );
    let both = users
        .list(&UserListParams {
            email_address: vec!["ada@example.com".into(), "bob@example.com".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(both.len(), 2, "a filter matches any of its values");
    let by_query = users
        .list(&UserListParams {
            query: Some("bob".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        by_query.iter().map(|u| &u.id).collect::<Vec<_>>(),
        [&bob.id]
    );
    assert_eq!(users.count(&UserListParams::default()).await.unwrap(), 2);
    assert_eq!(
        users
            .count(&UserListParams {
                query: Some("ada".into()),
                limit: Some(1),
                ..Default::default()
            })
            .await
            .unwrap(),
        1
    );

    let fetched = users.get(&ada.id).await.unwrap();
    assert_eq!(fetched.id, ada.id);
    assert_eq!(
        fetched
            .private_metadata
            .as_ref()
            .and_then(|m| m.get("stripe")),
        Some(&json!("cus_1"))
    );

    let updated = users
        .update(
            &ada.id,
            &UpdateUser {
                first_name: Some(Some("Augusta".into())),
                last_name: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.first_name.as_deref(), Some("Augusta"));
    assert_eq!(updated.last_name, None);

    let merged = users
        .update_metadata(
            &ada.id,
            &MetadataUpdate {
                public_metadata: Some(obj(json!({"seats": 3}))),
                private_metadata: Some(obj(json!({"flag": null}))),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        Value::Object(merged.public_metadata),
        json!({"plan": "free", "seats": 3})
    );
    assert_eq!(
        merged.private_metadata.map(Value::Object),
        Some(json!({"stripe": "cus_1"}))
    );

    let deleted = users.delete(&bob.id).await.unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.id.as_deref(), Some(bob.id.as_str()));
    let gone = users.get(&bob.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    assert_eq!(gone.code(), Some("resource_not_found"));
    assert_eq!(users.count(&UserListParams::default()).await.unwrap(), 1);
    // An id is one path segment, never a path.
    let odd = users.get("../users").await.unwrap_err();
    assert!(odd.is_not_found(), "{odd}");
}

#[tokio::test]
async fn server_errors_keep_the_status_and_clerk_codes() {
    let env = start().await;
    env.create_user("dup@example.com").await;
    let err = env
        .bapi
        .users()
        .create(&CreateUser {
            email_address: vec!["dup@example.com".into()],
            password: Some(PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_identifier_exists"), "{err}");
    assert!(matches!(err.status(), Some(400..=499)), "{err}");
    match &err {
        ApiError::Server {
            trace_id, errors, ..
        } => {
            assert!(trace_id.is_some());
            assert!(!errors[0].long_message.is_empty());
        }
        other => panic!("expected a server error, got {other:?}"),
    }

    let weak = env
        .bapi
        .users()
        .create(&CreateUser {
            email_address: vec!["weak@example.com".into()],
            password: Some("short".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(
        weak.code(),
        Some("form_password_length_too_short"),
        "{weak}"
    );

    let wrong = BackendClient::new(env.emu.url(), "sk_test_wrong_key").unwrap();
    let err = wrong
        .users()
        .list(&UserListParams::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(401), Some("clerk_key_invalid"))
    );
    assert!(!format!("{err} {err:?} {wrong:?}").contains("sk_test_wrong_key"));
}

#[tokio::test]
async fn sessions_are_listed_fetched_minted_and_revoked() {
    let env = start().await;
    let user = env.create_user("sess@example.com").await;
    let s = env.sign_in("sess@example.com").await;
    let sessions = env.bapi.sessions();

    let listed = sessions
        .list(&SessionListParams {
            user_id: Some(user.id.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|x| &x.id).collect::<Vec<_>>(), [&s.sid]);
    assert_eq!(listed[0].status, "active");
    assert_eq!(listed[0].user_id.as_deref(), Some(user.id.as_str()));
    let paged = sessions
        .list_paginated(&SessionListParams {
            user_id: Some(user.id.clone()),
            status: Some("active".into()),
            limit: Some(5),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!((paged.total_count, paged.data.len()), (1, 1));

    let got = sessions.get(&s.sid).await.unwrap();
    assert_eq!(got.id, s.sid);

    let token = sessions.token(&s.sid, None).await.unwrap();
    assert!(
        !format!("{token:?}").contains(&token.jwt),
        "Debug hides the jwt"
    );
    let verifier = env.verifier().build().unwrap();
    let claims = verifier.verify(&token.jwt).await.unwrap();
    assert_eq!(
        (claims.sub.as_str(), claims.sid.as_str()),
        (user.id.as_str(), s.sid.as_str())
    );
    let missing = sessions
        .token(&s.sid, Some("no_such_template"))
        .await
        .unwrap_err();
    assert!(missing.is_not_found(), "{missing}");

    let revoked = sessions.revoke(&s.sid).await.unwrap();
    assert_eq!(revoked.status, "revoked");
    let after = sessions.token(&s.sid, None).await.unwrap_err();
    assert_eq!(after.status(), Some(401), "{after}");
    assert_eq!(after.code(), Some("authentication_invalid"), "{after}");
    let active = sessions
        .list(&SessionListParams {
            user_id: Some(user.id.clone()),
            status: Some("active".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(active.is_empty());
}

#[tokio::test]
async fn the_jwks_is_the_emulators_signing_key() {
    let env = start().await;
    let jwks = env.bapi.jwks().await.unwrap();
    assert_eq!(jwks.keys.len(), 1);
    assert_eq!(jwks.keys[0].kid, env.kid());
    assert_eq!(jwks.keys[0].alg, "RS256");
}

#[tokio::test]
async fn a_testing_token_lets_frontend_requests_past_the_rate_limits() {
    let env = start().await;
    env.set_settings(json!({"rate_limits": {"enabled": true,
        "sign_in_create": {"max": 1, "window_secs": 60}}}))
        .await;
    let t = env.bapi.testing_tokens().create().await.unwrap();
    assert_eq!(t.object, "testing_token");
    let now_secs = env.emu.clock().now_ms() / 1000;
    // An hour ahead, in Unix seconds (a second may have turned since it was made).
    assert!(
        (3599..=3600).contains(&(t.expires_at - now_secs)),
        "{}",
        t.expires_at
    );
    assert!(
        !format!("{t:?}").contains(t.token.expose()),
        "Debug hides it"
    );
    let sign_in = |token: Option<&str>| {
        let path = match token {
            Some(t) => format!("/v1/client/sign_ins?__clerk_testing_token={t}"),
            None => "/v1/client/sign_ins".to_owned(),
        };
        env.request(reqwest::Method::POST, &path)
            .form(&[("identifier", "nobody@example.com")])
            .send()
    };
    for _ in 0..3 {
        let r = sign_in(Some(t.token.expose())).await.unwrap();
        assert_eq!(
            r.status(),
            422,
            "not counted: only the unknown identifier is refused"
        );
    }
    assert_eq!(sign_in(None).await.unwrap().status(), 422);
    let r = sign_in(None).await.unwrap();
    assert_eq!(r.status(), 429);
    assert!(r.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn requests_carry_the_key_json_and_api_version() {
    let env = start().await;
    let proxy = Proxy::start(env.emu.url()).await;
    let client = BackendClient::new(&proxy.url, env.emu.secret_key()).unwrap();
    client
        .users()
        .list(&UserListParams::default())
        .await
        .unwrap();
    client
        .users()
        .create(&CreateUser {
            email_address: vec!["hdr@example.com".into()],
            password: Some(PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    for seen in proxy.seen() {
        let h = |n: &str| seen.headers.get(n).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            h("content-type").as_deref(),
            Some("application/json"),
            "{}",
            seen.path
        );
        assert_eq!(
            h("authorization"),
            Some(format!("Bearer {}", env.emu.secret_key()))
        );
        assert_eq!(
            h("clerk-api-version").as_deref(),
            Some(latchkey_protocol::API_VERSION)
        );
    }
}

#[tokio::test]
async fn throttling_and_unavailability_are_retried_honouring_retry_after() {
    let env = start().await;
    env.create_user("retry@example.com").await;
    let proxy = Proxy::start(env.emu.url()).await;
    let client = BackendClient::builder(&proxy.url, env.emu.secret_key())
        .base_backoff(Duration::from_millis(10))
        .build()
        .unwrap();

    // 429, then 503, then through: the third attempt succeeds.
    proxy.fail_next(&[(429, Some("0")), (503, None)]);
    let users = client
        .users()
        .list(&UserListParams::default())
        .await
        .unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(proxy.seen().len(), 3);

    // Retry-After: 1 is waited for.
    proxy.fail_next(&[(429, Some("1"))]);
    let started = Instant::now();
    client
        .users()
        .count(&UserListParams::default())
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(proxy.seen().len(), 5);

    // Three failures: the last one is returned, with its status and code.
    proxy.fail_next(&[(503, Some("0")), (503, Some("0")), (503, Some("0"))]);
    let err = client
        .users()
        .list(&UserListParams::default())
        .await
        .unwrap_err();
    assert_eq!(
        (err.status(), err.code()),
        (Some(503), Some("too_many_requests"))
    );
    assert_eq!(proxy.seen().len(), 8);

    // A Retry-After longer than the client waits for is returned at once.
    proxy.fail_next(&[(429, Some("3600"))]);
    let err = client
        .users()
        .list(&UserListParams::default())
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(429));
    assert_eq!(proxy.seen().len(), 9);

    // A POST that failed with a 500 may have taken effect: not repeated. A GET is.
    proxy.fail_next(&[(500, None)]);
    let err = client
        .users()
        .create(&CreateUser {
            email_address: vec!["once@example.com".into()],
            password: Some(PASSWORD.into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert_eq!(proxy.seen().len(), 10);
    assert_eq!(proxy.seen()[9].method, "POST");
    proxy.fail_next(&[(500, None)]);
    client
        .users()
        .list(&UserListParams::default())
        .await
        .unwrap();
    assert_eq!(proxy.seen().len(), 12);
}

/// Enrols an authenticator app for `email` through the Frontend API (native mode): the base32
/// secret and the backup codes.
async fn enrol_totp(env: &Env, email: &str) -> (String, Vec<String>) {
    use reqwest::Method;
    let signed_in = env.sign_in(email).await;
    let call = |path: &str, form: Vec<(&'static str, String)>| {
        env.request(Method::POST, &format!("{path}?_is_native=true"))
            .header("authorization", signed_in.client_token.clone())
            .form(&form)
    };
    let r = latchkey_testkit::send(call("/v1/me/totp", vec![])).await;
    let secret = r.ok()["response"]["secret"].as_str().unwrap().to_owned();
    let code = totp_now(env, &secret).await;
    let r = latchkey_testkit::send(call(
        "/v1/me/totp/attempt_verification",
        vec![("code", code)],
    ))
    .await;
    let codes = r.ok()["response"]["backup_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (secret, codes)
}

/// The TOTP code of `secret` at the emulator's time (computed by `totp-rs`).
async fn totp_now(env: &Env, secret: &str) -> String {
    let now = env.control(reqwest::Method::GET, "/time", None).await.ok()["now"]
        .as_i64()
        .unwrap();
    let key = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, key)
        .unwrap()
        .generate(u64::try_from(now / 1000).unwrap())
}

#[tokio::test]
async fn totp_and_backup_codes_are_checked_and_removed() {
    use latchkey_backend::api::OneTimeCode;
    let env = start().await;
    let user = env.create_user("totp@example.com").await;
    let users = env.bapi.users();
    let none = users
        .verify_totp(&user.id, &OneTimeCode::from("123456"))
        .await
        .unwrap_err();
    assert_eq!(none.status(), Some(400), "no TOTP yet: {none}");

    let (secret, codes) = enrol_totp(&env, "totp@example.com").await;
    assert!(users.get(&user.id).await.unwrap().totp_enabled);
    env.advance(30).await;
    let code = OneTimeCode::from(totp_now(&env, &secret).await);
    let v = users.verify_totp(&user.id, &code).await.unwrap().unwrap();
    assert_eq!((v.verified, v.code_type.as_str()), (true, "totp"));
    assert!(
        users.verify_totp(&user.id, &code).await.unwrap().is_none(),
        "a TOTP code is accepted once"
    );
    let backup = OneTimeCode::from(codes[0].as_str());
    let v = users.verify_totp(&user.id, &backup).await.unwrap().unwrap();
    assert_eq!(v.code_type, "backup_code");
    assert!(
        users
            .verify_totp(&user.id, &backup)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!format!("{backup:?}").contains(&codes[0]));

    assert_eq!(
        users.delete_backup_codes(&user.id).await.unwrap().user_id,
        user.id
    );
    assert!(!users.get(&user.id).await.unwrap().backup_code_enabled);
    users.delete_totp(&user.id).await.unwrap();
    let gone = users.delete_totp(&user.id).await.unwrap_err();
    assert_eq!(gone.status(), Some(404), "{gone}");
    let u = users.get(&user.id).await.unwrap();
    assert!(!u.two_factor_enabled && u.mfa_disabled_at.is_some());

    enrol_totp(&env, "totp@example.com").await;
    assert!(users.get(&user.id).await.unwrap().two_factor_enabled);
    assert_eq!(users.disable_mfa(&user.id).await.unwrap().user_id, user.id);
    let u = users.get(&user.id).await.unwrap();
    assert!(!u.two_factor_enabled && !u.totp_enabled && !u.backup_code_enabled);
}

#[tokio::test]
async fn email_addresses_and_phone_numbers_are_added_verified_made_primary_and_deleted() {
    use latchkey_backend::api::{CreateEmailAddress, CreatePhoneNumber, UpdateIdentification};
    let env = start().await;
    let user = env.create_user("owner@example.com").await;
    let emails = env.bapi.email_addresses();
    let added = emails
        .create(&CreateEmailAddress {
            user_id: Some(user.id.clone()),
            email_address: Some("Second@Example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(added.email_address, "second@example.com");
    assert!(added.verification.is_none(), "unverified, nothing sent");
    assert_eq!(emails.get(&added.id).await.unwrap(), added);
    let taken = emails
        .create(&CreateEmailAddress {
            user_id: Some(user.id.clone()),
            email_address: Some("owner@example.com".into()),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(taken.code(), Some("form_identifier_exists"), "{taken}");
    let verified = emails
        .update(
            &added.id,
            &UpdateIdentification {
                verified: Some(true),
                primary: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(verified.verification.unwrap().status, "verified");
    let u = env.bapi.users().get(&user.id).await.unwrap();
    assert_eq!(
        u.primary_email_address_id.as_deref(),
        Some(added.id.as_str())
    );
    let gone = emails.delete(&added.id).await.unwrap();
    assert!(gone.deleted && gone.id.as_deref() == Some(added.id.as_str()));
    assert!(emails.get(&added.id).await.unwrap_err().is_not_found());

    let phones = env.bapi.phone_numbers();
    let phone = phones
        .create(&CreatePhoneNumber {
            user_id: Some(user.id.clone()),
            phone_number: Some("+1 201 555 0177".into()),
            verified: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(phone.phone_number, "+12015550177");
    let u = env.bapi.users().get(&user.id).await.unwrap();
    assert_eq!(
        u.primary_phone_number_id.as_deref(),
        Some(phone.id.as_str())
    );
    let unverified = phones
        .update(
            &phone.id,
            &UpdateIdentification {
                verified: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        unverified.code(),
        Some("form_param_value_invalid"),
        "a primary phone stays verified"
    );
    assert_eq!(phones.get(&phone.id).await.unwrap(), phone);
    assert!(phones.delete(&phone.id).await.unwrap().deleted);
    assert!(phones.delete(&phone.id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_profile_image_is_uploaded_as_multipart_served_and_removed() {
    let env = start().await;
    let user = env.create_user("pic@example.com").await;
    let users = env.bapi.users();
    // A 1×1 PNG.
    let png: Vec<u8> = vec![
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, 0x49, 0x48, 0x44, 0x52, 0,
        0, 0, 1, 0, 0, 0, 1, 8, 6, 0, 0, 0, 0x1f, 0x15, 0xc4, 0x89, 0, 0, 0, 0x0d, 0x49, 0x44,
        0x41, 0x54, 0x78, 0x9c, 0x63, 0, 1, 0, 0, 5, 0, 1, 0x0d, 0x0a, 0x2d, 0xb4, 0, 0, 0, 0,
        0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    let with_image = users
        .set_profile_image(&user.id, &png, "image/png")
        .await
        .unwrap();
    assert!(with_image.has_image);
    let served = reqwest::get(&with_image.image_url).await.unwrap();
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().await.unwrap().to_vec(), png);
    assert_eq!(
        users.get(&user.id).await.unwrap().image_url,
        with_image.image_url
    );

    let err = users
        .set_profile_image(&user.id, b"not an image", "image/png")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("form_param_format_invalid"), "{err}");
    let without = users.delete_profile_image(&user.id).await.unwrap();
    assert!(!without.has_image);
    assert!(
        users
            .set_profile_image("user_missing", &png, "image/png")
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn redirect_urls_are_added_read_listed_and_removed() {
    let env = start().await;
    let urls = env.bapi.redirect_urls();
    assert!(urls.list().await.unwrap().is_empty());
    let a = urls.create("myapp://callback").await.unwrap();
    assert_eq!(
        (a.object.as_str(), a.url.as_str()),
        ("redirect_url", "myapp://callback")
    );
    let b = urls.create("https://app.example.com/cb").await.unwrap();
    let listed: Vec<String> = urls
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, [a.id.clone(), b.id.clone()]);
    assert_eq!(urls.get(&a.id).await.unwrap(), a);
    // Twice, or a scheme no redirect may use: refused.
    let again = urls.create("myapp://callback").await.unwrap_err();
    assert_eq!(again.code(), Some("form_param_value_invalid"));
    let js = urls.create("javascript:alert(1)").await.unwrap_err();
    assert_eq!(js.code(), Some("invalid_url_scheme"));
    let gone = urls.delete(&a.id).await.unwrap();
    assert!(gone.deleted);
    assert!(urls.get(&a.id).await.unwrap_err().is_not_found());
    assert!(urls.delete(&a.id).await.unwrap_err().is_not_found());
}

#[tokio::test]
async fn a_sign_in_token_signs_its_user_in_once_and_a_revoked_one_never() {
    let env = start().await;
    let user = env.create_user("ticket@example.com").await;
    let tokens = env.bapi.sign_in_tokens();
    let t = tokens.create(&user.id, None).await.unwrap();
    assert_eq!(
        (t.object.as_str(), t.status.as_str()),
        ("sign_in_token", "pending")
    );
    assert_eq!(t.user_id, user.id);
    let ticket = t.token.as_ref().unwrap().expose().to_owned();
    assert!(
        !format!("{t:?}").contains(&ticket),
        "Debug hides the ticket"
    );
    let redeem = |ticket: String| {
        env.request(reqwest::Method::POST, "/v1/client/sign_ins?_is_native=true")
            .form(&[("strategy", "ticket".to_owned()), ("ticket", ticket)])
            .send()
    };
    let r: Value = redeem(ticket.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(r["response"]["status"], "complete", "{r}");
    let sid = r["response"]["created_session_id"].as_str().unwrap();
    let session = env.bapi.sessions().get(sid).await.unwrap();
    assert_eq!(session.user_id.as_deref(), Some(user.id.as_str()));
    assert_eq!(redeem(ticket).await.unwrap().status(), 422, "used once");
    let used = tokens.revoke(&t.id).await.unwrap_err();
    assert_eq!(used.code(), Some("request_invalid_for_status"));

    let t = tokens.create(&user.id, Some(60)).await.unwrap();
    let revoked = tokens.revoke(&t.id).await.unwrap();
    assert_eq!(revoked.status, "revoked");
    assert!(revoked.token.is_none());
    let r = redeem(t.token.unwrap().expose().to_owned()).await.unwrap();
    assert_eq!(r.status(), 422);
    assert!(
        tokens
            .create("user_nobody", None)
            .await
            .unwrap_err()
            .is_not_found()
    );
}

#[tokio::test]
async fn a_users_provider_access_token_after_an_oauth_sign_up() {
    let env = start().await;
    // A new user signs up through the emulator's mock Google, answered by automation.
    env.control(
        reqwest::Method::POST,
        "/oauth/google/next",
        Some(json!({"email": "oa@example.com", "provider_user_id": "g-oa"})),
    )
    .await;
    let r: Value = env
        .request(reqwest::Method::POST, "/v1/client/sign_ups?_is_native=true")
        .form(&[
            ("strategy", "oauth_google"),
            ("redirect_url", "http://127.0.0.1:53682/cb"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut at =
        r["response"]["verifications"]["external_account"]["external_verification_redirect_url"]
            .as_str()
            .unwrap()
            .to_owned();
    while at.starts_with(env.url()) {
        let r = env.http.get(&at).send().await.unwrap();
        at = r.headers()["location"].to_str().unwrap().to_owned();
    }
    assert!(at.contains("rotating_token_nonce="), "{at}");
    let user = &env
        .bapi
        .users()
        .list(&UserListParams::default())
        .await
        .unwrap()[0];
    assert_eq!(user.external_accounts.len(), 1);

    let tokens = env
        .bapi
        .users()
        .oauth_access_tokens(&user.id, "oauth_google")
        .await
        .unwrap();
    assert_eq!(tokens.len(), 1);
    let t = &tokens[0];
    assert_eq!(t.object, "oauth_access_token");
    assert_eq!(t.provider, "oauth_google");
    assert_eq!(t.provider_user_id, "g-oa");
    assert_eq!(t.external_account_id, user.external_accounts[0]["id"]);
    assert!(t.scopes.contains(&"email".to_owned()), "{:?}", t.scopes);
    assert!(
        t.expires_at
            .is_some_and(|s| s > 1_000_000_000 && s < 100_000_000_000)
    );
    let secret = t.token.expose().to_owned();
    assert!(!secret.is_empty() && !format!("{t:?}").contains(&secret));
    // None at another provider; an unknown user and provider are errors.
    let users = env.bapi.users();
    assert!(
        users
            .oauth_access_tokens(&user.id, "oauth_github")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        users
            .oauth_access_tokens("user_nobody", "oauth_google")
            .await
            .unwrap_err()
            .is_not_found()
    );
    let e = users
        .oauth_access_tokens(&user.id, "myspace")
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("form_param_value_invalid"));
}

#[tokio::test]
async fn a_handshake_nonce_is_redeemed_once_for_the_browsers_cookies() {
    let env = start().await;
    // A browser (dev browser) back from the Frontend API's handshake in nonce form, signed out.
    let db: Value = env
        .request(reqwest::Method::POST, "/v1/dev_browser")
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let db = db["id"].as_str().unwrap().to_owned();
    let r = env
        .request(reqwest::Method::GET, "/v1/client/handshake")
        .query(&[
            ("redirect_url", "http://localhost:5173/"),
            ("format", "nonce"),
            ("__clerk_db_jwt", db.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    let to = reqwest::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let nonce = to
        .query_pairs()
        .find(|(k, _)| k == "__clerk_handshake_nonce")
        .map(|(_, v)| v.into_owned())
        .unwrap();

    let clients = env.bapi.clients();
    let payload = clients.handshake_payload(&nonce).await.unwrap();
    let directives: Vec<&str> = payload.directives.iter().map(|d| d.expose()).collect();
    assert!(
        directives.contains(&format!("__clerk_db_jwt={db}; Path=/").as_str()),
        "{directives:?}"
    );
    assert!(directives.contains(&"__client_uat=0; Path=/; SameSite=Lax"));
    assert!(
        !format!("{payload:?}").contains(&db),
        "Debug hides the dev browser"
    );
    let used = clients.handshake_payload(&nonce).await.unwrap_err();
    assert!(used.is_not_found(), "{used:?}");
    assert_eq!(used.code(), Some("resource_not_found"));
}
