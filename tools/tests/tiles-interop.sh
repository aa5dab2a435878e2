#!/usr/bin/env bash
# Regenerates the C2SP tlog-tiles vectors with Go's golang.org/x/mod/sumdb/tlog (Debian's
# golang-golang-x-mod-dev) and checks that they equal fixtures/tile-vectors.json, which
# Tests/ConsentCoreTests/TileTests.swift compares with ConsentCore's Tiles.swift (tile sets, tile
# data, roots and inclusion proofs from tiles). Run `swift test --filter TileTests` for the Swift side.
source "$(dirname "$0")/lib.bash"
export GOPATH=/usr/share/gocode GO111MODULE=off GOCACHE="$WORK/gocache" GOFLAGS=
go build -o "$WORK/tiles" "$ROOT/tools/interop/tiles/main.go"
"$WORK/tiles" > "$WORK/tile-vectors.json"
cmp -s "$WORK/tile-vectors.json" "$ROOT/fixtures/tile-vectors.json" \
    || die "fixtures/tile-vectors.json differs from Go's output (regenerate with tools/interop/tiles/main.go)"
ok
echo "tiles-interop: $checks checks passed (Go sumdb/tlog tile vectors match fixtures/tile-vectors.json)"
