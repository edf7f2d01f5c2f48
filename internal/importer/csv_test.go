package importer

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/monitor"
)

func TestCSVSample(t *testing.T) {
	got, sum := importFile(t, "csv", "resources.csv")
	want := []monitor.Resource{
		{Type: "device", ExternalID: "C02ALICE01", Name: "alice-mbp", Attributes: map[string]any{
			"serial_number": "C02ALICE01", "owner_email": "alice@acme.example", "platform": "macos", "os_version": "15.4.1",
			"managed": true, "disk_encrypted": true, "screen_lock_enabled": true, "screen_lock_minutes": int64(5),
			"last_seen": time.Date(2026, 5, 31, 6, 58, 12, 0, time.UTC),
		}},
		{Type: "device", ExternalID: "PF3XK2LM", Name: "bob-thinkpad", Attributes: map[string]any{
			"serial_number": "PF3XK2LM", "owner_email": "bob@acme.example", "platform": "windows", "os_version": "11 23H2",
			"managed": true, "disk_encrypted": false, "screen_lock_enabled": true, "screen_lock_minutes": int64(15),
			"last_seen": time.Date(2026, 5, 30, 0, 0, 0, 0, time.UTC),
		}},
		{Type: "custom.vendor", ExternalID: "vendor-stripe", Name: "Stripe", Attributes: map[string]any{"vendor": "Stripe Inc.", "contract_end": "2027-01-31"}},
		{Type: "custom.vendor", ExternalID: "vendor-okta", Name: "vendor-okta", Attributes: map[string]any{"vendor": "Okta Inc."}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import(csv sample) mismatch (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"device": 2, "custom.vendor": 2}, sum.Types); diff != "" {
		t.Errorf("Summary.Types mismatch (-want +got):\n%s", diff)
	}
}

func TestCSVKinds(t *testing.T) {
	in := "Type,ID,Name,Default Branch,Private,Visibility,Archived,Fork,Org,Topics,Protection,Rulesets,Secret Scanning Enabled,Dependabot Alerts Enabled\n" +
		`github.repository,acme/api,api,main,true,private,no,n,acme,go; api ;,"{""enabled"": true, ""required_approving_reviews"": 1, ""dismiss_stale_reviews"": true, ""require_code_owner_reviews"": false, ""enforce_admins"": true, ""allow_force_pushes"": false, ""allow_deletions"": false, ""required_status_checks"": [""ci""], ""required_signatures"": false}",[],1,0` + "\n" +
		"custom.badge,b-1,Badge one,,,,,,,,,,,\n"
	got, _, err := importString(t, "csv", in)
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	want := []monitor.Resource{
		{Type: "github.repository", ExternalID: "acme/api", Name: "api", Attributes: map[string]any{
			"default_branch": "main", "private": true, "visibility": "private", "archived": false, "fork": false, "org": "acme",
			"topics": []string{"go", "api"},
			"protection": map[string]any{"enabled": true, "required_approving_reviews": int64(1), "dismiss_stale_reviews": true,
				"require_code_owner_reviews": false, "enforce_admins": true, "allow_force_pushes": false, "allow_deletions": false,
				"required_status_checks": []string{"ci"}, "required_signatures": false},
			"rulesets": []any{}, "secret_scanning_enabled": true, "dependabot_alerts_enabled": false,
		}},
		{Type: "custom.badge", ExternalID: "b-1", Name: "Badge one", Attributes: map[string]any{}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import mismatch (-want +got):\n%s", diff)
	}
}

func TestCSVBOMAndCRLF(t *testing.T) {
	in := "\uFEFFtype,id,name,owner\r\ncustom.laptop,L1,Laptop one,alice@acme.example\r\n\r\ncustom.laptop,L2,,\"bob,\r\nsecond line\"\r\n,,,\r\n"
	got, _, err := importString(t, "csv", in)
	if err != nil {
		t.Fatalf("Import = %v", err)
	}
	want := []monitor.Resource{
		{Type: "custom.laptop", ExternalID: "L1", Name: "Laptop one", Attributes: map[string]any{"owner": "alice@acme.example"}},
		{Type: "custom.laptop", ExternalID: "L2", Name: "L2", Attributes: map[string]any{"owner": "bob,\nsecond line"}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Import mismatch (-want +got):\n%s", diff)
	}
	// Lines are counted in the file as written, CRLF and quoted line breaks included.
	_, _, err = importString(t, "csv", in+"custom.laptop,,x,y\r\n")
	if want := "line 7, column id: is required"; err == nil || err.Error() != want {
		t.Errorf("Import(CRLF, bad line 7) = %v; want %q", err, want)
	}
}

func TestCSVMalformed(t *testing.T) {
	const dev = "type,id,platform,os_version,managed,disk_encrypted,screen_lock_enabled,last_seen,screen_lock_minutes\n"
	checkMalformed(t, "csv", []malformed{
		{"empty", "", "line 1: the file is empty; want a header row with type and id columns"},
		{"no id column", "type,name\ncustom.x,a\n", "line 1: the header has no id column; a resources CSV needs type and id, and may have name and attribute columns"},
		{"no type column", "id,name\n", "line 1: the header has no type column; a resources CSV needs type and id, and may have name and attribute columns"},
		{"empty header", "type,id,,x\n", "line 1: header 3 is empty; every column needs a name"},
		{"repeated column", "type,id,Owner,owner\n", "line 1, column owner: repeats column Owner"},
		{"unnamed column", "type,id,---\n", "line 1, column ---: needs a name made of letters or digits"},
		{"unknown type", "type,id\ncustom.x,1\nwidget,2\n", `line 3, column type: unknown resource type "widget"; use a registered type (see the resource reference) or custom.NAME`},
		{"no type", "type,id\n,2\n", "line 2, column type: is required"},
		{"no id", "type,id,name\ncustom.x, ,n\n", "line 2, column id: is required"},
		{"duplicate", "type,id\ncustom.x,1\ncustom.y,1\ncustom.x,1\n", `line 4, column id: custom.x "1" is already on line 2`},
		{"not a field", "type,id,colour\ndevice,d1,blue\n", "line 2, column colour: is not a field of device; leave it empty on device rows"},
		{"bad bool", dev + "device,d1,macos,15,maybe,true,true,2026-05-31,5\n", `line 2, column managed: must be true or false, not "maybe"`},
		{"bad int", dev + "device,d1,macos,15,true,true,true,2026-05-31,five\n", `line 2, column screen_lock_minutes: must be an integer, not "five"`},
		{"bad date", dev + "device,d1,macos,15,true,true,true,31.05.2026,5\n", `line 2, column last_seen: must be a date like 2026-03-31 or a timestamp like 2026-03-31T12:00:00Z, not "31.05.2026"`},
		{"missing required", "type,id,platform\ndevice,d1,macos\n", "line 2, column os_version: is required"},
		{"bad JSON object", "type,id,protection\ngithub.repository,a/b,{enabled}\n", "line 2, column protection: must be JSON for this object field: invalid character 'e' looking for beginning of object key string"},
		{"wrong inner kind", "type,id,org,private,visibility,archived,fork,default_branch,protection,rulesets,secret_scanning_enabled,dependabot_alerts_enabled,topics\n" +
			`github.repository,a/b,a,true,private,false,false,main,"{""enabled"": ""yes""}",[],true,true,x` + "\n",
			"line 2, column protection.enabled: must be a boolean, not a string"},
		{"bad tags", "type,id,account_id,region,encrypted,state,size_gib,volume_type,attached_instances,created_at,tags\n" +
			"aws.ec2.volume,vol-1,1,eu-west-1,true,in-use,8,gp3,i-1,2026-01-01,team\n", `line 2, column tags: must be key=value pairs separated by semicolons, not "team"`},
		{"too few fields", "type,id,name\ncustom.x,1\n", "line 2: has 2 fields; the header has 3"},
		{"too many fields", "type,id,name\ncustom.x,1,Smith, John\n", "line 2: has 4 fields; the header has 3 (is a comma in an unquoted value?)"},
		{"bare quote", "type,id,name\ncustom.x,1,the \"best\" one\n", `line 2: bare " in non-quoted-field (at character 16)`},
		{"quote not closed", "type,id,name\ncustom.x,1,\"open\ncustom.x,2,b\n", `line 3: extraneous or missing " in quoted-field (at character 14) in the record starting on line 2`},
		{"not UTF-8", "type,id,name\ncustom.x,1,M\xfcller\n", "line 2, column name: is not valid UTF-8; save the file as UTF-8"},
	})
}

// TestCSVRecordLimit checks that an unclosed quote cannot make one record swallow memory.
func TestCSVRecordLimit(t *testing.T) {
	in := "type,id,name\ncustom.x,1,\"" + strings.Repeat("x", 8192)
	p := &run{ctx: t.Context(), emit: func(monitor.Resource) error { return nil }, now: testNow, sum: &Summary{Types: map[string]int{}}}
	err := importCSV(p, newLineReader(strings.NewReader(in), 2048))
	if want := "line 2: a record is larger than 2048 bytes (is a quote not closed?)"; err == nil || err.Error() != want {
		t.Errorf("importCSV(8 KiB record, 2 KiB limit) = %v; want %q", err, want)
	}
}
