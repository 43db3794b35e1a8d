#!/usr/bin/env bash
# Install berth: the binary, its systemd units, sysusers.d and tmpfiles.d
# entries, the nginx site and an example config. Starts, enables and
# restarts nothing; the steps for that are printed at the end.
#
# Usage: scripts/install.sh BINARY   (`make install` runs it)
# Environment:
#   PREFIX   default /usr/local: BINARY goes to PREFIX/bin and the units,
#            sysusers.d and tmpfiles.d files under PREFIX/lib, which systemd
#            searches for PREFIX /usr/local and /usr.
#   DESTDIR  default empty: prepended to every path, for staging and tests.
#
# Files under /etc go there regardless of PREFIX, because that is where
# nginx and berth read them. Files that an administrator edits, namely
# /etc/berth/berth.conf and /etc/nginx/sites-available/berth, are written
# only when missing. Every other file is replaced.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo
readonly prefix="${PREFIX:-/usr/local}"
readonly destdir="${DESTDIR:-}"

die() {
  echo "install: $*" >&2
  exit 1
}

log() {
  echo "install: $*"
}

(($# == 1)) || die "usage: scripts/install.sh BINARY (or run: make install)"
readonly binary="$1"
[[ -x "$binary" ]] || die "$binary is not an executable file; build it with: make"
[[ "$prefix" == /* ]] || die "PREFIX must be an absolute path, got '$prefix'"

readonly bindir="$prefix/bin"
readonly unitdir="$prefix/lib/systemd/system"
readonly sysusersdir="$prefix/lib/sysusers.d"
readonly tmpfilesdir="$prefix/lib/tmpfiles.d"

# Copy SOURCE to DESTDIR/TARGET with MODE, replacing @BINDIR@ with the
# installed binary's directory.
install_template() {
  local source="$1" target="$2" mode="$3" text

  text="$(sed "s|@BINDIR@|$bindir|g" "$source")"
  if grep -q '@[A-Z_]*@' <<<"$text"; then
    die "$source contains a placeholder that this script does not fill: $(grep -o '@[A-Z_]*@' <<<"$text" | sort -u | paste -sd' ')"
  fi
  install -d -m 0755 "$destdir$(dirname "$target")"
  install -m "$mode" /dev/stdin "$destdir$target" <<<"$text"
  log "installed $destdir$target"
}

install_file() {
  local source="$1" target="$2" mode="$3"

  install -D -m "$mode" "$source" "$destdir$target"
  log "installed $destdir$target"
}

# Like install_file, but keeps a file that exists, so that local edits survive.
install_if_missing() {
  local source="$1" target="$2" mode="$3"

  if [[ -e "$destdir$target" ]]; then
    log "kept $destdir$target, which exists; compare it with $source"
    return 0
  fi
  install_file "$source" "$target" "$mode"
}


install_file "$binary" "$bindir/berth" 0755

install_template "$repo/systemd/berth.service.in" "$unitdir/berth.service" 0644
install_template "$repo/systemd/berth-sweep.service.in" "$unitdir/berth-sweep.service" 0644
install_file "$repo/systemd/berth-sweep.timer" "$unitdir/berth-sweep.timer" 0644
install_file "$repo/systemd/berth.sysusers" "$sysusersdir/berth.conf" 0644
install_file "$repo/systemd/berth.tmpfiles" "$tmpfilesdir/berth.conf" 0644

install_file "$repo/nginx-conf/berth-locations.conf" /etc/nginx/snippets/berth-locations.conf 0644
install_if_missing "$repo/nginx-conf/berth-site.conf" /etc/nginx/sites-available/berth 0644

install_file "$repo/config/berth.conf.example" /etc/berth/berth.conf.example 0644
# Every key in the example is commented out, so this config means "all defaults".
install_if_missing "$repo/config/berth.conf.example" /etc/berth/berth.conf 0644

case "$prefix" in
  /usr | /usr/local) ;;
  *) log "NOTE: systemd does not search $unitdir, $sysusersdir or $tmpfilesdir; link or copy their berth files into /etc/systemd/system, /etc/sysusers.d and /etc/tmpfiles.d" ;;
esac

cat <<EOF
install: done. Nothing was started. To run berth as a service:
  systemd-sysusers                 # creates user berth, adds it to group docker
  htpasswd -B -c /etc/berth/htpasswd USER
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \\n' >/etc/berth/admin-token)
  systemd-tmpfiles --create berth.conf   # root:berth 0640 on both files
  ln -s ../sites-available/berth /etc/nginx/sites-enabled/berth
  rm /etc/nginx/sites-enabled/default    # it also claims default_server on port 80
  systemctl daemon-reload
  systemctl enable --now berth.service berth-sweep.timer
  systemctl reload nginx
EOF
