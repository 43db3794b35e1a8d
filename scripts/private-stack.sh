# shellcheck shell=bash
# Functions for a private berth stack on loopback: config files, an nginx
# run from its own prefix, `berth serve`, and removal of the pool's
# containers. Sourced by scripts/demo.sh and bench/run.sh, which set
# stack_log_prefix and call stack_stop_all on exit.
#
# Processes start in a session of their own (setsid), so a Ctrl-C in the
# terminal reaches only the calling script, which then stops them in order:
# berth first, so that it destroys its own containers.

stack_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stack_log_prefix="${stack_log_prefix:-stack}"
stack_berth_pid=""
stack_nginx_pid=""

# Maximum length of a unix socket path: sun_path is 108 bytes on Linux,
# including the terminating NUL.
readonly stack_max_socket_path=107

stack_log() {
  echo "$stack_log_prefix: $*"
}

stack_die() {
  echo "$stack_log_prefix: $*" >&2
  exit 1
}

# Write a bcrypt htpasswd file from "user:password,user:password". The
# passwords go to htpasswd on stdin, so they never appear in a process list.
stack_write_htpasswd() {
  local file="$1" spec="$2" entry user password output index=0
  local -a entries

  IFS=',' read -r -a entries <<<"$spec"
  ((${#entries[@]} > 0)) || stack_die "the user list is empty; give users as user:password,user:password"

  rm -f "$file"
  (umask 077 && : >"$file")
  for entry in "${entries[@]}"; do
    index=$((index + 1))
    user="${entry%%:*}"
    password="${entry#*:}"
    if [[ "$entry" != *:* || -z "$user" || -z "$password" ]]; then
      stack_die "user entry $index is not user:password with both parts set"
    fi
    [[ "$user" =~ ^[A-Za-z0-9._-]+$ ]] ||
      stack_die "invalid user name '$user' (entry $index): use letters, digits, '.', '_' and '-'"
    output="$(htpasswd -B -i "$file" "$user" 2>&1 <<<"$password")" ||
      stack_die "htpasswd failed for user '$user': $output"
  done
}

# Write the admin token, readable by its owner only. No trailing newline, so
# a reader that does not trim whitespace still gets the exact token.
stack_write_token() {
  local file="$1" token="$2"

  [[ -n "$token" && "$token" != *[[:space:]]* ]] || stack_die "invalid admin token: it must be non-empty and contain no whitespace"
  rm -f "$file"
  (umask 077 && printf '%s' "$token" >"$file")
}

# Write berth's config file from "key=value" arguments, one `key = value` a line.
stack_write_config() {
  local file="$1" pair
  shift

  {
    echo "# Written by $(basename "$0"); rewritten on every run."
    for pair in "$@"; do
      echo "${pair%%=*} = ${pair#*=}"
    done
  } >"$file"
}

# Fill nginx-conf/demo-nginx.conf.in for an nginx that listens on LISTEN and
# passes berth's routes to SOCKET; check the result with `nginx -t`.
stack_write_nginx_conf() {
  local prefix="$1" listen="$2" socket="$3" output
  local template="$stack_repo/nginx-conf/demo-nginx.conf.in"
  local locations="$stack_repo/nginx-conf/berth-locations.conf"

  ((${#socket} <= stack_max_socket_path)) ||
    stack_die "socket path $socket is longer than $stack_max_socket_path bytes; move the repository to a shorter path"
  mkdir -p "$prefix"

  sed "s|unix:/run/berth/berth.sock|unix:$socket|g" "$locations" >"$prefix/berth-locations.conf"
  grep -qF "unix:$socket;" "$prefix/berth-locations.conf" ||
    stack_die "$locations no longer contains 'unix:/run/berth/berth.sock'; update the sed in ${BASH_SOURCE[0]}"

  sed -e "s|@LISTEN@|$listen|g" -e "s|@LOCATIONS@|$prefix/berth-locations.conf|g" "$template" >"$prefix/nginx.conf"
  output="$(nginx -t -q -p "$prefix/" -c "$prefix/nginx.conf" 2>&1)" ||
    stack_die "nginx rejects $prefix/nginx.conf: $output"
}

# Start nginx from PREFIX and wait until it responds on HOST:PORT.
stack_start_nginx() {
  local prefix="$1" host="$2" port="$3"

  setsid nginx -p "$prefix/" -c "$prefix/nginx.conf" -g 'daemon off;' >>"$prefix/nginx.out" 2>&1 </dev/null &
  stack_nginx_pid=$!

  for _ in $(seq 1 100); do
    if curl -s -o /dev/null --max-time 1 "http://$host:$port/"; then
      return 0
    fi
    if ! kill -0 "$stack_nginx_pid" 2>/dev/null; then
      stack_nginx_pid=""
      stack_die "nginx exited at startup: $(tail -n 5 "$prefix/error.log" "$prefix/nginx.out" 2>/dev/null)"
    fi
    sleep 0.05
  done
  stack_die "nginx (pid $stack_nginx_pid) did not respond on http://$host:$port/ within 5 s; see $prefix/error.log"
}

# Start `berth serve` in the background, logging to LOG_FILE when given and
# to this terminal otherwise.
stack_start_berth() {
  local config="$1" log_file="${2:-}"

  if [[ -n "$log_file" ]]; then
    setsid "$stack_repo/build/berth" serve --config "$config" >>"$log_file" 2>&1 </dev/null &
  else
    setsid "$stack_repo/build/berth" serve --config "$config" </dev/null &
  fi
  stack_berth_pid=$!
}

# Wait until URL returns 200. Fails when TIMEOUT seconds pass or berth exits.
stack_wait_healthy() {
  local url="$1" timeout_seconds="$2" attempt

  for ((attempt = 0; attempt < timeout_seconds * 10; attempt++)); do
    if [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "$url" || true)" == 200 ]]; then
      return 0
    fi
    if [[ -n "$stack_berth_pid" ]] && ! kill -0 "$stack_berth_pid" 2>/dev/null; then
      return 1
    fi
    sleep 0.1
  done
  return 1
}

# Send SIGNAL to PID and wait up to TIMEOUT seconds for it to exit, then
# kill it. PID must be a child of this shell, so that `wait` reaps it.
stack_stop_process() {
  local pid="$1" name="$2" signal="$3" timeout_seconds="$4" tenth

  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 0
  stack_log "stopping $name (pid $pid) with SIG$signal"
  kill -s "$signal" "$pid" 2>/dev/null || true

  for ((tenth = 0; tenth < timeout_seconds * 10; tenth++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    stack_log "$name (pid $pid) still runs after ${timeout_seconds} s; killing it"
    kill -s KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Remove every container of POOL: those labelled both io.berth.managed=true
# and io.berth.pool=POOL. Other containers are never touched.
stack_remove_pool_containers() {
  local pool="$1"
  local -a ids

  mapfile -t ids < <(docker ps -aq --filter label=io.berth.managed=true --filter "label=io.berth.pool=$pool")
  ((${#ids[@]} > 0)) || return 0
  stack_log "removing ${#ids[@]} container(s) of pool $pool"
  docker rm -f -v "${ids[@]}" >/dev/null || stack_log "docker rm failed for some containers of pool $pool; list them with: docker ps -a --filter label=io.berth.pool=$pool"
}

# Stop berth with SIGNAL (it then destroys its containers), stop nginx, and
# remove whatever containers of POOL remain. Safe to call more than once.
stack_stop_all() {
  local signal="$1" pool="$2"

  stack_stop_process "$stack_berth_pid" berth "$signal" 60
  stack_berth_pid=""
  stack_stop_process "$stack_nginx_pid" nginx QUIT 5
  stack_nginx_pid=""
  stack_remove_pool_containers "$pool"
}

# Print a TCP port on 127.0.0.1 that is free at this moment.
stack_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
