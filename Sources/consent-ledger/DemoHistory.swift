// Generated from fixtures/demo-history.jsonl (a test checks they are identical).
// Embedded so that `consent-ledger demo` works wherever the binary is copied.

/// The sample history `consent-ledger demo` records: three senders, grants by web form, app, call
/// and paper, opt-outs by SMS reply (R, TD, 退订, 拒收, a plain-words refusal) and a global decline.
let demoHistoryJSONL = #"""
{"sender":"91440300MA5FXXXX1K","subject":"138 0013 8000","action":"grant","method":"web-form","port":"10690001","templateHash":"bc90a6295a9ec0af2a17f88851b423afcba1644f87e56395ea538a570029e04d","occurredAt":"2026-06-01T09:15:00+08:00","evidence":{"url":"https://bank.example/cc/offers","ip":"203.0.113.10","user-agent":"Mozilla/5.0 (iPhone)","form-text":"我同意接收信用卡优惠活动短信"},"clientKey":"bank-web-0001"}
{"sender":"91440300MA5FXXXX1K","subject":"+86 139-0013-9000","action":"grant","method":"app","templateHash":"bc90a6295a9ec0af2a17f88851b423afcba1644f87e56395ea538a570029e04d","occurredAt":"2026-06-02T11:00:00+08:00","evidence":{"note":"app consent checkbox v3"},"clientKey":"bank-app-0002"}
{"sender":"shop-youxuan","subject":"008613700137000","action":"grant","method":"web-form","purpose":"promotions","templateHash":"6479cf281a2031efad5cbff0bc53bc1dd1e62678e5f1d9b05c17875175f7f060","occurredAt":"2026-06-03T20:30:00+08:00","evidence":{"url":"https://shop.example/signup","ip":"198.51.100.7"},"clientKey":"shop-0001"}
{"sender":"shop-youxuan","subject":"13800138000","action":"grant","method":"app","templateHash":"6479cf281a2031efad5cbff0bc53bc1dd1e62678e5f1d9b05c17875175f7f060","occurredAt":"2026-06-04T08:00:00+08:00","clientKey":"shop-0002"}
{"sender":"91110000MA00EXAMP1","subject":"86 13600136000","action":"grant","method":"call","templateHash":"1cd96aac55d92e339f41ed38b97af6bedcf742cf1cb54f7c2477e9e448ae70e2","occurredAt":"2026-06-05T14:00:00+08:00","evidence":{"recording-hash":"99ca859ffacf31dbc929a24cd5d66e1a63ad13ef321f89789e5b0bf26942bec0","operator-ref":"CALL-20260605-0042"},"clientKey":"tel-0001"}
{"sender":"91440300MA5FXXXX1K","subject":"13800138000","action":"revoke","method":"sms-reply","port":"10690001","occurredAt":"2026-07-10T19:02:11+08:00","evidence":{"reply":"R"},"clientKey":"bank-mo-0001"}
{"sender":"shop-youxuan","subject":"13700137000","action":"revoke","method":"sms-reply","occurredAt":"2026-07-12T10:20:00+08:00","evidence":{"reply":"TD。"},"clientKey":"shop-mo-0001"}
{"sender":"91110000MA00EXAMP1","subject":"13600136000","action":"revoke","method":"sms-reply","occurredAt":"2026-07-15T21:45:00+08:00","evidence":{"reply":"退订"},"clientKey":"tel-mo-0001"}
{"sender":"91440300MA5FXXXX1K","subject":"15000150000","action":"grant","method":"paper","templateHash":"bc90a6295a9ec0af2a17f88851b423afcba1644f87e56395ea538a570029e04d","occurredAt":"2026-08-01T10:00:00+08:00","evidence":{"operator-ref":"branch-shenzhen-form-7781"},"clientKey":"bank-paper-0001"}
{"sender":"operator-decline-platform","subject":"15000150000","action":"revoke","scope":"global","method":"operator-platform","occurredAt":"2026-09-01T12:00:00+08:00","evidence":{"operator-ref":"decline-platform-2026090100017"},"clientKey":"decline-0001"}
{"sender":"shop-youxuan","subject":"18800188000","action":"grant","method":"sms-reply","templateHash":"6479cf281a2031efad5cbff0bc53bc1dd1e62678e5f1d9b05c17875175f7f060","occurredAt":"2026-09-10T09:00:00+08:00","evidence":{"reply":"Y"},"clientKey":"shop-0003"}
{"sender":"shop-youxuan","subject":"18800188000","action":"revoke","method":"sms-reply","occurredAt":"2026-10-01T09:30:00+08:00","evidence":{"reply":"我要退订"},"clientKey":"shop-mo-0002"}
{"sender":"91440300MA5FXXXX1K","subject":"13900139000","action":"revoke","method":"sms-reply","port":"10690001","occurredAt":"2026-10-20T18:00:00+08:00","evidence":{"reply":"拒收"},"clientKey":"bank-mo-0002"}
{"sender":"91110000MA00EXAMP1","subject":"13600136000","action":"grant","method":"web-form","templateHash":"1cd96aac55d92e339f41ed38b97af6bedcf742cf1cb54f7c2477e9e448ae70e2","occurredAt":"2026-11-01T16:00:00+08:00","evidence":{"url":"https://tel.example/plans","ip":"192.0.2.44"},"clientKey":"tel-0002"}
"""#
