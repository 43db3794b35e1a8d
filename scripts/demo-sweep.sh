#!/usr/bin/env bash
# Run one `berth sweep` pass against the running demo (`make demo`).
# Arguments are passed to `berth sweep`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly config="$repo/.demo/berth.conf"
readonly berth="$repo/build/berth"

die() {
  echo "demo-sweep: $*" >&2
  exit 1
}

[[ -f "$config" ]] || die "$config not found: the demo has never run here; start it with: make demo"
[[ -x "$berth" ]] || die "$berth not found; build it with: make"

socket="$(sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*//p' "$config" | tail -n1)"
[[ -n "$socket" ]] || die "$config sets no listen socket; restart the demo with: make demo"
[[ -n "$(ss -Hxl src "$socket" 2>/dev/null)" ]] ||
  die "the demo is not running (nothing listens on $socket); start it with: make demo"

exec "$berth" sweep --config "$config" "$@"
