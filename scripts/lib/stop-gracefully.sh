# Sourced by scripts/test and tests/fuzz/run (bash 5.1+).
#
# stop_gracefully PID WHAT [SECONDS]: sends SIGTERM to PID, a child of this shell (e.g. a coproc's),
# and fails (status 1, a line on stderr naming WHAT) unless it exits with status 0 within SECONDS
# (default 10). One that is still running then is killed with SIGKILL; one that had already exited
# fails too. The emulator promises a graceful shutdown on SIGTERM (README.md), so anything else is a
# defect, not something to paper over with SIGKILL.
stop_gracefully() {
  local pid=$1 what=$2 bound=${3:-10} timer who rc=0
  if ! kill -TERM "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || rc=$?
    echo "!! $what had exited (status $rc) before it was sent SIGTERM" >&2
    return 1
  fi
  sleep "$bound" &
  timer=$!
  wait -n -p who "$pid" "$timer" || rc=$?
  if [ "$who" != "$pid" ]; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    echo "!! $what did not exit within $bound s of SIGTERM (killed with SIGKILL)" >&2
    return 1
  fi
  kill "$timer" 2>/dev/null || true
  wait "$timer" 2>/dev/null || true
  if ((rc != 0)); then
    echo "!! $what exited with status $rc after SIGTERM, not 0" >&2
    return 1
  fi
}
