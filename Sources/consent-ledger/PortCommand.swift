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
            subcommands: [Add.self, List.self, Remove.self])

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
                let entries = try await openServiceStore(dataOptions).portRegistry().entries
                if output.json {
                    try printJSON(entries.map { ["sender": $0.sender, "port": $0.port] })
                } else if entries.isEmpty {
                    print("no ports registered")
                } else {
                    for e in entries { print("\(e.port)  \(e.sender)") }
                }
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
