#!/usr/bin/env bash
# Run the whole berth stack on this machine: install what is missing, start
# dockerd if needed, build berth and the workspace image, then serve
# http://127.0.0.1:8080 through a private nginx until Ctrl-C. On exit, berth
# is stopped, and so is nginx, and every container of the demo pool is removed.
#
# Usage: scripts/demo.sh   (as root; `make demo` runs it)
# Environment:
#   BERTH_DEMO_USERS        user:password,... (default alice:alice-pass,bob:bob-pass)
#   BERTH_DEMO_ADMIN_TOKEN  bearer token for /api/containers (default demo-admin-token)
#   BERTH_DEMO_PORT         nginx port on 127.0.0.1 (default 8080)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack_log_prefix=demo
# shellcheck source=scripts/private-stack.sh
source "$repo/scripts/private-stack.sh"

demo_dir="$repo/.demo"
pool=berth-demo
host=127.0.0.1
port="${BERTH_DEMO_PORT:-8080}"
base_url="http://$host:$port"
socket="$demo_dir/berth.sock"
config="$demo_dir/berth.conf"
users_spec="${BERTH_DEMO_USERS:-alice:alice-pass,bob:bob-pass}"
admin_token="${BERTH_DEMO_ADMIN_TOKEN:-demo-admin-token}"

((EUID == 0)) || stack_die "the demo installs packages, may start dockerd and runs containers, so it needs root; run: sudo make demo"
if ! [[ "$port" =~ ^[0-9]+$ ]] || ((port < 1 || port > 65535)); then
  stack_die "invalid BERTH_DEMO_PORT '$port': give a TCP port number"
fi
[[ "$users_spec" != *[\'\"\\]* ]] ||
  stack_die "BERTH_DEMO_USERS contains a quote or backslash, which the printed curl examples cannot carry; choose other passwords"

check_no_demo_running() {
  local nginx_pid=""

  [[ -f "$demo_dir/nginx/nginx.pid" ]] && nginx_pid="$(cat "$demo_dir/nginx/nginx.pid")"
  if [[ -n "$nginx_pid" ]] && kill -0 "$nginx_pid" 2>/dev/null; then
    stack_die "a demo is already running (nginx pid $nginx_pid); stop it with Ctrl-C in its terminal"
  fi
  if [[ -n "$(ss -Hxl src "$socket" 2>/dev/null)" ]]; then
    stack_die "a process already listens on $socket, probably a berth left by an earlier demo; stop it first"
  fi
  if [[ -n "$(ss -Hltn "sport = :$port" 2>/dev/null)" ]]; then
    stack_die "port $port is in use; set BERTH_DEMO_PORT to a free port"
  fi
}

print_banner() {
  local first_entry="${users_spec%%,*}" entry
  local first_user="${first_entry%%:*}" first_password="${first_entry#*:}"
  local -a entries

  IFS=',' read -r -a entries <<<"$users_spec"
  cat <<EOF

berth demo: $base_url

Users (user / password):
$(for entry in "${entries[@]}"; do printf '  %s / %s\n' "${entry%%:*}" "${entry#*:}"; done)
Admin token: $admin_token

Try:
  curl -i -c .demo/cookies -H 'Content-Type: application/json' \\
       -d '{"user":"$first_user","password":"$first_password"}' $base_url/login
  curl -i -b .demo/cookies -c .demo/cookies -X POST $base_url/logout
  curl -i -H 'Authorization: Bearer $admin_token' $base_url/api/containers
  make sweep    # one sweep pass against this demo's pool

Files: $demo_dir (config berth.conf, nginx log nginx/error.log)
Ctrl-C stops berth and nginx and removes the demo's containers.

EOF
}

# Stop berth with SIGTERM for any stop request: background jobs of a
# non-interactive shell start with SIGINT ignored, so a forwarded SIGINT
# could go unnoticed.
# shellcheck disable=SC2317 # called by the traps below
on_signal() {
  local signal="$1"

  trap - INT TERM HUP EXIT
  stack_log "received SIG$signal"
  stop_sweep_loop
  stack_stop_all TERM "$pool"
  rm -f "$socket"
  case "$signal" in
    INT) exit 130 ;;
    HUP) exit 129 ;;
    *) exit 143 ;;
  esac
}

sweep_pid=""

# shellcheck disable=SC2317 # called by the traps below
stop_sweep_loop() {
  [[ -n "$sweep_pid" ]] && kill "$sweep_pid" 2>/dev/null
  sweep_pid=""
  return 0
}

# shellcheck disable=SC2317 # called by the EXIT trap
on_exit() {
  stop_sweep_loop
  stack_stop_all TERM "$pool"
  rm -f "$socket"
}


"$repo/scripts/deps.sh"
check_no_demo_running
"$repo/scripts/start-dockerd.sh"
make -C "$repo" -j"$(nproc)"
make -C "$repo" image

# Containers of this pool that still exist belong to an earlier demo that
# was killed before it could clean up.
stack_remove_pool_containers "$pool"

mkdir -p "$demo_dir"
rm -f "$socket"
stack_write_htpasswd "$demo_dir/htpasswd" "$users_spec"
stack_write_token "$demo_dir/admin-token" "$admin_token"
stack_write_config "$config" \
  "listen=$socket" \
  "segment=$pool" \
  "htpasswd=$demo_dir/htpasswd" \
  "admin_token_file=$demo_dir/admin-token"
stack_write_nginx_conf "$demo_dir/nginx" "$host:$port" "$socket"

trap 'on_signal INT' INT
trap 'on_signal TERM' TERM
trap 'on_signal HUP' HUP
trap on_exit EXIT

stack_start_nginx "$demo_dir/nginx" "$host" "$port"
stack_log "nginx (pid $stack_nginx_pid) listens on $base_url"
print_banner

stack_start_berth "$config"
stack_log "berth serve (pid $stack_berth_pid) started with $config"
if stack_wait_healthy "$base_url/healthz" 15; then
  stack_log "berth is ready: $base_url"
elif kill -0 "$stack_berth_pid" 2>/dev/null; then
  stack_log "berth is running, but $base_url/healthz has not returned 200 within 15 s; see its log above"
fi

# The same schedule as berth-sweep.timer: one pass a minute.
sweep_loop() {
  while sleep 60; do
    "$repo/build/berth" sweep --config "$config" || stack_log "sweep failed; the next pass retries"
  done
}
sweep_loop &
sweep_pid=$!
stack_log "sweeping every 60 s (pid $sweep_pid); make sweep runs a pass now"

status=0
wait "$stack_berth_pid" || status=$?
stack_berth_pid=""
stack_log "berth exited with status $status"
exit "$status"
