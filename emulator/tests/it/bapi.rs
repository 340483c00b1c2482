use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|u| {
            u["email_addresses"][0]["email_address"]
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_missing_or_wrong_secret_key_is_refused() {
    let h = start().await;
    let r = h.bapi_raw(Method::GET, "/v1/users", None, None).await;
    r.err(401, "authentication_invalid");
    let r = h
        .bapi_raw(Method::GET, "/v1/users", Some("Bearer sk_test_wrong"), None)
        .await;
    r.err(401, "clerk_key_invalid");
    let other = start().await;
    let r = h
        .bapi_raw(
            Method::GET,
            "/v1/users",
            Some(&format!("Bearer {}", other.emu.secret_key())),
            None,
        )
        .await;
    r.err(401, "clerk_key_invalid");
}

#[tokio::test]
async fn users_crud_filters_and_pagination() {
    let h = start().await;
    for (i, email) in ["ann@example.com", "bob@example.com", "cat@example.com"]
        .iter()
        .enumerate()
    {
        let r = h
            .bapi(
                Method::POST,
                "/v1/users",
                Some(json!({
                    "email_address": [email],
                    "password": "lk-Test-pass-4921",
                    "first_name": format!("N{i}"),
                    "external_id": format!("ext-{i}"),
                    "username": null,
                })),
            )
            .await;
        assert_eq!(
            r.ok()["email_addresses"][0]["verification"]["strategy"],
            "admin"
        );
        // Typed clients (clerk-rs) pick the verification's kind by `object`.
        assert_eq!(
            r.body["email_addresses"][0]["verification"]["object"],
            "verification_admin"
        );
        // distinct created_at for ordering
        h.advance(1).await;
    }
    let all = h.bapi(Method::GET, "/v1/users", None).await;
    assert_eq!(
        ids(all.ok()),
        ["cat@example.com", "bob@example.com", "ann@example.com"],
        "newest first"
    );
    let asc = h
        .bapi(
            Method::GET,
            "/v1/users?order_by=%2Bcreated_at&limit=2&offset=1",
            None,
        )
        .await;
    assert_eq!(ids(asc.ok()), ["bob@example.com", "cat@example.com"]);
    let f = h
        .bapi(
            Method::GET,
            "/v1/users?email_address=ann@example.com&email_address=cat@example.com",
            None,
        )
        .await;
    assert_eq!(ids(f.ok()), ["cat@example.com", "ann@example.com"]);
    let q = h.bapi(Method::GET, "/v1/users?query=bob", None).await;
    assert_eq!(ids(q.ok()), ["bob@example.com"]);
    let e = h
        .bapi(Method::GET, "/v1/users?external_id=ext-2", None)
        .await;
    assert_eq!(ids(e.ok()), ["cat@example.com"]);
    let n = h
        .bapi(Method::GET, "/v1/users/count?query=example.com", None)
        .await;
    assert_eq!(n.ok(), &json!({"object": "total_count", "total_count": 3}));
    h.bapi(Method::GET, "/v1/users?limit=0", None)
        .await
        .err(422, "form_param_format_invalid");
    h.bapi(Method::GET, "/v1/users?order_by=password", None)
        .await
        .err(422, "form_param_format_invalid");

    let ann = &all.body[2];
    let id = ann["id"].as_str().unwrap();
    let r = h
        .bapi(
            Method::PATCH,
            &format!("/v1/users/{id}"),
            Some(
                json!({"first_name": "Ann", "last_name": null, "public_metadata": {"plan": "pro"}}),
            ),
        )
        .await;
    assert_eq!(r.ok()["first_name"], "Ann");
    assert_eq!(r.body["public_metadata"], json!({"plan": "pro"}));
    let r = h
        .bapi(
            Method::PATCH,
            &format!("/v1/users/{id}/metadata"),
            Some(json!({
                "public_metadata": {"plan": null, "limits": {"seats": 3}},
                "private_metadata": {"stripe": "cus_1"}
            })),
        )
        .await;
    assert_eq!(r.ok()["public_metadata"], json!({"limits": {"seats": 3}}));
    assert_eq!(r.body["private_metadata"], json!({"stripe": "cus_1"}));
    let r = h
        .bapi(
            Method::PATCH,
            &format!("/v1/users/{id}/metadata"),
            Some(json!({"public_metadata": {"limits": {"teams": 1}}})),
        )
        .await;
    assert_eq!(
        r.ok()["public_metadata"],
        json!({"limits": {"seats": 3, "teams": 1}}),
        "deep merge"
    );

    let r = h
        .bapi(
            Method::POST,
            &format!("/v1/users/{id}/verify_password"),
            Some(json!({"password": "lk-Test-pass-4921"})),
        )
        .await;
    assert_eq!(r.ok(), &json!({"verified": true}));
    h.bapi(
        Method::POST,
        &format!("/v1/users/{id}/verify_password"),
        Some(json!({"password": "nope"})),
    )
    .await
    .err(422, "form_password_incorrect");

    let r = h
        .bapi(Method::DELETE, &format!("/v1/users/{id}"), None)
        .await;
    assert_eq!(
        r.ok(),
        &json!({"object": "user", "id": id, "deleted": true})
    );
    h.bapi(Method::GET, &format!("/v1/users/{id}"), None)
        .await
        .err(404, "resource_not_found");
    h.bapi(Method::DELETE, &format!("/v1/users/{id}"), None)
        .await
        .err(404, "resource_not_found");
    // The email is free again.
    h.create_user("ann@example.com", "lk-Test-pass-4921").await;
}

#[tokio::test]
async fn create_user_validation() {
    let h = start().await;
    h.create_user("dup@example.com", "lk-Test-pass-4921").await;
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": ["DUP@example.com"], "password": "lk-Test-pass-4921"})),
    )
    .await
    .err(422, "form_identifier_exists");
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": ["x@example.com"], "password": "short"})),
    )
    .await
    .err(422, "form_password_length_too_short");
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": ["x@example.com"], "password": "short", "skip_password_checks": true})),
        )
        .await;
    let weak_id = r.ok()["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["password_enabled"], true, "{}", r.body);
    // The weak password is the user's password: it signs in and verifies, others do not.
    h.fapi().sign_in("x@example.com", "short").await;
    h.fapi()
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "x@example.com"), ("password", "shorter")],
        )
        .await
        .err(422, "form_password_incorrect");
    let r = h
        .bapi(
            Method::POST,
            &format!("/v1/users/{weak_id}/verify_password"),
            Some(json!({"password": "short"})),
        )
        .await;
    assert_eq!(r.ok()["verified"], true);
    // The same for an update: refused without the flag, taken with it.
    h.bapi(
        Method::PATCH,
        &format!("/v1/users/{weak_id}"),
        Some(json!({"password": "tiny"})),
    )
    .await
    .err(422, "form_password_length_too_short");
    h.fapi().sign_in("x@example.com", "short").await;
    h.bapi(
        Method::PATCH,
        &format!("/v1/users/{weak_id}"),
        Some(json!({"password": "tiny", "skip_password_checks": true})),
    )
    .await
    .ok();
    h.fapi().sign_in("x@example.com", "tiny").await;
    // skip_password_checks skips the checks, not the password: a missing one is still refused.
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": ["w@example.com"], "skip_password_checks": true})),
    )
    .await
    .err(422, "form_param_nil");
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": ["y@example.com"]})),
    )
    .await
    .err(422, "form_param_nil");
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": "nope", "password": "lk-Test-pass-4921"})),
    )
    .await
    .err(422, "form_param_format_invalid");
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": ["z@example.com"], "password": 12345678})),
    )
    .await
    .err(422, "form_param_format_invalid");
}

#[tokio::test]
async fn imported_bcrypt_and_argon2_digests_sign_in() {
    let h = start().await;
    let bcrypt_digest = bcrypt_hash("imported-secret");
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": ["old@example.com"], "password_digest": bcrypt_digest, "password_hasher": "bcrypt"})),
        )
        .await;
    assert_eq!(r.ok()["password_enabled"], true);
    h.fapi().sign_in("old@example.com", "imported-secret").await;
    h.fapi()
        .post(
            "/v1/client/sign_ins",
            &[
                ("identifier", "old@example.com"),
                ("password", "wrong-secret"),
            ],
        )
        .await
        .err(422, "form_password_incorrect");
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": ["bad@example.com"], "password_digest": "plain", "password_hasher": "bcrypt"})),
    )
    .await
    .err(422, "form_param_format_invalid");
    h.bapi(
        Method::POST,
        "/v1/users",
        Some(json!({"email_address": ["bad@example.com"], "password_digest": "x", "password_hasher": "md5"})),
    )
    .await
    .err(422, "form_param_value_invalid");
}

fn bcrypt_hash(pw: &str) -> String {
    // A real bcrypt digest made by an independent implementation at test time.
    bcrypt::hash(pw, 4).unwrap()
}

#[tokio::test]
async fn sessions_list_get_revoke_and_clients() {
    let h = start().await;
    let u = h.create_user("s@example.com", "lk-Test-pass-4921").await;
    let uid = u["id"].as_str().unwrap();
    let mut c1 = h.fapi();
    let s1 = c1.sign_in("s@example.com", "lk-Test-pass-4921").await;
    let mut c2 = h.fapi();
    let s2 = c2.sign_in("s@example.com", "lk-Test-pass-4921").await;
    let r = h
        .bapi(Method::GET, &format!("/v1/sessions?user_id={uid}"), None)
        .await;
    let list = r.ok().as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["id"], s2, "newest first");
    assert_eq!(list[0]["user_id"], uid);
    h.bapi(Method::POST, &format!("/v1/sessions/{s1}/revoke"), None)
        .await
        .ok();
    let r = h
        .bapi(
            Method::GET,
            &format!("/v1/sessions?user_id={uid}&status=active&paginated=true"),
            None,
        )
        .await;
    assert_eq!(r.ok()["total_count"], 1);
    assert_eq!(r.body["data"][0]["id"], s2);
    let r = h
        .bapi(Method::GET, &format!("/v1/sessions/{s2}"), None)
        .await;
    let client_id = r.ok()["client_id"].as_str().unwrap().to_owned();
    let r = h
        .bapi(
            Method::GET,
            &format!("/v1/sessions?client_id={client_id}"),
            None,
        )
        .await;
    assert_eq!(r.ok().as_array().unwrap().len(), 1);
    let r = h
        .bapi(Method::GET, &format!("/v1/clients/{client_id}"), None)
        .await;
    assert_eq!(r.ok()["session_ids"], json!([s2]));
    assert_eq!(r.body["last_active_session_id"], s2);
    let r = h
        .bapi(Method::POST, &format!("/v1/sessions/{s2}/tokens"), None)
        .await;
    let claims = verify_jwt(&h.jwks().await, r.ok()["jwt"].as_str().unwrap()).unwrap();
    assert_eq!(claims["sid"], s2);
    h.bapi(Method::GET, "/v1/sessions/sess_nope", None)
        .await
        .err(404, "resource_not_found");
    h.bapi(Method::GET, "/v1/clients/client_nope", None)
        .await
        .err(404, "resource_not_found");
    for bad in ["sleeping", ""] {
        h.bapi(Method::GET, &format!("/v1/sessions?status={bad}"), None)
            .await
            .err(422, "form_param_format_invalid");
    }
    let r = h
        .bapi(
            Method::POST,
            "/v1/clients/verify",
            Some(json!({"token": c2.token.clone().unwrap()})),
        )
        .await;
    assert_eq!(r.ok()["id"], client_id);
}

#[tokio::test]
async fn put_metadata_replaces_the_fields_given_and_null_booleans_read_as_false() {
    let h = start().await;
    let r = h
        .bapi(
            Method::POST,
            "/v1/users",
            Some(json!({
                "email_address": ["put@example.com"], "password": "lk-Test-pass-4921",
                "skip_password_checks": null, "skip_password_requirement": null,
                "public_metadata": {"a": 1, "b": {"c": 2}}, "private_metadata": {"keep": true}
            })),
        )
        .await;
    let id = r.ok()["id"].as_str().unwrap().to_owned();
    let r = h
        .bapi(
            Method::PUT,
            &format!("/v1/users/{id}/metadata"),
            Some(json!({"public_metadata": {"fresh": 2}, "unsafe_metadata": null})),
        )
        .await;
    let u = r.ok();
    assert_eq!(
        u["public_metadata"],
        json!({"fresh": 2}),
        "replaced whole, not merged"
    );
    assert_eq!(
        u["private_metadata"],
        json!({"keep": true}),
        "fields left out stay"
    );
    assert_eq!(u["unsafe_metadata"], json!({}));
    h.bapi(
        Method::PATCH,
        &format!("/v1/users/{id}"),
        Some(json!({"password": "another-password", "skip_password_checks": null, "sign_out_of_other_sessions": null})),
    )
    .await
    .ok();
    h.fapi()
        .sign_in("put@example.com", "another-password")
        .await;
    let r = h
        .bapi(Method::GET, "/v1/sessions?paginated=True", None)
        .await;
    assert_eq!(r.ok()["total_count"], 1);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_user_query_matches_backslash_percent_and_underscore_literally() {
    let h = start().await;
    for (email, first) in [
        ("lit@example.com", r"a\b_c%d"),
        ("wild@example.com", "axbxcxd"),
    ] {
        h.bapi(
            Method::POST,
            "/v1/users",
            Some(json!({"email_address": [email], "first_name": first, "password": "lk-Test-pass-4921"})),
        )
        .await
        .ok();
    }
    for query in [r"a%5Cb", "b_c", "c%25d", r"a%5Cb_c%25d"] {
        let r = h
            .bapi(Method::GET, &format!("/v1/users?query={query}"), None)
            .await;
        let found: Vec<_> = r
            .ok()
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["first_name"].clone())
            .collect();
        assert_eq!(found, [json!(r"a\b_c%d")], "query {query}");
    }
}
