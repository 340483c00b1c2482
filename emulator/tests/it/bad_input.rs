//! A table of bad requests: each gets a 4xx in the Clerk error envelope, never a 5xx or axum's
//! plain text, and writes nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

struct Case {
    name: &'static str,
    method: Method,
    path: &'static str,
    /// "bapi" sends the secret key, "fapi" a client token, "none" nothing.
    auth: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    status: u16,
}

fn case(
    name: &'static str,
    method: Method,
    path: &'static str,
    auth: &'static str,
    ct: Option<&'static str>,
    body: &[u8],
    status: u16,
) -> Case {
    Case {
        name,
        method,
        path,
        auth,
        content_type: ct,
        body: body.to_vec(),
        status,
    }
}

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const JSON: Option<&str> = Some("application/json");

/// Every row of every table of the database at `db`, read by a separate read-only SQLite
/// connection: what the emulator has committed, whatever the APIs show of it.
fn database_rows(db: &std::path::Path) -> Value {
    use rusqlite::{types::ValueRef, Connection, OpenFlags};
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut names = c
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .unwrap();
    let names: Vec<String> = names
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut all = serde_json::Map::new();
    for name in names {
        let mut q = c
            .prepare(&format!("SELECT * FROM \"{name}\" ORDER BY rowid"))
            .unwrap();
        let width = q.column_count();
        let rows: Vec<Value> = q
            .query_map([], |r| {
                Ok(Value::Array(
                    (0..width)
                        .map(|i| {
                            Value::String(match r.get_ref(i).unwrap() {
                                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                                other => format!("{other:?}"),
                            })
                        })
                        .collect(),
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        all.insert(name, Value::Array(rows));
    }
    Value::Object(all)
}

async fn counts(h: &Harness, db: &std::path::Path) -> Value {
    h.wait_idle().await;
    let users = h.bapi(Method::GET, "/v1/users/count", None).await.ok()["total_count"].clone();
    let msgs = h.control(Method::GET, "/messages", None).await.ok()["data"]
        .as_array()
        .unwrap()
        .len();
    let sessions = h
        .bapi(Method::GET, "/v1/sessions", None)
        .await
        .ok()
        .as_array()
        .unwrap()
        .len();
    let jobs = h.control(Method::GET, "/jobs", None).await.ok()["counts"].clone();
    let deliveries = h
        .control(Method::GET, "/webhooks/deliveries", None)
        .await
        .ok()["data"]
        .as_array()
        .unwrap()
        .len();
    let rows = database_rows(db);
    let tables: serde_json::Map<String, Value> = rows
        .as_object()
        .unwrap()
        .iter()
        .map(|(t, r)| (t.clone(), json!(r.as_array().unwrap().len())))
        .collect();
    assert!(
        ["clients", "webhook_events", "jobs"]
            .iter()
            .all(|t| tables.contains_key(*t)),
        "the tables this test counts exist: {tables:?}"
    );
    json!({
        "users": users, "messages": msgs, "sessions": sessions, "jobs": jobs,
        "deliveries": deliveries, "rows_per_table": tables, "rows": rows,
    })
}

#[tokio::test]
async fn bad_input_gets_the_error_envelope_and_changes_nothing() {
    let dir = latchkey_testkit::temp_path("bad-input");
    let db = dir.join("emulator.sqlite3");
    let h = start_from(builder().data_dir(&dir)).await;
    // An endpoint for every event: an event written by a bad request would show as a job.
    let rx = crate::receiver::Receiver::start().await;
    h.control(
        Method::POST,
        "/webhooks/endpoints",
        Some(json!({"url": rx.url, "events": []})),
    )
    .await
    .ok();
    h.create_user("exists@example.com", "lk-Test-pass-4921")
        .await;
    let mut c = h.fapi();
    let sid = c.sign_in("exists@example.com", "lk-Test-pass-4921").await;
    let token = c.token.clone().unwrap();
    let before = counts(&h, &db).await;
    assert!(
        before["deliveries"].as_u64().unwrap() >= 2,
        "the setup's events were delivered: {}",
        before["deliveries"]
    );
    let big = vec![b'a'; 300 * 1024];
    let big_form: Vec<u8> = [b"email_address=".as_slice(), &big].concat();
    let sid_path: &'static str =
        Box::leak(format!("/v1/client/sessions/{sid}/tokens").into_boxed_str());
    let cases = vec![
        case(
            "form that is not UTF-8",
            Method::POST,
            "/v1/client/sign_ins",
            "fapi",
            FORM,
            b"identifier=\xff\xfe&password=x",
            400,
        ),
        case(
            "password without identifier",
            Method::POST,
            "/v1/client/sign_ins",
            "fapi",
            FORM,
            b"password=lk-Test-pass-4921",
            422,
        ),
        case(
            "malformed JSON on FAPI",
            Method::POST,
            "/v1/client/sign_ups",
            "fapi",
            JSON,
            b"{\"email_address\":",
            400,
        ),
        case(
            "JSON array on FAPI",
            Method::POST,
            "/v1/client/sign_ups",
            "fapi",
            JSON,
            b"[1,2]",
            400,
        ),
        case(
            "unsafe_metadata not an object",
            Method::POST,
            "/v1/client/sign_ups",
            "fapi",
            FORM,
            b"email_address=n%40example.com&password=lk-Test-pass-4921&unsafe_metadata=%5B1%5D",
            422,
        ),
        case(
            "missing strategy",
            Method::POST,
            "/v1/client/sign_ins/sia_x/attempt_first_factor",
            "fapi",
            FORM,
            b"",
            422,
        ),
        case(
            "unknown sign-in id",
            Method::POST,
            "/v1/client/sign_ins/sia_nope/attempt_first_factor",
            "fapi",
            FORM,
            b"strategy=password&password=x",
            404,
        ),
        case(
            "unknown sign-up id",
            Method::GET,
            "/v1/client/sign_ups/sua_nope",
            "fapi",
            None,
            b"",
            404,
        ),
        case(
            "unknown session",
            Method::POST,
            "/v1/client/sessions/sess_nope/tokens",
            "fapi",
            FORM,
            b"",
            404,
        ),
        case(
            "oversized body",
            Method::POST,
            "/v1/client/sign_ups",
            "fapi",
            FORM,
            &big_form,
            413,
        ),
        case(
            "unknown route",
            Method::GET,
            "/v1/nothing/here",
            "none",
            None,
            b"",
            404,
        ),
        case(
            "wrong method",
            Method::PUT,
            "/v1/client/sign_ins",
            "fapi",
            None,
            b"",
            405,
        ),
        case(
            "bad _method",
            Method::POST,
            "/v1/client?_method=TRACE",
            "fapi",
            None,
            b"",
            400,
        ),
        case(
            "BAPI malformed JSON",
            Method::POST,
            "/v1/users",
            "bapi",
            JSON,
            b"{nope",
            422,
        ),
        case(
            "BAPI wrong type",
            Method::POST,
            "/v1/users",
            "bapi",
            JSON,
            br#"{"email_address":[1],"password":"lk-Test-pass-4921"}"#,
            422,
        ),
        case(
            "BAPI form body",
            Method::POST,
            "/v1/users",
            "bapi",
            FORM,
            b"email_address=a%40b.co",
            415,
        ),
        case(
            "BAPI metadata not an object",
            Method::PATCH,
            "/v1/users/user_x/metadata",
            "bapi",
            JSON,
            br#"{"public_metadata":[1]}"#,
            422,
        ),
        case(
            "BAPI unknown user",
            Method::PATCH,
            "/v1/users/user_nope",
            "bapi",
            JSON,
            br#"{"first_name":"x"}"#,
            404,
        ),
        case(
            "BAPI oversized",
            Method::POST,
            "/v1/users",
            "bapi",
            JSON,
            &big,
            413,
        ),
        case(
            "BAPI bad limit",
            Method::GET,
            "/v1/users?limit=abc",
            "bapi",
            None,
            b"",
            422,
        ),
        case(
            "BAPI bad offset",
            Method::GET,
            "/v1/users?offset=-1",
            "bapi",
            None,
            b"",
            422,
        ),
        case(
            "BAPI without key",
            Method::POST,
            "/v1/users",
            "none",
            JSON,
            br#"{"email_address":["k@example.com"],"password":"lk-Test-pass-4921"}"#,
            401,
        ),
        case(
            "control bad JSON",
            Method::POST,
            "/_emulator/v1/time/advance",
            "none",
            JSON,
            b"{",
            422,
        ),
        case(
            "control wrong type",
            Method::POST,
            "/_emulator/v1/time/advance",
            "none",
            JSON,
            br#"{"seconds":"soon"}"#,
            422,
        ),
        case(
            "control bad wait",
            Method::GET,
            "/_emulator/v1/messages/latest?wait_ms=forever",
            "none",
            None,
            b"",
            422,
        ),
        case(
            "revoked-less token mint on foreign session path",
            Method::POST,
            sid_path,
            "none",
            FORM,
            b"",
            404,
        ),
    ];
    for c in cases {
        let mut req = h
            .http
            .request(c.method.clone(), format!("{}{}", h.emu.url(), c.path));
        match c.auth {
            "bapi" => req = req.header("authorization", format!("Bearer {}", h.emu.secret_key())),
            "fapi" => req = req.header("authorization", token.clone()),
            _ => {}
        }
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        let res = req.body(c.body.clone()).send().await.unwrap();
        let status = res.status().as_u16();
        let text = res.text().await.unwrap();
        assert_eq!(status, c.status, "{}: {text}", c.name);
        let body: Value =
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{}: not JSON: {text}", c.name));
        assert!(body["errors"][0]["code"].is_string(), "{}: {body}", c.name);
        assert!(
            body["errors"][0]["long_message"].is_string(),
            "{}: {body}",
            c.name
        );
        assert!(body["clerk_trace_id"].is_string(), "{}: {body}", c.name);
        let schema = &fapi_spec().document()["components"]["schemas"]["ClerkErrors"];
        let errs = fapi_spec().check_value(schema, &body);
        assert!(errs.is_empty(), "{}: {errs:?}", c.name);
    }
    let after = counts(&h, &db).await;
    assert_eq!(
        after["rows_per_table"], before["rows_per_table"],
        "no row was added or removed"
    );
    assert_eq!(after, before, "nothing was written");
    // The session is intact.
    c.token(&sid).await.ok();
    h.kit.shutdown().await;
    std::fs::remove_dir_all(&dir).unwrap();
}
