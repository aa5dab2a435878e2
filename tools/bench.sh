#!/usr/bin/env bash
# Builds the benchmark in release mode and runs it: tools/bench.sh [entries] [suite]
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps
swift build -c release --product ledger-bench 2>&1 | grep -E "error|Compiling|Build" | tail -3
"$(swift build -c release --show-bin-path)/ledger-bench" "$@"
