#!/usr/bin/env bash
# Installs the Debian packages the longer test suites and benchmarks need.
# Usage: scripts/install-system-deps.sh [group...]   groups: mqtt coap browser net (default: all)
# Safe to re-run: packages already present are skipped. Needs root (or sudo) and apt.
set -euo pipefail

declare -A GROUPS_PKGS=(
  [mqtt]="mosquitto mosquitto-clients openssl"
  [coap]="libcoap3-bin"
  [browser]="chromium"
  [net]="iproute2 nftables iputils-ping python3 procps"
)
groups=("$@")
[ ${#groups[@]} -eq 0 ] && groups=(mqtt coap browser net)

want=()
for g in "${groups[@]}"; do
  pkgs="${GROUPS_PKGS[$g]:-}"
  if [ -z "$pkgs" ]; then echo "install-system-deps: unknown group '$g' (mqtt coap browser net)" >&2; exit 2; fi
  for p in $pkgs; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then want+=("$p"); fi
  done
done

if [ ${#want[@]} -eq 0 ]; then echo "install-system-deps: all present (${groups[*]})"; exit 0; fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else echo "install-system-deps: need root to install: ${want[*]}" >&2; exit 1; fi
fi
if ! command -v apt-get >/dev/null; then echo "install-system-deps: apt-get not found; install by hand: ${want[*]}" >&2; exit 1; fi

echo "install-system-deps: installing ${want[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${want[@]}"
echo "install-system-deps: done"
