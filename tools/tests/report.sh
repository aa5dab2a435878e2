#!/usr/bin/env bash
# The audit report from the CLI (sender ids cannot hold markup; ReportStatisticsTests covers hostile ones): a small history (grants, late and prompt opt-outs, a global decline,
# a hold with a hostile reason, a purge), a send log, then `report`: the text and JSON summaries, a
# self-contained HTML file (no scripts, no external references, hostile strings escaped), and a
# headless-Chromium screenshot that must not be blank (skipped, with a message, without Chromium).
source "$(dirname "$0")/lib.bash"
D="$WORK/ledger"

"$BIN" init --data "$D" --origin example.com/consent/report > /dev/null
ago() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
"$BIN" record --data "$D" --sender bank --subject 13800138000 --action grant --method web-form --occurred-at "$(ago '-3 days')" > /dev/null
"$BIN" record --data "$D" --sender bank --subject 13800138001 --action grant --method app > /dev/null
"$BIN" record --data "$D" --sender bank --subject 13800138000 --action revoke --method sms-reply --evidence reply=TD > /dev/null
"$BIN" record --data "$D" --sender shop-2 --subject 13900139000 --action grant --method call > /dev/null
"$BIN" record --data "$D" --sender shop-2 --subject 13900139000 --action revoke --method call \
    --occurred-at "$(ago '-2 days')" > /dev/null
"$BIN" record --data "$D" --sender operator --subject 13700137000 --action revoke --scope global --method operator-platform \
    --occurred-at "$(ago '-30 hours')" > /dev/null
"$BIN" hold add --data "$D" --sender bank --reason '<img src=x onerror=alert(2)> see https://evil.example/' --reference 12321-2026-7 > /dev/null
# The send log: messages sent after everything above was recorded, and covered by a heartbeat.
sleep 1
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
"$BIN" heartbeat --data "$D" > /dev/null
cat > "$WORK/sends.csv" <<EOF
time,sender,port,number,message_id
$now,bank,10690001,13800138001,M1
$now,bank,10690001,13800138000,M2
$now,bank,10690001,13600136000,M3
$now,shop,10690002,13700137000,M4
EOF
# A purge (the last entry, dated at --now): in 13 months the bodies not held are due.
"$BIN" compact --data "$D" --now "$(date -u -d '+13 months' +%Y-%m-%dT%H:%M:%SZ)" --json > "$WORK/compact.json"
python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["purged"] >= 1' "$WORK/compact.json" || die "no purge: $(cat "$WORK/compact.json")"
ok

"$BIN" report --data "$D" --out "$WORK/report.html" --sends "$WORK/sends.csv" > "$WORK/summary.txt" || die "report failed: $(cat "$WORK/summary.txt")"
grep -q "^wrote $WORK/report.html: example.com/consent/report" "$WORK/summary.txt" || die "summary: $(cat "$WORK/summary.txt")"
grep -q "events: 6 (3 grants, 2 revocations, 1 declines)" "$WORK/summary.txt" || die "event counts: $(cat "$WORK/summary.txt")"
grep -q "opt-outs: 3, 2 recorded 24 hours or more" "$WORK/summary.txt" || die "lags: $(cat "$WORK/summary.txt")"
grep -q "send log: 4 judged, 3 without consent" "$WORK/summary.txt" || die "sends: $(cat "$WORK/summary.txt")"
ok

"$BIN" report --data "$D" --out "$WORK/report2.html" --sends "$WORK/sends.csv" --json > "$WORK/summary.json"
python3 - "$WORK/summary.json" <<'PY' || die "JSON summary: $(cat "$WORK/summary.json")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["events"] == 6 and r["grants"] == 3 and r["revocations"] == 2 and r["declines"] == 1, r
assert r["optOuts"] == 3 and r["lateOptOuts"] == 2 and r["activeHolds"] == 1 and r["purgedBodies"] >= 1, r
assert r["lagBySender"]["bank"]["buckets"] == [1, 0, 0, 0, 0], r
assert r["sendViolations"] == {"bank": {"refused": 1, "neverAsked": 1}, "shop": {"refused": 1, "neverAsked": 0}}, r
assert r["sends"]["checked"] == 4 and r["sends"]["consented"] == 1, r
PY
# A window that ends before the log began: nothing counted.
"$BIN" report --data "$D" --out "$WORK/empty.html" --to 2020-01-01T00:00:00Z --json \
    | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["events"]==0 and r["activeHolds"]==0, r' || die "empty window"
expect_fail "--to before --from" "$BIN" report --data "$D" --out "$WORK/x.html" --from 2026-02-01T00:00:00Z --to 2026-01-01T00:00:00Z
ok

# Self-contained: no scripts, no external references of any kind, hostile strings escaped.
R="$WORK/report.html"
! grep -qi "<script" "$R" || die "a <script> in the report"
# Attributes live only in real tags (escaped text has no '<'): none may load or link anything.
grep -Eoi '<[a-z][^>]*>' "$R" > "$WORK/tags"
! grep -Eqi "(src|href|action|data|poster|background)=|https?:|url\(|javascript:" "$WORK/tags" || die "an external reference: $(grep -Ei '(src|href)=|https?:|url\(' "$WORK/tags" | head -3)"
! grep -Eqi "url\(|@import" "$R" || die "an external reference in the CSS"
! grep -Eqi "<(link|img|iframe|object|embed|audio|video|source|base)[ >/]" "$R" || die "an element that loads something"
grep -q "&lt;img src=x onerror=alert(2)&gt; see https://evil.example/" "$R" || die "hostile hold reason not shown escaped"
grep -q "<svg" "$R" || die "no charts"
grep -q "$("$BIN" key --data "$D" | cut -d+ -f1)" "$R" || die "no key name"
grep -q "Legal holds in force" "$R" && grep -q "Messages sent without consent" "$R" && grep -q "Opt-out lag" "$R" || die "sections missing"
python3 - "$R" <<'PY' || die "report is not well-formed"
import sys, xml.dom.minidom
html = open(sys.argv[1], encoding="utf-8").read()
body = html.split("\n", 1)[1]  # after <!DOCTYPE html>
for tag in ('<meta charset="utf-8">', '<meta name="viewport" content="width=device-width, initial-scale=1">'):
    body = body.replace(tag, tag[:-1] + "/>")
xml.dom.minidom.parseString(body.encode("utf-8"))
PY
ok

# Render it: a headless-Chromium screenshot that is not blank.
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "report: SKIPPED the screenshot: no chromium or chromium-browser on this machine (tools/install-deps installs it)"
else
    timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars --screenshot="$WORK/report.png" \
        --window-size=1200,2000 "file://$R" > "$WORK/chromium.log" 2>&1 || die "chromium failed: $(tail -5 "$WORK/chromium.log")"
    [ -s "$WORK/report.png" ] || die "no screenshot: $(tail -5 "$WORK/chromium.log")"
    python3 - "$WORK/report.png" <<'PY' || die "blank screenshot"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
assert len(data) > 20_000, f"only {len(data)} bytes"
# Decode the PNG (8-bit RGB/RGBA, no interlace) and count the pixels that are not near-white.
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
    if kind == b"IDAT": idat += chunk
    pos += 12 + n
bpp = {2: 3, 6: 4}[ctype]
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
inked = colored = 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4 == 0:
        for x in range(0, w, 4):
            r, g, bl = line[x * bpp:x * bpp + 3]
            if min(r, g, bl) < 200: inked += 1
            if max(r, g, bl) - min(r, g, bl) > 60: colored += 1
print(f"screenshot: {w}x{h}, {len(data)} bytes, {inked} dark and {colored} coloured sample pixels")
assert inked > 500, "almost nothing drawn"
assert colored > 200, "no coloured chart bars"
PY
fi
ok
echo "report: $checks checks passed"
