//! `/v1/me` account management: email addresses and phone numbers (add, verify by code, make
//! primary, delete), passwords (change, remove), names and metadata, the profile image (upload,
//! serve, delete), active sessions and their revocation, deleting oneself; and the Backend
//! API's `/v1/email_addresses` and `/v1/phone_numbers`. Every response is validated against
//! the specs; every refusal is a 4xx in the envelope that leaves nothing changed.

use reqwest::Method;
use serde_json::{json, Value};

use crate::receiver::Receiver;
use crate::support::{fapi_spec, start, validate, Harness, Native};

const PASSWORD: &str = "lk-Test-pass-4921";
const NEW_PASSWORD: &str = "lk-Next-pass-7304";

/// A user created through the Backend API and signed in on a fresh native client.
async fn signed_in<'a>(h: &'a Harness, email: &str) -> (Native<'a>, String) {
    h.create_user(email, PASSWORD).await;
    let mut c = h.fapi();
    let sid = c.sign_in(email, PASSWORD).await;
    (c, sid)
}

async fn me(c: &mut Native<'_>) -> Value {
    c.get("/v1/me").await.ok()["response"].clone()
}

async fn patch(c: &mut Native<'_>, path: &str, form: &[(&str, &str)]) -> crate::support::Resp {
    c.call(Method::PATCH, path, form).await
}

async fn delete(c: &mut Native<'_>, path: &str) -> crate::support::Resp {
    c.call(Method::DELETE, path, &[]).await
}

#[tokio::test]
async fn an_added_email_address_is_verified_by_code_then_made_primary_and_the_old_one_removed() {
    let h = start().await;
    let (mut c, _) = signed_in(&h, "first@example.com").await;
    let old_id = me(&mut c).await["primary_email_address_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = c
        .post(
            "/v1/me/email_addresses",
            &[("email_address", " Second@Example.COM ")],
        )
        .await;
    let added = r.ok()["response"].clone();
    assert_eq!(added["email_address"], "second@example.com", "normalised");
    assert_eq!(added["verification"], Value::Null, "nothing sent yet");
    let id = added["id"].as_str().unwrap().to_owned();
    // The piggybacked client's user shows it too, unverified.
    let user = &r.body["client"]["sessions"][0]["user"];
    assert_eq!(user["email_addresses"].as_array().unwrap().len(), 2);

    // Not verified: it cannot be primary, and it signs nobody in.
    patch(&mut c, "/v1/me", &[("primary_email_address_id", &id)])
        .await
        .err(422, "form_param_value_invalid");
    let r = h
        .fapi()
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "second@example.com")],
        )
        .await;
    r.err(422, "form_identifier_not_found");

    let r = c
        .post(
            &format!("/v1/me/email_addresses/{id}/prepare_verification"),
            &[("strategy", "email_code")],
        )
        .await;
    let v = &r.ok()["response"]["verification"];
    assert_eq!(
        (v["status"].as_str(), v["strategy"].as_str()),
        (Some("unverified"), Some("email_code"))
    );
    let code = h.latest_code("second@example.com").await;
    let r = c
        .post(
            &format!("/v1/me/email_addresses/{id}/attempt_verification"),
            &[("code", "000000")],
        )
        .await;
    r.err(422, "form_code_incorrect");
    let r = c.get(&format!("/v1/me/email_addresses/{id}")).await;
    assert_eq!(
        r.ok()["response"]["verification"]["attempts"],
        1,
        "the wrong code counted"
    );
    let r = c
        .post(
            &format!("/v1/me/email_addresses/{id}/attempt_verification"),
            &[("code", &code)],
        )
        .await;
    assert_eq!(r.ok()["response"]["verification"]["status"], "verified");
    c.post(
        &format!("/v1/me/email_addresses/{id}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await
    .err(400, "verification_already_verified");

    // The primary one cannot be removed; once another is primary it can.
    delete(&mut c, &format!("/v1/me/email_addresses/{old_id}"))
        .await
        .err(400, "request_invalid_for_status");
    let r = patch(&mut c, "/v1/me", &[("primary_email_address_id", &id)]).await;
    assert_eq!(r.ok()["response"]["primary_email_address_id"], id.as_str());
    let r = delete(&mut c, &format!("/v1/me/email_addresses/{old_id}")).await;
    assert_eq!(
        r.ok()["response"],
        json!({"object": "email_address", "id": old_id, "deleted": true})
    );
    let list = c.get("/v1/me/email_addresses").await;
    let list = list.ok().as_array().unwrap().clone();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["email_address"], "second@example.com");
    // The new address signs in; the removed one no longer does.
    h.fapi().sign_in("second@example.com", PASSWORD).await;
    h.fapi()
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "first@example.com")],
        )
        .await
        .err(422, "form_identifier_not_found");
}

#[tokio::test]
async fn email_address_refusals_are_4xx_and_change_nothing() {
    let h = start().await;
    h.create_user("taken@example.com", PASSWORD).await;
    let (mut c, _) = signed_in(&h, "self@example.com").await;
    let before = me(&mut c).await;
    c.post("/v1/me/email_addresses", &[])
        .await
        .err(422, "form_param_nil");
    c.post(
        "/v1/me/email_addresses",
        &[("email_address", "not-an-email")],
    )
    .await
    .err(422, "form_param_format_invalid");
    c.post(
        "/v1/me/email_addresses",
        &[("email_address", "TAKEN@example.com")],
    )
    .await
    .err(422, "form_identifier_exists");
    c.get("/v1/me/email_addresses/idn_nope")
        .await
        .err(404, "resource_not_found");
    delete(&mut c, "/v1/me/email_addresses/idn_nope")
        .await
        .err(404, "resource_not_found");
    // Another user's address is not found either.
    let other = h
        .bapi(
            Method::GET,
            "/v1/users?email_address=taken@example.com",
            None,
        )
        .await;
    let other_id = other.ok()[0]["email_addresses"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.get(&format!("/v1/me/email_addresses/{other_id}"))
        .await
        .err(404, "resource_not_found");
    let own = before["email_addresses"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .post(
            &format!("/v1/me/email_addresses/{own}/prepare_verification"),
            &[],
        )
        .await;
    r.err(422, "form_param_nil");
    c.post(
        &format!("/v1/me/email_addresses/{own}/prepare_verification"),
        &[("strategy", "carrier_pigeon")],
    )
    .await
    .err(422, "form_param_value_invalid");
    let r = c
        .post(
            "/v1/me/email_addresses",
            &[("email_address", "link@example.com")],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    let r = c
        .post(
            &format!("/v1/me/email_addresses/{id}/prepare_verification"),
            &[
                ("strategy", "email_link"),
                ("redirect_url", "https://app.example/v"),
            ],
        )
        .await;
    r.err(422, "form_param_value_invalid");
    assert!(
        r.body["errors"][0]["long_message"]
            .as_str()
            .unwrap()
            .contains("not enabled"),
        "{}",
        r.body
    );
    c.post(
        &format!("/v1/me/email_addresses/{id}/attempt_verification"),
        &[("code", "123456")],
    )
    .await
    .err(400, "request_invalid_for_status");
    c.post(
        &format!("/v1/me/email_addresses/{id}/attempt_verification"),
        &[],
    )
    .await
    .err(422, "form_param_nil");
    delete(&mut c, &format!("/v1/me/email_addresses/{id}"))
        .await
        .ok();
    let after = me(&mut c).await;
    assert_eq!(after["email_addresses"], before["email_addresses"]);
    // Signed out: 401.
    h.fapi()
        .post(
            "/v1/me/email_addresses",
            &[("email_address", "x@example.com")],
        )
        .await
        .err(401, "signed_out");
}

#[tokio::test]
async fn a_phone_number_is_added_verified_with_the_test_code_made_primary_and_deleted() {
    let h = start().await;
    h.set_settings(json!({"phone_number": {"enabled": true, "used_for_first_factor": true}}))
        .await;
    let (mut c, _) = signed_in(&h, "phone@example.com").await;
    c.post("/v1/me/phone_numbers", &[("phone_number", "2015550123")])
        .await
        .err(422, "form_param_format_invalid");
    let r = c
        .post(
            "/v1/me/phone_numbers",
            &[("phone_number", "+1 (201) 555-0123")],
        )
        .await;
    let id = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["response"]["phone_number"], "+12015550123");
    c.post(
        &format!("/v1/me/phone_numbers/{id}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await
    .err(422, "form_param_value_invalid");
    let r = c
        .post(
            &format!("/v1/me/phone_numbers/{id}/prepare_verification"),
            &[("strategy", "phone_code")],
        )
        .await;
    assert_eq!(r.ok()["response"]["verification"]["strategy"], "phone_code");
    h.wait_idle().await;
    let inbox = h
        .control(Method::GET, "/messages?to=%2B12015550123", None)
        .await;
    assert_eq!(
        inbox.ok()["data"],
        json!([]),
        "a test number gets no message"
    );
    let r = c
        .post(
            &format!("/v1/me/phone_numbers/{id}/attempt_verification"),
            &[("code", "424242")],
        )
        .await;
    assert_eq!(r.ok()["response"]["verification"]["status"], "verified");
    let user = me(&mut c).await;
    assert_eq!(
        user["primary_phone_number_id"],
        id.as_str(),
        "the first verified phone is primary"
    );
    let list = c.get("/v1/me/phone_numbers").await;
    assert_eq!(list.ok().as_array().unwrap().len(), 1);
    c.get(&format!("/v1/me/phone_numbers/{id}")).await.ok();
    delete(&mut c, &format!("/v1/me/phone_numbers/{id}"))
        .await
        .err(400, "request_invalid_for_status");
    // A second verified phone becomes primary; then the first can go.
    let r = c
        .post("/v1/me/phone_numbers", &[("phone_number", "+12015550124")])
        .await;
    let id2 = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/me/phone_numbers/{id2}/prepare_verification"),
        &[("strategy", "phone_code")],
    )
    .await
    .ok();
    c.post(
        &format!("/v1/me/phone_numbers/{id2}/attempt_verification"),
        &[("code", "424242")],
    )
    .await
    .ok();
    patch(&mut c, "/v1/me", &[("primary_phone_number_id", &id2)])
        .await
        .ok();
    let r = delete(&mut c, &format!("/v1/me/phone_numbers/{id}")).await;
    assert_eq!(r.ok()["response"]["deleted"], true);
    assert_eq!(
        me(&mut c).await["phone_numbers"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_can_sign_out_other_sessions() {
    let h = start().await;
    let rx = Receiver::start().await;
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": rx.url, "events": ["session.revoked", "user.updated"]})),
    )
    .await
    .ok();
    let (mut c, sid) = signed_in(&h, "pw@example.com").await;
    let mut other = h.fapi();
    let other_sid = other.sign_in("pw@example.com", PASSWORD).await;
    let before = me(&mut c).await["password_last_updated_at"].clone();

    let path = "/v1/me/change_password";
    c.post(path, &[("current_password", PASSWORD)])
        .await
        .err(422, "form_param_nil");
    c.post(path, &[("new_password", NEW_PASSWORD)])
        .await
        .err(422, "form_param_nil");
    c.post(
        path,
        &[
            ("current_password", "lk-Wrong-pass-0000"),
            ("new_password", NEW_PASSWORD),
        ],
    )
    .await
    .err(422, "form_password_incorrect");
    c.post(
        path,
        &[("current_password", PASSWORD), ("new_password", PASSWORD)],
    )
    .await
    .err(422, "form_new_password_matches_current");
    c.post(
        path,
        &[("current_password", PASSWORD), ("new_password", "short")],
    )
    .await
    .err(422, "form_password_length_too_short");
    c.post(
        path,
        &[
            ("current_password", PASSWORD),
            ("new_password", NEW_PASSWORD),
            ("sign_out_of_other_sessions", "maybe"),
        ],
    )
    .await
    .err(422, "form_param_format_invalid");
    assert_eq!(
        me(&mut c).await["password_last_updated_at"],
        before,
        "nothing changed"
    );
    h.fapi().sign_in("pw@example.com", PASSWORD).await;

    let r = c
        .post(
            path,
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("sign_out_of_other_sessions", "true"),
            ],
        )
        .await;
    assert_eq!(r.ok()["response"]["password_enabled"], true);
    assert_ne!(r.body["response"]["password_last_updated_at"], before);
    // This session stays; the other ones are revoked.
    assert_eq!(r.body["client"]["sessions"][0]["id"], sid.as_str());
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{other_sid}"), None)
        .await;
    assert_eq!(s.ok()["status"], "revoked");
    other.get("/v1/me").await.err(401, "signed_out");
    h.fapi().sign_in("pw@example.com", NEW_PASSWORD).await;
    let wrong = h
        .fapi()
        .post(
            "/v1/client/sign_ins",
            &[("identifier", "pw@example.com"), ("password", PASSWORD)],
        )
        .await;
    wrong.err(422, "form_password_incorrect");
    h.wait_idle().await;
    let revoked = rx.of_type("session.revoked");
    assert!(
        revoked
            .iter()
            .any(|d| d.json()["data"]["id"] == other_sid.as_str()),
        "session.revoked for the other session"
    );
    assert!(
        !revoked
            .iter()
            .any(|d| d.json()["data"]["id"] == sid.as_str()),
        "not for the current one"
    );
    assert!(!rx.of_type("user.updated").is_empty());
}

#[tokio::test]
async fn a_password_is_removed_only_where_the_instance_does_not_require_one() {
    let h = start().await;
    let (mut c, _) = signed_in(&h, "nopw@example.com").await;
    let path = "/v1/me/remove_password";
    c.post(path, &[("current_password", PASSWORD)])
        .await
        .err(400, "request_invalid_for_status");
    h.set_settings(json!({"password_required": false})).await;
    c.post(path, &[]).await.err(422, "form_param_nil");
    c.post(path, &[("current_password", "lk-Wrong-pass-0000")])
        .await
        .err(422, "form_password_incorrect");
    assert_eq!(me(&mut c).await["password_enabled"], true);
    let r = c.post(path, &[("current_password", PASSWORD)]).await;
    assert_eq!(r.ok()["response"]["password_enabled"], false);
    c.post(path, &[("current_password", PASSWORD)])
        .await
        .err(400, "request_invalid_for_status");
    // Without a password, a new one is set with no current one.
    let r = c
        .post("/v1/me/change_password", &[("new_password", NEW_PASSWORD)])
        .await;
    assert_eq!(r.ok()["response"]["password_enabled"], true);
    h.fapi().sign_in("nopw@example.com", NEW_PASSWORD).await;
}

#[tokio::test]
async fn names_username_and_metadata_change_and_metadata_merges() {
    let h = start().await;
    h.create_user("taken-name@example.com", PASSWORD).await;
    h.set_settings(json!({"username": {"enabled": true}})).await;
    let (mut c, _) = signed_in(&h, "meta@example.com").await;
    let r = patch(
        &mut c,
        "/v1/me",
        &[
            ("first_name", "Ada"),
            ("last_name", "Byron"),
            ("username", "Ada_B"),
        ],
    )
    .await;
    let u = &r.ok()["response"];
    assert_eq!(
        (
            u["first_name"].as_str(),
            u["last_name"].as_str(),
            u["username"].as_str()
        ),
        (Some("Ada"), Some("Byron"), Some("ada_b"))
    );
    patch(&mut c, "/v1/me", &[("username", "a b")])
        .await
        .err(422, "form_param_format_invalid");
    // Metadata is no longer taken here (API version 2026-05-12).
    let r = patch(
        &mut c,
        "/v1/me",
        &[("first_name", "Eve"), ("unsafe_metadata", r#"{"a":1}"#)],
    )
    .await;
    r.err(422, "form_param_unknown");
    let path = "/v1/me/metadata";
    let r = patch(
        &mut c,
        path,
        &[(
            "unsafe_metadata",
            r#"{"prefs":{"theme":"dark","lang":"en"},"n":1}"#,
        )],
    )
    .await;
    assert_eq!(
        r.ok()["response"]["unsafe_metadata"],
        json!({"prefs":{"theme":"dark","lang":"en"},"n":1})
    );
    let r = patch(
        &mut c,
        path,
        &[(
            "unsafe_metadata",
            r#"{"prefs":{"lang":null,"tz":"UTC"},"n":null}"#,
        )],
    )
    .await;
    assert_eq!(
        r.ok()["response"]["unsafe_metadata"],
        json!({"prefs":{"theme":"dark","tz":"UTC"}})
    );
    patch(&mut c, path, &[("unsafe_metadata", "[1]")])
        .await
        .err(422, "form_param_format_invalid");
    patch(&mut c, path, &[]).await.err(422, "form_param_nil");
    let u = me(&mut c).await;
    assert_eq!(u["first_name"], "Ada", "the refused PATCH changed nothing");
    assert_eq!(
        u["unsafe_metadata"],
        json!({"prefs":{"theme":"dark","tz":"UTC"}})
    );
}

/// A tiny PNG (the signature and an IHDR chunk are all a sniffer needs).
fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    v.extend_from_slice(&[0x1f, 0x15, 0xc4, 0x89]);
    v
}

fn multipart(field: &str, filename: &str, content_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "lkBoundary7MA4YWxkTrZu0gW";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends a body as the native client and validates the response as `as_method path`.
async fn upload(
    c: &Native<'_>,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> crate::support::Resp {
    let mut req =
        c.h.request(method.clone(), &format!("{path}?_is_native=true"))
            .header("content-type", content_type)
            .body(body);
    if let Some(t) = &c.token {
        req = req.header("authorization", t);
    }
    let r = latchkey_testkit::send(req).await;
    validate(fapi_spec(), method.as_str(), path, r.status, &r.body);
    r
}

#[tokio::test]
async fn a_profile_image_is_uploaded_served_at_image_url_and_deleted() {
    let h = start().await;
    let (mut c, _) = signed_in(&h, "img@example.com").await;
    let u = me(&mut c).await;
    assert_eq!(
        (u["has_image"].as_bool(), u["image_url"].as_str()),
        (Some(false), Some(""))
    );

    let (ct, body) = multipart("file", "me.png", "application/octet-stream", &png());
    let r = upload(&c, Method::POST, "/v1/me/profile_image", &ct, body).await;
    let image = r.ok()["response"].clone();
    assert_eq!(image["object"], "image");
    assert_eq!(image["name"], "me.png");
    let url = image["public_url"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(h.emu.url()) && url.contains("/v1/images/img_"),
        "{url}"
    );
    let u = me(&mut c).await;
    assert_eq!(
        (u["has_image"].as_bool(), u["image_url"].as_str()),
        (Some(true), Some(url.as_str()))
    );

    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    assert_eq!(res.bytes().await.unwrap().to_vec(), png());

    // Not an image, no file, too large: refused, the image stays.
    let (ct, body) = multipart("file", "x.png", "image/png", b"<svg onload=alert(1)>");
    upload(&c, Method::POST, "/v1/me/profile_image", &ct, body)
        .await
        .err(422, "form_param_format_invalid");
    let (ct, body) = multipart("avatar", "me.png", "image/png", &png());
    upload(&c, Method::POST, "/v1/me/profile_image", &ct, body)
        .await
        .err(422, "form_param_nil");
    let mut big = png();
    big.resize(11 * 1024 * 1024, 0);
    let (ct, body) = multipart("file", "big.png", "image/png", &big);
    upload(&c, Method::POST, "/v1/me/profile_image", &ct, body)
        .await
        .err(413, "request_body_too_large");
    // A body above the rest of the API's limit but under the image limit is accepted here.
    let mut medium = png();
    medium.resize(2 * 1024 * 1024, 0);
    let r = upload(
        &c,
        Method::POST,
        "/v1/me/profile_image",
        "image/png",
        medium,
    )
    .await;
    let second = r.ok()["response"]["public_url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(second, url, "a new upload is a new image");
    let gone = reqwest::get(&url).await.unwrap();
    assert_eq!(gone.status(), 404, "the replaced image is gone");
    assert_eq!(me(&mut c).await["image_url"], second.as_str());

    let r = delete(&mut c, "/v1/me/profile_image").await;
    assert_eq!(r.ok()["response"]["deleted"], true);
    assert_eq!(r.body["response"]["object"], "image");
    let u = me(&mut c).await;
    assert_eq!(
        (u["has_image"].as_bool(), u["image_url"].as_str()),
        (Some(false), Some(""))
    );
    delete(&mut c, "/v1/me/profile_image")
        .await
        .err(404, "resource_not_found");
    let r = latchkey_testkit::send(h.request(Method::GET, "/v1/images/img_nope")).await;
    r.err(404, "resource_not_found");
}

#[tokio::test]
async fn the_backend_api_sets_and_deletes_a_users_profile_image() {
    let h = start().await;
    let user = h.create_user("bimg@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap();
    let (ct, body) = multipart("file", "b.gif", "image/gif", b"GIF89a\x01\0\x01\0\0\0\0;");
    let auth = format!("Bearer {}", h.emu.secret_key());
    let r = latchkey_testkit::send(
        h.request(Method::POST, &format!("/v1/users/{id}/profile_image"))
            .header("authorization", &auth)
            .header("content-type", ct)
            .body(body),
    )
    .await;
    validate(
        crate::support::bapi_spec(),
        "POST",
        &format!("/v1/users/{id}/profile_image"),
        r.status,
        &r.body,
    );
    assert_eq!(r.ok()["has_image"], true);
    let url = r.body["image_url"].as_str().unwrap().to_owned();
    let res = reqwest::get(&url).await.unwrap();
    assert_eq!(res.headers()["content-type"], "image/gif");
    let r = h
        .bapi(
            Method::DELETE,
            &format!("/v1/users/{id}/profile_image"),
            None,
        )
        .await;
    assert_eq!(
        (r.ok()["has_image"].as_bool(), r.body["image_url"].as_str()),
        (Some(false), Some(""))
    );
    h.bapi(
        Method::DELETE,
        &format!("/v1/users/{id}/profile_image"),
        None,
    )
    .await
    .err(404, "resource_not_found");
}

#[tokio::test]
async fn active_sessions_list_the_users_sessions_with_activity_and_one_is_revoked() {
    let h = start().await;
    let rx = Receiver::start().await;
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": rx.url, "events": ["session.revoked"]})),
    )
    .await
    .ok();
    h.create_user("sess@example.com", PASSWORD).await;
    let mut c = h.fapi();
    let sid = c.sign_in("sess@example.com", PASSWORD).await;
    let mut phone = h.fapi();
    let r = phone
        .call_with(
            Method::POST,
            "POST",
            "/v1/client/sign_ins",
            &[("identifier", "sess@example.com"), ("password", PASSWORD)],
            &[("user-agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")],
        )
        .await;
    let phone_sid = r.ok()["response"]["created_session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, stranger_sid) = signed_in(&h, "stranger@example.com").await;

    let r = c.get("/v1/me/sessions/active").await;
    let list = r.ok().as_array().unwrap().clone();
    let ids: Vec<&str> = list.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert!(ids.contains(&sid.as_str()) && ids.contains(&phone_sid.as_str()));
    let on_phone = list.iter().find(|s| s["id"] == phone_sid.as_str()).unwrap();
    let a = &on_phone["latest_activity"];
    assert_eq!(
        (a["browser_name"].as_str(), a["browser_version"].as_str()),
        (Some("Safari"), Some("17.5"))
    );
    assert_eq!(
        (a["device_type"].as_str(), a["is_mobile"].as_bool()),
        (Some("iPhone"), Some(true))
    );
    assert_eq!(a["ip_address"], "127.0.0.1");

    c.post(&format!("/v1/me/sessions/{stranger_sid}/revoke"), &[])
        .await
        .err(404, "resource_not_found");
    c.post("/v1/me/sessions/sess_nope/revoke", &[])
        .await
        .err(404, "resource_not_found");
    let r = c
        .post(&format!("/v1/me/sessions/{phone_sid}/revoke"), &[])
        .await;
    assert_eq!(r.ok()["response"]["status"], "revoked");
    phone.get("/v1/me").await.err(401, "signed_out");
    let s = h
        .bapi(Method::GET, &format!("/v1/sessions/{stranger_sid}"), None)
        .await;
    assert_eq!(
        s.ok()["status"],
        "active",
        "another user's session is untouched"
    );
    c.post(&format!("/v1/me/sessions/{phone_sid}/revoke"), &[])
        .await
        .err(401, "authentication_invalid");
    let r = c.get("/v1/me/sessions/active").await;
    assert_eq!(r.ok().as_array().unwrap().len(), 1);
    h.wait_idle().await;
    let revoked = rx.of_type("session.revoked");
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].json()["data"]["id"], phone_sid.as_str());
}

#[tokio::test]
async fn deleting_oneself_honours_delete_self_enabled() {
    let h = start().await;
    let (mut c, _) = signed_in(&h, "gone@example.com").await;
    let id = me(&mut c).await["id"].as_str().unwrap().to_owned();
    h.set_settings(json!({"delete_self_enabled": false})).await;
    assert_eq!(me(&mut c).await["delete_self_enabled"], false);
    delete(&mut c, "/v1/me")
        .await
        .err(400, "request_invalid_for_status");
    h.bapi(Method::GET, &format!("/v1/users/{id}"), None)
        .await
        .ok();
    h.set_settings(json!({"delete_self_enabled": true})).await;
    let r = delete(&mut c, "/v1/me").await;
    assert_eq!(
        r.ok()["response"],
        json!({"object": "user", "id": id, "deleted": true})
    );
    h.bapi(Method::GET, &format!("/v1/users/{id}"), None)
        .await
        .err(404, "resource_not_found");
}

#[tokio::test]
async fn added_addresses_and_phone_codes_send_messages_and_webhooks() {
    let h = start().await;
    let rx = Receiver::start().await;
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": rx.url, "events": ["email.created", "sms.created", "user.updated"]})),
    )
    .await
    .ok();
    h.set_settings(json!({"phone_number": {"enabled": true}}))
        .await;
    let (mut c, _) = signed_in(&h, "hooks@example.com").await;
    let r = c
        .post(
            "/v1/me/email_addresses",
            &[("email_address", "hooks2@example.com")],
        )
        .await;
    let eid = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/me/email_addresses/{eid}/prepare_verification"),
        &[("strategy", "email_code")],
    )
    .await
    .ok();
    let r = c
        .post("/v1/me/phone_numbers", &[("phone_number", "+442071838750")])
        .await;
    let pid = r.ok()["response"]["id"].as_str().unwrap().to_owned();
    c.post(
        &format!("/v1/me/phone_numbers/{pid}/prepare_verification"),
        &[("strategy", "phone_code")],
    )
    .await
    .ok();
    let code = h.latest_code("+442071838750").await;
    c.post(
        &format!("/v1/me/phone_numbers/{pid}/attempt_verification"),
        &[("code", &code)],
    )
    .await
    .ok();
    h.wait_idle().await;
    let emails = rx.of_type("email.created");
    assert_eq!(emails.len(), 1);
    assert_eq!(
        emails[0].json()["data"]["to_email_address"],
        "hooks2@example.com"
    );
    let sms = rx.of_type("sms.created");
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].json()["data"]["data"]["otp_code"], code.as_str());
    let updates = rx.of_type("user.updated");
    assert!(
        updates.len() >= 3,
        "adding two identifications and verifying one: {}",
        updates.len()
    );
    let last = updates.last().unwrap().json();
    assert_eq!(last["data"]["primary_phone_number_id"], pid.as_str());
}

#[tokio::test]
async fn the_backend_api_creates_reads_updates_and_deletes_email_addresses_and_phone_numbers() {
    let h = start().await;
    let user = h.create_user("admin-made@example.com", PASSWORD).await;
    let uid = user["id"].as_str().unwrap();
    let first = user["primary_email_address_id"]
        .as_str()
        .unwrap()
        .to_owned();
    h.bapi(
        Method::POST,
        "/v1/email_addresses",
        Some(json!({"email_address": "x@example.com"})),
    )
    .await
    .err(422, "form_param_nil");
    h.bapi(
        Method::POST,
        "/v1/email_addresses",
        Some(json!({"user_id": uid})),
    )
    .await
    .err(422, "form_param_nil");
    h.bapi(
        Method::POST,
        "/v1/email_addresses",
        Some(json!({"user_id": "user_nope", "email_address": "x@example.com"})),
    )
    .await
    .err(404, "resource_not_found");
    h.bapi(
        Method::POST,
        "/v1/email_addresses",
        Some(json!({"user_id": uid, "email_address": "admin-made@example.com"})),
    )
    .await
    .err(422, "form_identifier_exists");
    h.bapi(
        Method::POST,
        "/v1/email_addresses",
        Some(json!({"user_id": uid, "email_address": "y@example.com", "primary": true})),
    )
    .await
    .err(422, "form_param_value_invalid");

    let r = h
        .bapi(
            Method::POST,
            "/v1/email_addresses",
            Some(json!({"user_id": uid, "email_address": "Other@Example.com"})),
        )
        .await;
    let e = r.ok().clone();
    assert_eq!(e["email_address"], "other@example.com");
    assert_eq!(e["verification"], Value::Null);
    let eid = e["id"].as_str().unwrap();
    let r = h
        .bapi(Method::GET, &format!("/v1/email_addresses/{eid}"), None)
        .await;
    assert_eq!(r.ok()["id"], eid);
    let r = h
        .bapi(
            Method::PATCH,
            &format!("/v1/email_addresses/{eid}"),
            Some(json!({"verified": true, "primary": true})),
        )
        .await;
    assert_eq!(r.ok()["verification"]["status"], "verified");
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["primary_email_address_id"], eid);
    h.bapi(
        Method::PATCH,
        &format!("/v1/email_addresses/{eid}"),
        Some(json!({"verified": false})),
    )
    .await
    .err(422, "form_param_value_invalid");
    let r = h
        .bapi(Method::DELETE, &format!("/v1/email_addresses/{eid}"), None)
        .await;
    assert_eq!(
        r.ok(),
        &json!({"object": "email_address", "id": eid, "deleted": true})
    );
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(
        u.ok()["primary_email_address_id"],
        first.as_str(),
        "the remaining one is primary again"
    );
    h.bapi(Method::GET, &format!("/v1/email_addresses/{eid}"), None)
        .await
        .err(404, "resource_not_found");
    h.bapi(
        Method::PATCH,
        "/v1/email_addresses/idn_nope",
        Some(json!({"verified": true})),
    )
    .await
    .err(404, "resource_not_found");
    h.bapi(
        Method::PATCH,
        &format!("/v1/email_addresses/{first}"),
        Some(json!({"verified": "yes"})),
    )
    .await
    .err(422, "form_param_format_invalid");
    // An array is no body, even one serde could read field by field.
    h.bapi(
        Method::PATCH,
        &format!("/v1/email_addresses/{first}"),
        Some(json!([true, true])),
    )
    .await
    .err(422, "form_param_format_invalid");
    h.bapi(
        Method::POST,
        "/v1/phone_numbers",
        Some(json!([uid, "+12015550142"])),
    )
    .await
    .err(422, "form_param_format_invalid");

    let r = h
        .bapi(
            Method::POST,
            "/v1/phone_numbers",
            Some(json!({"user_id": uid, "phone_number": "+12015550142", "verified": true})),
        )
        .await;
    let p = r.ok().clone();
    let pid = p["id"].as_str().unwrap();
    assert_eq!(p["verification"]["status"], "verified");
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(
        u.ok()["primary_phone_number_id"],
        pid,
        "the first verified phone is primary"
    );
    // A phone number is not an email address.
    h.bapi(Method::GET, &format!("/v1/email_addresses/{pid}"), None)
        .await
        .err(404, "resource_not_found");
    h.bapi(
        Method::POST,
        "/v1/phone_numbers",
        Some(json!({"user_id": uid, "phone_number": "12"})),
    )
    .await
    .err(422, "form_param_format_invalid");
    let r = h
        .bapi(
            Method::PATCH,
            &format!("/v1/phone_numbers/{pid}"),
            Some(json!({"primary": true})),
        )
        .await;
    assert_eq!(r.ok()["id"], pid);
    let r = h
        .bapi(Method::DELETE, &format!("/v1/phone_numbers/{pid}"), None)
        .await;
    assert_eq!(r.ok()["deleted"], true);
    let u = h.bapi(Method::GET, &format!("/v1/users/{uid}"), None).await;
    assert_eq!(u.ok()["primary_phone_number_id"], Value::Null);
    assert_eq!(u.body["phone_numbers"], json!([]));
}

#[tokio::test]
async fn profile_images_move_with_an_export() {
    let dir = latchkey_testkit::temp_path("me-export");
    let b = latchkey_emulator::Emulator::builder()
        .signing_key(latchkey_testkit::signing_key())
        .data_dir(&dir);
    let kit = latchkey_testkit::start_from(b).await;
    let user = kit.create_user("moving@example.com", PASSWORD).await;
    let id = user["id"].as_str().unwrap().to_owned();
    let (ct, body) = multipart("file", "m.png", "image/png", &png());
    let auth = format!("Bearer {}", kit.emu.secret_key());
    let r = latchkey_testkit::send(
        kit.request(Method::POST, &format!("/v1/users/{id}/profile_image"))
            .header("authorization", &auth)
            .header("content-type", ct)
            .body(body),
    )
    .await;
    let url = r.ok()["image_url"].as_str().unwrap().to_owned();
    let image_path = url[url.find("/v1/images/").unwrap()..].to_owned();
    kit.shutdown().await;
    let exported = latchkey_emulator::export(&latchkey_emulator::Database::DataDir(dir)).unwrap();
    let doc: Value = serde_json::from_str(&exported).unwrap();
    assert_eq!(
        doc["users"][0]["profile_image"]["content_type"],
        "image/png"
    );
    let other = latchkey_emulator::Database::DataDir(latchkey_testkit::temp_path("me-import"));
    latchkey_emulator::import(&other, &exported).unwrap();
    let latchkey_emulator::Database::DataDir(other_dir) = &other else {
        unreachable!()
    };
    let kit = latchkey_testkit::start_from(
        latchkey_emulator::Emulator::builder()
            .signing_key(latchkey_testkit::signing_key())
            .data_dir(other_dir),
    )
    .await;
    let u = kit
        .bapi(Method::GET, &format!("/v1/users/{id}"), None)
        .await;
    assert_eq!(u.ok()["has_image"], true);
    assert!(u.body["image_url"].as_str().unwrap().ends_with(&image_path));
    let res = reqwest::get(format!("{}{image_path}", kit.url()))
        .await
        .unwrap();
    assert_eq!(res.bytes().await.unwrap().to_vec(), png());
}
