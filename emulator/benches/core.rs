//! Core benchmark for the `auth-emulator` release binary: start-up time, memory, password sign-in
//! latency and session-token minting (latency and concurrent throughput), all over loopback HTTP.
//!
//! Run with `cargo bench -p latchkey-emulator --bench core`. Prints one JSON object to stdout;
//! progress goes to stderr. `AUTH_EMULATOR_BIN=path` measures another build instead.

use std::error::Error;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

type BoxError = Box<dyn Error + Send + Sync>;
type Res<T> = Result<T, BoxError>;

const READY_RUNS: usize = 10;
const USERS: usize = 50;
const PASSWORD: &str = "lk-Test-pass-4921";
const SIGN_INS: usize = 500;
const SEQUENTIAL_MINTS: usize = 2000;
const CONCURRENT_TASKS: usize = 16;
const CONCURRENT_FOR: Duration = Duration::from_secs(3);
const WARM_UP: usize = 20;

fn err(msg: impl Into<String>) -> BoxError {
    msg.into().into()
}

/// A running `auth-emulator` process.
struct Spawned {
    child: Child,
    url: String,
    secret_key: String,
    /// Kept open so the process never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl Spawned {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM (graceful shutdown, so SQLite closes cleanly), then SIGKILL after 5 s.
    fn stop(mut self) -> Res<()> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        eprintln!("bench: emulator {} ignored SIGTERM; killing it", self.pid());
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Spawned {
    /// Never leave an emulator behind when the benchmark bails out early.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn binary() -> Res<PathBuf> {
    // Another build to measure (e.g. an older commit's, to compare two in one sitting).
    if let Some(p) = std::env::var_os("AUTH_EMULATOR_BIN") {
        return Ok(PathBuf::from(p));
    }
    // Cargo builds the package's binaries for benchmarks and tells us where they are.
    if let Some(p) = option_env!("CARGO_BIN_EXE_auth-emulator") {
        let p = PathBuf::from(p);
        if p.exists() {
            return Ok(p);
        }
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/auth-emulator");
    if !p.exists() {
        eprintln!("bench: building the auth-emulator release binary");
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "build",
                "--release",
                "-p",
                "latchkey-emulator",
                "--bin",
                "auth-emulator",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()?;
        if !status.success() || !p.exists() {
            return Err(err("cannot build the auth-emulator binary"));
        }
    }
    Ok(p)
}

/// Spawns the emulator and returns it with the time from spawn to the first 200 on `/v1/health`.
async fn spawn_ready(
    http: &reqwest::Client,
    bin: &Path,
    extra: &[&str],
) -> Res<(Spawned, Duration)> {
    let t0 = Instant::now();
    let mut child = Command::new(bin)
        .args(["start", "--port", "0", "--json"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| err("no stdout pipe"))?;
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<(String, _)> {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        Ok((line, reader))
    })
    .await?;
    let (line, reader) = match read {
        Ok(v) => v,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(e.into());
        }
    };
    let info: Value = match serde_json::from_str(line.trim()) {
        Ok(v) => v,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err(format!(
                "emulator printed {line:?} instead of its JSON line: {e}"
            )));
        }
    };
    let spawned = Spawned {
        child,
        url: info["frontend_api_url"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        secret_key: info["secret_key"].as_str().unwrap_or_default().to_owned(),
        _stdout: reader,
    };
    let health = format!("{}/v1/health", spawned.url);
    loop {
        if let Ok(r) = http.get(&health).send().await {
            if r.status() == reqwest::StatusCode::OK {
                break;
            }
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = spawned.stop();
            return Err(err("emulator not healthy after 20 s"));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok((spawned, t0.elapsed()))
}

fn rss_kb(pid: u32) -> Res<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| err("no VmRSS in /proc/<pid>/status"))
}

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    let mid = if n % 2 == 1 {
        v[n / 2].as_secs_f64()
    } else {
        (v[n / 2 - 1].as_secs_f64() + v[n / 2].as_secs_f64()) / 2.0
    };
    round2(mid * 1e3)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Nearest-rank percentile, in microseconds.
fn percentile_us(sorted: &[Duration], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let i = rank.clamp(1, sorted.len()) - 1;
    sorted[i].as_micros() as u64
}

fn email(i: usize) -> String {
    format!("u{}@example.com", i % USERS + 1)
}

async fn create_user(http: &reqwest::Client, emu: &Spawned, i: usize) -> Res<()> {
    let resp = http
        .post(format!("{}/v1/users", emu.url))
        .bearer_auth(&emu.secret_key)
        .json(&json!({"email_address": [email(i)], "password": PASSWORD}))
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(err(format!("POST /v1/users -> {status}: {body}")));
    }
    Ok(())
}

fn client_token(resp: &reqwest::Response) -> Option<String> {
    resp.headers()
        .get(reqwest::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// A password sign-in on a fresh client. Returns (wall time, client token, session id).
async fn sign_in(
    http: &reqwest::Client,
    url: &str,
    email: &str,
) -> Res<(Duration, String, String)> {
    let body = serde_urlencoded::to_string([("identifier", email), ("password", PASSWORD)])?;
    let t = Instant::now();
    let resp = http
        .post(format!("{url}/v1/client/sign_ins"))
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body)
        .send()
        .await?;
    let status = resp.status();
    let token = client_token(&resp);
    let bytes = resp.bytes().await?;
    let elapsed = t.elapsed();
    if !status.is_success() {
        return Err(err(format!(
            "POST /v1/client/sign_ins -> {status}: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    let v: Value = serde_json::from_slice(&bytes)?;
    if v["response"]["status"] != "complete" {
        return Err(err(format!("sign-in not complete: {v}")));
    }
    let sid = v["response"]["created_session_id"]
        .as_str()
        .ok_or_else(|| err(format!("sign-in without created_session_id: {v}")))?
        .to_owned();
    let token = token.ok_or_else(|| err("sign-in response without an Authorization header"))?;
    Ok((elapsed, token, sid))
}

/// One `POST /v1/client/sessions/{sid}/tokens`; updates the client token if it rotated.
async fn mint(http: &reqwest::Client, url: &str, token: &mut String, sid: &str) -> Res<Duration> {
    let t = Instant::now();
    let resp = http
        .post(format!("{url}/v1/client/sessions/{sid}/tokens"))
        .header(reqwest::header::AUTHORIZATION, token.as_str())
        .send()
        .await?;
    let status = resp.status();
    let new_token = client_token(&resp);
    let bytes = resp.bytes().await?;
    let elapsed = t.elapsed();
    if !status.is_success() {
        return Err(err(format!(
            "POST /v1/client/sessions/{sid}/tokens -> {status}: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    if let Some(t) = new_token {
        *token = t;
    }
    // Cheap sanity check: the body is a token object with a JWT.
    if !bytes.starts_with(b"{") || !bytes.windows(6).any(|w| w == b"\"jwt\":") {
        return Err(err(format!(
            "unexpected token body: {}",
            String::from_utf8_lossy(&bytes)
        )));
    }
    Ok(elapsed)
}

#[tokio::main]
async fn main() -> Res<()> {
    let started = Instant::now();
    let bin = binary()?;
    eprintln!("bench: using {}", bin.display());
    let http = reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(90))
        .timeout(Duration::from_secs(30))
        .build()?;

    // 1a. Ready time, --ephemeral (includes generating an RSA key).
    let mut ephemeral = Vec::with_capacity(READY_RUNS);
    for _ in 0..READY_RUNS {
        let (emu, d) = spawn_ready(&http, &bin, &["--ephemeral"]).await?;
        ephemeral.push(d);
        emu.stop()?;
    }
    eprintln!(
        "bench: ready (ephemeral) runs ms: {:?}",
        ms_list(&ephemeral)
    );

    // 1b. Ready time, restart on an existing --data-dir.
    let data_dir = std::env::temp_dir().join(format!("latchkey-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let dir_arg = data_dir.display().to_string();
    let existing = async {
        let (emu, first) = spawn_ready(&http, &bin, &["--data-dir", &dir_arg]).await?;
        emu.stop()?;
        eprintln!(
            "bench: first start creating the data dir took {:.2} ms",
            first.as_secs_f64() * 1e3
        );
        let mut runs = Vec::with_capacity(READY_RUNS);
        for _ in 0..READY_RUNS {
            let (emu, d) = spawn_ready(&http, &bin, &["--data-dir", &dir_arg]).await?;
            runs.push(d);
            emu.stop()?;
        }
        Res::Ok((first, runs))
    }
    .await;
    let _ = std::fs::remove_dir_all(&data_dir);
    let (first_data_dir, existing) = existing?;
    eprintln!(
        "bench: ready (existing data dir) runs ms: {:?}",
        ms_list(&existing)
    );

    // 2-4. Memory and load against one ephemeral process.
    let (emu, _) = spawn_ready(&http, &bin, &["--ephemeral"]).await?;
    let load = run_load(&http, &emu).await;
    let rss_after_load = rss_kb(emu.pid());
    emu.stop()?;
    let load = load?;
    let rss_after_load = rss_after_load?;

    let out = json!({
        "ready_ms_ephemeral": median_ms(ephemeral),
        "ready_ms_existing_data_dir": median_ms(existing),
        "ready_ms_first_data_dir": round2(first_data_dir.as_secs_f64() * 1e3),
        "ready_runs": READY_RUNS,
        "idle_rss_kb": load.idle_rss_kb,
        "rss_after_load_kb": rss_after_load,
        "users_created": USERS,
        "create_user_avg_ms": load.create_user_avg_ms,
        "sign_ins": SIGN_INS,
        "sign_in_p50_us": percentile_us(&load.sign_ins, 50.0),
        "sign_in_p99_us": percentile_us(&load.sign_ins, 99.0),
        "token_mints": SEQUENTIAL_MINTS,
        "token_mint_p50_us": percentile_us(&load.mints, 50.0),
        "token_mint_p99_us": percentile_us(&load.mints, 99.0),
        "token_mint_concurrent_tasks": CONCURRENT_TASKS,
        "token_mint_concurrent_total": load.concurrent_total,
        "token_mint_concurrent_errors": load.concurrent_errors,
        "token_mint_concurrent_per_sec": load.concurrent_per_sec,
        "bench_wall_s": round2(started.elapsed().as_secs_f64()),
    });
    println!("{out}");
    Ok(())
}

fn ms_list(v: &[Duration]) -> Vec<f64> {
    v.iter().map(|d| round2(d.as_secs_f64() * 1e3)).collect()
}

struct Load {
    idle_rss_kb: u64,
    create_user_avg_ms: f64,
    sign_ins: Vec<Duration>,
    mints: Vec<Duration>,
    concurrent_total: u64,
    concurrent_errors: u64,
    concurrent_per_sec: f64,
}

async fn run_load(http: &reqwest::Client, emu: &Spawned) -> Res<Load> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss_kb = rss_kb(emu.pid())?;
    eprintln!("bench: idle RSS {idle_rss_kb} kB");

    let t = Instant::now();
    for i in 0..USERS {
        create_user(http, emu, i).await?;
    }
    let create_user_avg_ms = round2(t.elapsed().as_secs_f64() * 1e3 / USERS as f64);
    eprintln!("bench: created {USERS} users ({create_user_avg_ms} ms each)");

    // Sequential password sign-ins, each on a fresh client.
    for i in 0..WARM_UP {
        sign_in(http, &emu.url, &email(i)).await?;
    }
    let mut sign_ins = Vec::with_capacity(SIGN_INS);
    for i in 0..SIGN_INS {
        let (d, _, _) = sign_in(http, &emu.url, &email(i)).await?;
        sign_ins.push(d);
    }
    sign_ins.sort();
    eprintln!("bench: {SIGN_INS} sign-ins done");

    // Sequential token mints on one signed-in client.
    let (_, mut token, sid) = sign_in(http, &emu.url, &email(0)).await?;
    for _ in 0..WARM_UP {
        mint(http, &emu.url, &mut token, &sid).await?;
    }
    let mut mints = Vec::with_capacity(SEQUENTIAL_MINTS);
    for _ in 0..SEQUENTIAL_MINTS {
        mints.push(mint(http, &emu.url, &mut token, &sid).await?);
    }
    mints.sort();
    eprintln!("bench: {SEQUENTIAL_MINTS} sequential token mints done");

    // Concurrent token mints: each task has its own signed-in client.
    let mut clients = Vec::with_capacity(CONCURRENT_TASKS);
    for i in 0..CONCURRENT_TASKS {
        let (_, token, sid) = sign_in(http, &emu.url, &email(i)).await?;
        clients.push((token, sid));
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(CONCURRENT_TASKS + 1));
    let mut tasks = Vec::with_capacity(CONCURRENT_TASKS);
    for (mut token, sid) in clients {
        let http = http.clone();
        let url = emu.url.clone();
        let barrier = barrier.clone();
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            let deadline = Instant::now() + CONCURRENT_FOR;
            let (mut ok, mut errors) = (0u64, 0u64);
            let mut first_error = None;
            while Instant::now() < deadline {
                match mint(&http, &url, &mut token, &sid).await {
                    Ok(_) => ok += 1,
                    Err(e) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| e.to_string());
                    }
                }
            }
            (ok, errors, first_error)
        }));
    }
    barrier.wait().await;
    let t = Instant::now();
    let (mut concurrent_total, mut concurrent_errors) = (0u64, 0u64);
    for task in tasks {
        let (ok, errors, first_error) = task.await?;
        concurrent_total += ok;
        concurrent_errors += errors;
        if let Some(e) = first_error {
            eprintln!("bench: concurrent mint error: {e}");
        }
    }
    let elapsed = t.elapsed().as_secs_f64();
    let concurrent_per_sec = round2(concurrent_total as f64 / elapsed);
    eprintln!("bench: {concurrent_total} concurrent token mints in {elapsed:.2} s");

    Ok(Load {
        idle_rss_kb,
        create_user_avg_ms,
        sign_ins,
        mints,
        concurrent_total,
        concurrent_errors,
        concurrent_per_sec,
    })
}
