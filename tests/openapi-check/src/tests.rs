#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use serde_json::json;
use std::sync::OnceLock;

/// A spec whose `GET /t` 200 response body is `schema`, with a few extra components to refer to.
fn spec(schema: Value) -> Spec {
    Spec::from_value(json!({
        "openapi": "3.0.3",
        "paths": { "/t": { "get": { "responses": { "200": {
            "description": "ok", "content": { "application/json": { "schema": schema } }
        } } } } },
        "components": { "schemas": {
            "Name": { "type": "object", "required": ["first"], "properties": { "first": { "type": "string" } } },
            "Node": { "type": "object", "properties": {
                "value": { "type": "integer" },
                "children": { "type": "array", "items": { "$ref": "#/components/schemas/Node" } }
            } },
            "Loop": { "allOf": [{ "$ref": "#/components/schemas/Loop" }] }
        } }
    }))
}

fn check(schema: Value, body: Value) -> Vec<String> {
    spec(schema)
        .check_response("GET", "/t", 200, &body)
        .unwrap()
}

fn ok(schema: Value, body: Value) {
    let errs = check(schema, body);
    assert!(errs.is_empty(), "expected no violations, got {errs:#?}");
}

fn fails(schema: Value, body: Value, needle: &str) {
    let errs = check(schema, body);
    assert!(
        errs.iter().any(|e| e.contains(needle)),
        "expected a violation containing {needle:?}, got {errs:#?}"
    );
}

#[test]
fn types() {
    for (t, good, bad) in [
        ("string", json!("a"), json!(1)),
        ("integer", json!(3), json!(3.5)),
        ("integer", json!(-3), json!("3")),
        ("number", json!(3), json!("3")),
        ("number", json!(3.5), json!(null)),
        ("boolean", json!(false), json!(0)),
        ("object", json!({}), json!([])),
        ("array", json!([]), json!({})),
        ("null", json!(null), json!(false)),
    ] {
        ok(json!({ "type": t }), good);
        fails(json!({ "type": t }), bad, &format!("/: expected {t}, got"));
    }
    // A float is never an integer, even a whole one.
    fails(
        json!({ "type": "integer" }),
        json!(1.0),
        "expected integer, got number 1.0",
    );
}

#[test]
fn nullable_and_type_arrays() {
    ok(json!({ "type": "string", "nullable": true }), json!(null));
    fails(
        json!({ "type": "string" }),
        json!(null),
        "expected string, got null",
    );
    ok(json!({ "type": ["string", "null"] }), json!(null));
    ok(json!({ "type": ["string", "null"] }), json!("x"));
    fails(
        json!({ "type": ["string", "null"] }),
        json!(1),
        "expected string or null, got integer 1",
    );
    // nullable on a wrapper without a type, and beside a $ref
    ok(
        json!({ "nullable": true, "allOf": [{ "$ref": "#/components/schemas/Name" }] }),
        json!(null),
    );
    ok(
        json!({ "$ref": "#/components/schemas/Name", "nullable": true }),
        json!(null),
    );
    fails(
        json!({ "allOf": [{ "$ref": "#/components/schemas/Name" }] }),
        json!(null),
        "expected object, got null",
    );
}

#[test]
fn enums_and_const() {
    let e = json!({ "type": "string", "enum": ["a", "b"] });
    ok(e.clone(), json!("a"));
    fails(e, json!("c"), r#"/: string "c" is not one of ["a","b"]"#);
    ok(
        json!({ "type": "string", "nullable": true, "enum": ["a"] }),
        json!(null),
    );
    fails(
        json!({ "type": "string", "enum": ["a"] }),
        json!(null),
        "expected string",
    );
    ok(json!({ "const": 5 }), json!(5));
    fails(
        json!({ "const": 5 }),
        json!(6),
        "expected the constant 5, got integer 6",
    );
}

#[test]
fn required_and_properties() {
    let s = json!({ "type": "object", "required": ["a"], "properties": {
        "a": { "type": "string" },
        "b/c": { "type": "object", "properties": { "n": { "$ref": "#/components/schemas/Name" } } }
    } });
    ok(
        s.clone(),
        json!({ "a": "x", "b/c": { "n": { "first": "y" } } }),
    );
    fails(s.clone(), json!({}), r#"/: missing required property "a""#);
    fails(
        s.clone(),
        json!({ "a": 1 }),
        "/a: expected string, got integer 1",
    );
    fails(
        s,
        json!({ "a": "x", "b/c": { "n": {} } }),
        r#"/b~1c/n: missing required property "first""#,
    );
}

#[test]
fn additional_properties() {
    // Absent: anything extra is fine.
    ok(
        json!({ "type": "object", "properties": { "a": { "type": "string" } } }),
        json!({ "a": "x", "z": 1 }),
    );
    // A schema: extras must match it, declared properties use their own schema.
    let s = json!({ "type": "object", "properties": { "a": { "type": "integer" } }, "additionalProperties": { "type": "string" } });
    ok(s.clone(), json!({ "a": 1, "z": "y" }));
    fails(
        s,
        json!({ "a": 1, "z": 2 }),
        "/z: expected string, got integer 2",
    );
    // `false` is ignored unless strict mode is on.
    let s = json!({ "type": "object", "properties": { "a": {} }, "additionalProperties": false });
    ok(s.clone(), json!({ "a": 1, "z": 2 }));
    let strict = spec(s).strict_additional_properties(true);
    let errs = strict
        .check_response("GET", "/t", 200, &json!({ "a": 1, "z": 2 }))
        .unwrap();
    assert_eq!(errs, vec![r#"/: unexpected property "z""#.to_string()]);
    assert!(strict
        .check_response("GET", "/t", 200, &json!({ "a": 1 }))
        .unwrap()
        .is_empty());
}

#[test]
fn items() {
    let s = json!({ "type": "array", "items": { "type": "integer" } });
    ok(s.clone(), json!([1, 2]));
    fails(
        s,
        json!([1, "2"]),
        r#"/1: expected integer, got string "2""#,
    );
}

#[test]
fn all_of() {
    let s = json!({ "allOf": [
        { "$ref": "#/components/schemas/Name" },
        { "type": "object", "required": ["last"] }
    ] });
    ok(s.clone(), json!({ "first": "a", "last": "b" }));
    let errs = check(s, json!({}));
    assert_eq!(errs.len(), 2, "{errs:#?}");
}

#[test]
fn one_of_and_any_of() {
    for keyword in ["oneOf", "anyOf"] {
        let s = json!({ keyword: [
            { "type": "string" },
            { "type": "object", "required": ["x", "y"], "properties": { "x": { "type": "integer" } } }
        ] });
        ok(s.clone(), json!("s"));
        ok(s.clone(), json!({ "x": 1, "y": 2 }));
        // Both branches fail with one error; a wrong-type branch is never the closest one.
        let errs = check(s, json!({ "x": 1 }));
        assert!(
            errs[0].contains(&format!(
                "matches none of the 2 {keyword} alternatives; closest is #1"
            )),
            "{errs:#?}"
        );
        assert!(
            errs.iter()
                .any(|e| e == r#"/: missing required property "y""#),
            "{errs:#?}"
        );
    }
    // With several branches failing, the one with fewest errors is reported.
    let s = json!({ "oneOf": [
        { "type": "object", "required": ["a", "b", "c"] },
        { "type": "object", "required": ["a", "d"] }
    ] });
    let errs = check(s, json!({ "a": 1 }));
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert!(errs[1].contains("\"d\""), "{errs:#?}");
}

#[test]
fn recursion() {
    let tree = json!({ "value": 1, "children": [{ "value": 2, "children": [{ "value": 3, "children": [] }] }] });
    ok(json!({ "$ref": "#/components/schemas/Node" }), tree);
    fails(
        json!({ "$ref": "#/components/schemas/Node" }),
        json!({ "children": [{ "children": [{ "value": "x" }] }] }),
        r#"/children/0/children/0/value: expected integer, got string "x""#,
    );
    // A schema that refers to itself without consuming the value terminates with an error.
    fails(
        json!({ "$ref": "#/components/schemas/Loop" }),
        json!({}),
        "schema nesting exceeds 64 levels",
    );
    fails(
        json!({ "$ref": "#/components/schemas/Missing" }),
        json!({}),
        "cannot resolve $ref",
    );
}

#[test]
fn response_lookup() {
    let spec = Spec::from_yaml_str(
        r#"
openapi: 3.0.3
paths:
  /a:
    get:
      responses:
        200:
          $ref: '#/components/responses/Str'
        2XX:
          description: other success
          content:
            application/json:
              schema: { type: integer }
        default:
          $ref: '#/components/responses/Err'
    post:
      responses:
        '204':
          description: no content
        '200':
          description: html
          content:
            text/html:
              schema: { type: string }
components:
  responses:
    Str:
      $ref: '#/components/responses/Str2'
    Str2:
      description: a string
      content:
        application/json; charset=utf-8:
          schema: { $ref: '#/components/schemas/S' }
    Err:
      description: error
      content:
        application/json:
          schema: { type: object, required: [errors] }
  schemas:
    S: { type: string }
"#,
    )
    .unwrap();
    let check = |m, s, v: Value| spec.check_response(m, "/a", s, &v);
    // unquoted integer status keys, ref -> ref responses, media types with parameters
    assert!(check("GET", 200, json!("x")).unwrap().is_empty());
    assert_eq!(
        check("get", 200, json!(1)).unwrap(),
        vec!["/: expected string, got integer 1".to_string()]
    );
    // 2XX, then default
    assert!(check("GET", 201, json!(1)).unwrap().is_empty());
    assert!(!check("GET", 201, json!("x")).unwrap().is_empty());
    assert!(check("GET", 404, json!({ "errors": [] }))
        .unwrap()
        .is_empty());
    assert!(!check("GET", 500, json!({})).unwrap().is_empty());
    // no content: only null passes
    assert!(check("POST", 204, json!(null)).unwrap().is_empty());
    assert!(!check("POST", 204, json!({})).unwrap().is_empty());
    // errors
    assert!(matches!(
        check("POST", 404, json!(null)),
        Err(Error::UnknownStatus { status: 404, .. })
    ));
    assert!(matches!(
        check("POST", 200, json!(null)),
        Err(Error::NotJson { .. })
    ));
    assert!(matches!(
        check("PUT", 200, json!(null)),
        Err(Error::UnknownOperation { .. })
    ));
    assert!(matches!(
        spec.check_response("GET", "/b", 200, &json!(null)),
        Err(Error::UnknownOperation { .. })
    ));
}

#[test]
fn path_matching() {
    let spec = Spec::from_value(json!({
        "servers": [{ "url": "https://api.example.com/v1" }],
        "paths": {
            "/users/{user_id}": { "get": {}, "delete": {} },
            "/users/ban": { "post": {} },
            "/users/{user_id}/items/{item}": { "get": {} },
            "/meta/{id}.xml": { "get": {} },
        }
    }));
    assert_eq!(
        spec.find_path("GET", "/users/user_1"),
        Some("/users/{user_id}")
    );
    assert_eq!(spec.find_path("POST", "/users/ban"), Some("/users/ban"));
    // The literal template lacks DELETE; the templated one has it.
    assert_eq!(
        spec.find_path("DELETE", "/users/ban"),
        Some("/users/{user_id}")
    );
    assert_eq!(
        spec.find_path("GET", "/v1/users/u/items/i?x=1#f"),
        Some("/users/{user_id}/items/{item}")
    );
    assert_eq!(
        spec.find_path("GET", "https://api.example.com/v1/users/u"),
        Some("/users/{user_id}")
    );
    assert_eq!(
        spec.find_path("GET", "/meta/abc.xml"),
        Some("/meta/{id}.xml")
    );
    assert_eq!(spec.find_path("GET", "/meta/.xml"), None);
    assert_eq!(spec.find_path("GET", "/users"), None);
    assert!(matches!(
        spec.check_response_for_url("GET", "/nope", 200, &json!(null)),
        Err(Error::NoMatchingPath(_))
    ));
}

fn shared(name: &str) -> String {
    format!(
        "{}/../../../shared/clerk-openapi/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn fapi() -> &'static Spec {
    static FAPI: OnceLock<Spec> = OnceLock::new();
    FAPI.get_or_init(|| Spec::load(shared("fapi-2026-05-12.yml")).expect("load the fapi spec"))
}

#[test]
fn real_fapi_spec() {
    let spec = fapi();
    let errs = spec
        .check_response("GET", "/v1/client", 200, &json!({}))
        .unwrap();
    assert!(
        errs.iter()
            .any(|e| e == r#"/: missing required property "response""#),
        "{errs:#?}"
    );
    assert!(
        errs.iter()
            .any(|e| e == r#"/: missing required property "client""#),
        "{errs:#?}"
    );
    // Both are nullable.
    assert!(spec
        .check_response(
            "GET",
            "/v1/client",
            200,
            &json!({ "response": null, "client": null })
        )
        .unwrap()
        .is_empty());

    let clerk_errors = json!({
        "errors": [{ "message": "not found", "long_message": "Resource not found", "code": "resource_not_found", "meta": {} }],
        "clerk_trace_id": "abc"
    });
    let errs = spec
        .check_response_for_url("GET", "/v1/client/sign_ins/sia_abc", 404, &clerk_errors)
        .unwrap();
    assert!(errs.is_empty(), "{errs:#?}");
    let errs = spec
        .check_response(
            "GET",
            "/v1/client",
            401,
            &json!({ "errors": [{ "message": "x" }] }),
        )
        .unwrap();
    assert!(
        errs.iter()
            .any(|e| e == r#"/errors/0: missing required property "code""#),
        "{errs:#?}"
    );

    assert_eq!(
        spec.find_path("GET", "/v1/client/sign_ins/sia_abc?_clerk_js_version=5"),
        Some("/v1/client/sign_ins/{sign_in_id}")
    );
    assert_eq!(
        spec.find_path("POST", "/v1/me/trusted_devices/prepare"),
        Some("/v1/me/trusted_devices/prepare")
    );
    assert!(matches!(
        spec.check_response("GET", "/v1/client", 299, &json!(null)),
        Err(Error::UnknownStatus { .. })
    ));
}

/// Every declared response of both specs resolves, and checking `null` and `{}` against it
/// terminates without unresolvable references.
#[test]
fn every_response_in_the_real_specs_resolves() {
    let bapi = Spec::load(shared("bapi-2026-05-12.yml")).unwrap();
    assert_eq!(
        bapi.find_path("GET", "/v1/users/user_1"),
        Some("/users/{user_id}")
    );
    assert_eq!(
        bapi.find_path("GET", "/v1/users/count"),
        Some("/users/count")
    );
    for spec in [fapi(), &bapi] {
        let mut checked = 0;
        for (path, item) in spec.document()["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let Some(responses) = op.get("responses").and_then(Value::as_object) else {
                    continue;
                };
                for status in responses.keys() {
                    let status: u16 = status.parse().unwrap();
                    match spec.response_schema(method, path, status) {
                        Ok(Some(schema)) => {
                            for body in [json!(null), json!({})] {
                                let errs = spec.check_value(schema, &body);
                                assert!(
                                    !errs
                                        .iter()
                                        .any(|e| e.contains("$ref") || e.contains("nesting")),
                                    "{method} {path} {status}: {errs:#?}"
                                );
                            }
                            checked += 1;
                        }
                        Ok(None) | Err(Error::NotJson { .. }) => {}
                        Err(e) => panic!("{method} {path} {status}: {e}"),
                    }
                }
            }
        }
        assert!(checked > 800, "only {checked} responses checked");
    }
}
