package domain

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"time"
	"unicode"
)

// Continuous monitoring: connections to the systems a company runs, the inventory of
// resources they report, the results of the automated tests judging that inventory,
// exceptions accepted for failing resources, and the alerts and tasks a change of a test's
// outcome raises. The types here are storage-neutral; the test format and the resource
// schemas live in package monitor.

// The event types of continuous monitoring.
const (
	EventConnectionCreated = "connection.created"
	EventConnectionUpdated = "connection.updated"
	EventConnectionDeleted = "connection.deleted"
	// EventResourcesPushed records resources sent through the push API or an import.
	EventResourcesPushed = "resources.pushed"
	EventTestCreated     = "test.created" // an organization's own test
	EventTestUpdated     = "test.updated"
	EventTestDeleted     = "test.deleted"
	EventTestEnabled     = "test.enabled"
	EventTestDisabled    = "test.disabled"
	// EventTestFailing and EventTestRecovered record a test's change of outcome, with the
	// alert it raised.
	EventTestFailing      = "test.failing"
	EventTestRecovered    = "test.recovered"
	EventExceptionCreated = "exception.created"
	EventExceptionRevoked = "exception.revoked"
	EventTaskClosed       = "task.closed"
)

// The limits of a connection's schedule.
const (
	DefaultConnectionInterval = time.Hour
	MinConnectionInterval     = 5 * time.Minute
	MaxConnectionInterval     = 30 * 24 * time.Hour
)

// Connection is a configured source of resources: an AWS account, a GitHub organization,
// an Okta or Google Workspace tenant. Its credentials are kept apart, sealed (see
// SealedSecret), and never part of a Connection.
type Connection struct {
	ID    int64
	OrgID int64
	// Kind is the connector kind, such as "aws".
	Kind string
	// Name is unique in the organization, such as "production".
	Name string
	// Interval is the time between two scheduled runs.
	Interval time.Duration
	// Enabled connections run on their schedule; disabled ones only when asked.
	Enabled bool
	// NextRunAt is when the next scheduled run is due.
	NextRunAt time.Time
	// LastRun is the most recent run, nil before the first; filled on read.
	LastRun   *ConnectionRun
	CreatedAt time.Time
	UpdatedAt time.Time
	// CredentialsSetAt is when the sealed credentials were last written: at creation, or
	// by the last change that replaced them.
	CredentialsSetAt time.Time
}

var connectionKindPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// ValidateConnection checks a connection's fields, trimming its name; a zero interval
// becomes DefaultConnectionInterval.
func ValidateConnection(c *Connection) error {
	c.Name = strings.TrimSpace(c.Name)
	if c.Interval == 0 {
		c.Interval = DefaultConnectionInterval
	}
	switch {
	case !connectionKindPattern.MatchString(c.Kind):
		return Invalid("kind", "must be a connector kind such as aws")
	case c.Name == "":
		return Invalid("name", "is required")
	case len(c.Name) > 100:
		return Invalid("name", "must be at most 100 characters")
	case !printable(c.Name):
		return Invalid("name", "must be printable text")
	case c.Interval < MinConnectionInterval || c.Interval > MaxConnectionInterval:
		return Invalid("interval", "must be between %s and %s", MinConnectionInterval, "30 days")
	case c.Interval%time.Second != 0:
		return Invalid("interval", "must be a whole number of seconds")
	}
	return nil
}

// printable reports whether s is valid text without control characters.
func printable(s string) bool {
	for _, r := range s {
		if r == unicode.ReplacementChar || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// SealedSecret is a connection's credentials encrypted with AES-GCM. The store keeps only
// this; sealing and opening happen in the service that holds the key.
type SealedSecret struct {
	// KeyID names the key that sealed it, so that opening with another key fails clearly.
	KeyID      string
	Nonce      []byte
	Ciphertext []byte
}

// ConnectionChange is a partial update of a connection: nil fields stay as they are.
type ConnectionChange struct {
	Name     *string
	Interval *time.Duration
	Enabled  *bool
	// Secret replaces the credentials.
	Secret *SealedSecret
}

// RunStatus is the state of a connection run.
type RunStatus string

// The run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	// RunPartial: some resource types could not be collected; the others were.
	RunPartial RunStatus = "partial"
	RunFailed  RunStatus = "failed"
)

// Valid reports whether s is a known status.
func (s RunStatus) Valid() bool {
	return s == RunRunning || s == RunSucceeded || s == RunPartial || s == RunFailed
}

// RunTrigger says why a run happened.
type RunTrigger string

// The triggers.
const (
	TriggerSchedule RunTrigger = "schedule" // the connection's schedule
	TriggerManual   RunTrigger = "manual"   // a person or the command line asked
	TriggerPush     RunTrigger = "push"     // resources were pushed or imported (test runs only)
)

// TypeError is a resource type a run could not collect, and why.
type TypeError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ConnectionRun is one run of a connection.
type ConnectionRun struct {
	ID             int64
	OrgID          int64
	ConnectionID   int64
	ConnectionName string // filled on read
	Trigger        RunTrigger
	// DueAt is the scheduled time the run answers; the start for manual runs.
	DueAt      time.Time
	StartedAt  time.Time
	FinishedAt *time.Time
	Status     RunStatus
	// Counts is the number of resources collected per type.
	Counts map[string]int
	// Errors lists the types that could not be collected.
	Errors []TypeError
	// Message says why a failed run failed as a whole.
	Message string
	// Added, Changed and Gone count the inventory's changes: resources seen for the first
	// time (or again after they were gone), resources whose attributes changed, and
	// resources no longer reported.
	Added, Changed, Gone int
	// EvidenceID is the automated snapshot of the run's raw responses.
	EvidenceID *int64
}

// RunOutcome is how a claimed run ended, as the runner reports it to the store.
type RunOutcome struct {
	RunID int64
	OrgID int64
	// Owner is the claim's owner; a run whose claim another replica has taken over since
	// cannot finish.
	Owner      string
	Status     RunStatus
	Counts     map[string]int
	Errors     []TypeError
	Message    string
	EvidenceID *int64
}

// RunFilter narrows a list of connection runs, newest first. Zero values match everything.
type RunFilter struct {
	ConnectionID int64
	Before       int64 // only runs with ID < Before; 0: no limit
	Limit        int   // 0: a default of 100
}

// Resource is a resource as the inventory keeps it: the latest version reported by its
// source, with when it was first and last seen and when its attributes last changed.
type Resource struct {
	ID    int64
	OrgID int64
	// ConnectionID is the connection that reports it; nil for pushed and imported
	// resources, and for those of a deleted connection.
	ConnectionID *int64
	// Source names where it came from: the connection's name, or the push client or import
	// that sent it.
	Source     string
	Type       string
	ExternalID string
	Name       string
	// Attributes are the type's fields as JSON.
	Attributes json.RawMessage
	// Hash is the hex SHA-256 of the name and attributes, which changes when they do.
	Hash string
	// Version counts the versions kept, from 1.
	Version   int
	FirstSeen time.Time
	LastSeen  time.Time
	ChangedAt time.Time
	// GoneAt is when a successful run of its connection no longer reported it.
	GoneAt *time.Time
}

// ResourceVersion is one version of a resource's name and attributes.
type ResourceVersion struct {
	ResourceID int64
	Version    int
	Name       string
	Attributes json.RawMessage
	Hash       string
	// ObservedAt is when this version was first reported.
	ObservedAt time.Time
}

// ResourceFilter narrows a list of resources, ordered by type, then ID (by ID alone when
// paging with After). Zero values match everything except gone resources.
type ResourceFilter struct {
	Type         string
	ConnectionID int64
	Source       string // a connection's name, or a push client's or import's
	Query        string // matched against the external ID and the name
	IncludeGone  bool
	After        int64 // only resources with ID > After, for paging; 0: from the start
	Limit        int   // 0: a default of 100
}

// ResourceTypeCount is how many current resources of a type the inventory holds.
type ResourceTypeCount struct {
	Type  string
	Count int
}

// UpsertSummary says what a push or an import changed in the inventory.
type UpsertSummary struct {
	Added     int `json:"added"`
	Changed   int `json:"changed"`
	Unchanged int `json:"unchanged"`
	Gone      int `json:"gone"`
}

// CustomTest is one of an organization's own tests. Its definition is the same YAML (or
// JSON) format as the shipped library's; the store validates and compiles it on save and
// keeps the text as written. The other fields are read from the definition.
type CustomTest struct {
	OrgID      int64
	TestID     string
	Title      string
	Type       string
	Severity   string
	Controls   []string
	Definition string
	Enabled    bool
	CreatedBy  int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// ResultStatus is a test's outcome, for one resource or for the test as a whole.
type ResultStatus string

// The result statuses.
const (
	ResultPass  ResultStatus = "pass"
	ResultFail  ResultStatus = "fail"
	ResultError ResultStatus = "error"
	// ResultNoData: the test selected no resource.
	ResultNoData ResultStatus = "no_data"
	// ResultExcepted: failing, under an exception that has not expired. A test is
	// excepted when every resource failing it is.
	ResultExcepted ResultStatus = "excepted"
)

// TestRun is one evaluation of an organization's tests over its inventory.
type TestRun struct {
	ID    int64
	OrgID int64
	// At is the time the tests were judged at (their "now").
	At         time.Time
	FinishedAt time.Time
	Trigger    RunTrigger
	// ConnectionRunID is the connection run that triggered it, if any.
	ConnectionRunID *int64
	// Tests counts the tests evaluated; the others count them by overall status.
	Tests, Passing, Failing, Erroring, NoData int
}

// TestRunFilter pages through test runs, newest first.
type TestRunFilter struct {
	Before int64 // only runs with ID < Before; 0: no limit
	Limit  int   // 0: a default of 100
}

// TestSummary is a test's current outcome, from its latest run.
type TestSummary struct {
	TestID      string
	Title       string
	Type        string
	Severity    string
	Remediation string
	Controls    []string // control refs
	// Status is the outcome now: fail when a failing resource is not excepted, excepted
	// when all of them are, else as evaluated.
	Status ResultStatus
	// Passed, Failed and Errors count resources; Failed includes Excepted.
	Passed, Failed, Errors, Excepted int
	// Err says why the test could not run at all.
	Err string
	// Since is when the evaluated status last changed.
	Since     time.Time
	LastRunID int64
	LastRunAt time.Time
}

// FailingTest is a test failing now on resources that are not excepted: a readiness gap
// for each control it supports.
type FailingTest struct {
	TestID      string
	Title       string
	Type        string
	Severity    string
	Remediation string
	Controls    []string // control refs
	// Failing counts the failing resources without an exception.
	Failing int
}

// TestHistoryPoint is a test's outcome in one run, for trends.
type TestHistoryPoint struct {
	RunID int64
	At    time.Time
	// Status is as evaluated; Excepted counts the failures excepted at the time.
	Status                           ResultStatus
	Passed, Failed, Errors, Excepted int
}

// Verdict is a test's outcome for one resource.
type Verdict struct {
	TestID     string
	ExternalID string
	Name       string
	Status     ResultStatus
	Message    string
	// Since is when the resource's status last changed; zero in a past run's verdicts.
	Since time.Time
	// ExceptionID is the exception that covers a failure, when Status is excepted.
	ExceptionID *int64
}

// VerdictFilter narrows a test's current verdicts. Zero values match everything.
type VerdictFilter struct {
	Status ResultStatus
	Limit  int // 0: all
}

// Exception accepts a failing resource of a test until it expires: the test shows it as
// excepted, and it is no readiness gap. It is recorded in the ledger.
type Exception struct {
	ID            int64
	OrgID         int64
	TestID        string
	ExternalID    string
	Justification string
	// ApproverID is the member who approved it.
	ApproverID   int64
	ApproverName string // filled on read
	ExpiresAt    time.Time
	CreatedBy    int64
	CreatedAt    time.Time
	RevokedAt    *time.Time
	RevokedBy    int64
}

// Active reports whether the exception covers its resource at time t.
func (e *Exception) Active(t time.Time) bool {
	return !e.CreatedAt.After(t) && t.Before(e.ExpiresAt) && (e.RevokedAt == nil || t.Before(*e.RevokedAt))
}

// ValidateException checks a new exception's fields against the time now, trimming text.
func ValidateException(e *Exception, now time.Time) error {
	e.TestID = strings.TrimSpace(e.TestID)
	e.ExternalID = strings.TrimSpace(e.ExternalID)
	e.Justification = strings.TrimSpace(e.Justification)
	switch {
	case e.TestID == "":
		return Invalid("test_id", "is required")
	case e.ExternalID == "":
		return Invalid("external_id", "is required")
	case e.Justification == "":
		return Invalid("justification", "is required: say why the failure is accepted")
	case len(e.Justification) > 5000:
		return Invalid("justification", "must be at most 5000 characters")
	case e.ApproverID <= 0:
		return Invalid("approver_id", "is required")
	}
	return CheckExceptionExpiry(e.ExpiresAt, now)
}

// CheckExceptionExpiry checks an exception's expiry: in the future, and at most one year
// ahead, so that every exception is reviewed at least yearly.
func CheckExceptionExpiry(expires, now time.Time) error {
	switch {
	case expires.IsZero():
		return Invalid("expires_at", "is required")
	case !expires.After(now):
		return Invalid("expires_at", "must be in the future")
	case expires.After(now.AddDate(1, 0, 0)):
		return Invalid("expires_at", "must be at most one year ahead: exceptions are reviewed at least yearly")
	}
	return nil
}

// ExceptionApprovers returns who may approve an exception the requester asks for: the
// organization's owners, admins and members other than the requester, or the requester
// alone (onlySelf) when nobody else may.
func ExceptionApprovers(members []Member, requester int64) (list []Member, onlySelf bool) {
	for _, m := range members {
		if m.Role.CanEdit() && m.User.ID != requester {
			list = append(list, m)
		}
	}
	if len(list) > 0 {
		return list, false
	}
	for _, m := range members {
		if m.User.ID == requester && m.Role.CanEdit() {
			return []Member{m}, true
		}
	}
	return nil, true
}

// CheckExceptionApprover checks that the approver is among ExceptionApprovers.
func CheckExceptionApprover(members []Member, requester, approverID int64) error {
	list, onlySelf := ExceptionApprovers(members, requester)
	for _, m := range list {
		if m.User.ID == approverID {
			return nil
		}
	}
	if approverID == 0 {
		return Invalid("approver_id", "is required")
	}
	if onlySelf {
		return Invalid("approver_id", "must be you: nobody else in the organization may approve exceptions")
	}
	return Invalid("approver_id", "must be an owner, admin or member of the organization other than you")
}

// ExceptionFilter narrows a list of exceptions, newest first. Zero values match everything.
type ExceptionFilter struct {
	TestID     string
	ExternalID string
	// ActiveAt, when set, keeps the exceptions in force at that time.
	ActiveAt *time.Time
	Limit    int // 0: a default of 100
}

// AlertState is what an alert announces.
type AlertState string

// The alert states.
const (
	AlertFailing   AlertState = "failing"   // the test started failing
	AlertRecovered AlertState = "recovered" // the test passes again
)

// Alert announces that a test started failing or recovered. Notifiers deliver each alert
// once (see AlertStore.PendingAlerts).
type Alert struct {
	ID        int64
	OrgID     int64
	TestID    string
	TestTitle string
	Severity  string
	State     AlertState
	// Failing counts the failing resources (without exceptions) when the alert was raised.
	Failing int
	// ControlIDs are the organization's controls the test supports; OwnerIDs their owners.
	ControlIDs  []int64
	OwnerIDs    []int64
	TestRunID   int64
	CreatedAt   time.Time
	DeliveredAt *time.Time
}

// AlertFilter pages through alerts, newest first. Zero values match everything.
type AlertFilter struct {
	TestID string
	Before int64 // only alerts with ID < Before; 0: no limit
	Limit  int   // 0: a default of 100
}

// TaskKind is what a task asks for.
type TaskKind string

// The task kinds.
const (
	// TaskFixTest: a test supporting the assignee's control is failing.
	TaskFixTest TaskKind = "fix_failing_test"
)

// Task is work for a person, shown on the dashboard and in My tasks. A task for a failing
// test closes itself when the test recovers.
type Task struct {
	ID    int64
	OrgID int64
	// AssigneeID is the control owner the task is for; nil when the test's controls have
	// no owner.
	AssigneeID   *int64
	AssigneeName string // filled on read
	Kind         TaskKind
	TestID       string
	AlertID      int64
	Title        string
	Detail       string
	CreatedAt    time.Time
	ClosedAt     *time.Time
	// Resolution says how it closed: "recovered" (the test passes again), "dismissed" (a
	// person closed it), "test_disabled" or "test_deleted" (the test is no longer judged).
	Resolution string
}

// TaskFilter narrows a list of tasks, newest first. Zero values match the open tasks of
// everyone.
type TaskFilter struct {
	ID            int64 // 0: any task
	AssigneeID    int64 // 0: anyone; -1: nobody
	TestID        string
	IncludeClosed bool
	Limit         int // 0: a default of 100
}

// ConnectionStore keeps connections and their runs.
type ConnectionStore interface {
	// CreateConnection creates a connection with its sealed credentials, due to run now.
	// A name already used in the organization is KindConflict.
	CreateConnection(ctx context.Context, actor Actor, c *Connection, secret SealedSecret) error
	Connection(ctx context.Context, orgID, id int64) (*Connection, error)
	ConnectionByName(ctx context.Context, orgID int64, name string) (*Connection, error)
	// Connections lists the organization's connections by name.
	Connections(ctx context.Context, orgID int64) ([]Connection, error)
	// UpdateConnection applies a partial change and returns the result.
	UpdateConnection(ctx context.Context, actor Actor, orgID, id int64, ch ConnectionChange) (*Connection, error)
	// DeleteConnection deletes a connection and its runs; its resources are marked gone.
	DeleteConnection(ctx context.Context, actor Actor, orgID, id int64) error
	// ConnectionSecret returns a connection's sealed credentials, for the runner only.
	ConnectionSecret(ctx context.Context, orgID, id int64) (*SealedSecret, error)
	ConnectionRun(ctx context.Context, orgID, id int64) (*ConnectionRun, error)
	ConnectionRuns(ctx context.Context, orgID int64, f RunFilter) ([]ConnectionRun, error)
}

// InventoryStore reads the resource inventory. Resources are written by connection runs,
// pushes and imports (see package store).
type InventoryStore interface {
	Resources(ctx context.Context, orgID int64, f ResourceFilter) ([]Resource, error)
	Resource(ctx context.Context, orgID, id int64) (*Resource, error)
	// ResourceVersions lists a resource's versions, newest first.
	ResourceVersions(ctx context.Context, orgID, id int64) ([]ResourceVersion, error)
	// ResourceTypes counts the current resources per type, by type.
	ResourceTypes(ctx context.Context, orgID int64) ([]ResourceTypeCount, error)
}

// TestStore keeps an organization's own tests, which tests are enabled, and the results
// of its test runs.
type TestStore interface {
	// CreateCustomTest validates and compiles a test definition and stores it, enabled.
	// An ID already used by the library or the organization is KindConflict; a bad
	// expression is KindInvalid naming the field and the position.
	CreateCustomTest(ctx context.Context, actor Actor, orgID int64, definition string) (*CustomTest, error)
	// UpdateCustomTest replaces a test's definition; its ID cannot change.
	UpdateCustomTest(ctx context.Context, actor Actor, orgID int64, testID, definition string) (*CustomTest, error)
	// DeleteCustomTest deletes a test with its current results.
	DeleteCustomTest(ctx context.Context, actor Actor, orgID int64, testID string) error
	CustomTest(ctx context.Context, orgID int64, testID string) (*CustomTest, error)
	CustomTests(ctx context.Context, orgID int64) ([]CustomTest, error)
	// SetTestEnabled enables or disables a library or custom test. A disabled test's
	// current results are dropped: it is no longer judged.
	SetTestEnabled(ctx context.Context, actor Actor, orgID int64, testID string, enabled bool) error
	// DisabledTests lists the IDs of the organization's disabled tests, sorted.
	DisabledTests(ctx context.Context, orgID int64) ([]string, error)

	TestRun(ctx context.Context, orgID, id int64) (*TestRun, error)
	TestRuns(ctx context.Context, orgID int64, f TestRunFilter) ([]TestRun, error)
	// TestSummaries returns every judged test's current outcome, with exceptions as of now,
	// by test ID.
	TestSummaries(ctx context.Context, orgID int64, now time.Time) ([]TestSummary, error)
	TestSummary(ctx context.Context, orgID int64, testID string, now time.Time) (*TestSummary, error)
	// TestHistory returns a test's outcome in its latest runs, newest first.
	TestHistory(ctx context.Context, orgID int64, testID string, limit int) ([]TestHistoryPoint, error)
	// TestVerdicts returns a test's current verdicts per resource with exceptions as of
	// now: failures first, then errors, passes, each by external ID.
	TestVerdicts(ctx context.Context, orgID int64, testID string, now time.Time, f VerdictFilter) ([]Verdict, error)
	// RunVerdicts returns a test's verdicts in a past run, with the exceptions in force then.
	RunVerdicts(ctx context.Context, orgID, runID int64, testID string) ([]Verdict, error)
	// FailingTests lists the tests failing now on resources without an exception.
	FailingTests(ctx context.Context, orgID int64, now time.Time) ([]FailingTest, error)
}

// ExceptionStore keeps exceptions. Creating and revoking one appends a ledger entry.
type ExceptionStore interface {
	// CreateException accepts a resource currently failing a test. The approver must be a
	// member; an active exception for the same test and resource is KindConflict.
	CreateException(ctx context.Context, actor Actor, e *Exception) error
	Exception(ctx context.Context, orgID, id int64) (*Exception, error)
	Exceptions(ctx context.Context, orgID int64, f ExceptionFilter) ([]Exception, error)
	// RevokeException ends an exception early.
	RevokeException(ctx context.Context, actor Actor, orgID, id int64) error
}

// AlertStore keeps alerts and the tasks they open.
type AlertStore interface {
	Alerts(ctx context.Context, orgID int64, f AlertFilter) ([]Alert, error)
	// PendingAlerts claims up to limit undelivered alerts of any organization for owner
	// (a notifier replica) for the lease, oldest first. An alert claimed by another
	// owner whose lease has not run out is not returned, so each alert goes to one
	// notifier at a time.
	PendingAlerts(ctx context.Context, owner string, lease time.Duration, limit int) ([]Alert, error)
	// MarkDelivered records that owner delivered a claimed alert. When owner's claim was
	// lost (its lease ran out and another owner claimed it), it is KindConflict; an alert
	// already delivered is KindConflict too.
	MarkDelivered(ctx context.Context, owner string, alertID int64) error
	Tasks(ctx context.Context, orgID int64, f TaskFilter) ([]Task, error)
	// CloseTask dismisses an open task.
	CloseTask(ctx context.Context, actor Actor, orgID, id int64) error
}

// MonitoringStore is everything continuous monitoring keeps.
type MonitoringStore interface {
	ConnectionStore
	InventoryStore
	TestStore
	ExceptionStore
	AlertStore
}
