package collect

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/connector"
	"github.com/evidenthq/evident/internal/domain"
)

// TestSnapshotOperations checks that a snapshot tells, for each response, which API
// operation was asked, and keeps each body in its most readable exact form.
func TestSnapshotOperations(t *testing.T) {
	at := time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)
	col := &connector.Collection{Raw: []connector.Exchange{
		{At: at, Operation: "iam:ListUsers", Method: "POST", URL: "https://iam.amazonaws.com/", Status: 200,
			Response: []byte("<ListUsersResponse/>")},
		{At: at, Operation: "GET /orgs/{org}/members", Method: "GET", URL: "https://api.github.com/orgs/acme/members?page=2",
			Status: 200, Response: []byte(`[{"login":"sam"}]`)},
	}}
	conn := &domain.Connection{ID: 3, Kind: "aws", Name: "production"}
	run := &domain.ConnectionRun{ID: 9, StartedAt: at}
	out := domain.RunOutcome{Status: domain.RunSucceeded, Counts: map[string]int{"aws.iam.user": 1}}
	b, err := snapshotJSON(conn, run, "aws/dev", at, col, out)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Exchanges []map[string]any `json:"exchanges"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	var ops []any
	for _, x := range raw.Exchanges {
		ops = append(ops, x["operation"])
	}
	if diff := cmp.Diff([]any{"iam:ListUsers", "GET /orgs/{org}/members"}, ops); diff != "" {
		t.Errorf("snapshot operations (-want +got):\n%s", diff)
	}
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	if x := snap.Exchanges[0]; x.Text == nil || *x.Text != "<ListUsersResponse/>" || x.Operation != "iam:ListUsers" {
		t.Errorf("first exchange = %+v; want the XML as text under iam:ListUsers", x)
	}
	if x := snap.Exchanges[1]; string(x.JSON) != `[{"login":"sam"}]` || x.Method != "GET" {
		t.Errorf("second exchange = %+v; want the JSON body as JSON", x)
	}
}
