//! Session-token verification speed with a cached key: per-call latency percentiles on one
//! thread and verifications per second (one thread, and one per core). Tokens and keys are
//! real: an in-process emulator signs the user in, mints the token and serves the JWKS.
//!
//! `cargo bench -p latchkey-backend --bench verify` prints one JSON line.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use latchkey_backend::keys::KeyFuture;
use latchkey_backend::{HttpKeySource, JwksSource, KeySource, Verifier};
use serde_json::json;

const SAMPLES: usize = 20_000;
const THROUGHPUT_FOR: Duration = Duration::from_secs(2);

struct Counting(HttpKeySource, Arc<AtomicUsize>);

impl KeySource for Counting {
    fn fetch(&self) -> KeyFuture<'_> {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.fetch()
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn latencies(rt: &tokio::runtime::Runtime, v: &Verifier, token: &str) -> Vec<Duration> {
    rt.block_on(async {
        let mut out = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let t = Instant::now();
            let claims = v.verify(token).await;
            out.push(t.elapsed());
            assert!(claims.is_ok());
        }
        out.sort();
        out
    })
}

/// Verifications per second on `threads` threads, each with its own current-thread runtime.
fn throughput(v: &Verifier, token: &str, threads: usize) -> f64 {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let (v, token) = (v.clone(), token.to_owned());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                rt.block_on(async {
                    let start = Instant::now();
                    let mut n = 0u64;
                    while start.elapsed() < THROUGHPUT_FOR {
                        for _ in 0..100 {
                            assert!(v.verify(&token).await.is_ok());
                        }
                        n += 100;
                    }
                    n as f64 / start.elapsed().as_secs_f64()
                })
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (kit, token) = rt.block_on(async {
        let kit =
            latchkey_testkit::start_from(latchkey_emulator::Emulator::builder().ephemeral()).await;
        kit.emu.public_key_pem().unwrap(); // wait for the signing key
        kit.create_user("bench@example.com", "lk-Test-pass-4921")
            .await;
        let signed_in = kit.sign_in("bench@example.com", "lk-Test-pass-4921").await;
        (kit, signed_in.jwt)
    });
    let emu = &kit.emu;
    let emu_clock = emu.clock().clone();
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = Counting(
        HttpKeySource::new(JwksSource::Frontend {
            url: emu.url().to_owned(),
        })
        .unwrap(),
        fetches.clone(),
    );
    let jwks = Verifier::builder()
        .key_source(source)
        .issuer(emu.url())
        .clock(move || emu_clock.now_ms())
        .build()
        .unwrap();
    let emu_clock = emu.clock().clone();
    let pem = Verifier::builder()
        .pem_public_key(emu.public_key_pem().unwrap())
        .clock(move || emu_clock.now_ms())
        .build()
        .unwrap();
    // Warm the cache (the one fetch), then measure.
    rt.block_on(jwks.verify(&token)).unwrap();

    let jwks_lat = latencies(&rt, &jwks, &token);
    let pem_lat = latencies(&rt, &pem, &token);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let one = throughput(&jwks, &token, 1);
    let all = throughput(&jwks, &token, threads);
    let mean = jwks_lat.iter().sum::<Duration>().as_secs_f64() * 1e6 / jwks_lat.len() as f64;
    let line = json!({
        "bench": "verify_session_token",
        "key": "jwks_cached",
        "alg": "RS256",
        "rsa_bits": 2048,
        "samples": SAMPLES,
        "p50_us": (percentile(&jwks_lat, 0.50) * 10.0).round() / 10.0,
        "p90_us": (percentile(&jwks_lat, 0.90) * 10.0).round() / 10.0,
        "p99_us": (percentile(&jwks_lat, 0.99) * 10.0).round() / 10.0,
        "mean_us": (mean * 10.0).round() / 10.0,
        "pem_p50_us": (percentile(&pem_lat, 0.50) * 10.0).round() / 10.0,
        "verifications_per_sec_1_thread": one.round(),
        "threads": threads,
        "verifications_per_sec_all_threads": all.round(),
        "key_fetches": fetches.load(Ordering::SeqCst),
        "target_p50_us": 50,
    });
    println!("{line}");
    rt.block_on(kit.shutdown());
}
