#!/usr/bin/env bash
# Throwaway TLS certificates for local tests: CA, server (localhost, 127.0.0.1, ::1), clients.
# usage: scripts/gen-certs.sh [dir (default out/certs)] [--client NAME ...] [--host NAME ...] [--days N]
# Runs `mqtt-testbed certs`; builds the project first when dist/ is missing. Needs openssl.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-out/certs}"
[ "$#" -gt 0 ] && shift
if [ ! -f "$root/dist/cli/main.js" ]; then
  (cd "$root" && npx tsc -p tsconfig.json)
fi
exec node "$root/dist/cli/main.js" certs "$dir" "$@"
