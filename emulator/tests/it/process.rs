//! The real `auth-emulator` binary as a child process: started with flags and environment, read
//! from its start-up output, stopped by a signal.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

use serde_json::Value;

pub struct Proc {
    child: Option<Child>,
    /// The wait for its exit, once started (it owns the child then).
    exit: Option<tokio::task::JoinHandle<std::io::Result<ExitStatus>>>,
    stdout: BufReader<ChildStdout>,
    pub pid: u32,
}

impl Proc {
    /// Starts `auth-emulator` with `args` and `env`; no `LATCHKEY_*` variable of the test's own
    /// environment reaches it.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_auth-emulator"));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("LATCHKEY_") {
                cmd.env_remove(k);
            }
        }
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("auth-emulator starts");
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            pid: child.id(),
            child: Some(child),
            exit: None,
            stdout,
        }
    }

    /// The next line of its standard output.
    pub fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        assert!(!line.is_empty(), "auth-emulator closed its output");
        line.trim_end().to_owned()
    }

    /// The `--json` start-up line.
    pub fn ready_json(&mut self) -> Value {
        let line = self.line();
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("not one JSON line: {line}"))
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) at once, while the process has not been
    /// reaped.
    pub fn signal_now(&self, name: &str) {
        assert!(
            !self.exit.as_ref().is_some_and(|e| e.is_finished()),
            "already exited"
        );
        let ok = Command::new("kill")
            .args(["-s", name, &self.pid.to_string()])
            .status()
            .expect("kill runs")
            .success();
        assert!(ok, "kill -s {name} {}", self.pid);
    }

    /// Sends `TERM` or `INT` once the process has installed its handler for it (Linux: the
    /// `SigCgt` mask in `/proc/<pid>/status`; bounded), so the tests that drive shutdown do not
    /// depend on when the handlers are installed (`shutdown::a_signal_right_after_the_ready_line…`
    /// tests that separately: before the start-up lines).
    pub async fn signal(&self, name: &str) {
        let signum = match name {
            "INT" => 2,
            "TERM" => 15,
            other => panic!("no graceful signal {other}"),
        };
        for _ in 0..5000 {
            if self.catches(signum) {
                return self.signal_now(name);
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        panic!("auth-emulator never installed a handler for SIG{name}");
    }

    /// Whether the process has a handler installed for signal number `signum`.
    fn catches(&self, signum: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("SigCgt:"))
            .and_then(|mask| u64::from_str_radix(mask.trim(), 16).ok())
            .is_some_and(|mask| mask & (1 << (signum - 1)) != 0)
    }

    /// Its exit status if it exits within `d`, else `None` (it keeps running).
    pub async fn exit_within(&mut self, d: Duration) -> Option<ExitStatus> {
        if self.exit.is_none() {
            let mut child = self.child.take().expect("a child");
            self.exit = Some(tokio::task::spawn_blocking(move || child.wait()));
        }
        let waiting = self.exit.as_mut().unwrap();
        let status = tokio::time::timeout(d, waiting).await.ok()?;
        self.exit = None;
        Some(status.unwrap().unwrap())
    }

    /// Waits for the process to exit (at most 30 s, then it is killed and the test fails).
    pub async fn exit_status(&mut self) -> ExitStatus {
        match self.exit_within(Duration::from_secs(30)).await {
            Some(status) => status,
            None => {
                self.signal_now("KILL");
                panic!("auth-emulator did not exit within 30 s");
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        } else if self.exit.as_ref().is_some_and(|e| !e.is_finished()) {
            // Not reaped yet, so the pid is still this child's.
            let _ = Command::new("kill")
                .args(["-s", "KILL", &self.pid.to_string()])
                .status();
        }
    }
}

/// The argon2 cost parameters (`m=…,t=…,p=…`) of the stored password hash of `user_id` in the
/// database of a stopped emulator's data directory.
pub fn stored_hash_params(data_dir: &std::path::Path, user_id: &str) -> String {
    let digest = latchkey_emulator::testing::password_digest_in(data_dir, user_id).unwrap();
    hash_params(&digest.expect("the user is stored with a password hash"))
}

/// `m=…,t=…,p=…` of an argon2 PHC string.
pub fn hash_params(phc: &str) -> String {
    // $argon2id$v=19$m=…,t=…,p=…$salt$hash
    let parts: Vec<&str> = phc.split('$').collect();
    assert_eq!(parts.get(1), Some(&"argon2id"), "{phc}");
    parts[3].to_owned()
}
