#!/usr/bin/env bash
# Benchmark berth's login latency on a private stack: nginx on a free
# loopback port, `berth serve` with pool berth-bench and users
# bench0..bench19, then bench/login_latency.py. Every process and container
# it starts is removed on exit, including after a failure or Ctrl-C.
#
# Usage: bench/run.sh [login_latency.py options]   (as root, after `make`)
# The report is printed and written to bench/out/.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack_log_prefix=bench
# shellcheck source=scripts/private-stack.sh source-path=SCRIPTDIR/..
source "$repo/scripts/private-stack.sh"

pool=berth-bench
raw_pool=bench-raw
user_count=20

((EUID == 0)) || stack_die "the benchmark starts berth, nginx and containers, so it needs root; run: sudo bench/run.sh"
[[ -x "$repo/build/berth" ]] || stack_die "$repo/build/berth not found; build it with: make"
docker info >/dev/null 2>&1 || stack_die "cannot reach dockerd; run: scripts/start-dockerd.sh"
"$repo/scripts/build-image.sh"

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/berth-bench.XXXXXX")"
socket="$work_dir/berth.sock"
config="$work_dir/berth.conf"
port="$(stack_free_port)"
base_url="http://127.0.0.1:$port"

cleanup() {
  local status=$?

  trap - EXIT INT TERM HUP
  stack_stop_all TERM "$pool"
  stack_remove_pool_containers "$raw_pool"
  if ((status != 0)) && [[ -s "$work_dir/berth.log" ]]; then
    stack_log "last lines of berth's log:"
    tail -n 20 "$work_dir/berth.log" >&2
  fi
  rm -rf "$work_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

users=""
for ((index = 0; index < user_count; index++)); do
  users+="${users:+,}bench$index:$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')"
done

stack_remove_pool_containers "$pool"
stack_write_htpasswd "$work_dir/htpasswd" "$users"
stack_write_token "$work_dir/admin-token" "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# A port range apart from the default 8000-9000 keeps a running demo from
# taking ports the benchmark's logins would then have to skip.
stack_write_config "$config" \
  "listen=$socket" \
  "segment=$pool" \
  "htpasswd=$work_dir/htpasswd" \
  "admin_token_file=$work_dir/admin-token" \
  "port_min=9100" \
  "port_max=9399"
stack_write_nginx_conf "$work_dir/nginx" "127.0.0.1:$port" "$socket"

stack_start_nginx "$work_dir/nginx" 127.0.0.1 "$port"
stack_start_berth "$config" "$work_dir/berth.log"
stack_wait_healthy "$base_url/healthz" 15 ||
  stack_die "$base_url/healthz did not return 200 within 15 s"
stack_log "berth (pid $stack_berth_pid) behind nginx (pid $stack_nginx_pid) on $base_url"

mkdir -p "$repo/bench/out"
report="$repo/bench/out/login-latency-$(date +%Y%m%d-%H%M%S).md"
python3 "$repo/bench/login_latency.py" --base-url "$base_url" --users "$users" --output "$report" "$@"
stack_log "report written to $report"
