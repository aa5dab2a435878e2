import ArgumentParser
import ConsentCore
import ConsentLedger
import ConsentServer
import Foundation

extension ConsentLedgerCommand {
    struct PortCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "port",
            abstract: "The port registry: which sender each 106 port belongs to (for MO replies).",
            discussion: """
                An MO reply is delivered to a registered port, possibly followed by an extension \
                (106900011234 for port 10690001); the longest registered prefix decides the sender. \
                Stored in DIR/service.sqlite; changes take effect at once, also in a running server.
                """,
            subcommands: [Add.self, List.self, Remove.self, OptIn.self])

        struct Add: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Register a 106 port for a sender.")
            @OptionGroup var dataOptions: DataOptions
            @Option(help: "The sender id.") var sender: String
            @Option(help: "The 106 port (5-21 digits starting with 106).") var port: String

            func run() async throws {
                do {
                    try await openServiceStore(dataOptions).addPort(sender: sender, port: port, now: systemClock())
                } catch let error as ServiceError {
                    throw ValidationError(error.description)
                }
                print("port \(port) belongs to sender \(sender)")
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the registered ports.")
            @OptionGroup var dataOptions: DataOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let store = try openServiceStore(dataOptions)
                let entries = try await store.portRegistry().entries
                let optIns = Dictionary(grouping: try await store.optIns(), by: \.port)
                if output.json {
                    try printJSON(entries.map { PortView(sender: $0.sender, port: $0.port, optIn: optIns[$0.port] ?? []) })
                } else if entries.isEmpty {
                    print("no ports registered")
                } else {
                    for e in entries {
                        let keywords = (optIns[e.port] ?? []).map { k in k.keyword + (k.purpose.map { " (\($0))" } ?? "") }
                        print("\(e.port)  \(e.sender)" + (keywords.isEmpty ? "" : "  opt-in: " + keywords.joined(separator: ", ")))
                    }
                }
            }
        }

        struct OptIn: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "opt-in",
                abstract: "Make a reply count as consent on a port: the sender sent a consent request asking for it.",
                discussion: """
                    A reply that is exactly KEYWORD (any width and case, punctuation around it ignored) to the port \
                    records a grant scoped to the port (and --purpose), pointing to --template-hash. Keywords that \
                    could be mistaken for a refusal (T, N, anything with a negation or an opt-out word) are refused: \
                    a false opt-in must never happen. Opt-outs always win over opt-ins.
                    """)
            @OptionGroup var dataOptions: DataOptions
            @Option(help: "A registered port.") var port: String
            @Option(help: "The reply that means yes (e.g. Y, 是, 同意).") var keyword: String
            @Option(help: "The purpose the consent request asked about.") var purpose: String?
            @Option(help: "The hash (64 hex digits) of the consent request's template text.") var templateHash: String?

            func run() async throws {
                do {
                    try await openServiceStore(dataOptions).addOptIn(
                        OptInKeyword(port: port, keyword: keyword, purpose: purpose, templateHash: templateHash), now: systemClock())
                } catch let error as ServiceError {
                    throw ValidationError(error.description)
                }
                print("a reply \"\(keyword)\" to port \(port) now records consent\(purpose.map { " for \($0)" } ?? "")")
            }
        }

        struct Remove: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a port registration.")
            @OptionGroup var dataOptions: DataOptions
            @Option(help: "The registered port.") var port: String

            func run() async throws {
                guard try await openServiceStore(dataOptions).removePort(port) else {
                    throw ValidationError("port \(port) is not registered")
                }
                print("port \(port) removed")
            }
        }
    }
}

/// A port as `port list --json` prints it.
struct PortView: Encodable {
    var sender: String
    var port: String
    var optIn: [OptInKeyword]
}
