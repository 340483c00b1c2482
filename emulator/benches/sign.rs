//! RS256 signature time: aws-lc-rs (what the emulator signs session tokens with) against ring,
//! on the same RSA-2048 key and a session token's signing input, one thread.
//!
//! Run with `cargo bench -p latchkey-emulator --bench sign`. Prints one JSON object to stdout.

use std::time::Instant;

use aws_lc_rs::encoding::AsDer;
use serde_json::json;

const WARM_UP: usize = 200;
const RUNS: usize = 3000;

/// Median and mean of `RUNS` timed calls of `f`, in microseconds.
fn time(mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..WARM_UP {
        f();
    }
    let mut us: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    us.sort_by(f64::total_cmp);
    let mean = us.iter().sum::<f64>() / us.len() as f64;
    (us[us.len() / 2], mean)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let aws = aws_lc_rs::signature::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .map_err(|e| e.to_string())?;
    let pkcs8 = aws.as_der().map_err(|e| e.to_string())?;
    let ring =
        ring::signature::RsaKeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|e| e.to_string())?;
    // The signing input of a default session token: header.payload, base64url.
    let message = "eyJhbGciOiJSUzI1NiIsImtpZCI6Imluc18yeFRVVjF4VlB4M3FkbEhtMWZ3bVlKT2F3SzAiLCJ0eXAiOiJKV1QifQ.eyJpc3MiOiJodHRwOi8vMTI3LjAuMC4xOjQxMDAiLCJzdWIiOiJ1c2VyXzJ4VFVWMXhWUHgzcWRsSG0xZndtWUpPYXdLMCIsInNpZCI6InNlc3NfMnhUVVYxeFZQeDNxZGxIbTFmd21ZSk9hd0swIiwiaWF0IjoxNzk2MTY2OTc2LCJuYmYiOjE3OTYxNjY5NjYsImV4cCI6MTc5NjE2NzAzNiwidiI6MiwiZnZhIjpbMCwtMV19".as_bytes();

    let failed = std::cell::Cell::new(false);
    let aws_rng = aws_lc_rs::rand::SystemRandom::new();
    let mut aws_sig = vec![0u8; aws.public_modulus_len()];
    let (aws_p50, aws_mean) = time(|| {
        aws.sign(
            &aws_lc_rs::signature::RSA_PKCS1_SHA256,
            &aws_rng,
            message,
            &mut aws_sig,
        )
        .unwrap_or_else(|_| failed.set(true));
    });
    let ring_rng = ring::rand::SystemRandom::new();
    let mut ring_sig = vec![0u8; ring.public().modulus_len()];
    let (ring_p50, ring_mean) = time(|| {
        ring.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring_rng,
            message,
            &mut ring_sig,
        )
        .unwrap_or_else(|_| failed.set(true));
    });
    if failed.get() {
        return Err("a signature failed".into());
    }
    // PKCS#1 v1.5 is deterministic: both must produce the very same signature.
    if aws_sig != ring_sig {
        return Err("aws-lc-rs and ring disagree on the signature".into());
    }
    let ifma = std::fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.contains("avx512ifma"))
        .unwrap_or(false);
    let out = json!({
        "what": "RS256 (RSA-2048, PKCS#1 v1.5, SHA-256) signature of a session token's signing input, one thread",
        "runs": RUNS,
        "cpu_has_avx512ifma": ifma,
        "aws_lc_rs": {"p50_us": round(aws_p50), "mean_us": round(aws_mean), "per_second": (1e6 / aws_mean).round()},
        "ring": {"p50_us": round(ring_p50), "mean_us": round(ring_mean), "per_second": (1e6 / ring_mean).round()},
        "ring_over_aws_lc_rs": round(ring_p50 / aws_p50),
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
