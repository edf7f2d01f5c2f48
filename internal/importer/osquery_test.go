package importer

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
)

func TestFleetPolicies(t *testing.T) {
	got, _ := importFile(t, "osquery", "fleet-policies.json")
	want := []monitor.Resource{
		fnd("fleet:1", "Gatekeeper enabled (macOS)", map[string]any{
			"source": "fleet", "check_id": "1", "title": "Gatekeeper enabled (macOS)", "status": "pass", "severity": "medium",
			"resource_type": "policy", "message": "0 of 118 hosts fail the policy.",
			"remediation": "To enable Gatekeeper, on the failing device, run: sudo spctl --master-enable",
			"observed_at": time.Date(2026, 5, 31, 7, 0, 0, 0, time.UTC),
		}),
		fnd("fleet:2", "Full disk encryption enabled (macOS)", map[string]any{
			"source": "fleet", "check_id": "2", "title": "Full disk encryption enabled (macOS)", "status": "fail", "severity": "high",
			"resource_type": "policy", "message": "3 of 118 hosts fail the policy.",
			"remediation": "To enable full disk encryption, on the failing device, select System Settings > Privacy & Security > FileVault > Turn On.",
			"observed_at": time.Date(2026, 5, 31, 7, 0, 0, 0, time.UTC),
		}),
		fnd("fleet:7", "Screen lock after 5 minutes (Windows)", map[string]any{
			"source": "fleet", "check_id": "7", "title": "Screen lock after 5 minutes (Windows)", "status": "skip", "severity": "medium",
			"resource_type": "policy", "message": "No host has reported a result yet.",
			"remediation": "Apply the company's screen lock configuration profile.",
			"observed_at": time.Date(2026, 5, 30, 12, 0, 0, 0, time.UTC),
		}),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(fleet policies) mismatch (-want +got):\n%s", diff)
	}
}

func TestFleetHost(t *testing.T) {
	got, _ := importFile(t, "osquery", "fleet-host.json")
	at := time.Date(2026, 5, 31, 6, 41, 10, 0, time.UTC)
	const host = "Alice's MacBook Pro"
	const uuid = "8E4F1B4A-3C2D-5E6F-9A0B-1C2D3E4F5A6B"
	want := []monitor.Resource{
		fnd("fleet:1:"+uuid, "Gatekeeper enabled (macOS) on "+host, map[string]any{
			"source": "fleet", "check_id": "1", "title": "Gatekeeper enabled (macOS)", "status": "pass", "severity": "medium",
			"resource_id": host, "resource_type": "host", "message": "The host passes the policy.",
			"remediation": "To enable Gatekeeper, on the failing device, run: sudo spctl --master-enable", "observed_at": at,
		}),
		fnd("fleet:2:"+uuid, "Full disk encryption enabled (macOS) on "+host, map[string]any{
			"source": "fleet", "check_id": "2", "title": "Full disk encryption enabled (macOS)", "status": "fail", "severity": "high",
			"resource_id": host, "resource_type": "host", "message": "The host fails the policy.",
			"remediation": "To enable full disk encryption, on the failing device, select System Settings > Privacy & Security > FileVault > Turn On.",
			"observed_at": at,
		}),
		fnd("fleet:9:"+uuid, "Firewall enabled (macOS) on "+host, map[string]any{
			"source": "fleet", "check_id": "9", "title": "Firewall enabled (macOS)", "status": "skip", "severity": "medium",
			"resource_id": host, "resource_type": "host", "message": "The host has not run the policy yet.",
			"remediation": "Turn on the firewall in System Settings > Network > Firewall.", "observed_at": at,
		}),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(fleet host) mismatch (-want +got):\n%s", diff)
	}
	hosts := `{"hosts": [{"id": 1, "hostname": "a", "policies": [{"id": 4, "name": "p", "response": "fail"}]}, {"id": 2, "hostname": "b", "policies": []}]}`
	got, _, err := importString(t, "osquery", hosts)
	if err != nil || len(got) != 1 || got[0].ExternalID != "fleet:4:a" || got[0].Attributes["observed_at"] != testNow {
		t.Errorf("Import(hosts list) = %v, %v; want one finding fleet:4:a observed now", got, err)
	}
}

func TestOsqueryResultLog(t *testing.T) {
	got, _ := importFile(t, "osquery", "osquery.results.log")
	const ssh = "pack/compliance/ssh_password_authentication"
	const ports = "pack/incident-response/listening_ports"
	row := func(id, name, host, status, msg string, at time.Time) monitor.Resource {
		return fnd(id, name+" on "+host, map[string]any{
			"source": "osquery", "check_id": name, "title": name, "status": status, "severity": "medium",
			"resource_id": host, "resource_type": "host", "message": msg, "observed_at": at,
		})
	}
	t8 := time.Date(2026, 5, 31, 8, 0, 0, 0, time.UTC)
	t805 := time.Date(2026, 5, 31, 8, 5, 0, 0, time.UTC)
	t9 := time.Date(2026, 5, 31, 9, 0, 0, 0, time.UTC)
	want := []monitor.Resource{
		row("osquery:"+ssh+":web-01.acme.internal:77c7c7ffa8c6", ssh, "web-01.acme.internal", "fail", "Added: key=PasswordAuthentication, path=/etc/ssh/sshd_config, value=yes", t8),
		row("osquery:pack/compliance/world_writable_suid:web-01.acme.internal", "pack/compliance/world_writable_suid", "web-01.acme.internal", "fail",
			"The query returned 1 row; the first: mode=4777, path=/usr/local/bin/backup-helper, uid=0", t805),
		row("osquery:pack/compliance/unencrypted_volumes:db-01.acme.internal", "pack/compliance/unencrypted_volumes", "db-01.acme.internal", "pass",
			"The query returned no rows.", t805),
		row("osquery:"+ssh+":web-01.acme.internal:77c7c7ffa8c6", ssh, "web-01.acme.internal", "pass", "Removed: key=PasswordAuthentication, path=/etc/ssh/sshd_config, value=yes", t9),
		row("osquery:"+ports+":db-01.acme.internal:cdb0faaa6b05", ports, "db-01.acme.internal", "fail", "Added: address=0.0.0.0, pid=2211, port=5432, protocol=6", t9),
		row("osquery:"+ports+":db-01.acme.internal:53dbc7c7170d", ports, "db-01.acme.internal", "pass", "Removed: address=127.0.0.1, pid=2210, port=5432, protocol=6", t9),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(osquery log) mismatch (-want +got):\n%s", diff)
	}
	// A removal clears the finding its addition raised: both share one ID.
	if got[0].ExternalID != got[3].ExternalID {
		t.Errorf("added and removed rows have IDs %q and %q; want the same", got[0].ExternalID, got[3].ExternalID)
	}
}

func TestOsqueryMixed(t *testing.T) {
	// Concatenated objects of different shapes, with blank lines between them.
	in := `{"name": "q", "hostIdentifier": "h", "calendarTime": "Sun May 31 08:00:00 2026 UTC", "snapshot": [], "action": "snapshot"}

{"policies": [{"id": "3", "name": "p", "passing_host_count": 1, "failing_host_count": 0}]}
`
	got, _, err := importString(t, "osquery", in)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range got {
		ids = append(ids, r.ExternalID)
	}
	if diff := cmp.Diff([]string{"osquery:q:h", "fleet:3"}, ids); diff != "" {
		t.Errorf("IDs mismatch (-want +got):\n%s", diff)
	}
	if at := got[0].Attributes["observed_at"]; at != time.Date(2026, 5, 31, 8, 0, 0, 0, time.UTC) {
		t.Errorf("observed_at from calendarTime = %v", at)
	}
}

func TestOsqueryMalformed(t *testing.T) {
	checkMalformed(t, "osquery", []malformed{
		{"empty", "\n", "line 1: the file is empty; want Fleet policies or hosts as JSON, or osquery result log lines"},
		{"a list", "[]", "line 1: want a JSON object (a Fleet policy list or host, or an osquery result log line), not a list"},
		{"a list later", "{\"policies\": []}\n[]", "line 2: want a JSON object (a Fleet policy list or host, or an osquery result log line), not a list"},
		{"no name", "{\"policies\": []}\n{\"hostIdentifier\": \"h\", \"columns\": {}, \"action\": \"added\"}",
			"line 2, field name: is required: an osquery result log line names its query (or give Fleet's policies, host or hosts)"},
		{"no host", `{"name": "q", "columns": {}, "action": "added"}`, "line 1, field hostIdentifier: is required"},
		{"bad action", "{\"name\": \"q\", \"hostIdentifier\": \"h\", \"columns\": {\"a\": \"1\"}, \"action\": \"changed\"}",
			`line 1, field action: must be added, removed or snapshot, not "changed"`},
		{"no rows", `{"name": "q", "hostIdentifier": "h", "action": "added"}`, "line 1, field columns: is required: an osquery result log line has columns, snapshot or diffResults"},
		{"bad unixTime", `{"name": "q", "hostIdentifier": "h", "unixTime": "noon", "snapshot": []}`, `line 1, field unixTime: must be a Unix time in seconds, not "noon"`},
		{"snapshot not a list", "{\"name\": \"q\",\n\"snapshot\": {}}", "line 2, field snapshot: must be a list, not an object"},
		{"policy without counts", "{\"policies\": [\n{\"id\": 1, \"name\": \"p\"}]}",
			"line 2, field failing_host_count: is required: a Fleet policy list has passing_host_count and failing_host_count"},
		{"policy without id", "{\"policies\": [\n{\"name\": \"p\", \"passing_host_count\": 1, \"failing_host_count\": 0}]}", "line 2, field id: is required"},
		{"bad response", "{\"host\": {\"hostname\": \"a\",\n\"policies\": [{\"id\": 1, \"response\": \"maybe\"}]}}",
			`line 1, field host.policies[0].response: must be "pass", "fail" or empty, not "maybe"`},
		{"host without name", `{"hosts": [{"id": 1, "policies": []}]}`, "line 1, field hostname: is required"},
		{"bad policy_updated_at", `{"host": {"hostname": "a", "policy_updated_at": "today"}}`,
			`line 1, field host.policy_updated_at: must be an ISO 8601 timestamp such as 2026-03-31T12:00:00Z, not "today"`},
		{"truncated line", "{\"name\": \"q\", \"hostIdentifier\": \"h\", \"snapshot\": []}\n{\"name\": \"q\", \"hostId", "line 2: unexpected end of input"},
	})
}
