//! Tests of the PostgreSQL store against a real server: `LATCHKEY_TEST_DATABASE_URL` names a
//! database whose role may create databases (scripts/test starts a throwaway cluster); each
//! test works in a database of its own. Without it they pass vacuously with a note — the
//! SQLite suite still runs — and scripts/test always sets it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::store::NewJob;

/// A new, empty database on the test server, or `None` when none is configured.
fn fresh() -> Option<String> {
    let Ok(base) = std::env::var("LATCHKEY_TEST_DATABASE_URL") else {
        eprintln!("LATCHKEY_TEST_DATABASE_URL is not set: PostgreSQL store tests skipped");
        return None;
    };
    Some(create_database(&base).unwrap())
}

/// A connection of the test's own, outside any store (its I/O runs on a thread of its own).
fn raw(url: &str) -> Conn {
    let (tx, rx) = std::sync::mpsc::channel();
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await.unwrap();
            tx.send(client).unwrap();
            let _ = connection.await;
        });
    });
    Conn {
        client: rx.recv().unwrap(),
        statements: RefCell::new(HashMap::new()),
    }
}

#[test]
fn migration_1_creates_every_table_and_bumps_the_version() {
    let Some(url) = fresh() else { return };
    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    store.read(|tx| tx.user("user_none")).unwrap();
    store
        .write(&AtomicBool::new(false), |tx| {
            tx.set_instance_value("k", "v")
        })
        .unwrap();
    // A second open (another process starting later) applies nothing again.
    let again = PgStore::open(&url).unwrap();
    assert_eq!(again.schema_version().unwrap(), latest_version());
    assert_eq!(
        again.read(|tx| tx.instance_value("k")).unwrap().as_deref(),
        Some("v")
    );
}

#[test]
fn migration_4_adds_protection_tables_that_forget_a_deleted_user() {
    use crate::store::records::{LockoutRecord, RateCounterRecord, TestingTokenRecord};
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 1).unwrap();
    conn.batch("INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1)")
        .unwrap();
    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let lockout = LockoutRecord {
        user_id: "user_1".into(),
        failed_attempts: 3,
        locked_until: Some(99),
        updated_at: 5,
    };
    let counter = RateCounterRecord {
        key: "k".into(),
        window_start: 10,
        window_end: 20,
        count: 2,
    };
    store
        .write(&AtomicBool::new(false), |tx| {
            tx.save_lockout(&lockout)?;
            tx.save_rate_counter(&counter)?;
            tx.save_testing_token(&TestingTokenRecord {
                token_hash: "h".into(),
                expires_at: 30,
                created_at: 1,
            })
        })
        .unwrap();
    assert_eq!(
        store.read(|tx| tx.lockout("user_1")).unwrap(),
        Some(lockout)
    );
    assert_eq!(
        store.read(|tx| tx.rate_counter("k")).unwrap(),
        Some(counter)
    );
    assert!(store.read(|tx| tx.testing_token("h")).unwrap().is_some());
    let removed = store
        .write(&AtomicBool::new(false), |tx| {
            Ok::<_, StoreError>((
                tx.delete_rate_counters_ended_before(21)?,
                tx.delete_testing_tokens_expired_before(30)?,
                tx.delete_user("user_1")?,
            ))
        })
        .unwrap();
    assert_eq!(
        removed,
        (1, 0, true),
        "a token expiring at the cutoff stays"
    );
    assert_eq!(store.read(|tx| tx.lockout("user_1")).unwrap(), None);
}

#[test]
fn migration_2_keeps_sessions_and_adds_second_factors_that_go_with_their_user() {
    use crate::store::records::{MfaRecord, SecondFactorPhone};
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 1).unwrap();
    conn.batch(
        "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);
         INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
            last_active_at, expire_at, abandon_at, created_at, updated_at)
            VALUES ('sess_1', 'client_1', 'user_1', 'active', 5, 5, 9, 9, 5, 5);",
    )
    .unwrap();
    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let s = store.read(|tx| tx.session("sess_1")).unwrap().unwrap();
    assert_eq!((s.first_factor_at, s.second_factor_at), (5, None));
    let flag = AtomicBool::new(false);
    store
        .write(&flag, |tx| {
            let mut s = tx.session("sess_1")?.unwrap();
            s.second_factor_at = Some(7);
            s.first_factor_at = 6;
            tx.save_session(&s)?;
            tx.save_mfa(&MfaRecord {
                user_id: "user_1".into(),
                totp: None,
                backup_codes: None,
                phones: vec![SecondFactorPhone {
                    identification_id: "idn_1".into(),
                    default: true,
                }],
                enabled_at: Some(7),
                disabled_at: None,
                updated_at: 7,
            })
        })
        .unwrap();
    let s = store.read(|tx| tx.session("sess_1")).unwrap().unwrap();
    assert_eq!((s.first_factor_at, s.second_factor_at), (6, Some(7)));
    let u = store
        .read(|tx| tx.user_with_idents("user_1"))
        .unwrap()
        .unwrap();
    assert_eq!(u.mfa.unwrap().phones[0].identification_id, "idn_1");
    store.write(&flag, |tx| tx.delete_user("user_1")).unwrap();
    assert!(
        store.read(|tx| tx.mfa("user_1")).unwrap().is_none(),
        "gone with the user"
    );
}

#[test]
fn migration_5_adds_session_reverifications_that_go_with_their_session() {
    use latchkey_protocol::SessionVerificationStatus;
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 2).unwrap();
    conn.batch(
        "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);
         INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
            last_active_at, expire_at, abandon_at, created_at, updated_at)
            VALUES ('sess_1', 'client_1', 'user_1', 'active', 5, 5, 9, 9, 5, 5);",
    )
    .unwrap();
    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let flag = AtomicBool::new(false);
    assert!(store
        .read(|tx| tx.session_verification("sess_1"))
        .unwrap()
        .is_none());
    let mut v = crate::store::tests::a_reverification("sess_1");
    store
        .write(&flag, |tx| tx.save_session_verification(&v))
        .unwrap();
    let read = store
        .read(|tx| tx.session_verification("sess_1"))
        .unwrap()
        .unwrap();
    assert_eq!(
        (read.status, read.updated_at),
        (SessionVerificationStatus::NeedsSecondFactor, 8)
    );
    v.status = SessionVerificationStatus::Complete;
    store
        .write(&flag, |tx| tx.save_session_verification(&v))
        .unwrap();
    let read = store
        .read(|tx| tx.session_verification("sess_1"))
        .unwrap()
        .unwrap();
    assert_eq!(read.status, SessionVerificationStatus::Complete, "replaced");
    assert!(store
        .write(&flag, |tx| tx.save_session_verification(
            &crate::store::tests::a_reverification("sess_none")
        ))
        .is_err());
    store.write(&flag, |tx| tx.reset_data()).unwrap();
    assert!(
        store
            .read(|tx| tx.session_verification("sess_1"))
            .unwrap()
            .is_none(),
        "gone with the session"
    );
}

#[test]
fn a_database_from_a_newer_version_is_refused() {
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, latest_version()).unwrap();
    conn.batch("UPDATE latchkey_schema SET version = version + 1")
        .unwrap();
    let err = PgStore::open(&url).unwrap_err();
    assert!(matches!(err, StoreError::TooNew { .. }), "{err}");
    assert!(err.to_string().contains("newer auth-emulator"), "{err}");
}

#[test]
fn processes_migrating_together_apply_each_migration_once() {
    let Some(url) = fresh() else { return };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::open(&url).map(|s| s.schema_version()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap().unwrap(), latest_version());
    }
}

#[test]
fn a_failed_write_rolls_back_and_a_panicking_one_too() {
    let Some(url) = fresh() else { return };
    let store = Arc::new(PgStore::open(&url).unwrap());
    let flag = AtomicBool::new(false);
    let r: Result<(), StoreError> = store.write(&flag, |tx| {
        tx.set_instance_value("k", "v")?;
        Err(StoreError::Corrupt("boom".into()))
    });
    assert!(r.is_err());
    assert_eq!(store.read(|tx| tx.instance_value("k")).unwrap(), None);
    let s = store.clone();
    let panicked = std::thread::spawn(move || {
        let flag = AtomicBool::new(false);
        let _ = s.write(&flag, |tx| -> Result<(), StoreError> {
            tx.set_instance_value("k", "half")?;
            panic!("in the middle of a write");
        });
    })
    .join();
    assert!(panicked.is_err());
    assert_eq!(store.read(|tx| tx.instance_value("k")).unwrap(), None);
    // The connection the panic left is usable again.
    for _ in 0..POOL + 1 {
        store
            .write(&flag, |tx| tx.set_instance_value("k", "after"))
            .unwrap();
    }
    assert_eq!(
        store.read(|tx| tx.instance_value("k")).unwrap().as_deref(),
        Some("after")
    );
}

#[test]
fn workers_of_two_stores_claim_each_job_once() {
    let Some(url) = fresh() else { return };
    let a = Arc::new(PgStore::open(&url).unwrap());
    let b = Arc::new(PgStore::open(&url).unwrap());
    let flag = AtomicBool::new(false);
    a.write(&flag, |tx| {
        for i in 0..200 {
            tx.enqueue_job(
                &NewJob {
                    kind: "test".into(),
                    priority: 1,
                    payload: format!("{i}"),
                    max_attempts: 3,
                    run_at: 0,
                    request_id: None,
                },
                0,
            )?;
        }
        Ok::<_, StoreError>(())
    })
    .unwrap();
    assert!(flag.load(Ordering::Relaxed), "enqueueing is reported");
    let claim = |s: Arc<PgStore>| {
        std::thread::spawn(move || {
            let mut mine = Vec::new();
            loop {
                let flag = AtomicBool::new(false);
                let jobs = s
                    .write(&flag, |tx| tx.claim_jobs(10, 2, 7, 60_000))
                    .unwrap();
                if jobs.is_empty() {
                    return mine;
                }
                for j in jobs {
                    assert!(s
                        .write(&flag, |tx| tx.complete_job(j.id, j.attempts, 11))
                        .unwrap());
                    mine.push(j.id);
                }
            }
        })
    };
    let (ta, tb) = (claim(a.clone()), claim(b.clone()));
    let mut all = ta.join().unwrap();
    all.extend(tb.join().unwrap());
    all.sort_unstable();
    let before = all.len();
    all.dedup();
    assert_eq!(before, 200, "every job was claimed exactly once");
    assert_eq!(all.len(), 200);
    assert_eq!(a.read(|tx| tx.busy_jobs(100)).unwrap(), 0);
}

#[test]
fn an_expired_lease_is_claimed_again_and_the_old_claim_cannot_complete() {
    let Some(url) = fresh() else { return };
    let store = PgStore::open(&url).unwrap();
    let flag = AtomicBool::new(false);
    store
        .write(&flag, |tx| {
            tx.enqueue_job(
                &NewJob {
                    kind: "test".into(),
                    priority: 0,
                    payload: "{}".into(),
                    max_attempts: 3,
                    run_at: 0,
                    request_id: None,
                },
                0,
            )
        })
        .unwrap();
    let first = store
        .write(&flag, |tx| tx.claim_jobs(0, 2, 10, 1_000))
        .unwrap();
    assert_eq!(first.len(), 1);
    let none = store
        .write(&flag, |tx| tx.claim_jobs(500, 2, 10, 1_000))
        .unwrap();
    assert!(none.is_empty(), "a live lease is not taken");
    // Start-up does not take another process's claims.
    assert_eq!(
        store
            .write(&flag, |tx| tx.requeue_running_jobs(500))
            .unwrap(),
        0
    );
    let second = store
        .write(&flag, |tx| tx.claim_jobs(1_000, 2, 10, 1_000))
        .unwrap();
    assert_eq!(second.len(), 1, "an expired lease is claimed again");
    assert_eq!(second[0].attempts, 2);
    let (id, stale) = (first[0].id, first[0].attempts);
    assert!(!store
        .write(&flag, |tx| tx.complete_job(id, stale, 1_001))
        .unwrap());
    assert!(store
        .write(&flag, |tx| tx.complete_job(id, 2, 1_001))
        .unwrap());
}

#[test]
fn a_notice_from_one_store_wakes_the_other_and_the_clock_follows() {
    let Some(url) = fresh() else { return };
    let a = PgStore::open(&url).unwrap();
    let b = PgStore::open(&url).unwrap();
    let clock_b = Arc::new(Clock::pinned(1_000));
    b.attach_clock(clock_b.clone()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let woke = b.signals.jobs_ready.notified();
        tokio::pin!(woke);
        woke.as_mut().enable();
        let flag = AtomicBool::new(false);
        a.write(&flag, |tx| {
            tx.enqueue_job(
                &NewJob {
                    kind: "test".into(),
                    priority: 0,
                    payload: "{}".into(),
                    max_attempts: 1,
                    run_at: 0,
                    request_id: None,
                },
                0,
            )
        })
        .unwrap();
        tokio::time::timeout(Duration::from_secs(10), woke)
            .await
            .expect("B's workers are woken by A's commit");
        let woke = b.signals.committed.notified();
        tokio::pin!(woke);
        woke.as_mut().enable();
        assert_eq!(a.advance_clock(61_000).unwrap(), 61_000);
        tokio::time::timeout(Duration::from_secs(10), woke)
            .await
            .expect("B hears the clock move");
        assert_eq!(clock_b.now_ms(), 62_000);
    });
    // A process started later starts from the shared offset.
    let late = Arc::new(Clock::pinned(1_000));
    PgStore::open(&url)
        .unwrap()
        .attach_clock(late.clone())
        .unwrap();
    assert_eq!(late.offset_ms(), 61_000);
}

#[test]
fn a_stored_status_or_strategy_that_is_no_name_is_corrupt_not_a_panic() {
    let Some(url) = fresh() else { return };
    let store = PgStore::open(&url).unwrap();
    store
        .execute_batch(
            "INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
                last_active_at, expire_at, abandon_at, created_at, updated_at)
                VALUES ('sess_1', 'c', 'u', 'sleeping', 1, 1, 2, 3, 1, 1);
             INSERT INTO clients (id, token, last_authentication_strategy, created_at, updated_at)
                VALUES ('client_1', 'tok', 'carrier_pigeon', 1, 1);",
        )
        .unwrap();
    assert!(matches!(
        store.read(|tx| tx.session("sess_1")),
        Err(StoreError::Corrupt(_))
    ));
    assert!(matches!(
        store.read(|tx| tx.client("client_1")),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn users_order_by_text_bytewise_whatever_the_locale() {
    use crate::store::records::UserRecord;
    use crate::store::{UserOrder, UserOrderField, UserQuery};
    let Some(base) = fresh() else { return };
    // A database whose locale sorts "ann" < "bob" < "Zed" (ICU, as most servers' default).
    let url = create_database_with(
        &base,
        "LOCALE_PROVIDER icu ICU_LOCALE 'en-US' TEMPLATE template0",
    )
    .unwrap();
    let store = PgStore::open(&url).unwrap();
    let flag = AtomicBool::new(false);
    store
        .write(&flag, |tx| {
            for (id, name) in [("user_1", "bob"), ("user_2", "Zed"), ("user_3", "ann")] {
                let mut u = UserRecord::new(id.into(), 1);
                u.username = Some(name.into());
                tx.save_user(&u)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let q = UserQuery {
        order_by: Some(UserOrder {
            field: UserOrderField::Username,
            descending: false,
        }),
        limit: 10,
        ..UserQuery::default()
    };
    let names: Vec<_> = store
        .read(|tx| tx.list_users(&q))
        .unwrap()
        .into_iter()
        .map(|u| u.user.username.unwrap())
        .collect();
    assert_eq!(names, ["Zed", "ann", "bob"], "as SQLite orders them");
}

#[test]
fn connections_the_server_drops_are_replaced_and_the_listener_comes_back() {
    let Some(url) = fresh() else { return };
    let a = PgStore::open(&url).unwrap();
    let b = PgStore::open(&url).unwrap();
    let flag = AtomicBool::new(false);
    // Every connection of the pool is opened.
    std::thread::scope(|s| {
        for _ in 0..POOL * 2 {
            s.spawn(|| a.read(|tx| tx.instance_value("k")).unwrap());
        }
    });
    // The server ends every other session on the database (a restart, an administrator).
    let admin = raw(&url);
    let ended: i64 = block_on(admin.client.query_one(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
        &[],
    ))
    .unwrap()
    .get(0);
    assert!(ended >= 3, "the stores' sessions were ended: {ended}");
    // No request sees it: each transaction begins on a live connection.
    for i in 0..POOL * 2 {
        a.write(&flag, |tx| tx.set_instance_value("k", &i.to_string()))
            .unwrap();
    }
    assert!(b.read(|tx| tx.instance_value("k")).unwrap().is_some());
    // B's listener reconnects by itself and hears A's next enqueue.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for _ in 0..100 {
            let woke = b.signals.jobs_ready.notified();
            tokio::pin!(woke);
            woke.as_mut().enable();
            a.write(&flag, |tx| {
                tx.enqueue_job(
                    &NewJob {
                        kind: "test".into(),
                        priority: 0,
                        payload: "{}".into(),
                        max_attempts: 1,
                        run_at: 0,
                        request_id: None,
                    },
                    0,
                )
            })
            .unwrap();
            if tokio::time::timeout(Duration::from_millis(100), woke)
                .await
                .is_ok()
            {
                return;
            }
        }
        panic!("B's listener never came back");
    });
}

#[test]
fn migration_3_adds_account_tables_that_go_with_their_user_identification_and_session() {
    use crate::store::records::{ImageRecord, PendingCode, SessionActivity};
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 1).unwrap();
    conn.batch(
        "INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1);
         INSERT INTO identifications VALUES
             ('idn_1', 'user_1', 'email_address', 'a@x.com', 'email_code', FALSE, 1, 1);
         INSERT INTO sessions (id, client_id, user_id, status, first_factor_at,
             last_active_at, expire_at, abandon_at, created_at, updated_at)
             VALUES ('sess_1', 'client_1', 'user_1', 'active', 1, 1, 2, 3, 1, 1);",
    )
    .unwrap();
    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    let w = AtomicBool::new(false);
    let code = PendingCode {
        strategy: latchkey_protocol::Strategy::EmailCode.into(),
        code: crate::secret::Secret::new("123456"),
        attempts: 1,
        expire_at: 9,
        status: latchkey_protocol::VerificationStatus::Unverified,
        identification_id: Some("idn_1".into()),
    };
    store
        .write(&w, |tx| {
            tx.save_ident_code("user_1", &code)?;
            tx.save_image(&ImageRecord {
                id: "img_1".into(),
                user_id: "user_1".into(),
                name: "a.png".into(),
                content_type: "image/png".into(),
                data: vec![0x89, b'P', b'N', b'G', 0, 255],
                created_at: 1,
            })?;
            tx.save_session_activity(&SessionActivity {
                session_id: "sess_1".into(),
                ip_address: Some("127.0.0.1".into()),
                user_agent: None,
                updated_at: 1,
            })
        })
        .unwrap();
    let u = store
        .read(|tx| tx.user_with_idents("user_1"))
        .unwrap()
        .unwrap();
    assert_eq!(u.image_id.as_deref(), Some("img_1"));
    assert_eq!(u.pending_codes.len(), 1);
    let listed = store
        .read(|tx| {
            tx.list_users(&crate::store::UserQuery {
                limit: 10,
                ..Default::default()
            })
        })
        .unwrap();
    assert_eq!(listed[0].image_id.as_deref(), Some("img_1"));
    let img = store.read(|tx| tx.image("img_1")).unwrap().unwrap();
    assert_eq!(img.data, vec![0x89, b'P', b'N', b'G', 0, 255]);
    let a = store
        .read(|tx| tx.session_activity("sess_1"))
        .unwrap()
        .unwrap();
    assert_eq!(a.ip_address.as_deref(), Some("127.0.0.1"));
    store.write(&w, |tx| tx.delete_ident("idn_1")).unwrap();
    assert!(store.read(|tx| tx.ident_code("idn_1")).unwrap().is_none());
    store.write(&w, |tx| tx.delete_user("user_1")).unwrap();
    assert!(store.read(|tx| tx.image("img_1")).unwrap().is_none());
    store.write(&w, |tx| tx.reset_data()).unwrap();
    assert!(store
        .read(|tx| tx.session_activity("sess_1"))
        .unwrap()
        .is_none());
}

#[test]
fn migration_6_adds_the_link_tables_to_a_version_5_database() {
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 5).unwrap();
    conn.batch("INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1)")
        .unwrap();
    let store = crate::store::Store::open_postgres(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    crate::store::links::tests::links_round_trip(&store);
}

#[test]
fn migration_7_adds_external_accounts_to_a_version_6_database() {
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 6).unwrap();
    conn.batch("INSERT INTO users (id, created_at, updated_at) VALUES ('user_1', 1, 1)")
        .unwrap();
    let store = crate::store::Store::open_postgres(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    crate::store::external_accounts::tests::external_accounts_round_trip(&store);
}

#[test]
fn migration_9_adds_captcha_challenges_to_the_clients_of_a_version_8_database() {
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 8).unwrap();
    conn.batch(
        "INSERT INTO clients (id, token, created_at, updated_at)
         VALUES ('client_old', 'tok_old', 1, 1)",
    )
    .unwrap();
    let store = crate::store::Store::open_postgres(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    crate::store::clients::tests::captcha_challenge_round_trip(&store);
}

#[test]
fn migration_8_adds_handshake_nonces_to_a_version_7_database() {
    let Some(url) = fresh() else { return };
    let conn = raw(&url);
    migrate_to(&conn, 7).unwrap();
    let store = crate::store::Store::open_postgres(&url).unwrap();
    assert_eq!(store.schema_version().unwrap(), latest_version());
    crate::store::clients::tests::handshake_nonces_round_trip(&store);
}
