// Command interop checks ConsentLedger's checkpoints and proofs with Go's independent
// implementations of C2SP signed notes (golang.org/x/mod/sumdb/note) and RFC 6962/9162
// Merkle proofs (golang.org/x/mod/sumdb/tlog), as packaged by Debian (golang-golang-x-mod-dev).
//
//	go run main.go -key VKEY -checkpoint FILE [-inclusion FILE] [-entry FILE] [-consistency FILE] [-old-checkpoint FILE]
//
// Exits 0 and prints "interop: OK ..." lines when everything verifies.
package main

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type inclusion struct {
	Index    int64    `json:"index"`
	Size     int64    `json:"size"`
	LeafHash string   `json:"leafHash"`
	Proof    []string `json:"proof"`
	Root     string   `json:"root"`
}

type consistency struct {
	Old     int64    `json:"old"`
	New     int64    `json:"new"`
	OldRoot string   `json:"oldRoot"`
	NewRoot string   `json:"newRoot"`
	Proof   []string `json:"proof"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "interop: FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func hexHash(s string) tlog.Hash {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != tlog.HashSize {
		fail("bad hex hash %q", s)
	}
	var h tlog.Hash
	copy(h[:], b)
	return h
}

func hexHashes(list []string) []tlog.Hash {
	out := make([]tlog.Hash, len(list))
	for i, s := range list {
		out[i] = hexHash(s)
	}
	return out
}

// openCheckpoint verifies the signed note with note.Open and parses the C2SP checkpoint body.
func openCheckpoint(path string, verifier note.Verifier) (origin string, size int64, root tlog.Hash) {
	msg, err := os.ReadFile(path)
	if err != nil {
		fail("%v", err)
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		fail("note.Open(%s): %v", path, err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		fail("checkpoint %s has %d lines", path, len(lines))
	}
	size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		fail("checkpoint size: %v", err)
	}
	rootBytes, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(rootBytes) != tlog.HashSize {
		fail("checkpoint root %q", lines[2])
	}
	copy(root[:], rootBytes)
	if lines[0] != verifier.Name() {
		fail("checkpoint origin %q is not the key name %q", lines[0], verifier.Name())
	}
	fmt.Printf("interop: OK note.Open verified %s: origin %s, size %d\n", path, lines[0], size)
	return lines[0], size, root
}

func main() {
	vkey := flag.String("key", "", "verifier key (name+keyid+base64)")
	checkpointPath := flag.String("checkpoint", "", "signed checkpoint note")
	inclusionPath := flag.String("inclusion", "", "inclusion proof JSON from `consent-ledger prove inclusion --json`")
	entryPath := flag.String("entry", "", "entry JSON from `consent-ledger entry --json` (checks its leaf hash)")
	consistencyPath := flag.String("consistency", "", "consistency proof JSON from `consent-ledger prove consistency --json`")
	oldCheckpointPath := flag.String("old-checkpoint", "", "older signed checkpoint note for the consistency proof")
	flag.Parse()

	verifier, err := note.NewVerifier(strings.TrimSpace(*vkey))
	if err != nil {
		fail("note.NewVerifier: %v", err)
	}
	_, size, root := openCheckpoint(*checkpointPath, verifier)

	if *inclusionPath != "" {
		var p inclusion
		data, err := os.ReadFile(*inclusionPath)
		if err != nil || json.Unmarshal(data, &p) != nil {
			fail("cannot read %s", *inclusionPath)
		}
		if p.Size != size || hexHash(p.Root) != root {
			fail("inclusion proof is for size %d, checkpoint has %d", p.Size, size)
		}
		if err := tlog.CheckRecord(hexHashes(p.Proof), size, root, p.Index, hexHash(p.LeafHash)); err != nil {
			fail("tlog.CheckRecord(index %d, size %d): %v", p.Index, size, err)
		}
		fmt.Printf("interop: OK tlog.CheckRecord: entry %d is in the tree of size %d\n", p.Index, size)
		if *entryPath != "" {
			var e struct {
				Index   int64  `json:"index"`
				Encoded string `json:"encoded"`
			}
			data, err := os.ReadFile(*entryPath)
			if err != nil || json.Unmarshal(data, &e) != nil {
				fail("cannot read %s", *entryPath)
			}
			header, err := base64.StdEncoding.DecodeString(e.Encoded)
			if err != nil {
				fail("entry encoding: %v", err)
			}
			if e.Index != p.Index || tlog.RecordHash(header) != hexHash(p.LeafHash) {
				fail("tlog.RecordHash(entry %d header) is not the proof's leaf hash", e.Index)
			}
			fmt.Printf("interop: OK tlog.RecordHash: entry %d's encoded header hashes to its leaf hash\n", e.Index)
		}
	}

	if *consistencyPath != "" {
		var p consistency
		data, err := os.ReadFile(*consistencyPath)
		if err != nil || json.Unmarshal(data, &p) != nil {
			fail("cannot read %s", *consistencyPath)
		}
		oldRoot := hexHash(p.OldRoot)
		if *oldCheckpointPath != "" {
			_, oldSize, r := openCheckpoint(*oldCheckpointPath, verifier)
			if oldSize != p.Old || r != oldRoot {
				fail("consistency proof's old tree is not the old checkpoint's")
			}
		}
		if p.New != size || hexHash(p.NewRoot) != root {
			fail("consistency proof is for size %d, checkpoint has %d", p.New, size)
		}
		if err := tlog.CheckTree(hexHashes(p.Proof), size, root, p.Old, oldRoot); err != nil {
			fail("tlog.CheckTree(%d -> %d): %v", p.Old, size, err)
		}
		fmt.Printf("interop: OK tlog.CheckTree: size %d is a prefix of size %d\n", p.Old, size)
	}
}
