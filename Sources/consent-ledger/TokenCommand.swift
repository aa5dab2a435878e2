import ArgumentParser
import ConsentCore
import ConsentLedger
import ConsentServer
import Foundation

extension ConsentLedgerCommand {
    struct TokenCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "token",
            abstract: "Create, list and revoke API tokens for the HTTP service.",
            discussion: """
                Roles: a sender token records and reads only its sender's data; a regulator token reads everything \
                and writes nothing; an admin token manages the service (ports) and reads no consent data. Tokens are \
                stored as SHA-256 hashes in DIR/service.sqlite: a lost token cannot be shown again, only revoked and \
                replaced. Changes take effect at once, also in a running server.
                """,
            subcommands: [Create.self, List.self, Revoke.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Create a token and print it alone on standard output (shown once: store it now).")
            @OptionGroup var dataOptions: DataOptions
            @Option(help: "sender, regulator or admin.") var role: String
            @Option(help: "The sender id (sender tokens only).") var sender: String?
            @Option(help: "A note for `token list` (who holds it; no secrets).") var note: String?
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let role: Role
                do { role = try Role(name: self.role, sender: sender) } catch { throw ValidationError("\(error)") }
                let service = try openServiceStore(dataOptions)
                let (token, record) = try await service.createToken(role: role, note: note, now: systemClock())
                if output.json {
                    try printJSON(TokenView(record, token: token))
                } else {
                    printError("created token \(record.id) for \(role) (shown once below; revoke with `token revoke --id \(record.id)`)")
                    print(token)
                }
            }
        }

        struct List: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List tokens (ids and roles; never the tokens themselves).")
            @OptionGroup var dataOptions: DataOptions
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let tokens = try await openServiceStore(dataOptions).tokens()
                if output.json {
                    try printJSON(tokens.map { TokenView($0, token: nil) })
                } else if tokens.isEmpty {
                    print("no tokens")
                } else {
                    for t in tokens.map({ TokenView($0, token: nil) }) {
                        let state = t.revokedAt.map { "revoked \($0)" } ?? "active"
                        print("\(t.id)  \(t.role)\(t.sender.map { " \($0)" } ?? "")  created \(t.createdAt)  \(state)\(t.note.map { "  \($0)" } ?? "")")
                    }
                }
            }
        }

        struct Revoke: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Revoke a token by id: it stops working at once.")
            @OptionGroup var dataOptions: DataOptions
            @Option(help: "The token's id (see `token list`).") var id: String
            @OptionGroup var output: OutputOptions

            func run() async throws {
                let record = try await openServiceStore(dataOptions).revokeToken(id: id, now: systemClock())
                if output.json { try printJSON(TokenView(record, token: nil)) } else { print("revoked token \(record.id) (\(record.role))") }
            }
        }
    }
}
