#!/usr/bin/env bash
# Install the Debian packages that berth needs to build, test and run its
# demo. Installs only what is missing, so a second run takes a moment.
set -euo pipefail

packages=(
  # build
  g++ make pkg-config libfcgi-dev libboost-dev rapidjson-dev
  libcurl4-openssl-dev libssl-dev libgtest-dev libcrypt-dev
  # run: front end, password file tool, engine
  nginx-light apache2-utils docker.io
  # workspace image and tests
  busybox-static shellinabox curl ca-certificates procps iproute2 python3
  debootstrap systemd
)

missing=()
for package in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$package" 2>/dev/null || true)"
  # "ii " is installed; anything else (not known, removed, half-configured) needs apt.
  [[ "$status" == "ii "* ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
  echo "deps: all ${#packages[@]} packages are installed"
  exit 0
fi

if ((EUID != 0)); then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: installing them needs root; run: sudo scripts/deps.sh" >&2
  exit 1
fi

echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"
echo "deps: installed ${#missing[@]} packages"
