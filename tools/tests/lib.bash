# Shared helpers for the end-to-end scripts (sourced, not run).
set -euo pipefail
BIN="${BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && swift build --show-bin-path)/consent-ledger}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WORK="$(mktemp -d /tmp/consent-ledger-e2e.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
checks=0

ok() { checks=$((checks + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }

# expect_fail DESCRIPTION COMMAND...: the command must exit non-zero.
expect_fail() {
    local what="$1"
    shift
    if "$@" >"$WORK/out" 2>"$WORK/err"; then die "$what: succeeded but should have failed"; fi
    ok
}

# size DIR: the log's size from its checkpoint.
size() { "$BIN" checkpoint --data "$1" | sed -n 2p; }
