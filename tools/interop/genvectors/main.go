// Command genvectors writes fixtures/merkle-vectors.json with Go's golang.org/x/mod/sumdb/tlog, an
// implementation independent of ours: the RFC 6962 reference leaves (as used by Certificate
// Transparency's test suites), the root of every tree size 0..8, every inclusion proof and every
// consistency proof among those sizes.
//
//	GOPATH=/usr/share/gocode GO111MODULE=off go run main.go > ../../../fixtures/merkle-vectors.json
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"

	"golang.org/x/mod/sumdb/tlog"
)

type hashStore []tlog.Hash

func (s hashStore) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		out[i] = s[x]
	}
	return out, nil
}

func hexes(hs []tlog.Hash) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, hex.EncodeToString(h[:]))
	}
	return out
}

type inclusion struct {
	Index int64    `json:"index"`
	Size  int64    `json:"size"`
	Proof []string `json:"proof"`
}

type consistency struct {
	Old   int64    `json:"old"`
	New   int64    `json:"new"`
	Proof []string `json:"proof"`
}

func main() {
	leaves := [][]byte{
		{}, {0x00}, {0x10}, {0x20, 0x21}, {0x30, 0x31}, {0x40, 0x41, 0x42, 0x43},
		{0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57},
		{0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f},
	}
	var store hashStore
	var out struct {
		Source      string        `json:"source"`
		Leaves      []string      `json:"leaves"`
		LeafHashes  []string      `json:"leafHashes"`
		Roots       []string      `json:"roots"`
		Inclusion   []inclusion   `json:"inclusion"`
		Consistency []consistency `json:"consistency"`
	}
	out.Source = "golang.org/x/mod/sumdb/tlog (Debian golang-golang-x-mod-dev), RFC 6962 reference leaves"
	empty := sha256.Sum256(nil)
	out.Roots = append(out.Roots, hex.EncodeToString(empty[:]))
	for i, leaf := range leaves {
		hashes, err := tlog.StoredHashes(int64(i), leaf, store)
		if err != nil {
			panic(err)
		}
		store = append(store, hashes...)
		out.Leaves = append(out.Leaves, hex.EncodeToString(leaf))
		h := tlog.RecordHash(leaf)
		out.LeafHashes = append(out.LeafHashes, hex.EncodeToString(h[:]))
		root, err := tlog.TreeHash(int64(i+1), store)
		if err != nil {
			panic(err)
		}
		out.Roots = append(out.Roots, hex.EncodeToString(root[:]))
	}
	n := int64(len(leaves))
	for size := int64(1); size <= n; size++ {
		for index := int64(0); index < size; index++ {
			p, err := tlog.ProveRecord(size, index, store)
			if err != nil {
				panic(err)
			}
			out.Inclusion = append(out.Inclusion, inclusion{index, size, hexes(p)})
		}
		for old := int64(1); old <= size; old++ {
			p, err := tlog.ProveTree(size, old, store)
			if err != nil {
				panic(err)
			}
			out.Consistency = append(out.Consistency, consistency{old, size, hexes(p)})
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	enc.Encode(out)
}
