package importer

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/monitor"
)

// fuzzImport checks what every importer promises for any input: no panic; every resource
// emitted passes monitor.ValidateResource; the summary counts what was emitted; and a
// failure is an *Error whose line is within the input. Seeds are the sample files, the rows
// given here, and the corpus in testdata/fuzz.
func fuzzImport(f *testing.F, kind string, samples []string, seeds ...string) {
	for _, s := range samples {
		f.Add(readTestdata(f, s))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		emitted := 0
		im := Importer{Now: func() time.Time { return testNow }}
		sum, err := im.Import(context.Background(), kind, bytes.NewReader(data), func(r monitor.Resource) error {
			if err := monitor.ValidateResource(&r); err != nil {
				t.Fatalf("emitted %s %q, which does not validate: %v", r.Type, r.ExternalID, err)
			}
			emitted++
			return nil
		})
		if sum.Resources != emitted {
			t.Fatalf("Summary.Resources = %d; emit was called %d times", sum.Resources, emitted)
		}
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Import = %v (%T); want an *Error", err, err)
		}
		if lines := bytes.Count(data, []byte{'\n'}) + 1; e.Line < 1 || e.Line > lines {
			t.Fatalf("Import = %v; line %d is outside the input's %d lines", err, e.Line, lines)
		}
	})
}

func FuzzProwler(f *testing.F) {
	fuzzImport(f, "prowler", []string{"prowler.ocsf.json"},
		"[]",
		`[{"status_code":"FAIL","metadata":{"event_code":"c"},"time":1,"resources":[{"uid":" "}],"unmapped":{"compliance":{"A":"1"}}}]`,
		`[{"status_code":"MANUAL","status":"Suppressed","severity_id":6,"metadata":{"event_code":"c"},"time_dt":"2026-01-01T00:00:00"}]`,
		"[\n{\"finding_info\": {\"title\": 5}}]",
	)
}

func FuzzPowerpipe(f *testing.F) {
	fuzzImport(f, "powerpipe", []string{"powerpipe.json"},
		`{"group_id":"g","controls":[{"control_id":"c","results":[{"status":"ok","dimensions":[{"key":"region","value":"x"}]}]}]}`,
		`{"groups":[{"groups":[{"controls":[{"control_id":"c","run_error":"denied"}]}]}]}`,
		`{"group_id":"g","controls":[{"control_id":" ","results":[]}]}`,
	)
}

func FuzzTrivy(f *testing.F) {
	fuzzImport(f, "trivy", []string{"trivy.json"},
		`{"SchemaVersion":2,"ArtifactName":"a","Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"CVE-1","Severity":"LOW"}]}]}`,
		`{"SchemaVersion":2,"ArtifactName":"","Results":[{"Target":"","Secrets":[{"RuleID":"r"}]}]}`,
		`{"SchemaVersion":2,"ArtifactName":"a","Results":[{"Misconfigurations":[{"ID":"x","Status":"EXCEPTION","CauseMetadata":{"StartLine":-1}}]}]}`,
	)
}

func FuzzOsquery(f *testing.F) {
	fuzzImport(f, "osquery", []string{"fleet-policies.json", "fleet-host.json", "osquery.results.log"},
		`{"name":"q","hostIdentifier":"h","diffResults":{"added":[{"a":null}],"removed":[{}]}}`,
		`{"hosts":[{"id":"1","policies":[{"id":2,"response":"fail"}]}]}`,
		`{"policies":[{"id":1,"passing_host_count":0,"failing_host_count":0}]}{"name":"q","hostIdentifier":"h","unixTime":"1","snapshot":[{"x":[1]}]}`,
	)
}

func FuzzCSV(f *testing.F) {
	fuzzImport(f, "csv", []string{"resources.csv"},
		"type,id\ncustom.x,1\n",
		"type,id,tags,protection,topics\naws.ec2.volume,v,a=b;c=,{},x;;y\n",
		"\uFEFFtype,id,name\r\ncustom.a.b,\"1\r\n2\",\n",
	)
}

func FuzzHR(f *testing.F) {
	fuzzImport(f, "hr", []string{"roster.csv"},
		"name,email,start date\nA,a@b.co,2024-01-01\n",
		"First Name,Last Name,Work Email,Hire Date,Last Day,Type\nA,B,a@b.co,2024-01-01,2024-01-01,Intern\n",
		"name,email,start,manager\nA,a@b.co,2024-01-01,\"m@b.co\"\n",
	)
}
