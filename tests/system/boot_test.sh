#!/usr/bin/env bash
# Boot test: install berth with `make install` into a Debian bookworm
# container whose PID 1 is systemd, and run it as berth.service behind the
# installed nginx site. Then check a login, a stop, a crash with its restart,
# and the sweep of the containers that a crash without restart leaves.
#
# The container shares the host's network and dockerd: its nginx listens on
# a free loopback port, and the workspace containers that berth starts are
# the host's containers, labelled with a pool name unique to this run.
# Only that container and the containers of that pool are removed at exit.
#
# The image berth-test/systemd:bookworm is built with debootstrap from the
# host's Debian mirror when missing, and reused while its recipe (suite,
# package list and build steps) is unchanged.
#
# Usage: tests/system/boot_test.sh   (as root, with dockerd running)
# Environment:
#   BERTH_BINARY       berth to install (default build/berth)
#   BERTH_TEST_MIRROR  Debian mirror for debootstrap (default: the host's
#                      apt source for bookworm)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo
binary="$(realpath "${BERTH_BINARY:-$repo/build/berth}")"
readonly binary
readonly suite=bookworm
readonly image=berth-test/systemd:$suite
readonly recipe_label=io.berth.test-image
readonly run_label="io.berth.test=boot-$$"
readonly segment="berth-boot-$$"
readonly users_password=boot-test-pass
# Path of the binary under test inside the container, where `make install`
# copies it from.
readonly box_binary=/opt/berth-under-test/berth

box=""
work_dir=""
rootfs=""
failures=0
checks=0

log() {
  echo "boot-test: $*"
}

die() {
  echo "boot-test: $*" >&2
  exit 1
}

pass() {
  checks=$((checks + 1))
  echo "PASS: $*"
}

fail() {
  checks=$((checks + 1))
  failures=$((failures + 1))
  echo "FAIL: $*"
}

# Record a check that later steps depend on; a failure ends the test.
require() {
  local name="$1"
  shift
  if "$@"; then
    pass "$name"
  else
    fail "$name"
    die "stopping after a failed prerequisite; the journal follows on exit"
  fi
}

# Record a check; the test goes on after a failure.
check() {
  local name="$1"
  shift
  if "$@"; then pass "$name"; else fail "$name"; fi
}

# Run COMMAND until it succeeds or SECONDS pass.
wait_until() {
  local seconds="$1" tenth
  shift

  for ((tenth = 0; tenth < seconds * 10; tenth++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

in_box() {
  docker exec "$box" "$@"
}

cleanup() {
  local status=$? ids

  if [[ -n "$box" ]]; then
    if ((status != 0 || failures > 0)); then
      echo "boot-test: journal of berth, berth-sweep and nginx in the test container:"
      in_box journalctl --no-pager -n 60 -u berth -u berth-sweep -u nginx 2>&1 || true
    fi
    docker rm -f -v "$box" >/dev/null 2>&1 || echo "boot-test: removing test container $box failed; remove it with: docker rm -f $box" >&2
  fi

  # Containers that berth started in the test container, left by a failure.
  ids="$(pool_containers 2>/dev/null || true)"
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086
    docker rm -f -v $ids >/dev/null 2>&1 || echo "boot-test: removing the containers of pool $segment failed; list them with: docker ps -a --filter label=io.berth.pool=$segment" >&2
  fi

  [[ -n "$work_dir" ]] && rm -rf "$work_dir"
  [[ -n "$rootfs" ]] && rm -rf "$rootfs"
  return 0
}
trap cleanup EXIT
# bash skips the EXIT trap when a signal ends it; exiting from a trap runs it.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

pool_containers() {
  docker ps -aq --no-trunc --filter label=io.berth.managed=true --filter "label=io.berth.pool=$segment"
}


# --- Image -----------------------------------------------------------------

# Print the Debian packages that own the shared libraries of BINARY, so that
# the image can run the host's build.
runtime_packages() {
  local libraries path owner

  libraries="$(ldd "$binary")" || die "ldd $binary failed; is it a dynamically linked ELF file?"
  if grep -q 'not found' <<<"$libraries"; then
    die "ldd cannot resolve every library of $binary on this host: $(grep 'not found' <<<"$libraries" | tr -s ' \t\n' ' ')"
  fi

  while read -r path; do
    # Debian 12 merged /lib into /usr/lib, but dpkg records either spelling.
    owner="$(dpkg-query -S "$path" 2>/dev/null || dpkg-query -S "/usr$path" 2>/dev/null || dpkg-query -S "${path#/usr}" 2>/dev/null)" ||
      die "$path, a library of $binary, belongs to no installed Debian package"
    owner="${owner%%: *}"
    echo "${owner%%:*}"
  done < <(awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' <<<"$libraries") | sort -u
}

# Print the URI of the host's apt source for $suite, from deb822 .sources
# files or one-line .list files.
host_mirror() {
  local uri=""

  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    uri="$(awk -v suite="$suite" '
      BEGIN { RS = "" }
      {
        types = ""; suites = ""; uris = ""
        n = split($0, lines, "\n")
        for (i = 1; i <= n; i++) {
          if (lines[i] ~ /^Types:/) types = " " substr(lines[i], 7) " "
          if (lines[i] ~ /^Suites:/) suites = " " substr(lines[i], 8) " "
          if (lines[i] ~ /^URIs:/) uris = substr(lines[i], 6)
        }
        gsub(/\t/, " ", types); gsub(/\t/, " ", suites)
        if (types ~ / deb / && suites ~ (" " suite " ")) {
          split(uris, first, " ")
          print first[1]
          exit
        }
      }' /etc/apt/sources.list.d/*.sources)"
  fi
  if [[ -z "$uri" ]]; then
    uri="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk -v suite="$suite" '
      $1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
        if ($(i + 1) == suite) { print $i; exit }
      }')" || true
  fi
  echo "$uri"
}

# Build the root file system with debootstrap and import it as $image,
# labelled with the recipe hash.
build_image() {
  local packages="$1" hash="$2" mirror="$3"

  rootfs="$(mktemp -d /var/tmp/berth-boot-rootfs.XXXXXX)"
  log "building $image with debootstrap from $mirror (a minute or more; cached afterwards)"
  debootstrap --foreign --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$work_dir/debootstrap.log" 2>&1 ||
    die "debootstrap (first stage) failed; last lines of its log: $(tail -n 5 "$work_dir/debootstrap.log")"

  # Packages are configured without network, and policy-rc.d denies every
  # service start, so that no maintainer script (nginx's, for one) starts a daemon
  # on the host's network. The mount namespace keeps debootstrap's /proc and
  # /sys mounts inside the rootfs away from the host.
  printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
  chmod 0755 "$rootfs/usr/sbin/policy-rc.d"
  unshare --net --mount --fork chroot "$rootfs" /debootstrap/debootstrap --second-stage >>"$work_dir/debootstrap.log" 2>&1 ||
    die "debootstrap (second stage) failed; last lines of its log: $(tail -n 5 "$work_dir/debootstrap.log")"
  rm -f "$rootfs/usr/sbin/policy-rc.d"

  # With the host's network, nginx's default site would claim port 80 of the
  # host at boot; the test starts nginx itself on a free port.
  rm -f "$rootfs/etc/nginx/sites-enabled/default" "$rootfs/etc/systemd/system/multi-user.target.wants/nginx.service"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

  tar -C "$rootfs" -c . | docker import -c 'CMD ["/sbin/init"]' -c "LABEL $recipe_label=$hash" - "$image" >/dev/null ||
    die "docker import of $rootfs failed"
  rm -rf "$rootfs"
  rootfs=""
}

# Make sure $image exists and matches the current recipe.
ensure_image() {
  local runtime packages hash mirror old_id

  runtime="$(runtime_packages)"
  packages="$(printf '%s\n' systemd systemd-sysv dbus nginx-light curl procps make ca-certificates "$runtime" |
    sort -u | paste -sd,)"
  hash="$( (echo "$suite $packages" && declare -f build_image) | sha256sum | cut -c1-16)"

  if [[ -n "$(docker images -q --filter "label=$recipe_label=$hash" "$image")" ]]; then
    log "reusing $image (recipe $hash)"
    return 0
  fi

  mirror="${BERTH_TEST_MIRROR:-$(host_mirror)}"
  [[ -n "$mirror" ]] || die "no apt source for $suite found in /etc/apt; set BERTH_TEST_MIRROR to a Debian mirror URL"
  old_id="$(docker images -q "$image")"
  build_image "$packages" "$hash" "$mirror"
  if [[ -n "$old_id" && "$old_id" != "$(docker images -q "$image")" ]]; then
    docker image rm "$old_id" >/dev/null 2>&1 || true
  fi
  log "built $image (recipe $hash)"
}


# --- Host side -------------------------------------------------------------

port_in_use() {
  [[ -n "$(ss -Hltn "sport = :$1")" ]]
}

# Set nginx_port and port_min..port_max to free loopback ports: five for
# berth's containers and the next one for nginx.
pick_ports() {
  local attempt base port busy

  for ((attempt = 0; attempt < 100; attempt++)); do
    base=$((20000 + RANDOM % 30000))
    busy=false
    for ((port = base; port <= base + 5; port++)); do
      if port_in_use "$port"; then
        busy=true
        break
      fi
    done
    if [[ "$busy" == false ]]; then
      port_min=$base
      port_max=$((base + 4))
      nginx_port=$((base + 5))
      return 0
    fi
  done
  die "no 6 consecutive free TCP ports found between 20000 and 50000; free some and run again"
}

# POST /login for alice through the test container's nginx. Sets
# login_status, login_port and login_container.
login() {
  local body

  login_status="$(curl -s -o "$work_dir/login.json" -w '%{http_code}' --max-time 60 \
    -H 'Content-Type: application/json' -d "{\"user\":\"alice\",\"password\":\"$users_password\"}" \
    "http://127.0.0.1:$nginx_port/login" || true)"
  body="$(cat "$work_dir/login.json" 2>/dev/null || true)"
  login_port="$(python3 -c 'import json, sys; print(json.load(sys.stdin).get("port", ""))' <<<"$body" 2>/dev/null || true)"
  login_container="$(python3 -c 'import json, sys; print(json.load(sys.stdin).get("container", ""))' <<<"$body" 2>/dev/null || true)"
  if [[ "$login_status" != 200 ]]; then
    log "POST /login returned HTTP $login_status: $body"
  fi
}

login_succeeded() {
  [[ "$login_status" == 200 && "$login_port" =~ ^[0-9]+$ ]] &&
    ((login_port >= port_min && login_port <= port_max)) && [[ -n "$login_container" ]]
}

container_exists() {
  pool_containers | grep -q "^$1"
}

container_gone() {
  ! container_exists "$1"
}

pool_is_empty() {
  [[ -z "$(pool_containers)" ]]
}


# --- Checks inside the container -------------------------------------------

unit_property() {
  in_box systemctl show -p "$2" --value "$1"
}

unit_state_is() {
  [[ "$(in_box systemctl is-active "$1" || true)" == "$2" ]]
}

healthy() {
  [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$nginx_port/healthz" || true)" == 200 ]]
}

process_runs_as() {
  local title="$1" user="$2"

  in_box ps -eo user:20,args | grep -E "^$user +$title\$" >/dev/null
}

file_is() {
  [[ "$(in_box stat -c '%U %G %a' "$1")" == "$2" ]]
}

segment_exists() {
  in_box test -e "/dev/shm/$segment"
}

# Print curl's exit status for an HTTP request that USER sends to the
# FastCGI socket. 7 means the connection failed. berth closes a connection
# that does not speak FastCGI, which curl reports as 52 or 56.
connect_status() {
  local status=0
  in_box runuser -u "$1" -- curl -s -o /dev/null --max-time 2 --unix-socket /run/berth/berth.sock http://berth/healthz || status=$?
  echo "$status"
}

can_connect() {
  local status
  status="$(connect_status "$1")"
  [[ "$status" =~ ^(0|52|56)$ ]] || {
    log "curl as $1 on /run/berth/berth.sock exited with $status"
    return 1
  }
}

cannot_connect() {
  local status
  status="$(connect_status "$1")"
  [[ "$status" == 7 ]] || {
    log "curl as $1 on /run/berth/berth.sock exited with $status, expected 7 (failed to connect)"
    return 1
  }
}

# Print the log of the last run of berth-sweep.service.
last_sweep_log() {
  in_box journalctl --no-pager -o cat "_SYSTEMD_INVOCATION_ID=$(unit_property berth-sweep.service InvocationID)"
}

sweep_log_has() {
  last_sweep_log | grep -q -- "$1"
}

verify_units_quietly() {
  local output
  output="$(in_box sh -c 'cd / && systemd-analyze verify berth.service berth-sweep.service berth-sweep.timer 2>&1')" || {
    log "systemd-analyze verify failed: $output"
    return 1
  }
  [[ -z "$output" ]] || {
    log "systemd-analyze verify printed: $output"
    return 1
  }
}

binary_loads() {
  in_box env LD_BIND_NOW=1 /usr/local/bin/berth --help >/dev/null
}

main_pid_changed() {
  local pid
  pid="$(unit_property berth.service MainPID)"
  [[ "$pid" != 0 && "$pid" != "$1" ]] && unit_state_is berth active
}


# --- Main ------------------------------------------------------------------

((EUID == 0)) || die "debootstrap and the test container need root; run: sudo $0"
for tool in docker debootstrap htpasswd curl python3 ss unshare; do
  command -v "$tool" >/dev/null || die "$tool not found; run scripts/deps.sh"
done
docker info >/dev/null 2>&1 || die "dockerd is not reachable; start it with: scripts/start-dockerd.sh"
[[ -x "$binary" ]] || die "$binary not found; build it with: make"
docker image inspect berth/workspace:latest >/dev/null 2>&1 || die "image berth/workspace:latest not found; build it with: make image"

started=$SECONDS
work_dir="$(mktemp -d "${TMPDIR:-/tmp}/berth-boot.XXXXXX")"
ensure_image
pick_ports

log "starting the test container (pool $segment, nginx on 127.0.0.1:$nginx_port, ports $port_min-$port_max)"
box="$(docker run -d --cap-add SYS_ADMIN --cgroupns=private --stop-signal SIGRTMIN+3 --network host \
  -v /var/run/docker.sock:/run/docker.sock -v "$repo:/src:ro" -v "$binary:$box_binary:ro" \
  --tmpfs /run --tmpfs /run/lock --label "$run_label" "$image" /sbin/init)"
# "degraded" is fine: some units of a full system fail inside a container.
wait_until 30 bash -c "[[ \"\$(docker exec $box systemctl is-system-running 2>/dev/null)\" =~ ^(running|degraded)\$ ]]" ||
  die "systemd in container $box did not finish booting within 30 s: $(in_box systemctl is-system-running 2>&1 || true)"

# The group docker of the container must carry the GID of the host's socket.
docker_gid="$(stat -c %g /var/run/docker.sock)"
in_box groupadd --system --non-unique --gid "$docker_gid" docker || die "groupadd docker (GID $docker_gid) failed in the test container"
in_box make -s -C /src install DESTDIR= PREFIX=/usr/local INSTALL_BINARY="$box_binary" >"$work_dir/install.log" ||
  die "make install failed in the test container: $(tail -n 5 "$work_dir/install.log")"
in_box systemd-sysusers >>"$work_dir/install.log" 2>&1 || die "systemd-sysusers failed in the test container: $(tail -n 5 "$work_dir/install.log")"

htpasswd -B -C 5 -i -c "$work_dir/htpasswd" alice <<<"$users_password" 2>/dev/null || die "htpasswd failed to write $work_dir/htpasswd"
printf 'boot-test-admin-%s' "$$" >"$work_dir/admin-token"
cat >"$work_dir/berth.conf" <<EOF
# Written by tests/system/boot_test.sh.
segment = $segment
port_min = $port_min
port_max = $port_max
workers = 2
threads = 4
EOF
for file in htpasswd admin-token berth.conf; do
  docker cp "$work_dir/$file" "$box:/etc/berth/$file" || die "docker cp of $file into $box:/etc/berth failed"
done
in_box systemd-tmpfiles --create berth.conf || die "systemd-tmpfiles --create berth.conf failed in the test container"

in_box sed -i -e "s/^\( *\)listen 80 default_server;/\1listen 127.0.0.1:$nginx_port default_server;/" \
  -e '/listen \[::\]:80/d' /etc/nginx/sites-available/berth
in_box grep -q "listen 127.0.0.1:$nginx_port default_server;" /etc/nginx/sites-available/berth ||
  die "the installed nginx site has no 'listen 80 default_server;' line to change; update this test's sed"
in_box ln -s ../sites-available/berth /etc/nginx/sites-enabled/berth || die "enabling the nginx site berth failed"

in_box systemctl daemon-reload
in_box systemctl enable --quiet berth.service berth-sweep.timer || die "systemctl enable failed; are the units installed?"
in_box systemctl start berth-sweep.timer berth.service nginx.service ||
  die "systemctl start berth-sweep.timer berth.service nginx.service failed"
log "installed and started in $((SECONDS - started)) s"

# Installation.
check "berth's libraries resolve in the container" binary_loads
check "systemd-analyze verify prints nothing for the installed units" verify_units_quietly
check "/etc/berth/htpasswd is root:berth 0640 (tmpfiles)" file_is /etc/berth/htpasswd "root berth 640"
check "user berth is in group docker (sysusers)" bash -c "docker exec $box id -nG berth | grep -qw docker"

# The running pool.
require "GET /healthz through nginx returns 200" wait_until 15 healthy
check "berth.service is active" unit_state_is berth active
check "ps shows 'berth: master' as user berth" process_runs_as "berth: master" berth
check "ps shows 'berth: worker 1' as user berth" process_runs_as "berth: worker 1" berth
check "ps shows 'berth: worker 2' as user berth" process_runs_as "berth: worker 2" berth
check "/run/berth is berth:www-data 0750" file_is /run/berth "berth www-data 750"
check "the socket is berth:www-data 0660" file_is /run/berth/berth.sock "berth www-data 660"
check "www-data can connect to the socket" can_connect www-data
check "user nobody cannot connect to the socket" cannot_connect nobody
check "list-timers shows berth-sweep.timer" bash -c "docker exec $box systemctl list-timers --all --no-pager | grep -q 'berth-sweep.timer *berth-sweep.service'"

login
require "POST /login through nginx returns 200 with a port in $port_min-$port_max" login_succeeded
check "the host's dockerd runs the session's container in pool $segment" container_exists "$login_container"

# A stop: SIGTERM to the master, which removes the pool's containers.
in_box systemctl stop berth.service || true
check "systemctl stop ends berth.service cleanly" bash -c "[[ \$(docker exec $box systemctl show -p Result --value berth) == success ]]"
check "systemctl stop removes the pool's containers" pool_is_empty
check "systemctl stop removes the segment" bash -c "! docker exec $box test -e /dev/shm/$segment"

# A crash: Restart=on-failure starts a new pool, which removes the old one's containers.
in_box systemctl start berth.service || true
require "berth.service starts again" wait_until 15 healthy
login
require "POST /login returns 200 after the restart" login_succeeded
crashed_container="$login_container"
old_pid="$(unit_property berth.service MainPID)"
in_box systemctl kill --signal=SIGKILL berth.service || die "systemctl kill --signal=SIGKILL berth.service failed"
check "Restart=on-failure restarts berth.service after SIGKILL" wait_until 15 main_pid_changed "$old_pid"
check "the restarted pool removes the crashed pool's container" wait_until 15 container_gone "$crashed_container"
require "the restarted pool serves /healthz" wait_until 15 healthy

# A sweep beside a live pool keeps its sessions.
login
require "POST /login returns 200 on the restarted pool" login_succeeded
in_box systemctl start berth-sweep.service || true
check "a sweep beside the live pool keeps its container" container_exists "$login_container"
check "the sweep's summary reports the live session" sweep_log_has "sessions=1 orphans_removed=0"

# A crash without restart: the container stays until the sweep removes it.
# A restarted pool would remove it at start, so a drop-in turns Restart= off.
in_box systemctl stop berth-sweep.timer || die "systemctl stop berth-sweep.timer failed"
in_box sh -c 'mkdir -p /run/systemd/system/berth.service.d &&
  printf "[Service]\nRestart=no\n" >/run/systemd/system/berth.service.d/boot-test.conf &&
  systemctl daemon-reload' || die "adding the drop-in Restart=no to berth.service failed"
in_box systemctl kill --signal=SIGKILL berth.service || die "systemctl kill --signal=SIGKILL berth.service failed"
require "berth.service fails after SIGKILL with Restart=no" wait_until 15 unit_state_is berth failed
check "the crashed pool's container is still there" container_exists "$login_container"
check "the crashed pool's segment is still there" segment_exists
in_box systemctl start berth-sweep.service || true
check "berth-sweep.service removes the orphan container" container_gone "$login_container"
check "berth-sweep.service ends with result success" bash -c "[[ \$(docker exec $box systemctl show -p Result --value berth-sweep) == success ]]"
check "journalctl -u berth-sweep shows the summary line" sweep_log_has "sweep: containers=1 sessions=0 orphans_removed=1 .* errors=0"

log "exposure of berth.service per systemd-analyze security: $(in_box systemd-analyze security --no-pager berth.service 2>/dev/null | tail -n 1 || true)"
log "$checks checks, $failures failed, $((SECONDS - started)) s"
((failures == 0)) || exit 1
