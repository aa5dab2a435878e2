import ConsentCore
import ConsentLedger
import Foundation
import Hummingbird
import NIOCore

/// `POST /v1/gate`: "may this sender text these numbers now?", for lists of any length.
///
/// - JSON in: `{"sender", "port", "purpose", "numbers": [...]}` (at most `maxGateNumbers`).
/// - CSV in (`Content-Type: text/csv`): one number per line (first field; an optional `number`
///   header row), the scope in the query (`?sender=&port=&purpose=`).
/// - Out: JSON `{"allowed": [...], "blocked": [...], ...}` with a reason per number, or, with
///   `Accept: text/csv`, CSV rows `number,allowed,reason,entry,detail` in input order. CSV in with
///   CSV out is streamed both ways: numbers are answered in chunks as they arrive, so a list of
///   millions needs no more memory than a chunk, and has no size limit.
///
/// Every number of one request is answered for the same moment: the log's latest commit when the
/// request arrived (`X-Consent-At`, and `at` in JSON). No proofs on this path.
extension ConsentRoutes {
    /// Numbers answered together: large enough for two threads, small enough not to hold up appends.
    static let gateChunk = 32_768

    struct GateRequest: Decodable, Sendable {
        var sender: String?
        var port: String?
        var purpose: String?
        var numbers: [String]

        private enum CodingKeys: String, CodingKey, CaseIterable { case sender, port, purpose, numbers }

        init(from decoder: any Decoder) throws {
            try AnyKey.rejectUnknown(decoder, allowed: Set(CodingKeys.allCases.map(\.rawValue)))
            let c = try decoder.container(keyedBy: CodingKeys.self)
            sender = try c.decodeIfPresent(String.self, forKey: .sender)
            port = try c.decodeIfPresent(String.self, forKey: .port)
            purpose = try c.decodeIfPresent(String.self, forKey: .purpose)
            numbers = try c.decode([String].self, forKey: .numbers)
        }
    }

    /// Who is asked about, checked against the token.
    struct GateScope: Sendable {
        var sender: String
        var port: String?
        var purpose: String?

        init(sender: String?, port: String?, purpose: String?, context: ServiceContext) throws {
            guard let sender = sender ?? context.role?.sender else { throw Problem.invalid("sender is required") }
            try context.requireReader(of: sender)
            try checkScope(sender: sender, port: port, purpose: purpose)
            self.sender = sender
            self.port = port
            self.purpose = purpose
        }
    }

    /// One number's verdict, as written out.
    struct GateVerdict: Sendable {
        var number: String
        var answer: GateAnswer?
        /// Why the number is invalid (then `answer` is nil).
        var invalid: String?

        var allowed: Bool { answer?.decision.allowsSending ?? false }
        var reason: String { answer?.decision.rawValue ?? "invalid-number" }
    }

    func gate(_ request: Request, _ context: ServiceContext) async throws -> Response {
        var request = request
        _ = try context.requireToken()
        let csvIn = request.headers[.contentType]?.lowercased().hasPrefix("text/csv") ?? false
        let csvOut = request.headers[.accept]?.lowercased().contains("text/csv") ?? false
        let scope: GateScope
        var numbers: [String] = []
        if csvIn {
            scope = try GateScope(sender: request.query("sender"), port: request.query("port"), purpose: request.query("purpose"), context: context)
            if csvOut { return try await streamedGate(request.body, scope: scope) }
            let chunks = NumberChunks(request.body, size: Self.gateChunk)
            while let chunk = try await chunks.next() {
                numbers += chunk
                try checkGateCount(numbers.count)
            }
        } else {
            let parsed = try await decodeBody(&request, as: GateRequest.self, shape: #"{"sender", "port", "purpose", "numbers": [...]}"#)
            scope = try GateScope(sender: parsed.sender, port: parsed.port, purpose: parsed.purpose, context: context)
            numbers = parsed.numbers
        }
        try checkGateCount(numbers.count)
        let position = await ledger.committedPosition
        var verdicts: [GateVerdict] = []
        verdicts.reserveCapacity(numbers.count)
        for start in stride(from: 0, to: numbers.count, by: Self.gateChunk) {
            verdicts += try await gateVerdicts(numbers[start..<min(start + Self.gateChunk, numbers.count)], scope: scope, at: position)
        }
        metrics.gateChecked(verdicts.count)
        let headers = gateHeaders(position, csv: csvOut)
        if csvOut {
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: Array(Self.csvHeader.utf8) + Self.csvRows(verdicts[...]))))
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: Self.gateJSON(verdicts, scope: scope, at: position)))
    }

    private func checkGateCount(_ count: Int) throws {
        guard count <= configuration.maxGateNumbers else {
            throw Problem(
                .contentTooLarge, code: "too-large", title: "Request too large",
                detail: "at most \(configuration.maxGateNumbers) numbers per request in JSON (got \(count)): "
                    + "send CSV with `Accept: text/csv` to stream any number of them")
        }
    }

    /// CSV in, CSV out: answered chunk by chunk as the upload arrives.
    private func streamedGate(_ body: RequestBody, scope: GateScope) async throws -> Response {
        let position = await ledger.committedPosition
        return Response(
            status: .ok, headers: gateHeaders(position, csv: true),
            body: ResponseBody { writer in
                // The next chunk is read from the upload while this one is answered: the client
                // keeps sending instead of waiting on a full socket buffer.
                let chunks = NumberChunks(body, size: Self.gateChunk)
                try await writer.write(ByteBuffer(string: Self.csvHeader))
                var current = try await chunks.next()
                while let chunk = current {
                    async let following = chunks.next()
                    let rows = try await gateCSVRows(chunk[...], scope: scope, at: position)
                    try await writer.write(rows)
                    current = try await following
                }
                try await writer.finish(nil)
            })
    }

    /// A streamed upload cut into chunks of numbers. Used by one task at a time (the one reading
    /// the next chunk), so it needs no lock.
    final class NumberChunks: @unchecked Sendable {
        private var buffers: RequestBody.AsyncIterator
        private var reader = NumberListReader()
        private var pending: [String] = []
        private var done = false
        let size: Int

        init(_ body: RequestBody, size: Int) {
            buffers = body.makeAsyncIterator()
            self.size = size
        }

        /// The next `size` numbers (fewer at the end); nil after the last.
        func next() async throws -> [String]? {
            while !done, pending.count < size {
                if let buffer = try await buffers.next() {
                    pending += buffer.withUnsafeReadableBytes { reader.read($0) }
                } else {
                    pending += reader.finish()
                    done = true
                }
            }
            if pending.isEmpty { return nil }
            let count = min(size, pending.count)
            defer { pending.removeFirst(count) }
            return Array(pending[..<count])
        }
    }

    /// One chunk answered, as CSV rows (encoded on two threads for large chunks).
    private func gateCSVRows(_ numbers: ArraySlice<String>, scope: GateScope, at position: LogPosition?) async throws -> ByteBuffer {
        let verdicts = try await gateVerdicts(numbers, scope: scope, at: position)
        metrics.gateChecked(numbers.count)
        return ByteBuffer(bytes: Self.csvRows(verdicts[...]))
    }

    /// CSV rows of `verdicts`, in order; two threads from 4,096 rows on.
    static func csvRows(_ verdicts: ArraySlice<GateVerdict>) -> [UInt8] {
        var parts: [[UInt8]] = [[], []]
        parts.withUnsafeMutableBufferPointer { parts in
            nonisolated(unsafe) let parts = parts
            onTwoThreads(count: verdicts.count, minimum: 4096) { part, range in
                var out: [UInt8] = []
                out.reserveCapacity(range.count * 32)
                for verdict in verdicts[(verdicts.startIndex + range.lowerBound)..<(verdicts.startIndex + range.upperBound)] {
                    writeCSVRow(verdict, to: &out)
                }
                parts[part] = out
            }
        }
        return parts[0] + parts[1]
    }

    /// Parses and answers one chunk (numbers parsed on two threads for large chunks).
    private func gateVerdicts(_ numbers: ArraySlice<String>, scope: GateScope, at position: LogPosition?) async throws -> [GateVerdict] {
        let raw = Array(numbers)
        var parsed = [Result<PhoneNumber, any Error>?](repeating: nil, count: raw.count)
        parsed.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            onTwoThreads(count: raw.count, minimum: 4096) { _, range in
                for i in range { out[i] = Result { try PhoneNumber(normalizing: raw[i]) } }
            }
        }
        var valid: [PhoneNumber] = []
        valid.reserveCapacity(raw.count)
        for case .success(let number)? in parsed { valid.append(number) }
        var answers: ArraySlice<GateAnswer> = []
        if let position {
            answers = try await ledger.gateAnswers(subjects: valid, sender: scope.sender, port: scope.port, purpose: scope.purpose, at: position)[...]
        } else {
            answers = Array(repeating: GateAnswer(decision: .neverAsked, deciding: nil), count: valid.count)[...]
        }
        return zip(raw, parsed).map { number, result in
            switch result! {
            case .success: GateVerdict(number: number, answer: answers.popFirst())
            case .failure(let error): GateVerdict(number: number, invalid: "\(error)")
            }
        }
    }

    private func gateHeaders(_ position: LogPosition?, csv: Bool) -> HTTPFields {
        var headers: HTTPFields = [
            .contentType: csv ? "text/csv; charset=utf-8" : "application/json", .cacheControl: "no-store",
        ]
        if let position {
            headers[HTTPFields.consentAt] = RFC3339.format(position.time)
            headers[HTTPFields.consentLogSize] = String(position.size)
        }
        return headers
    }

    static let csvHeader = "number,allowed,reason,entry,detail\n"

    static func writeCSVRow(_ verdict: GateVerdict, to out: inout [UInt8]) {
        writeCSVField(verdict.number, to: &out)
        out.append(contentsOf: verdict.allowed ? Self.csvTrue : Self.csvFalse)
        switch verdict.answer?.decision {
        case .consented?: out.append(contentsOf: Self.csvConsented)
        case .refused?: out.append(contentsOf: Self.csvRefused)
        case .neverAsked?: out.append(contentsOf: Self.csvNeverAsked)
        case nil: out.append(contentsOf: Self.csvInvalid)
        }
        out.append(UInt8(ascii: ","))
        if let entry = verdict.answer?.deciding { appendDecimal(entry, to: &out) }
        out.append(UInt8(ascii: ","))
        if let invalid = verdict.invalid { writeCSVField(invalid, to: &out) }
        out.append(UInt8(ascii: "\n"))
    }

    static let csvTrue = Array(",true,".utf8)
    static let csvFalse = Array(",false,".utf8)
    static let csvConsented = Array(ConsentDecision.consented.rawValue.utf8)
    static let csvRefused = Array(ConsentDecision.refused.rawValue.utf8)
    static let csvNeverAsked = Array(ConsentDecision.neverAsked.rawValue.utf8)
    static let csvInvalid = Array("invalid-number".utf8)

    /// A non-negative integer in decimal.
    static func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = UInt64(max(0, value))
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
                count += 1
            } while n > 0
            out.append(contentsOf: buffer[(20 - count)...])
        }
    }

    /// A CSV field, quoted (RFC 4180) when it holds a comma, a quote or a line break.
    static func writeCSVField(_ text: String, to out: inout [UInt8]) {
        guard text.utf8.contains(where: { $0 == 0x2C || $0 == 0x22 || $0 == 0x0A || $0 == 0x0D }) else {
            return out.append(contentsOf: text.utf8)
        }
        out.append(contentsOf: ("\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"").utf8)
    }

    /// The JSON answer, written directly (a million numbers through `JSONEncoder` take seconds):
    /// `{"sender", "port", "purpose", "at", "counts": {"allowed", "blocked"}, "allowed": [...], "blocked": [...]}`,
    /// each item `{"number", "reason", "entry"}` or, for an invalid number, `{"number", "reason", "detail"}`.
    static func gateJSON(_ verdicts: [GateVerdict], scope: GateScope, at position: LogPosition?) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(64 + verdicts.count * 56)
        out.writeString("{\"sender\":")
        writeJSONString(scope.sender, to: &out)
        for (name, value) in [("port", scope.port), ("purpose", scope.purpose), ("at", position.map { RFC3339.format($0.time) })] {
            guard let value else { continue }
            out.writeString(",\"\(name)\":")
            writeJSONString(value, to: &out)
        }
        let allowed = verdicts.reduce(0) { $0 + ($1.allowed ? 1 : 0) }
        out.writeString(",\"counts\":{\"allowed\":\(allowed),\"blocked\":\(verdicts.count - allowed)}")
        for allowedList in [true, false] {
            out.writeString(allowedList ? ",\"allowed\":[" : "],\"blocked\":[")
            var first = true
            for verdict in verdicts where verdict.allowed == allowedList {
                out.writeString(first ? "{\"number\":" : ",{\"number\":")
                first = false
                writeJSONString(verdict.number, to: &out)
                out.writeString(",\"reason\":\"\(verdict.reason)\"")
                if let entry = verdict.answer?.deciding { out.writeString(",\"entry\":\(entry)") }
                if let invalid = verdict.invalid {
                    out.writeString(",\"detail\":")
                    writeJSONString(invalid, to: &out)
                }
                out.writeString("}")
            }
        }
        out.writeString("]}")
        return out
    }

    /// A JSON string literal (RFC 8259): quotes, backslashes and control characters escaped.
    static func writeJSONString(_ text: String, to out: inout ByteBuffer) {
        out.writeInteger(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case 0x22: out.writeString("\\\"")
            case 0x5C: out.writeString("\\\\")
            case 0x0A: out.writeString("\\n")
            case 0x0D: out.writeString("\\r")
            case 0x09: out.writeString("\\t")
            case 0..<0x20: out.writeString(String(format: "\\u%04x", byte))
            default: out.writeInteger(byte)
            }
        }
        out.writeInteger(UInt8(ascii: "\""))
    }
}

extension HTTPFields {
    /// `X-Consent-At`: the moment (the log's latest commit) a gate answer is for.
    public static let consentAt = HTTPFields.Element.Name("X-Consent-At")!
    /// `X-Consent-Log-Size`: the log's size at that moment.
    public static let consentLogSize = HTTPFields.Element.Name("X-Consent-Log-Size")!
}
