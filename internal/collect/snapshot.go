package collect

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
)

// SnapshotFormat names the layout of a run's snapshot, recorded in the snapshot itself.
const SnapshotFormat = "evident.connection-snapshot.v1"

// Snapshot is the content of a run's automated-snapshot evidence: every response the
// source sent during the run, as it sent it, with what the run made of them.
type Snapshot struct {
	Format     string             `json:"format"`
	Connection SnapshotConnection `json:"connection"`
	RunID      int64              `json:"run_id"`
	// Source is the connector and Evident's version, as the evidence item's source.
	Source     string             `json:"source"`
	StartedAt  time.Time          `json:"started_at"`
	FinishedAt time.Time          `json:"finished_at"`
	Status     domain.RunStatus   `json:"status"`
	Counts     map[string]int     `json:"counts"`
	Errors     []domain.TypeError `json:"errors"`
	Exchanges  []SnapshotExchange `json:"exchanges"`
}

// SnapshotConnection names the connection a snapshot comes from.
type SnapshotConnection struct {
	ID   int64  `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// SnapshotExchange is one response. The body is kept in the most readable form that is
// exact: JSON as JSON, other text as a string, anything else in base64.
type SnapshotExchange struct {
	At time.Time `json:"at"`
	// Operation is the API operation asked, in the vendor's terms, such as
	// "iam:ListUsers" or "GET /orgs/{org}/members".
	Operation string `json:"operation"`
	Method    string `json:"method"`
	URL       string `json:"url"`
	Status    int    `json:"status"`
	// JSON is a JSON body.
	JSON json.RawMessage `json:"json,omitempty"`
	// Text is a body of UTF-8 text that is not JSON, such as the XML of AWS query APIs.
	Text *string `json:"text,omitempty"`
	// Base64 is any other body.
	Base64 []byte `json:"base64,omitempty"`
}

// exchange converts a recorded exchange into its snapshot form.
func exchange(e connector.Exchange) SnapshotExchange {
	x := SnapshotExchange{At: e.At.UTC(), Operation: e.Operation, Method: e.Method, URL: e.URL, Status: e.Status}
	switch {
	case len(e.Response) > 0 && json.Valid(e.Response):
		x.JSON = json.RawMessage(e.Response)
	case utf8.Valid(e.Response):
		text := string(e.Response)
		x.Text = &text
	default:
		x.Base64 = e.Response
	}
	return x
}

// snapshotJSON encodes a run's snapshot.
func snapshotJSON(conn *domain.Connection, run *domain.ConnectionRun, source string, finished time.Time,
	col *connector.Collection, out domain.RunOutcome) ([]byte, error) {
	snap := Snapshot{
		Format:     SnapshotFormat,
		Connection: SnapshotConnection{ID: conn.ID, Kind: conn.Kind, Name: conn.Name},
		RunID:      run.ID,
		Source:     source,
		StartedAt:  run.StartedAt.UTC(),
		FinishedAt: finished,
		Status:     out.Status,
		Counts:     out.Counts,
		Errors:     out.Errors,
		Exchanges:  make([]SnapshotExchange, len(col.Raw)),
	}
	if snap.Counts == nil {
		snap.Counts = map[string]int{}
	}
	if snap.Errors == nil {
		snap.Errors = []domain.TypeError{}
	}
	for i, e := range col.Raw {
		snap.Exchanges[i] = exchange(e)
	}
	b, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("encode snapshot: %w", err)
	}
	return b, nil
}

// maxDescription keeps a snapshot's description well within evidence's limit.
const maxDescription = 8000

// snapshotDescription says in a few lines what a snapshot holds.
func snapshotDescription(conn *domain.Connection, col *connector.Collection, out domain.RunOutcome) string {
	var b strings.Builder
	total := 0
	types := make([]string, 0, len(out.Counts))
	for t, n := range out.Counts {
		types = append(types, t)
		total += n
	}
	sort.Strings(types)
	fmt.Fprintf(&b, "Every API response the %s connector received while collecting %d resources of %d types from %q (%d responses).",
		conn.Kind, total, len(types), conn.Name, len(col.Raw))
	for _, t := range types {
		line := fmt.Sprintf("\n%s: %d", t, out.Counts[t])
		if b.Len()+len(line) > maxDescription/2 {
			b.WriteString("\n…")
			break
		}
		b.WriteString(line)
	}
	if len(out.Errors) > 0 {
		b.WriteString("\n\nTypes that could not be collected:")
		for _, e := range out.Errors {
			line := fmt.Sprintf("\n%s: %s", e.Type, e.Message)
			if b.Len()+len(line) > maxDescription {
				b.WriteString("\n…")
				break
			}
			b.WriteString(line)
		}
	}
	return strings.ToValidUTF8(b.String(), "\uFFFD")
}
