//! Backend API `/v1/redirect_urls` (the allowlist) and its place in export/import. How the
//! allowlist gates redirects is tested with email links (`email_links.rs`).

use reqwest::Method;
use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn the_allowlist_is_created_listed_read_and_deleted_as_the_spec_shows() {
    let h = start().await;
    let r = h.bapi(Method::GET, "/v1/redirect_urls", None).await;
    assert_eq!(r.ok(), &json!([]));
    let a = h
        .bapi(
            Method::POST,
            "/v1/redirect_urls",
            Some(json!({"url": "myapp://callback"})),
        )
        .await
        .ok()
        .clone();
    assert_eq!(a["object"], "redirect_url");
    assert_eq!(a["url"], "myapp://callback");
    assert!(a["id"].as_str().unwrap().starts_with("ru_"));
    let b = h
        .bapi(
            Method::POST,
            "/v1/redirect_urls",
            Some(json!({"url": "https://app.example.com/cb"})),
        )
        .await
        .ok()
        .clone();
    let list = h.bapi(Method::GET, "/v1/redirect_urls", None).await;
    assert_eq!(list.ok(), &json!([a, b]));
    let page = h
        .bapi(
            Method::GET,
            "/v1/redirect_urls?paginated=true&limit=1&offset=1",
            None,
        )
        .await;
    assert_eq!(page.ok(), &json!({"data": [b], "total_count": 2}));
    let id = a["id"].as_str().unwrap();
    let got = h
        .bapi(Method::GET, &format!("/v1/redirect_urls/{id}"), None)
        .await;
    assert_eq!(got.ok(), &a);
    let del = h
        .bapi(Method::DELETE, &format!("/v1/redirect_urls/{id}"), None)
        .await;
    assert_eq!(
        del.ok(),
        &json!({"object": "redirect_url", "id": id, "deleted": true})
    );
    let r = h
        .bapi(Method::GET, &format!("/v1/redirect_urls/{id}"), None)
        .await;
    assert_eq!((r.status, r.code()), (404, "resource_not_found"));
    let r = h
        .bapi(Method::DELETE, &format!("/v1/redirect_urls/{id}"), None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn bad_allowlist_entries_are_refused_with_clerks_codes() {
    let h = start().await;
    for (body, status, code, param) in [
        (json!({}), 422, "form_param_nil", "url"),
        (json!({"url": ""}), 422, "form_param_nil", "url"),
        (
            json!({"url": "javascript:alert(1)"}),
            422,
            "invalid_url_scheme",
            "url",
        ),
        (
            json!({"url": "data:text/html,hi"}),
            422,
            "invalid_url_scheme",
            "url",
        ),
        (
            json!({"url": "/callback"}),
            422,
            "form_param_format_invalid",
            "url",
        ),
        (
            json!({"url": "https://a@evil.example/"}),
            422,
            "form_param_format_invalid",
            "url",
        ),
        (json!({"url": 7}), 422, "form_param_format_invalid", "body"),
        (
            json!(["myapp://x"]),
            422,
            "form_param_format_invalid",
            "body",
        ),
    ] {
        let r = h
            .bapi(Method::POST, "/v1/redirect_urls", Some(body.clone()))
            .await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {}", r.body);
        assert_eq!(r.body["errors"][0]["meta"]["param_name"], param, "{body}");
    }
    h.bapi(
        Method::POST,
        "/v1/redirect_urls",
        Some(json!({"url": "myapp://x"})),
    )
    .await
    .ok();
    let r = h
        .bapi(
            Method::POST,
            "/v1/redirect_urls",
            Some(json!({"url": "myapp://x"})),
        )
        .await;
    assert_eq!((r.status, r.code()), (422, "form_param_value_invalid"));
    assert_eq!(
        h.bapi(Method::GET, "/v1/redirect_urls", None)
            .await
            .ok()
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
