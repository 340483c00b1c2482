//! `export` / `import`: an instance moves from SQLite to PostgreSQL and back (to another SQLite
//! data directory when no PostgreSQL server is configured) and is the same instance — the same
//! document, and its users sign in with the same passwords, their external accounts (OAuth)
//! along; a document that cannot be applied whole is refused, saying where, with nothing
//! applied; `--import` seeds an in-memory start.

use latchkey_emulator::{Database, Emulator, EmulatorBuilder};
use latchkey_testkit::{signing_key, Kit};
use reqwest::Method;
use serde_json::{json, Value};

const USERS: [(&str, &str); 3] = [
    ("ann@example.com", "ann-password-1"),
    ("bob@example.com", "bob-password-2"),
    ("cid@example.com", "cid-password-3"),
];

fn on(db: &Database) -> EmulatorBuilder {
    let b = Emulator::builder().signing_key(signing_key());
    match db {
        Database::DataDir(dir) => b.data_dir(dir),
        Database::Url(url) => b.database_url(url),
    }
}

/// A store other than SQLite when the suite has a PostgreSQL server, else a second data dir.
fn other_store() -> Database {
    match latchkey_testkit::fresh_database_url() {
        Some(url) => Database::Url(url),
        None => Database::DataDir(latchkey_testkit::temp_path("transfer-other")),
    }
}

fn doc(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

async fn users_sign_in(kit: &Kit) {
    for (email, password) in USERS {
        let s = kit.sign_in(email, password).await;
        assert!(s.user_id.starts_with("user_"));
        let wrong = latchkey_testkit::send(
            kit.request(Method::POST, "/v1/client/sign_ins?_is_native=true")
                .form(&[("identifier", email), ("password", "not-the-password")]),
        )
        .await;
        assert_eq!(wrong.status, 422, "a wrong password still fails");
    }
    let instance = kit.control(Method::GET, "/instance", None).await;
    assert_eq!(instance.ok()["settings"]["password_min_length"], 10);
}

#[tokio::test]
async fn an_instance_moves_from_sqlite_to_postgresql_and_back() {
    let first = Database::DataDir(latchkey_testkit::temp_path("transfer-first"));
    let kit = latchkey_testkit::start_from(on(&first)).await;
    kit.set_settings(json!({"password_min_length": 10})).await;
    for (email, password) in USERS {
        kit.create_user(email, password).await;
    }
    let ann = kit
        .bapi(Method::GET, "/v1/users?email_address=ann@example.com", None)
        .await;
    let ann_id = ann.ok()[0]["id"].as_str().unwrap().to_owned();
    let ann_email_id = ann.ok()[0]["email_addresses"][0]["id"].clone();
    // No API makes external accounts yet (OAuth sign-in will): stored as it will store them.
    for account in [
        json!({"id": "eac_google", "user_id": ann_id, "provider": "oauth_google",
               "provider_user_id": "1234567890", "identification_id": ann_email_id,
               "email_address": "ann@example.com", "email_address_verified": true,
               "first_name": "Ann", "last_name": "Admin", "image_url": "https://img.example/a",
               "username": null, "approved_scopes": "openid email profile",
               "access_token": "ya29.the-access-token", "access_token_expire_at": 9_000_000,
               "created_at": 20, "updated_at": 30}),
        json!({"id": "eac_github", "user_id": ann_id, "provider": "oauth_github",
               "provider_user_id": "ann-gh", "identification_id": null,
               "email_address": "ann@users.noreply.github.com", "email_address_verified": false,
               "first_name": null, "last_name": null, "image_url": null, "username": "ann",
               "approved_scopes": "read:user", "access_token": null,
               "access_token_expire_at": null, "created_at": 10, "updated_at": 10}),
    ] {
        latchkey_emulator::testing::save_external_account(&kit.emu, account).unwrap();
    }
    kit.bapi(
        Method::PATCH,
        &format!("/v1/users/{ann_id}/metadata"),
        Some(json!({"public_metadata": {"plan": "pro"}, "private_metadata": {"n": 1}})),
    )
    .await
    .ok();
    let ep = kit
        .control(
            Method::POST,
            "/webhooks/endpoints",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["user.created"]})),
        )
        .await;
    assert_eq!(ep.status, 200, "{}", ep.body);
    kit.shutdown().await;

    let exported = latchkey_emulator::export(&first).unwrap();
    let original = doc(&exported);
    assert_eq!(original["latchkey_export"], 1);
    assert_eq!(original["users"].as_array().unwrap().len(), 3);
    assert_eq!(original["webhook_endpoints"].as_array().unwrap().len(), 1);
    assert!(original["users"][0]["password_digest"]
        .as_str()
        .unwrap()
        .starts_with("$argon2id$"));
    let accounts = &original["users"][0]["external_accounts"];
    assert_eq!(
        (accounts[0]["id"].as_str(), accounts[1]["id"].as_str()),
        (Some("eac_github"), Some("eac_google")),
        "a user's external accounts go with them, oldest first"
    );
    assert_eq!(accounts[1]["access_token"], "ya29.the-access-token");
    assert_eq!(accounts[1]["identification_id"], ann_email_id);
    assert_eq!(
        original["users"][1].get("external_accounts"),
        None,
        "a user without any has no list"
    );

    // Into the other store: the same document comes back out, and the users sign in.
    let second = other_store();
    assert_eq!(
        latchkey_emulator::import(&second, &exported).unwrap(),
        latchkey_emulator::Counts {
            users: 3,
            external_accounts: 2,
            webhook_endpoints: 1,
            redirect_urls: 0
        }
    );
    let moved = latchkey_emulator::export(&second).unwrap();
    assert_eq!(
        doc(&moved),
        original,
        "the instance is the same after the move"
    );
    let kit = latchkey_testkit::start_from(on(&second)).await;
    users_sign_in(&kit).await;
    let ann = kit
        .bapi(Method::GET, &format!("/v1/users/{ann_id}"), None)
        .await;
    assert_eq!(ann.ok()["public_metadata"], json!({"plan": "pro"}));
    assert_eq!(ann.ok()["private_metadata"], json!({"n": 1}));
    let eps = kit.control(Method::GET, "/webhooks/endpoints", None).await;
    assert_eq!(eps.ok()["data"][0]["url"], "http://127.0.0.1:9/hook");
    kit.shutdown().await;

    // And back to SQLite. (The sign-ins above changed last_sign_in_at, so compare to the
    // document as the second store has it now.)
    let now = latchkey_emulator::export(&second).unwrap();
    assert_eq!(
        doc(&now)["users"][0]["lockout"],
        json!({"failed_attempts": 1, "locked_until": null}),
        "the wrong password of users_sign_in counts towards a lockout, and moves along"
    );
    let third = Database::DataDir(latchkey_testkit::temp_path("transfer-third"));
    latchkey_emulator::import(&third, &now).unwrap();
    assert_eq!(doc(&latchkey_emulator::export(&third).unwrap()), doc(&now));
    let kit = latchkey_testkit::start_from(on(&third)).await;
    users_sign_in(&kit).await;
    kit.shutdown().await;
}

#[tokio::test]
async fn a_custom_providers_user_moves_with_its_account_and_verification() {
    let first = Database::DataDir(latchkey_testkit::temp_path("transfer-custom"));
    let kit = latchkey_testkit::start_from(on(&first)).await;
    kit.set_settings(json!({"social": {"oauth_custom_acme": {"enabled": true, "name": "Acme"}}}))
        .await;
    let queued = kit
        .control(
            Method::POST,
            "/oauth/custom_acme/next",
            Some(json!({"email": "ann@example.com", "provider_user_id": "acme-ann"})),
        )
        .await;
    assert_eq!(queued.status, 200, "{}", queued.body);
    let su = latchkey_testkit::send(
        kit.request(Method::POST, "/v1/client/sign_ups?_is_native=true")
            .form(&[
                ("strategy", "oauth_custom_acme"),
                ("redirect_url", "http://127.0.0.1:9/cb"),
            ]),
    )
    .await;
    let mut at = su.ok()["response"]["verifications"]["external_account"]
        ["external_verification_redirect_url"]
        .as_str()
        .unwrap()
        .to_owned();
    while at.starts_with(kit.url()) {
        let r = kit.http.get(&at).send().await.unwrap();
        assert_eq!(r.status(), 303);
        at = r.headers()["location"].to_str().unwrap().to_owned();
    }
    assert!(at.contains("rotating_token_nonce="), "{at}");
    kit.shutdown().await;

    let exported = latchkey_emulator::export(&first).unwrap();
    let original = doc(&exported);
    let ann = &original["users"][0];
    assert_eq!(
        ann["identifications"][0]["verification_strategy"],
        "from_oauth_custom_acme"
    );
    assert_eq!(ann["external_accounts"][0]["provider"], "oauth_custom_acme");
    assert_eq!(ann["external_accounts"][0]["provider_user_id"], "acme-ann");
    let second = other_store();
    latchkey_emulator::import(&second, &exported).unwrap();
    assert_eq!(doc(&latchkey_emulator::export(&second).unwrap()), original);
}

#[tokio::test]
async fn a_document_that_cannot_be_applied_whole_is_refused_saying_where() {
    let db = Database::DataDir(latchkey_testkit::temp_path("transfer-refused"));
    let digest = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$YmFzZTY0aGFzaGJhc2U2NGhhc2g";
    let user = |id: &str, email: &str| {
        json!({"id": id, "created_at": 1, "updated_at": 1, "password_digest": digest,
               "primary_email_address_id": format!("idn_{id}"),
               "identifications": [{"id": format!("idn_{id}"), "kind": "email_address",
                   "value": email, "verification_strategy": "admin", "verified": true,
                   "created_at": 1, "updated_at": 1}]})
    };
    let account = |id: &str, provider: &str, sub: &str, ident: Value| {
        json!({"id": id, "provider": provider, "provider_user_id": sub,
               "identification_id": ident, "email_address": "x@example.com",
               "access_token": "tok-not-shown", "created_at": 1, "updated_at": 1})
    };
    let with_accounts = |mut u: Value, accounts: Value| {
        u["external_accounts"] = accounts;
        u
    };
    let good = json!({"latchkey_export": 1, "users": [with_accounts(
        user("user_a", "a@example.com"),
        json!([account("eac_a", "oauth_google", "sub-a", json!("idn_user_a"))]))]});
    latchkey_emulator::import(&db, &good.to_string()).unwrap();
    assert_eq!(
        doc(&latchkey_emulator::export(&db).unwrap())["users"][0]["external_accounts"][0]["id"],
        "eac_a"
    );

    // The second user's email is the first (already imported) user's: nothing of it applies.
    let clash = json!({"latchkey_export": 1, "users": [
        user("user_b", "b@example.com"), user("user_c", "A@example.com")]});
    let err = latchkey_emulator::import(&db, &clash.to_string()).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("users[1].identifications[0].value"), "{msg}");
    let now = doc(&latchkey_emulator::export(&db).unwrap());
    let ids: Vec<_> = now["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].clone())
        .collect();
    assert_eq!(ids, [json!("user_a")], "user_b was not imported either");

    // External accounts: each at most once per provider user id, in the document and in the
    // instance, naming one of its user's email addresses, at a provider, with a provider user
    // id; a whole document is refused, its users too, and no message shows a token.
    let bad_accounts = [
        (
            json!([
                with_accounts(
                    user("user_b", "b@example.com"),
                    json!([account("eac_b", "oauth_google", "sub-b", Value::Null)])
                ),
                with_accounts(
                    user("user_c", "c@example.com"),
                    json!([account("eac_c", "oauth_google", "sub-b", Value::Null)])
                )
            ]),
            "users[1].external_accounts[0].provider_user_id",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([account("eac_b", "oauth_google", "sub-a", Value::Null)])
            )]),
            "users[0].external_accounts[0].provider_user_id",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([
                    account("eac_b", "oauth_google", "sub-b", json!("idn_user_b")),
                    account("eac_b", "oauth_github", "sub-b", json!("idn_user_b"))
                ])
            )]),
            "users[0].external_accounts[1].id",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([account("eac_a", "oauth_github", "sub-b", Value::Null)])
            )]),
            "users[0].external_accounts[0].id",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([account(
                    "eac_b",
                    "oauth_google",
                    "sub-b",
                    json!("idn_user_a")
                )])
            )]),
            "users[0].external_accounts[0].identification_id",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([account("eac_b", "", "sub-b", Value::Null)])
            )]),
            "users[0].external_accounts[0].provider",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([account(
                    "eac_b",
                    "oauth_custom_Not-A-Key",
                    "sub-b",
                    Value::Null
                )])
            )]),
            "users[0].external_accounts[0].provider",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([account("eac_b", "oauth_google", "", Value::Null)])
            )]),
            "users[0].external_accounts[0].provider_user_id",
        ),
        (
            json!([with_accounts(
                user("user_b", "b@example.com"),
                json!([account("idn_b", "oauth_google", "sub-b", Value::Null)])
            )]),
            "users[0].external_accounts[0].id",
        ),
    ];
    for (users, at) in bad_accounts {
        let bad = json!({"latchkey_export": 1, "users": users});
        let msg = latchkey_emulator::import(&db, &bad.to_string())
            .unwrap_err()
            .to_string();
        assert!(msg.contains(at), "{bad}: {msg}");
        assert!(!msg.contains("tok-not-shown"), "{msg}");
    }
    let now = doc(&latchkey_emulator::export(&db).unwrap());
    assert_eq!(now["users"].as_array().unwrap().len(), 1, "nothing applied");
    assert_eq!(
        now["users"][0]["external_accounts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let unknown = json!({"latchkey_export": 1, "users": [with_accounts(
        user("user_b", "b@example.com"),
        json!([{"id": "eac_b", "provider": "oauth_google", "provider_user_id": "sub-b",
                "email_address": "b@example.com", "created_at": 1, "updated_at": 1,
                "refresh_token": "r"}]))]});
    let msg = latchkey_emulator::import(&db, &unknown.to_string())
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("refresh_token") && msg.contains("line"),
        "{msg}"
    );

    for (bad, at) in [
        (json!({"latchkey_export": 2}), "latchkey_export"),
        (json!({"users": []}), "latchkey_export"),
        (
            json!({"latchkey_export": 1, "users": [{"id": "user_d", "created_at": 1,
                "updated_at": 1, "password_digest": "plaintext"}]}),
            "users[0].password_digest",
        ),
        (
            json!({"latchkey_export": 1, "settings": {"password_min_length": 0}}),
            "settings",
        ),
        (
            json!({"latchkey_export": 1, "webhook_endpoints": [{"id": "ep_1",
                "url": "ftp://x", "secret": "whsec_x", "created_at": 1}]}),
            "webhook_endpoints[0].url",
        ),
    ] {
        let msg = latchkey_emulator::import(&db, &bad.to_string())
            .unwrap_err()
            .to_string();
        assert!(msg.contains(at), "{bad}: {msg}");
    }
    let unknown = json!({"latchkey_export": 1, "userz": []});
    let msg = latchkey_emulator::import(&db, &unknown.to_string())
        .unwrap_err()
        .to_string();
    assert!(msg.contains("userz") && msg.contains("line"), "{msg}");
}

#[tokio::test]
async fn imported_identifiers_and_usernames_are_stored_as_the_api_stores_them() {
    let db = Database::DataDir(latchkey_testkit::temp_path("transfer-normalized"));
    let ident = |id: &str, kind: &str, value: &str| {
        json!({"id": id, "kind": kind, "value": value, "verification_strategy": "admin",
               "verified": true, "created_at": 1, "updated_at": 1})
    };
    let user = |username: &str, idents: Value| {
        json!({"id": "user_n", "created_at": 1, "updated_at": 1, "username": username,
               "identifications": idents})
    };
    let good = json!({"latchkey_export": 1, "users": [user("Ann_Admin", json!([
        ident("idn_e", "email_address", " Ann@Example.COM "),
        ident("idn_p", "phone_number", "+1 (201) 555-0100")]))]});
    latchkey_emulator::import(&db, &good.to_string()).unwrap();
    let now = doc(&latchkey_emulator::export(&db).unwrap());
    let u = &now["users"][0];
    assert_eq!(u["username"], "ann_admin");
    let values: Vec<_> = u["identifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["value"].clone())
        .collect();
    assert_eq!(values, [json!("ann@example.com"), json!("+12015550100")]);

    let fresh = Database::DataDir(latchkey_testkit::temp_path("transfer-unnormal"));
    for (bad, at) in [
        (
            json!({"latchkey_export": 1, "users": [user("ann_admin", json!([
                ident("idn_p", "phone_number", "555-0100")]))]}),
            "users[0].identifications[0].value",
        ),
        (
            json!({"latchkey_export": 1, "users": [user("a", json!([]))]}),
            "users[0].username",
        ),
        (
            json!({"latchkey_export": 1, "webhook_endpoints": [{"id": "ep_1",
                "url": "http://", "secret": "whsec_x", "created_at": 1}]}),
            "webhook_endpoints[0].url",
        ),
    ] {
        let msg = latchkey_emulator::import(&fresh, &bad.to_string())
            .unwrap_err()
            .to_string();
        assert!(msg.contains(at), "{bad}: {msg}");
    }
}

#[test]
fn the_import_command_says_how_many_of_each_it_added() {
    let dir = latchkey_testkit::temp_path("transfer-cli");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("instance.json");
    let document = json!({"latchkey_export": 1,
        "users": [{"id": "user_a", "created_at": 1, "updated_at": 1,
            "identifications": [{"id": "idn_a", "kind": "email_address", "value": "a@example.com",
                "verification_strategy": "admin", "verified": true, "created_at": 1,
                "updated_at": 1}],
            "external_accounts": [{"id": "eac_a", "provider": "oauth_google",
                "provider_user_id": "sub-a", "identification_id": "idn_a",
                "email_address": "a@example.com", "created_at": 1, "updated_at": 1}]}],
        "redirect_urls": [{"id": "ru_a", "url": "myapp://callback", "created_at": 1,
            "updated_at": 1}]});
    std::fs::write(&file, document.to_string()).unwrap();
    let data_dir = dir.join("data");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_auth-emulator"))
        .arg("import")
        .arg("--data-dir")
        .arg(&data_dir)
        .arg(&file)
        .env_remove("LATCHKEY_DATABASE_URL")
        .env_remove("LATCHKEY_LOG")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "imported 1 users, 1 external accounts, 0 webhook endpoints and 1 redirect URLs\n"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn an_ephemeral_start_is_seeded_from_fixtures() {
    let source = Database::DataDir(latchkey_testkit::temp_path("transfer-fixtures"));
    let kit = latchkey_testkit::start_from(on(&source)).await;
    kit.set_settings(json!({"password_min_length": 10})).await;
    for (email, password) in USERS {
        kit.create_user(email, password).await;
    }
    kit.shutdown().await;
    let fixtures = latchkey_emulator::export(&source).unwrap();
    assert!(
        fixtures.contains("$argon2id$"),
        "the fixtures carry digests"
    );
    let shown = format!(
        "{:?}",
        Emulator::builder()
            .import(fixtures.clone())
            .database_url("postgres://u:hunter2@db/x")
    );
    assert!(
        !shown.contains("$argon2id$") && !shown.contains("hunter2"),
        "the builder's Debug shows neither fixtures nor the database password: {shown}"
    );
    let kit =
        latchkey_testkit::start_from(latchkey_testkit::builder().import(fixtures.clone())).await;
    users_sign_in(&kit).await;
    kit.shutdown().await;
    // A start whose fixtures cannot be applied fails, and says why.
    let broken = fixtures.replace("\"latchkey_export\": 1", "\"latchkey_export\": 9");
    let err = latchkey_testkit::builder()
        .import(broken)
        .start()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("latchkey_export"), "{err}");
}
