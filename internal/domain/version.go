package domain

import "context"

// OrgVersion identifies the state of the data an organization's derived views — its
// readiness report, its dashboard — are computed from. A view computed after reading a
// version reflects at least that version, so a cache may keep it until the version read
// by a later request differs. Versions of one organization only grow.
type OrgVersion struct {
	// Ledger is the size of the organization's ledger. Every change to its controls,
	// mappings, scope, systems, members, evidence, tests and exceptions appends an entry.
	Ledger int64
	// TestRun is the ID of the organization's latest test run, 0 before the first: test
	// results are recorded without a ledger entry unless a test changes state.
	TestRun int64
}

// VersionStore reads organizations' versions.
type VersionStore interface {
	// OrgVersion returns the organization's current version, in one indexed query, cheap
	// enough to ask on every request. An unknown organization has the zero version.
	OrgVersion(ctx context.Context, orgID int64) (OrgVersion, error)
}
