package domain

import (
	"context"
	"encoding/json"
	"time"

	"golang.org/x/mod/sumdb/tlog"
)

// Actor is who makes a change. A zero UserID is the system itself (the CLI, the seeder).
type Actor struct {
	UserID int64
	Email  string
}

// SystemActor is the actor for changes made by Evident itself or by an operator at the CLI.
var SystemActor = Actor{Email: "system"}

// Event is one entry of an organization's audit trail: who did what, when. Indexes count
// from 0 per organization without gaps, so the trail can back an append-only Merkle log.
type Event struct {
	OrgID   int64
	Index   int64
	At      time.Time // UTC
	ActorID int64     // 0 for the system
	Actor   string    // email, or "system"
	Type    string    // such as "control.updated"; see the Event* constants
	Subject string    // what it is about, such as "control:42"
	Data    json.RawMessage
}

// The event types.
const (
	EventOrgCreated        = "organization.created"
	EventControlCreated    = "control.created"
	EventControlUpdated    = "control.updated"
	EventControlMapped     = "control.mapped"
	EventControlUnmapped   = "control.unmapped"
	EventScopeUpdated      = "scope.updated"
	EventSystemCreated     = "system.created"
	EventSystemUpdated     = "system.updated"
	EventSystemDeleted     = "system.deleted"
	EventMemberAdded       = "member.added"
	EventMemberRoleChanged = "member.role_changed"
	EventMemberRemoved     = "member.removed"
	EventTokenCreated      = "token.created"
	EventTokenRevoked      = "token.revoked"

	EventEvidenceAdded      = "evidence.added"
	EventEvidenceSuperseded = "evidence.superseded" // a new item that corrects an earlier one
	EventEvidenceRetracted  = "evidence.retracted"
)

// EventFilter narrows the audit trail. Zero values match everything.
type EventFilter struct {
	Type    string // exact type, or a prefix ending in "." such as "control."
	ActorID int64
	Subject string
	Since   *time.Time
	Until   *time.Time
	Before  int64 // only events with Index < Before, for paging backwards; 0: no limit
	Limit   int   // 0: a default of 100
}

// OrgStore keeps organizations.
type OrgStore interface {
	// CreateOrganization creates the organization, its scope (security only, Type II, if
	// scope is nil) and adopts the given library controls, all in one transaction.
	CreateOrganization(ctx context.Context, actor Actor, o *Organization, scope *Scope, library []LibraryControl) error
	Organization(ctx context.Context, id int64) (*Organization, error)
	OrganizationBySlug(ctx context.Context, slug string) (*Organization, error)
	Organizations(ctx context.Context) ([]Organization, error)
}

// UserStore keeps users and their memberships.
type UserStore interface {
	// CreateUser creates a user; an email already taken is KindConflict.
	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, id int64) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	SetPasswordHash(ctx context.Context, userID int64, hash string) error
	AddMember(ctx context.Context, actor Actor, orgID, userID int64, role Role) error
	// SetRole changes a member's role; demoting the last owner is KindConflict.
	SetRole(ctx context.Context, actor Actor, orgID, userID int64, role Role) error
	// RemoveMember removes a member; removing the last owner is KindConflict. Their
	// controls and systems lose their owner.
	RemoveMember(ctx context.Context, actor Actor, orgID, userID int64) error
	Member(ctx context.Context, orgID, userID int64) (*Member, error)
	Members(ctx context.Context, orgID int64) ([]Member, error)
	// Memberships lists the organizations a user belongs to, with the role in each.
	Memberships(ctx context.Context, userID int64) ([]Membership, error)
}

// Membership is one organization a user belongs to.
type Membership struct {
	Organization Organization
	Role         Role
}

// SessionStore keeps server-side sessions, found by the SHA-256 of their token.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	Session(ctx context.Context, tokenHash []byte) (*Session, error)
	TouchSession(ctx context.Context, tokenHash []byte, at time.Time) error
	DeleteSession(ctx context.Context, tokenHash []byte) error
	DeleteUserSessions(ctx context.Context, userID int64) error
	DeleteExpiredSessions(ctx context.Context, idleBefore, now time.Time) (int64, error)
}

// ThrottleStore counts failed sign-ins per key (an account or an address).
type ThrottleStore interface {
	// RecordFailure adds a failure for key at the given time and returns the number of
	// failures for key since `since`.
	RecordFailure(ctx context.Context, key string, at, since time.Time) (int, error)
	Failures(ctx context.Context, key string, since time.Time) (int, error)
	ClearFailures(ctx context.Context, key string) error
}

// TokenStore keeps API tokens, found by the SHA-256 of their secret.
type TokenStore interface {
	CreateAPIToken(ctx context.Context, actor Actor, t *APIToken) error
	APITokens(ctx context.Context, orgID int64) ([]APIToken, error)
	APITokenByHash(ctx context.Context, hash []byte) (*APIToken, error)
	TouchAPIToken(ctx context.Context, id int64, at time.Time) error
	RevokeAPIToken(ctx context.Context, actor Actor, orgID, id int64, at time.Time) error
}

// ControlStore keeps an organization's controls and their criteria mappings.
type ControlStore interface {
	// CreateControl creates a control; a ref already used in the organization is KindConflict.
	CreateControl(ctx context.Context, actor Actor, c *Control) error
	Control(ctx context.Context, orgID, id int64) (*Control, error)
	ControlByRef(ctx context.Context, orgID int64, ref string) (*Control, error)
	Controls(ctx context.Context, orgID int64, f ControlFilter) ([]Control, error)
	// UpdateControl applies a partial change, validated as a whole, and returns the result.
	UpdateControl(ctx context.Context, actor Actor, orgID, id int64, ch ControlChange) (*Control, error)
	MapControl(ctx context.Context, actor Actor, orgID, id int64, criterionID string) error
	UnmapControl(ctx context.Context, actor Actor, orgID, id int64, criterionID string) error
}

// ScopeStore keeps what an organization's examination covers.
type ScopeStore interface {
	Scope(ctx context.Context, orgID int64) (*Scope, error)
	UpdateScope(ctx context.Context, actor Actor, s *Scope) error
	CreateSystem(ctx context.Context, actor Actor, s *System) error
	System(ctx context.Context, orgID, id int64) (*System, error)
	Systems(ctx context.Context, orgID int64) ([]System, error)
	UpdateSystem(ctx context.Context, actor Actor, s *System) error
	DeleteSystem(ctx context.Context, actor Actor, orgID, id int64) error
}

// EventStore reads the audit trail. Events are written by the other stores' changes, in
// the same transaction as the change.
type EventStore interface {
	Events(ctx context.Context, orgID int64, f EventFilter) ([]Event, error)
}

// Checkpoint is a signed statement of an organization's ledger: its first Size entries
// have the Merkle tree root Root. Note is the signed note (a C2SP tlog-checkpoint) that
// auditors keep and verify; see package ledger.
type Checkpoint struct {
	OrgID     int64
	Size      int64
	Root      tlog.Hash
	Note      string
	CreatedAt time.Time
}

// CheckpointFilter pages through an organization's checkpoints, newest first.
type CheckpointFilter struct {
	Before int64 // only checkpoints with Size < Before; 0: no limit
	Limit  int   // 0: a default of 100
}

// LedgerStore reads an organization's ledger: the audit trail as an append-only Merkle
// log. Every event is a ledger entry at its index; the stored hashes of the tree are
// written with the event, in the same transaction.
type LedgerStore interface {
	// LedgerSize returns the number of entries in the organization's ledger.
	LedgerSize(ctx context.Context, orgID int64) (int64, error)
	// LedgerEvents returns the entries with from <= index < to, oldest first; at most
	// 10,000 at a time.
	LedgerEvents(ctx context.Context, orgID int64, from, to int64) ([]Event, error)
	// LedgerHashReader reads the organization's committed stored hashes, for computing
	// tree roots and proofs (package ledger) of any size up to LedgerSize. It reads with
	// ctx, which must outlive its use.
	LedgerHashReader(ctx context.Context, orgID int64) tlog.HashReader
	// SaveCheckpoint stores a checkpoint. When one of the same size is already stored
	// (another replica published it first), cp becomes the stored one and the call
	// succeeds; a stored one of the same size with another root is KindConflict.
	SaveCheckpoint(ctx context.Context, cp *Checkpoint) error
	// LatestCheckpoint returns the organization's largest checkpoint; KindNotFound if none.
	LatestCheckpoint(ctx context.Context, orgID int64) (*Checkpoint, error)
	// CheckpointAt returns the organization's checkpoint of the given size.
	CheckpointAt(ctx context.Context, orgID, size int64) (*Checkpoint, error)
	// ListCheckpoints lists the organization's checkpoints, largest first.
	ListCheckpoints(ctx context.Context, orgID int64, f CheckpointFilter) ([]Checkpoint, error)
	// OrgsNeedingCheckpoint lists the organizations whose ledger has grown past their
	// latest checkpoint, or that have none.
	OrgsNeedingCheckpoint(ctx context.Context) ([]int64, error)
}

// EvidenceStore keeps evidence. Every addition, supersession and retraction appends a
// ledger entry in the same transaction, whose index the item records.
type EvidenceStore interface {
	// AddEvidence adds items all or nothing, each with an evidence.added entry, and
	// returns them as stored, in order.
	AddEvidence(ctx context.Context, actor Actor, orgID int64, items []NewEvidence) ([]Evidence, error)
	// SupersedeEvidence adds item as the correction of the current item oldID, with an
	// evidence.superseded entry, and returns it.
	SupersedeEvidence(ctx context.Context, actor Actor, orgID, oldID int64, item NewEvidence) (*Evidence, error)
	// RetractEvidence withdraws a current item for the reason given, with an
	// evidence.retracted entry, and returns it.
	RetractEvidence(ctx context.Context, actor Actor, orgID, id int64, reason string) (*Evidence, error)
	Evidence(ctx context.Context, orgID, id int64) (*Evidence, error)
	// EvidenceList lists the organization's evidence matching the filter, newest first.
	EvidenceList(ctx context.Context, orgID int64, f EvidenceFilter) ([]Evidence, error)
	// EvidenceContent returns an item's content kept inline, checked against its
	// SHA256; KindNotFound when the item's content is in the blob store.
	EvidenceContent(ctx context.Context, orgID, evidenceID int64) ([]byte, error)
	// LatestEvidence returns, for each control with current evidence, the latest end of
	// the effective periods of its current evidence.
	LatestEvidence(ctx context.Context, orgID int64) (map[int64]time.Time, error)
}

// Store is everything Evident keeps. Every method that reads or changes an organization's
// objects takes the organization's ID, and an object of another organization is KindNotFound.
type Store interface {
	OrgStore
	UserStore
	SessionStore
	ThrottleStore
	TokenStore
	ControlStore
	ScopeStore
	EventStore
	LedgerStore
	EvidenceStore
	MonitoringStore
	VersionStore
	Ping(ctx context.Context) error
}
