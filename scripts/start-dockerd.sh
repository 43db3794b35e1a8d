#!/usr/bin/env bash
# Make sure a Docker engine is reachable on this machine: reuse a running
# one, or start Debian's dockerd in the background where no init system does.
set -euo pipefail

readonly log_file=/var/log/berth-dockerd.log
readonly wait_seconds=30

if docker info >/dev/null 2>&1; then
  echo "start-dockerd: dockerd is already running"
  exit 0
fi

command -v dockerd >/dev/null || {
  echo "start-dockerd: dockerd not found; run scripts/deps.sh (package docker.io)" >&2
  exit 1
}
if ((EUID != 0)); then
  echo "start-dockerd: 'docker info' failed as $(id -un): dockerd is not running, or this user may not use its socket" >&2
  echo "start-dockerd: run: sudo scripts/start-dockerd.sh" >&2
  exit 1
fi

# setsid detaches dockerd from this shell's session, so that it survives the
# end of the script and a Ctrl-C sent to the terminal.
setsid dockerd >>"$log_file" 2>&1 </dev/null &
dockerd_pid=$!

for ((tenth = 0; tenth < wait_seconds * 10; tenth++)); do
  if docker info >/dev/null 2>&1; then
    echo "start-dockerd: started dockerd (pid $dockerd_pid, log: $log_file)"
    exit 0
  fi
  if ! kill -0 "$dockerd_pid" 2>/dev/null; then
    echo "start-dockerd: dockerd exited during startup; last lines of $log_file:" >&2
    tail -n 20 "$log_file" >&2
    exit 1
  fi
  sleep 0.1
done

echo "start-dockerd: dockerd (pid $dockerd_pid) is running, but 'docker info' still failed after ${wait_seconds} s; see $log_file" >&2
exit 1
