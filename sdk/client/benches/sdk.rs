//! Client SDK benchmarks against an in-process emulator. Prints one JSON line.
//!
//! `cargo bench -p latchkey --bench sdk`
//!
//! - `cached_session_token`: `session_token()` served from the cache (target p50 < 1 µs),
//!   timed in batches of 100 calls;
//! - `start_signed_in`: from `build()` to a signed-in state read from the store, no network
//!   (target p50 < 5 ms), with a memory store and with a file store;
//! - `token_refresh`: `session_token()` when the token has expired: one mint round trip;
//! - `concurrent_1000_at_expiry`: wall time for 1,000 concurrent callers sharing one refresh.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Instant;

use latchkey::{FileStore, Latchkey, MemoryStore, SessionStore, StoreKey};
use latchkey_emulator::{Clock, Emulator};
use serde_json::json;

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.total_cmp(b));
    let idx = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[idx]
}

fn builder(url: &str, clock: &Arc<Clock>) -> latchkey::Builder {
    let c = clock.clone();
    Latchkey::builder("dev.latchkey.bench")
        .frontend_api_url(url)
        .time_source(move || c.now_ms())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clock = Arc::new(Clock::system());
    let kit =
        latchkey_testkit::start_from(Emulator::builder().ephemeral().clock(clock.clone())).await;
    let url = kit.url().to_owned();
    kit.create_user("bench@example.com", "lk-Test-pass-4921")
        .await;

    // Sign in once; keep the store to start from.
    let store = Arc::new(MemoryStore::new());
    let lk = builder(&url, &clock).store(store.clone()).build().unwrap();
    lk.sign_in_with_password("bench@example.com", "lk-Test-pass-4921")
        .await
        .unwrap();
    lk.session_token().await.unwrap();

    // Cached session_token().
    let batch = 100;
    let mut cached = Vec::new();
    for _ in 0..1_000 {
        lk.session_token().await.unwrap();
    }
    for _ in 0..3_000 {
        let t = Instant::now();
        for _ in 0..batch {
            std::hint::black_box(lk.session_token().await.unwrap());
        }
        cached.push(t.elapsed().as_nanos() as f64 / batch as f64);
    }

    // Start from the store to signed in: memory store, then a file store.
    let snapshot: Vec<(StoreKey, String)> = StoreKey::ALL
        .iter()
        .filter_map(|k| store.load(*k).unwrap().map(|v| (*k, v)))
        .collect();
    let dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    let file = dir.join("session.json");
    let fs = FileStore::new(&file);
    for (k, v) in &snapshot {
        fs.save(*k, v).unwrap();
    }
    let mut start_mem = Vec::new();
    let mut start_file = Vec::new();
    for i in 0..400 {
        let t = Instant::now();
        let s = if i % 2 == 0 {
            builder(&url, &clock).store(store.clone()).build().unwrap()
        } else {
            builder(&url, &clock)
                .store(FileStore::new(&file))
                .build()
                .unwrap()
        };
        let state = s.ready().await.unwrap();
        let us = t.elapsed().as_nanos() as f64 / 1_000.0;
        assert!(state.is_signed_in());
        if i % 2 == 0 {
            start_mem.push(us);
        } else {
            start_file.push(us);
        }
        drop(s);
    }

    // A refresh: the cached token has expired on the emulator's clock.
    let mut refresh = Vec::new();
    for _ in 0..200 {
        clock.advance_ms(61_000);
        let t = Instant::now();
        lk.session_token().await.unwrap();
        refresh.push(t.elapsed().as_nanos() as f64 / 1_000_000.0);
    }

    // 1,000 concurrent callers at expiry.
    let mut concurrent = Vec::new();
    for _ in 0..10 {
        clock.advance_ms(61_000);
        let t = Instant::now();
        let tasks: Vec<_> = (0..1000)
            .map(|_| {
                let lk = lk.clone();
                tokio::spawn(async move { lk.session_token().await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        concurrent.push(t.elapsed().as_nanos() as f64 / 1_000_000.0);
    }

    let line = json!({
        "bench": "latchkey-sdk",
        "cached_session_token_ns": {"p50": percentile(&mut cached, 0.5), "p99": percentile(&mut cached, 0.99), "target_p50": 1000},
        "start_signed_in_memory_store_us": {"p50": percentile(&mut start_mem, 0.5), "p99": percentile(&mut start_mem, 0.99), "target_p50": 5000},
        "start_signed_in_file_store_us": {"p50": percentile(&mut start_file, 0.5), "p99": percentile(&mut start_file, 0.99), "target_p50": 5000},
        "token_refresh_ms": {"p50": percentile(&mut refresh, 0.5), "p99": percentile(&mut refresh, 0.99)},
        "concurrent_1000_at_expiry_ms": {"p50": percentile(&mut concurrent, 0.5), "max": percentile(&mut concurrent, 1.0)},
    });
    println!("{line}");
    drop(lk);
    kit.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
