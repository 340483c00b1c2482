#!/usr/bin/env node
// Side-by-side benchmark: Latchkey `auth-emulator` vs the Firebase Auth emulator
// (npm `firebase-tools`), driven by the same client code (undici, keep-alive) on
// this machine, one system at a time, over 127.0.0.1 only.
//
//   cd bench/side-by-side && npm ci && node run.mjs [--emulator-bin PATH]
//
// Prints progress on stderr; on stdout one JSON object, then a Markdown table.
// See README.md for what is measured and how.

import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { Agent, request } from "undici";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(HERE, "..", "..");
const require = createRequire(import.meta.url);

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = {
    emulatorBin: process.env.LATCHKEY_EMULATOR_BIN || null,
    startupRunsLatchkey: 10,
    startupRunsFirebase: 5,
    signupN: 200,
    signinN: 500,
    warmupSignup: 30,
    warmupSignin: 100,
    concurrency: 16,
    durationS: 10,
    out: null,
    waitQuietS: 0,
  };
  const num = (v, name) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`bad value for ${name}: ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case "--emulator-bin": o.emulatorBin = next(); break;
      case "--startup-runs": { const n = num(next(), a); o.startupRunsLatchkey = n; o.startupRunsFirebase = n; break; }
      case "--startup-runs-latchkey": o.startupRunsLatchkey = num(next(), a); break;
      case "--startup-runs-firebase": o.startupRunsFirebase = num(next(), a); break;
      case "--signups": o.signupN = num(next(), a); break;
      case "--signins": o.signinN = num(next(), a); break;
      case "--concurrency": o.concurrency = num(next(), a); break;
      case "--duration": o.durationS = num(next(), a); break;
      case "--out": o.out = next(); break;
      case "--wait-quiet": o.waitQuietS = num(next(), a); break;
      case "-h": case "--help":
        process.stdout.write(
          "usage: node run.mjs [--emulator-bin PATH] [--startup-runs N] [--startup-runs-latchkey N]\n" +
          "                    [--startup-runs-firebase N] [--signups N] [--signins N]\n" +
          "                    [--concurrency N] [--duration SECONDS] [--out FILE.json]\n" +
          "                    [--wait-quiet SECONDS]  (wait up to SECONDS for 3 s in a row of machine CPU < 15% before starting)\n");
        process.exit(0);
      default: throw new Error(`unknown argument: ${a}`);
    }
  }
  return o;
}

function findEmulatorBin(explicit) {
  const candidates = explicit
    ? [explicit]
    : [
        process.env.CARGO_TARGET_DIR && path.join(process.env.CARGO_TARGET_DIR, "release", "auth-emulator"),
        path.join(REPO, "target", "release", "auth-emulator"),
      ].filter(Boolean);
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      return path.resolve(c);
    } catch {}
  }
  throw new Error(
    `auth-emulator release binary not found (tried: ${candidates.join(", ")}). Build it with ` +
    "`cargo build --release -p latchkey-emulator --bin auth-emulator` or pass --emulator-bin PATH.");
}

// ---------------------------------------------------------------- cleanup

const live = new Set(); // ChildProcess objects, each leader of its own process group
const tempDirs = new Set();

function killGroupSync(child, sig) {
  try { process.kill(-child.pid, sig); } catch {}
}
function removeTempDirs() {
  for (const d of tempDirs) {
    try { fs.rmSync(d, { recursive: true, force: true }); } catch {}
    tempDirs.delete(d);
  }
}
process.on("exit", () => {
  for (const c of live) {
    for (const pid of treePids(c.pid)) { try { process.kill(pid, "SIGKILL"); } catch {} }
    killGroupSync(c, "SIGKILL");
  }
  removeTempDirs();
});
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(sig, () => {
    log(`received ${sig}, cleaning up`);
    process.exit(130); // the 'exit' handler kills children and removes temp dirs
  });
}

function mkTemp(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tempDirs.add(d);
  return d;
}

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

// Stop a process group: SIGTERM, wait up to graceMs, then SIGKILL (also any
// descendant that left the group).
async function stop(child, graceMs = 5000) {
  if (!child) return;
  const pids = treePids(child.pid);
  if (!exited(child)) {
    const done = new Promise((r) => child.once("exit", r));
    killGroupSync(child, "SIGTERM");
    const t = await Promise.race([done.then(() => "exit"), sleep(graceMs).then(() => "timeout")]);
    if (t === "timeout") {
      killGroupSync(child, "SIGKILL");
      await Promise.race([done, sleep(2000)]);
    }
  }
  for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch {} }
  killGroupSync(child, "SIGKILL");
  live.delete(child);
}

// ---------------------------------------------------------------- /proc helpers

function treePids(root) {
  const out = [];
  const queue = [root];
  const seen = new Set();
  while (queue.length) {
    const pid = queue.shift();
    if (seen.has(pid)) continue;
    seen.add(pid);
    let tids;
    try { tids = fs.readdirSync(`/proc/${pid}/task`); } catch { continue; }
    out.push(pid);
    for (const tid of tids) {
      let kids = "";
      try { kids = fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8"); } catch {}
      for (const k of kids.split(/\s+/).filter(Boolean)) queue.push(Number(k));
    }
  }
  return out;
}

function procField(file, field) {
  try {
    const m = fs.readFileSync(file, "utf8").match(new RegExp(`^${field}:\\s+(\\d+)\\s*kB`, "m"));
    return m ? Number(m[1]) : 0;
  } catch { return 0; }
}

function procName(pid) {
  try { return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim(); } catch { return "?"; }
}

// Sum of VmRSS (and Pss) over the whole process tree, in MB (10^6 bytes).
function treeMemory(root) {
  const pids = treePids(root);
  let rssKb = 0, pssKb = 0;
  const procs = [];
  for (const pid of pids) {
    const r = procField(`/proc/${pid}/status`, "VmRSS");
    rssKb += r;
    pssKb += procField(`/proc/${pid}/smaps_rollup`, "Pss");
    procs.push({ pid, name: procName(pid), rss_mb: round(r * 1024 / 1e6, 1) });
  }
  return { rss_mb: round(rssKb * 1024 / 1e6, 1), pss_mb: round(pssKb * 1024 / 1e6, 1), processes: procs };
}

const CLK_TCK = 100; // Linux USER_HZ
function treeCpuSeconds(root) {
  let ticks = 0;
  for (const pid of treePids(root)) {
    try {
      const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      ticks += Number(f[11]) + Number(f[12]); // utime, stime
    } catch {}
  }
  return ticks / CLK_TCK;
}

function loadavg() {
  const [a1, a5, a15, procs] = fs.readFileSync("/proc/loadavg", "utf8").trim().split(/\s+/);
  return { "1m": Number(a1), "5m": Number(a5), "15m": Number(a15), running_total: procs };
}

function cpuTimes() {
  const l = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = l[3] + (l[4] || 0);
  return { idle, total: l.reduce((a, b) => a + b, 0) };
}

// Machine CPU busy % over a short window while this script itself is idle:
// a measure of what else is running (e.g. other builds).
async function machineBusyPct(ms = 1000) {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  const total = b.total - a.total;
  return total > 0 ? round(100 * (1 - (b.idle - a.idle) / total), 1) : null;
}

function topOtherProcesses() {
  // Best-effort: processes with the most CPU time over the window, excluding ourselves.
  const snap = () => {
    const m = new Map();
    for (const d of fs.readdirSync("/proc")) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const s = fs.readFileSync(`/proc/${d}/stat`, "utf8");
        const name = s.slice(s.indexOf("(") + 1, s.lastIndexOf(")"));
        const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
        m.set(Number(d), { name, t: Number(f[11]) + Number(f[12]) });
      } catch {}
    }
    return m;
  };
  return { snap, diff(a, b, windowS) {
    const out = [];
    for (const [pid, v] of b) {
      if (pid === process.pid) continue;
      const before = a.get(pid);
      const dt = (v.t - (before ? before.t : 0)) / CLK_TCK;
      if (before && dt / windowS >= 0.05) out.push({ pid, name: v.name, cpu_pct: round(100 * dt / windowS, 0) });
    }
    return out.sort((x, y) => y.cpu_pct - x.cpu_pct).slice(0, 5);
  } };
}

// ---------------------------------------------------------------- small utils

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (x, d = 2) => (x == null || !Number.isFinite(x) ? null : Math.round(x * 10 ** d) / 10 ** d);
function log(...a) { process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${a.join(" ")}\n`); }

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const pct = (p) => s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] : null;
  const mean = s.reduce((a, b) => a + b, 0) / (s.length || 1);
  return {
    n: s.length, p50_ms: round(pct(50), 3), p99_ms: round(pct(99), 3),
    mean_ms: round(mean, 3), min_ms: round(s[0], 3), max_ms: round(s[s.length - 1], 3),
  };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const n = s.length; return n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2; };

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function assertLoopback(url) {
  const u = new URL(url);
  if (u.hostname !== "127.0.0.1") throw new Error(`refusing to talk to non-loopback address: ${url}`);
}

function jwtHeader(jwt) {
  try { return JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString("utf8")); } catch { return null; }
}

// ---------------------------------------------------------------- HTTP client (shared)

// One keep-alive agent per system; every request of both systems goes through http().
function makeAgent(connections) {
  return new Agent({ connections, pipelining: 1, keepAliveTimeout: 60_000, keepAliveMaxTimeout: 60_000, connect: { timeout: 5_000 } });
}

async function http(dispatcher, method, url, { headers = {}, body } = {}) {
  assertLoopback(url);
  const res = await request(url, { dispatcher, method, headers, body, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const text = await res.body.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: res.statusCode, headers: res.headers, json, text };
}

const form = (o) => ({
  headers: { "content-type": "application/x-www-form-urlencoded" },
  body: new URLSearchParams(o).toString(),
});
const jsonBody = (o) => ({ headers: { "content-type": "application/json" }, body: JSON.stringify(o) });

// ---------------------------------------------------------------- the two systems

const PASSWORD = "lk-Test-pass-4921";
const RUN_TAG = `${Date.now().toString(36)}${process.pid.toString(36)}`;
let emailSeq = 0;
const nextEmail = (kind) => `${kind}${RUN_TAG}n${emailSeq++}@example.com`;

function latchkeySystem(bin) {
  return {
    name: "latchkey",
    async start() {
      const cwd = mkTemp("lk-bench-");
      const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LATCHKEY_")));
      const t0 = performance.now();
      const child = spawn(bin, ["start", "--ephemeral", "--port", "0", "--json"], {
        cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"],
      });
      live.add(child);
      let stderr = "";
      child.stderr.on("data", (d) => { if (stderr.length < 20_000) stderr += d; });
      const info = await new Promise((resolve, reject) => {
        let buf = "";
        const onData = (d) => {
          buf += d;
          const nl = buf.indexOf("\n");
          if (nl >= 0) {
            child.stdout.off("data", onData);
            child.stdout.resume();
            try { resolve(JSON.parse(buf.slice(0, nl))); } catch (e) { reject(new Error(`bad JSON line from auth-emulator: ${buf.slice(0, 200)}`)); }
          }
        };
        child.stdout.on("data", onData);
        child.once("exit", (code, sig) => reject(new Error(`auth-emulator exited early (${code ?? sig}): ${stderr.slice(-2000)}`)));
        setTimeout(() => reject(new Error("auth-emulator printed no JSON line within 20 s")), 20_000).unref();
      });
      const tJson = performance.now() - t0;
      const url = info.frontend_api_url;
      assertLoopback(url);
      assertLoopback(info.backend_api_url);
      return { child, t0, tJson, url, secretKey: info.secret_key, readyUrl: `${url}/v1/health`, cwd };
    },
    async createUserBackend(d, inst, email) {
      const r = await http(d, "POST", `${inst.url}/v1/users`, {
        headers: { authorization: `Bearer ${inst.secretKey}`, "content-type": "application/json" },
        body: JSON.stringify({ email_address: [email], password: PASSWORD }),
      });
      if (r.status !== 200 || !r.json?.id) throw new Error(`create user: ${r.status} ${r.text.slice(0, 300)}`);
      return r.json.id;
    },
    // Sign-up that ends signed in (user + session + RS256 token): FAPI, two calls.
    async signUpFapi(d, inst, email) {
      const a = await http(d, "POST", `${inst.url}/v1/client/sign_ups?_is_native=true`,
        form({ email_address: email, password: PASSWORD, strategy: "email_code" }));
      const id = a.json?.response?.id;
      const clientToken = a.headers["authorization"];
      if (a.status !== 200 || !id || !clientToken) throw new Error(`sign_up create: ${a.status} ${a.text.slice(0, 300)}`);
      const b = await http(d, "POST", `${inst.url}/v1/client/sign_ups/${id}/attempt_verification?_is_native=true`, {
        headers: { authorization: clientToken, "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ strategy: "email_code", code: "424242" }).toString(),
      });
      const jwt = b.json?.client?.sessions?.[0]?.last_active_token?.jwt;
      if (b.status !== 200 || b.json?.response?.status !== "complete" || !jwt) {
        throw new Error(`sign_up verify: ${b.status} ${b.text.slice(0, 300)}`);
      }
      return jwt;
    },
    // Fresh client each time: no Authorization header.
    async signIn(d, inst, email) {
      const r = await http(d, "POST", `${inst.url}/v1/client/sign_ins?_is_native=true`,
        form({ identifier: email, password: PASSWORD }));
      if (r.status !== 200 || r.json?.response?.status !== "complete") {
        throw new Error(`sign_in: ${r.status} ${r.text.slice(0, 300)}`);
      }
      const s = r.json.client?.sessions?.find((x) => x.id === r.json.response.created_session_id) || r.json.client?.sessions?.[0];
      const jwt = s?.last_active_token?.jwt;
      if (!jwt) throw new Error("sign_in: no last_active_token in response");
      return jwt;
    },
  };
}

function firebaseSystem() {
  const pkgJson = require.resolve("firebase-tools/package.json");
  const pkg = JSON.parse(fs.readFileSync(pkgJson, "utf8"));
  const cli = path.join(path.dirname(pkgJson), typeof pkg.bin === "string" ? pkg.bin : pkg.bin.firebase);
  const KEY = "fake-api-key";
  return {
    name: "firebase",
    version: pkg.version,
    async start() {
      const dir = mkTemp("fb-bench-");
      const proj = path.join(dir, "project");
      const home = path.join(dir, "home");
      const cfg = path.join(dir, "config");
      fs.mkdirSync(proj); fs.mkdirSync(home); fs.mkdirSync(path.join(cfg, "configstore"), { recursive: true });
      // Offline: a fresh MOTD timestamp in a private config store makes the CLI skip its
      // remote-config fetch; NO_UPDATE_NOTIFIER skips the npm version check; usage
      // reporting is off in a fresh config store.
      fs.writeFileSync(path.join(cfg, "configstore", "firebase-tools.json"),
        JSON.stringify({ motd: { fetched: Date.now() } }));
      const [authPort, hubPort, logPort] = [await freePort(), await freePort(), await freePort()];
      fs.writeFileSync(path.join(proj, "firebase.json"), JSON.stringify({
        emulators: {
          auth: { host: "127.0.0.1", port: authPort },
          hub: { host: "127.0.0.1", port: hubPort },
          logging: { host: "127.0.0.1", port: logPort },
          ui: { enabled: false },
        },
      }, null, 2));
      const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: cfg, NO_UPDATE_NOTIFIER: "1" };
      const t0 = performance.now();
      const child = spawn(process.execPath, [cli, "emulators:start", "--only", "auth", "--project", "demo-test"], {
        cwd: proj, env, detached: true, stdio: ["ignore", "pipe", "pipe"],
      });
      live.add(child);
      let output = "";
      const cap = (d) => { if (output.length < 50_000) output += d; };
      child.stdout.on("data", cap);
      child.stderr.on("data", cap);
      const url = `http://127.0.0.1:${authPort}`;
      return { child, t0, tJson: null, url, readyUrl: `${url}/`, output: () => output, cwd: proj };
    },
    async signUp(d, inst, email) {
      const r = await http(d, "POST", `${inst.url}/identitytoolkit.googleapis.com/v1/accounts:signUp?key=${KEY}`,
        jsonBody({ email, password: PASSWORD, returnSecureToken: true }));
      if (r.status !== 200 || !r.json?.idToken) throw new Error(`accounts:signUp: ${r.status} ${r.text.slice(0, 300)}`);
      return r.json.idToken;
    },
    async signIn(d, inst, email) {
      const r = await http(d, "POST", `${inst.url}/identitytoolkit.googleapis.com/v1/accounts:signInWithPassword?key=${KEY}`,
        jsonBody({ email, password: PASSWORD, returnSecureToken: true }));
      if (r.status !== 200 || !r.json?.idToken) throw new Error(`accounts:signInWithPassword: ${r.status} ${r.text.slice(0, 300)}`);
      return r.json.idToken;
    },
  };
}

// ---------------------------------------------------------------- measurements

// Poll until the first successful (2xx) request. Same schedule for both systems:
// every 1 ms for the first 250 ms, then every 5 ms.
async function waitReady(d, inst, timeoutMs = 60_000) {
  const deadline = inst.t0 + timeoutMs;
  let attempts = 0;
  for (;;) {
    if (exited(inst.child)) {
      throw new Error(`process exited before ready (${inst.child.exitCode ?? inst.child.signalCode})` +
        (inst.output ? `: ${inst.output().slice(-2000)}` : ""));
    }
    attempts++;
    try {
      const r = await http(d, "GET", inst.readyUrl);
      if (r.status >= 200 && r.status < 300) return { ready_ms: performance.now() - inst.t0, attempts };
    } catch {}
    if (performance.now() > deadline) throw new Error(`not ready after ${timeoutMs} ms`);
    await sleep(performance.now() - inst.t0 < 250 ? 1 : 5);
  }
}

async function startupRun(sys, idx) {
  const d = makeAgent(4);
  const inst = await sys.start();
  try {
    const { ready_ms, attempts } = await waitReady(d, inst);
    // Then the first token: create an account and sign in (2 requests on both systems).
    const email = nextEmail("boot");
    if (sys.name === "latchkey") {
      await sys.createUserBackend(d, inst, email);
      await sys.signIn(d, inst, email);
    } else {
      await sys.signUp(d, inst, email);
      await sys.signIn(d, inst, email);
    }
    const first_sign_in_ms = performance.now() - inst.t0;
    log(`${sys.name} start #${idx + 1}: ready ${ready_ms.toFixed(1)} ms, first sign-in done ${first_sign_in_ms.toFixed(1)} ms`);
    return { ready_ms: round(ready_ms, 2), json_line_ms: round(inst.tJson, 2), first_sign_in_ms: round(first_sign_in_ms, 2), probe_attempts: attempts };
  } finally {
    await d.close().catch(() => {});
    await stop(inst.child);
  }
}

async function timed(fn) {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function loadRun(sys, opts) {
  const d = makeAgent(opts.concurrency + 4);
  const inst = await sys.start();
  const res = { pid: inst.child.pid, loadavg_before: loadavg()["1m"] };
  try {
    const ready = await waitReady(d, inst);
    res.ready_ms = round(ready.ready_ms, 2);
    await sleep(1000); // let start-up work (JIT, background key generation) settle
    res.memory_idle = treeMemory(inst.child.pid);
    log(`${sys.name}: idle RSS ${res.memory_idle.rss_mb} MB over ${res.memory_idle.processes.length} process(es)`);

    // --- sign-up, sequential
    const signUpVariants = sys.name === "latchkey"
      ? [
          ["signup_fapi", "FAPI sign-up +clerk_test, 2 calls → session + RS256 token", (e) => sys.signUpFapi(d, inst, e.replace("@", "+clerk_test@"))],
          ["signup_backend", "Backend API POST /v1/users, 1 call, no session/token", async (e) => { await sys.createUserBackend(d, inst, e); }],
        ]
      : [["signup", "accounts:signUp, 1 call → account + ID token", (e) => sys.signUp(d, inst, e)]];
    const signInUsers = [];
    let tokenAlg = null;
    for (const [key, what, fn] of signUpVariants) {
      for (let i = 0; i < opts.warmupSignup; i++) await fn(nextEmail("warm"));
      const lat = [];
      for (let i = 0; i < opts.signupN; i++) {
        const email = nextEmail("su");
        lat.push(await timed(async () => {
          const tok = await fn(email);
          if (typeof tok === "string" && !tokenAlg) tokenAlg = jwtHeader(tok)?.alg ?? null;
        }));
        if (key !== "signup_fapi") signInUsers.push(email);
      }
      res[key] = { what, ...stats(lat) };
      log(`${sys.name}: ${key} p50 ${res[key].p50_ms} ms, p99 ${res[key].p99_ms} ms`);
    }

    // --- sign-in, sequential, fresh client each time
    for (let i = 0; i < opts.warmupSignin; i++) await sys.signIn(d, inst, signInUsers[i % signInUsers.length]);
    const lat = [];
    let signInAlg = null;
    for (let i = 0; i < opts.signinN; i++) {
      const email = signInUsers[i % signInUsers.length];
      lat.push(await timed(async () => {
        const tok = await sys.signIn(d, inst, email);
        if (!signInAlg) signInAlg = jwtHeader(tok)?.alg ?? null;
      }));
    }
    res.signin = { what: sys.name === "latchkey" ? "POST /v1/client/sign_ins (fresh client) → RS256 session token" : "accounts:signInWithPassword → ID token", ...stats(lat) };
    res.token_alg = { sign_up: tokenAlg, sign_in: signInAlg };
    log(`${sys.name}: sign-in p50 ${res.signin.p50_ms} ms, p99 ${res.signin.p99_ms} ms (token alg ${signInAlg})`);

    // --- sign-in throughput, N concurrent clients for a fixed duration
    const runFor = async (ms, record) => {
      const end = performance.now() + ms;
      let ok = 0, errors = 0, firstError = null;
      const lats = [];
      await Promise.all(Array.from({ length: opts.concurrency }, async (_, w) => {
        let i = w;
        while (performance.now() < end) {
          const email = signInUsers[i++ % signInUsers.length];
          const t = performance.now();
          try {
            await sys.signIn(d, inst, email);
            ok++;
            if (record) lats.push(performance.now() - t);
          } catch (e) {
            errors++;
            firstError ??= String(e.message || e);
          }
        }
      }));
      return { ok, errors, firstError, lats };
    };
    await runFor(1000, false); // warm-up
    const cpu0 = treeCpuSeconds(inst.child.pid);
    const drv0 = process.cpuUsage();
    const mach0 = cpuTimes();
    const t0 = performance.now();
    const r = await runFor(opts.durationS * 1000, true);
    const wall = (performance.now() - t0) / 1000;
    const cpu = treeCpuSeconds(inst.child.pid) - cpu0;
    const drvU = process.cpuUsage(drv0);
    const drv = (drvU.user + drvU.system) / 1e6;
    const mach1 = cpuTimes();
    const machBusy = ((mach1.total - mach0.total) - (mach1.idle - mach0.idle)) / CLK_TCK;
    const ls = stats(r.lats);
    res.throughput = {
      concurrency: opts.concurrency, duration_s: round(wall, 2), ok: r.ok, errors: r.errors,
      first_error: r.firstError, signins_per_s: round(r.ok / wall, 1),
      latency_p50_ms: ls.p50_ms, latency_p99_ms: ls.p99_ms,
      server_cpu_pct: round((100 * cpu) / wall, 0), server_cpu_ms_per_signin: r.ok ? round((1000 * cpu) / r.ok, 3) : null,
      driver_cpu_pct: round((100 * drv) / wall, 0),
      // Machine CPU used by anything other than this driver and the server under test
      // (of 100% x cores): other builds/tests sharing the machine.
      other_cpu_pct: round(Math.max(0, (100 * (machBusy - cpu - drv)) / wall), 0),
    };
    log(`${sys.name}: ${res.throughput.signins_per_s} sign-ins/s with ${opts.concurrency} clients (${r.errors} errors), server CPU ${res.throughput.server_cpu_pct}%, driver ${res.throughput.driver_cpu_pct}%, other processes ${res.throughput.other_cpu_pct}%`);

    res.memory_after_load = treeMemory(inst.child.pid);
    log(`${sys.name}: RSS after load ${res.memory_after_load.rss_mb} MB`);
  } finally {
    await d.close().catch(() => {});
    await stop(inst.child);
  }
  return res;
}

// ---------------------------------------------------------------- report

function ratio(a, b, d = 1) { return a && b ? round(a / b, d) : null; }

function buildComparison(L, F) {
  const c = {};
  c.ready_faster_x = ratio(F.startup.ready_ms_median, L.startup.ready_ms_median, 0);
  c.first_sign_in_faster_x = ratio(F.startup.first_sign_in_ms_median, L.startup.first_sign_in_ms_median, 0);
  c.rss_idle_smaller_x = ratio(F.memory_idle.rss_mb, L.memory_idle.rss_mb, 1);
  c.rss_after_load_smaller_x = ratio(F.memory_after_load.rss_mb, L.memory_after_load.rss_mb, 1);
  c.signin_latency_p50_ratio = ratio(L.signin.p50_ms, F.signin.p50_ms, 3);
  c.signin_latency_p99_ratio = ratio(L.signin.p99_ms, F.signin.p99_ms, 3);
  c.signup_latency_p50_ratio_fapi = ratio(L.signup_fapi.p50_ms, F.signup.p50_ms, 3);
  c.signup_latency_p50_ratio_backend = ratio(L.signup_backend.p50_ms, F.signup.p50_ms, 3);
  c.throughput_x = ratio(L.throughput.signins_per_s, F.throughput.signins_per_s, 2);
  c.targets = {
    ready_50x_faster: { target: ">= 50x", value: c.ready_faster_x, met: c.ready_faster_x >= 50 },
    rss_10x_smaller_idle: { target: ">= 10x", value: c.rss_idle_smaller_x, met: c.rss_idle_smaller_x >= 10 },
    rss_10x_smaller_after_load: { target: ">= 10x", value: c.rss_after_load_smaller_x, met: c.rss_after_load_smaller_x >= 10 },
    signin_latency_third: { target: "p50 ratio <= 0.333", value: c.signin_latency_p50_ratio, met: c.signin_latency_p50_ratio <= 1 / 3 },
    throughput_3x: { target: ">= 3x", value: c.throughput_x, met: c.throughput_x >= 3 },
  };
  return c;
}

function markdown(result) {
  const L = result.latchkey, F = result.firebase, C = result.comparison, T = C.targets;
  const ms = (x) => (x == null ? "–" : `${x} ms`);
  const met = (t) => (t.met ? "met" : "**not met**");
  const rows = [
    ["start → ready (first 2xx), median", ms(L.startup.ready_ms_median), ms(F.startup.ready_ms_median), `${C.ready_faster_x}× faster`, `≥ 50× — ${met(T.ready_50x_faster)}`],
    ["start → first sign-in done, median", ms(L.startup.first_sign_in_ms_median), ms(F.startup.first_sign_in_ms_median), `${C.first_sign_in_faster_x}× faster`, ""],
    ["RSS idle (process tree)", `${L.memory_idle.rss_mb} MB`, `${F.memory_idle.rss_mb} MB`, `${C.rss_idle_smaller_x}× smaller`, `≥ 10× — ${met(T.rss_10x_smaller_idle)}`],
    ["RSS after load (process tree)", `${L.memory_after_load.rss_mb} MB`, `${F.memory_after_load.rss_mb} MB`, `${C.rss_after_load_smaller_x}× smaller`, `≥ 10× — ${met(T.rss_10x_smaller_after_load)}`],
    ["sign-up p50 / p99 (Latchkey: FAPI, 2 calls, ends with RS256 token)", `${L.signup_fapi.p50_ms} / ${L.signup_fapi.p99_ms} ms`, `${F.signup.p50_ms} / ${F.signup.p99_ms} ms`, `${C.signup_latency_p50_ratio_fapi} (p50)`, ""],
    ["sign-up p50 / p99 (Latchkey: Backend API create user, 1 call)", `${L.signup_backend.p50_ms} / ${L.signup_backend.p99_ms} ms`, `${F.signup.p50_ms} / ${F.signup.p99_ms} ms`, `${C.signup_latency_p50_ratio_backend} (p50)`, ""],
    ["sign-in p50 / p99, sequential", `${L.signin.p50_ms} / ${L.signin.p99_ms} ms`, `${F.signin.p50_ms} / ${F.signin.p99_ms} ms`, `${C.signin_latency_p50_ratio} (p50), ${C.signin_latency_p99_ratio} (p99)`, `p50 ≤ ⅓ — ${met(T.signin_latency_third)}`],
    [`sign-ins/s, ${L.throughput.concurrency} concurrent clients, ${result.config.duration_s} s`, `${L.throughput.signins_per_s}/s`, `${F.throughput.signins_per_s}/s`, `${C.throughput_x}×`, `≥ 3× — ${met(T.throughput_3x)}`],
    ["  latency under that load p50 / p99", `${L.throughput.latency_p50_ms} / ${L.throughput.latency_p99_ms} ms`, `${F.throughput.latency_p50_ms} / ${F.throughput.latency_p99_ms} ms`, "", ""],
    ["  server CPU per sign-in", `${L.throughput.server_cpu_ms_per_signin} ms`, `${F.throughput.server_cpu_ms_per_signin} ms`, `${ratio(L.throughput.server_cpu_ms_per_signin, F.throughput.server_cpu_ms_per_signin, 2)}`, ""],
    [`  CPU during it, server / driver / other processes (of ${result.machine.cpus * 100}%)`, `${L.throughput.server_cpu_pct} / ${L.throughput.driver_cpu_pct} / ${L.throughput.other_cpu_pct}%`, `${F.throughput.server_cpu_pct} / ${F.throughput.driver_cpu_pct} / ${F.throughput.other_cpu_pct}%`, "", ""],
    ["token alg (sign-in)", L.token_alg.sign_in, F.token_alg.sign_in, "", ""],
  ];
  const head = "| measure | Latchkey | Firebase Auth emulator | Latchkey vs Firebase | target |\n|---|---|---|---|---|\n";
  const lines = rows.map((r) => `| ${r.join(" | ")} |`).join("\n");
  const m = result.machine;
  return head + lines + "\n\n" +
    `Machine: ${m.cpus} CPUs, load average at start (1m / 5m / 15m) ${m.loadavg_start["1m"]} / ${m.loadavg_start["5m"]} / ${m.loadavg_start["15m"]}, ` +
    `CPU busy over 1 s before start ${m.cpu_busy_pct_before_start}%, load average at end ${m.loadavg_end["1m"]} (1m). ` +
    (Math.max(L.throughput.other_cpu_pct, F.throughput.other_cpu_pct) > 20
      ? `**Noisy run:** other processes used ${L.throughput.other_cpu_pct}% / ${F.throughput.other_cpu_pct}% CPU during the Latchkey / Firebase throughput windows. `
      : "") +
    `Latchkey tokens are RS256-signed (\`${L.token_alg.sign_in}\`); the Firebase emulator's ID tokens are unsigned (\`alg: ${F.token_alg.sign_in}\`). ` +
    `Runtime ${result.runtime_s} s` + (result.waited_for_quiet_s ? ` (after waiting ${result.waited_for_quiet_s} s for a quiet machine)` : "") + ".\n";
}

// ---------------------------------------------------------------- main

async function main() {
  const tStart = performance.now();
  const opts = parseArgs(process.argv.slice(2));
  const bin = findEmulatorBin(opts.emulatorBin);
  const lk = latchkeySystem(bin);
  const fb = firebaseSystem();

  let waitedS = 0;
  if (opts.waitQuietS > 0) {
    const w0 = performance.now();
    const until = w0 + opts.waitQuietS * 1000;
    let lastLog = 0, quiet = 0;
    for (;;) {
      const b = await machineBusyPct(1000);
      quiet = b < 15 ? quiet + 1 : 0;
      if (quiet >= 3) break; // three quiet seconds in a row
      if (performance.now() > until) { log(`machine still ${b}% busy after --wait-quiet ${opts.waitQuietS}s; going ahead`); break; }
      if (performance.now() - lastLog > 10_000) { log(`machine ${b}% busy, waiting for it to quieten`); lastLog = performance.now(); }
    }
    waitedS = round((performance.now() - w0) / 1000, 1);
  }
  const tBench = performance.now();
  const loadStart = loadavg();
  const top = topOtherProcesses();
  const s0 = top.snap();
  const busy = await machineBusyPct(1000);
  const busyProcs = top.diff(s0, top.snap(), 1);
  let lkVersion = null;
  try { lkVersion = execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 5000 }).trim(); } catch {}
  let lkBinMtime = null;
  try { lkBinMtime = fs.statSync(bin).mtime.toISOString(); } catch {}
  let gitHead = null;
  try { gitHead = execFileSync("git", ["-C", REPO, "rev-parse", "--short", "HEAD"], { encoding: "utf8", timeout: 5000, stdio: ["ignore", "pipe", "ignore"] }).trim(); } catch {}
  log(`load average ${loadStart["1m"]} ${loadStart["5m"]} ${loadStart["15m"]}, machine CPU busy ${busy}% before start`);
  log(`latchkey: ${bin} (${lkVersion}); firebase-tools ${fb.version}; node ${process.version}`);

  // Start-up: interleaved runs, median of each.
  const su = { latchkey: [], firebase: [] };
  const n = Math.max(opts.startupRunsLatchkey, opts.startupRunsFirebase);
  for (let i = 0; i < n; i++) {
    if (i < opts.startupRunsLatchkey) su.latchkey.push(await startupRun(lk, i));
    if (i < opts.startupRunsFirebase) su.firebase.push(await startupRun(fb, i));
  }
  const summarize = (runs) => ({
    runs: runs.length,
    ready_ms_median: round(median(runs.map((r) => r.ready_ms)), 2),
    ready_ms_min: round(Math.min(...runs.map((r) => r.ready_ms)), 2),
    ready_ms_max: round(Math.max(...runs.map((r) => r.ready_ms)), 2),
    first_sign_in_ms_median: round(median(runs.map((r) => r.first_sign_in_ms)), 2),
    each: runs,
  });

  // Load: one system at a time on a fresh instance.
  const lkLoad = await loadRun(lk, opts);
  const fbLoad = await loadRun(fb, opts);

  const result = {
    benchmark: "latchkey auth-emulator vs Firebase Auth emulator, side by side",
    date: new Date().toISOString(),
    machine: {
      cpus: os.cpus().length, mem_gb: round(os.totalmem() / 1e9, 1), kernel: os.release(), node: process.version,
      loadavg_start: loadStart, cpu_busy_pct_before_start: busy, busiest_other_processes_at_start: busyProcs,
      loadavg_end: null,
    },
    config: {
      concurrency: opts.concurrency, duration_s: opts.durationS, signups: opts.signupN, signins: opts.signinN,
      warmup_signups: opts.warmupSignup, warmup_signins: opts.warmupSignin,
      startup_runs: { latchkey: opts.startupRunsLatchkey, firebase: opts.startupRunsFirebase },
      client: "undici Agent, keep-alive, same request code for both systems; driver runs on the same 2 cores",
      ready_probe: { latchkey: "GET /v1/health after the --json line (port 0)", firebase: "GET / on the auth emulator port (pre-picked free port in firebase.json)", poll: "1 ms for the first 250 ms, then 5 ms" },
    },
    latchkey: {
      binary: bin, version: lkVersion, binary_mtime: lkBinMtime, git_head: gitHead,
      command: "auth-emulator start --ephemeral --port 0 --json",
      startup: summarize(su.latchkey), ...lkLoad,
    },
    firebase: {
      firebase_tools: fb.version, command: "firebase emulators:start --only auth --project demo-test",
      java_in_process_tree: [...fbLoad.memory_idle.processes, ...fbLoad.memory_after_load.processes].some((p) => /java/i.test(p.name)),
      startup: summarize(su.firebase), ...fbLoad,
    },
  };
  result.comparison = buildComparison(result.latchkey, result.firebase);
  result.machine.loadavg_end = loadavg();
  result.runtime_s = round((performance.now() - tBench) / 1000, 1);
  result.waited_for_quiet_s = waitedS;
  result.total_wall_s = round((performance.now() - tStart) / 1000, 1);

  const table = markdown(result);
  if (opts.out) fs.writeFileSync(opts.out, JSON.stringify(result, null, 2) + "\n");
  process.stdout.write(JSON.stringify(result, null, 2) + "\n\n" + table);
}

main().then(
  () => { removeTempDirs(); process.exit(0); },
  (e) => { log(`FAILED: ${e.stack || e}`); process.exit(1); },
);
