//go:build !unix

package bundle

import (
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/ledger"
)

// offHeapHashes returns m itself where files cannot be mapped into memory.
func offHeapHashes(_ testing.TB, m *ledger.MemoryHashes) tlog.HashReader { return m }
