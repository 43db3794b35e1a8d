#!/usr/bin/env bash
# Install berth with `make install` into a temporary DESTDIR and check what
# lands there. `systemd-analyze verify` checks the units, and the sysusers.d
# and tmpfiles.d entries are applied to that root. The example config must
# match the config parser's keys and defaults, and a second install must
# keep the files an administrator edits. Needs systemd installed, not running.
#
# Usage: tests/system/units_test.sh
# Environment: BERTH_BINARY  berth to install (default build/berth)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
readonly repo
binary="$(realpath "${BERTH_BINARY:-$repo/build/berth}")"
readonly binary
readonly units=(berth.service berth-sweep.service berth-sweep.timer)

work_dir=""
failures=0
checks=0

die() {
  echo "units-test: $*" >&2
  exit 1
}

log() {
  echo "units-test: $*"
}

check() {
  local name="$1"
  shift
  checks=$((checks + 1))
  if "$@"; then
    echo "PASS: $name"
  else
    failures=$((failures + 1))
    echo "FAIL: $name"
  fi
}

cleanup() {
  [[ -n "$work_dir" ]] && rm -rf "$work_dir"
  return 0
}
trap cleanup EXIT
# bash skips the EXIT trap when a signal ends it; exiting from a trap runs it.
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

install_into() {
  make -s -C "$repo" install DESTDIR="$1" PREFIX=/usr/local INSTALL_BINARY="$binary" >"$work_dir/install.log" 2>&1 ||
    die "make install DESTDIR=$1 failed: $(tail -n 5 "$work_dir/install.log")"
}

# Print every file under ROOT, relative to it, sorted.
list_files() {
  (cd "$1" && find . -type f -printf '%P\n' | LC_ALL=C sort)
}

# systemd-analyze verify resolves unit names and Exec paths inside ROOT.
# Without --root it would look for /usr/local/bin/berth on this host.
verify_output() {
  (cd / && systemd-analyze verify --root="$1" "${@:2}" 2>&1)
}

verify_is_quiet() {
  local output

  output="$(verify_output "$root" "${units[@]}")" || {
    log "systemd-analyze verify failed: $output"
    return 1
  }
  [[ -z "$output" ]] || {
    log "systemd-analyze verify printed: $output"
    return 1
  }
}

# A control: verify must report a key that systemd does not know, or the
# check above could never fail.
verify_reports_unknown_key() {
  local unit_file="$root/usr/local/lib/systemd/system/berth-sweep.timer" output

  cp "$unit_file" "$work_dir/timer.saved"
  printf 'NoSuchKey=1\n' >>"$unit_file"
  output="$(verify_output "$root" berth-sweep.timer || true)"
  cp "$work_dir/timer.saved" "$unit_file"
  grep -q "Unknown key 'NoSuchKey'" <<<"$output"
}

exec_start_is() {
  grep -qx "ExecStart=$2" "$root/usr/local/lib/systemd/system/$1"
}

group_has_member() {
  grep -Eq "^$1:x:[0-9]+:(.*,)?$2(,.*)?\$" "$root/etc/group"
}

# MODE OWNER GROUP of FILE, with the group's name read from ROOT's
# /etc/group, because the host may give that GID another name.
file_is() {
  local file="$1" expected="$2" mode owner gid group

  read -r mode owner gid < <(stat -c '%a %u %g' "$root$file")
  group="$(awk -F: -v gid="$gid" '$3 == gid { print $1; exit }' "$root/etc/group")"
  [[ "$owner" == 0 ]] && owner=root
  [[ "$gid" == 0 ]] && group=root
  [[ "$mode $owner ${group:-$gid}" == "$expected" ]] || {
    log "$file is '$mode $owner ${group:-$gid}', expected '$expected'"
    return 1
  }
}

# Print "key value" for every field of struct Config in config/config.hpp.
header_defaults() {
  sed -n 's/^ *[a-z:0-9_]\+ \([a-z_]\+\) = \([^;]*\);.*/\1 \2/p' "$repo/config/config.hpp" | tr -d '"'
}

# Print "key value" for every commented-out key line of the example.
example_defaults() {
  sed -n 's/^#\([a-z_]\+\) = \(.*\)$/\1 \2/p' "$root/etc/berth/berth.conf.example"
}

# Print the keys that config/config.cpp accepts.
parser_keys() {
  sed -n 's/^ *{"\([a-z_]\+\)",.*/\1/p' "$repo/config/config.cpp" | LC_ALL=C sort
}

example_keys_match_parser() {
  local differences

  differences="$(diff <(parser_keys) <(example_defaults | cut -d' ' -f1 | LC_ALL=C sort))" || {
    log "keys differ between config/config.cpp (<) and berth.conf.example (>): $differences"
    return 1
  }
}

example_defaults_match_header() {
  local differences

  differences="$(diff <(header_defaults | LC_ALL=C sort) <(example_defaults | LC_ALL=C sort))" || {
    log "defaults differ between config/config.hpp (<) and berth.conf.example (>): $differences"
    return 1
  }
}

# Every key uncommented must parse: `berth list` then fails only because no
# pool runs (status 1), never on the config (status 2).
example_parses() {
  local config="$work_dir/uncommented.conf" status=0 output

  sed -e 's/^#\([a-z_]\+ = \)/\1/' -e "s/^segment = .*/segment = berth-units-test-$$/" \
    "$root/etc/berth/berth.conf.example" >"$config"
  output="$("$binary" list --config "$config" 2>&1)" || status=$?
  [[ "$status" == 1 && "$output" == *"no pool is running"* ]] || {
    log "berth list --config $config exited with $status: $output"
    return 1
  }
}


command -v systemd-analyze >/dev/null || die "systemd-analyze not found; run scripts/deps.sh (package systemd)"
[[ -x "$binary" ]] || die "$binary not found; build it with: make"
[[ -d /lib/systemd/system ]] || die "/lib/systemd/system not found; run scripts/deps.sh (package systemd)"

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/berth-units.XXXXXX")"
root="$work_dir/root"
install_into "$root"

check "make install writes the documented files" diff <(list_files "$root") - <<'EOF'
etc/berth/berth.conf
etc/berth/berth.conf.example
etc/nginx/sites-available/berth
etc/nginx/snippets/berth-locations.conf
usr/local/bin/berth
usr/local/lib/systemd/system/berth-sweep.service
usr/local/lib/systemd/system/berth-sweep.timer
usr/local/lib/systemd/system/berth.service
usr/local/lib/sysusers.d/berth.conf
usr/local/lib/tmpfiles.d/berth.conf
EOF
check "berth.service starts /usr/local/bin/berth serve" exec_start_is berth.service "/usr/local/bin/berth serve --config /etc/berth/berth.conf"
check "berth-sweep.service starts /usr/local/bin/berth sweep" exec_start_is berth-sweep.service "/usr/local/bin/berth sweep --config /etc/berth/berth.conf"

# verify needs the units that the berth units pull in (sysinit.target,
# timers.target, ...), so the root gets a copy of this host's.
mkdir -p "$root/usr/lib/systemd"
cp -R /lib/systemd/system "$root/usr/lib/systemd/"
check "systemd-analyze verify prints nothing for the installed units" verify_is_quiet
check "systemd-analyze verify reports an unknown key (control)" verify_reports_unknown_key

if systemd-sysusers --root="$root" >"$work_dir/sysusers.log" 2>&1; then
  check "sysusers creates system user berth" grep -Eq '^berth:x:[0-9]{1,3}:[0-9]+:[^:]*:/nonexistent:' "$root/etc/passwd"
  check "sysusers creates group docker when missing, with member berth" group_has_member docker berth
else
  check "systemd-sysusers --root accepts berth.sysusers" false
  log "$(cat "$work_dir/sysusers.log")"
fi

# tmpfiles only adjusts the secrets if they exist; chown needs root.
if ((EUID == 0)); then
  touch "$root/etc/berth/htpasswd" "$root/etc/berth/admin-token"
  if systemd-tmpfiles --root="$root" --create berth.conf >"$work_dir/tmpfiles.log" 2>&1; then
    check "tmpfiles makes htpasswd root:berth 0640" file_is /etc/berth/htpasswd "640 root berth"
    check "tmpfiles makes admin-token root:berth 0640" file_is /etc/berth/admin-token "640 root berth"
    check "tmpfiles keeps /etc/berth at 0755 root" file_is /etc/berth "755 root root"
  else
    check "systemd-tmpfiles --root accepts berth.tmpfiles" false
    log "$(cat "$work_dir/tmpfiles.log")"
  fi
else
  echo "SKIP: tmpfiles checks (changing owners needs root)"
fi

check "berth.conf.example lists every key that config.cpp accepts" example_keys_match_parser
check "berth.conf.example shows the defaults of config.hpp" example_defaults_match_header
check "berth.conf.example with every key set parses" example_parses

echo "# local edit" >>"$root/etc/berth/berth.conf"
echo "# local edit" >>"$root/etc/nginx/sites-available/berth"
echo "# stale" >>"$root/etc/berth/berth.conf.example"
install_into "$root"
check "a second install keeps an edited berth.conf" grep -qx "# local edit" "$root/etc/berth/berth.conf"
check "a second install keeps an edited nginx site" grep -qx "# local edit" "$root/etc/nginx/sites-available/berth"
check "a second install replaces berth.conf.example" cmp -s "$repo/config/berth.conf.example" "$root/etc/berth/berth.conf.example"

log "$checks checks, $failures failed"
((failures == 0)) || exit 1
