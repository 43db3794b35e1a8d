#!/usr/bin/env bash
# Build the default workspace image FROM scratch out of files that installed
# Debian packages own, then smoke-test it. No registry is contacted.
#
# The image carries a hash of its inputs (image/, this script, and the
# package and version of every copied file) in a label, and the build is
# skipped while that hash is unchanged.
#
# Usage: scripts/build-image.sh [--force]
#   --force   rebuild and smoke-test even when the inputs are unchanged
# Environment: BERTH_IMAGE (default berth/workspace:latest)
set -euo pipefail

readonly image="${BERTH_IMAGE:-berth/workspace:latest}"
readonly inputs_label=io.berth.image-inputs
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly repo
readonly image_dir="$repo/image"

context=""
smoke_container=""

die() {
  echo "build-image: $*" >&2
  exit 1
}

log() {
  echo "build-image: $*"
}

cleanup() {
  if [[ -n "$smoke_container" ]]; then
    docker rm -f -v "$smoke_container" >/dev/null 2>&1 || true
  fi
  if [[ -n "$context" ]]; then
    rm -rf "$context"
  fi
}
trap cleanup EXIT

force=false
case "${1:-}" in
  --force) force=true ;;
  "") ;;
  *) die "unknown argument '$1'; usage: scripts/build-image.sh [--force]" ;;
esac

command -v docker >/dev/null || die "docker not found; run scripts/deps.sh"
command -v dpkg-query >/dev/null || die "dpkg-query not found; this script needs Debian or a derivative"
docker info >/dev/null 2>&1 || die "cannot reach dockerd; run scripts/start-dockerd.sh"


# Print the host files listed in image/files.txt followed by every shared
# library that ldd lists for them, one path a line, without duplicates.
list_host_files() {
  local listed=() pattern matches path libraries

  while IFS= read -r pattern; do
    [[ -z "$pattern" || "$pattern" == \#* ]] && continue
    mapfile -t matches < <(compgen -G "$pattern" || true)
    ((${#matches[@]} > 0)) || die "$pattern (listed in image/files.txt) matches no file; run scripts/deps.sh"
    listed+=("${matches[@]}")
  done <"$image_dir/files.txt"

  for path in "${listed[@]}"; do
    echo "$path"

    # ldd exits non-zero for static binaries and non-ELF files: they need no libraries.
    libraries="$(ldd "$path" 2>/dev/null)" || continue
    if grep -q 'not found' <<<"$libraries"; then
      die "ldd cannot resolve every library of $path: $(grep 'not found' <<<"$libraries" | tr -s ' \t\n' ' ')"
    fi
    awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }' <<<"$libraries"
  done | sort -u
}

# Print "path package=version" for every host file, or fail when a file
# belongs to no installed package. Debian 12 merged /lib into /usr/lib, but
# dpkg still records many files under /lib, so both spellings are looked up.
list_packages() {
  local files=("$@") queries=() path alternate owners line owner_paths package
  declare -A owner_of=()

  for path in "${files[@]}"; do
    queries+=("$path")
    if [[ "$path" == /usr/* ]]; then
      queries+=("${path#/usr}")
    else
      queries+=("/usr$path")
    fi
  done

  # dpkg-query exits 1 when some of the queried spellings are unknown.
  owners="$(dpkg-query -S "${queries[@]}" 2>/dev/null || true)"
  while IFS= read -r line; do
    [[ "$line" == diversion* || "$line" != *": "* ]] && continue
    owner_paths="${line#*: }"
    package="${line%%: *}"
    owner_of["$owner_paths"]="${package%%,*}"
  done <<<"$owners"

  for path in "${files[@]}"; do
    if [[ "$path" == /usr/* ]]; then alternate="${path#/usr}"; else alternate="/usr$path"; fi
    package="${owner_of[$path]:-${owner_of[$alternate]:-}}"
    [[ -n "$package" ]] || die "$path belongs to no installed Debian package; only packaged files go into the image"
    echo "$path $(dpkg-query -W -f='${binary:Package}=${Version}' "$package")"
  done
}

hash_inputs() {
  local manifest="$1"
  (
    cd "$repo"
    find image -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
    sha256sum scripts/build-image.sh
    echo "$manifest"
  ) | sha256sum | cut -d' ' -f1
}

# Copy a host file into the root file system under its canonical directory,
# keeping its own name: /lib/x86_64-linux-gnu/libz.so.1 lands in
# usr/lib/x86_64-linux-gnu/libz.so.1 when /lib is a link to usr/lib.
copy_into_rootfs() {
  local source="$1" rootfs="$2" directory

  directory="$rootfs$(readlink -f "$(dirname "$source")")"
  mkdir -p "$directory"
  cp -L --preserve=mode "$source" "$directory/$(basename "$source")"
}

assemble_context() {
  local rootfs="$context/rootfs" top target path applet busybox_dir

  mkdir -p "$rootfs"

  # Mirror the host's top-level links (bin -> usr/bin and so on), so that the
  # library paths ldd printed resolve inside the image too.
  for top in bin sbin lib lib64; do
    if [[ -L "/$top" ]]; then
      target="$(readlink "/$top")"
      ln -s "$target" "$rootfs/$top"
      mkdir -p "$rootfs/${target#/}"
    elif [[ -d "/$top" ]]; then
      mkdir -p "$rootfs/$top"
    fi
  done

  cp -R --preserve=mode "$image_dir/rootfs/." "$rootfs/"

  for path in "${host_files[@]}"; do
    copy_into_rootfs "$path" "$rootfs"
  done

  # Busybox provides the everyday commands (ls, cp, ps, vi, ...); a copied
  # file of the same name, such as bash, takes precedence over the applet.
  busybox_dir="$rootfs$(readlink -f "$(dirname "$(command -v busybox)")")"
  if [[ -x "$busybox_dir/busybox" ]]; then
    for applet in $("$busybox_dir/busybox" --list); do
      [[ -e "$busybox_dir/$applet" || -L "$busybox_dir/$applet" ]] || ln -s busybox "$busybox_dir/$applet"
    done
  fi

  mkdir -m 1777 "$rootfs/tmp"
  mkdir -p "$context/home/workspace"
  chmod 0755 "$context/home/workspace"
  cp "$image_dir/Dockerfile" "$context/Dockerfile"
}

# Start the image with the limits berth gives a user's container (256 MiB of
# memory, 256 processes, Docker's default capabilities), then check that
# shellinaboxd serves its page and that a session gets a working shell.
smoke_test() {
  local started address page session keys output elapsed_ms

  started="$(date +%s%N)"
  smoke_container="$(docker run -d --memory 256m --memory-swap 256m --pids-limit 256 \
    --label io.berth.image-smoke-test=true -p 127.0.0.1::4200 "$image")"
  address="$(docker port "$smoke_container" 4200/tcp | head -n1)"
  [[ -n "$address" ]] || die "smoke test: container $smoke_container publishes no port for 4200/tcp"

  page=""
  for _ in $(seq 1 250); do
    if page="$(curl -fsS --max-time 1 "http://$address/" 2>/dev/null)"; then
      break
    fi
    sleep 0.02
  done
  elapsed_ms=$((($(date +%s%N) - started) / 1000000))
  [[ -n "$page" ]] ||
    die "smoke test: no HTTP response from http://$address/ within 5 s; container log: $(docker logs "$smoke_container" 2>&1 | tail -n5)"
  grep -q 'ShellInABox' <<<"$page" || die "smoke test: http://$address/ returned a page that is not shellinaboxd's"
  log "smoke test: shellinaboxd responded ${elapsed_ms} ms after docker run"

  session="$(curl -fsS --max-time 2 -d "width=80&height=24&rooturl=http://$address/" "http://$address/" |
    sed -n 's/.*"session":"\([^"]*\)".*/\1/p')"
  [[ -n "$session" ]] || die "smoke test: shellinaboxd on http://$address/ opened no terminal session"

  # The echoed command line never contains "ok-42", so a match proves the
  # shell ran it, as the workspace user, with writable /tmp and home.
  # shellcheck disable=SC2016 # expanded by the shell in the container
  keys="$(printf 'touch ~/.probe /tmp/.probe && echo "ok-$((40+2)) uid=$(id -u) user=$(id -un)"\r' |
    od -An -tx1 | tr -d ' \n')"
  curl -fsS --max-time 2 -o /dev/null -d "session=$session&width=80&height=24&keys=$keys" "http://$address/" ||
    die "smoke test: sending keys to the shell failed"

  output=""
  for _ in $(seq 1 10); do
    output+="$(curl -sS --max-time 1 -d "session=$session&width=80&height=24" "http://$address/" 2>/dev/null || true)"
    grep -q 'ok-42 uid=1000 user=workspace' <<<"$output" && break
  done
  grep -q 'ok-42 uid=1000 user=workspace' <<<"$output" ||
    die "smoke test: the shell did not run a command as user workspace; terminal output: $output"
  log "smoke test: the terminal runs bash as workspace (uid 1000) with writable /tmp and home"

  docker rm -f -v "$smoke_container" >/dev/null
  smoke_container=""
}


mapfile -t host_files < <(list_host_files)
manifest="$(list_packages "${host_files[@]}")"
inputs_hash="$(hash_inputs "$manifest")"

current_hash="$(docker image inspect --format "{{index .Config.Labels \"$inputs_label\"}}" "$image" 2>/dev/null || true)"
if [[ "$current_hash" == "$inputs_hash" && "$force" == false ]]; then
  log "$image is up to date (inputs ${inputs_hash:0:12}); use --force to rebuild"
  exit 0
fi
old_id="$(docker image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)"

context="$(mktemp -d "${TMPDIR:-/tmp}/berth-image.XXXXXX")"
assemble_context
log "building $image from $(wc -l <<<"$manifest") packaged files ($(cut -d' ' -f2 <<<"$manifest" | sort -u | paste -sd' '))"
# The output is shown only on failure, because docker 23 and later print a
# deprecation notice on every build without BuildKit.
if ! build_output="$(docker build --quiet --label "$inputs_label=$inputs_hash" -t "$image" "$context" 2>&1)"; then
  die "docker build failed for $image from image/Dockerfile: $build_output"
fi

smoke_test

# The replaced image stays while a container still uses it, because docker
# then rejects the removal.
new_id="$(docker image inspect --format '{{.Id}}' "$image")"
if [[ -n "$old_id" && "$old_id" != "$new_id" ]]; then
  docker image rm "$old_id" >/dev/null 2>&1 || true
fi
log "built $image ($(docker image inspect --format '{{.Size}}' "$image" | awk '{ printf "%.1f MB", $1 / 1e6 }'), inputs ${inputs_hash:0:12})"
