package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// importerTestdata is a sample file of the importers.
func importerTestdata(name string) string {
	return filepath.Join("..", "..", "internal", "importer", "testdata", name)
}

// monitoringCLI is a database with the organization acme.
func monitoringCLI(tb testing.TB) *cli {
	tb.Helper()
	c := newCLI(tb)
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "acme", "--name", "Acme Cloud, Inc.")
	return c
}

func TestImport(t *testing.T) {
	c := monitoringCLI(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"prowler", []string{"import", "prowler", importerTestdata("prowler.ocsf.json"), "--org", "acme"},
			[]string{`as "import:prowler"`, "finding", "added", "Tests run", "failing"}},
		{"hr roster", []string{"import", "hr", importerTestdata("roster.csv"), "--org", "acme"},
			[]string{`as "import:hr"`, "hr.person", "added", "Tests run"}},
		{"again, unchanged", []string{"import", "hr", importerTestdata("roster.csv"), "--org", "acme"},
			[]string{"0 added, 0 changed", "0 gone"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := c.ok(nil, tt.args...)
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("evident %s: output lacks %q:\n%s", strings.Join(tt.args, " "), w, out)
				}
			}
		})
	}
}

func TestImportErrors(t *testing.T) {
	c := monitoringCLI(t)
	bad := writeTemp(t, "roster.csv", "name,email,start date\nAna Silva,ana@acme.example,2024-01-08\nBo Chen,bo@acme.example,yesterday\n")
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"malformed file names the line and column", []string{"import", "hr", bad, "--org", "acme"}, 1, "line 3"},
		{"unknown kind", []string{"import", "nessus", bad, "--org", "acme"}, 2, "unknown kind"},
		{"no org", []string{"import", "hr", bad}, 2, "--org is required"},
		{"missing file", []string{"import", "hr", bad + ".missing", "--org", "acme"}, 1, "no such file"},
		{"unknown org", []string{"import", "hr", bad, "--org", "globex"}, 1, "globex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(nil, tt.args...)
			if o.code != tt.code || !strings.Contains(o.stderr, tt.stderr) {
				t.Errorf("evident %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), o.code, o.stderr, tt.code, tt.stderr)
			}
		})
	}
	// Nothing of the malformed roster was stored: the first valid row included.
	out := c.ok(nil, "import", "hr", importerTestdata("roster.csv"), "--org", "acme")
	if strings.Contains(out, " 0 added") {
		t.Errorf("after the failed import, a good one added nothing:\n%s", out)
	}
}

func TestTestRun(t *testing.T) {
	c := monitoringCLI(t)
	c.ok(nil, "import", "prowler", importerTestdata("prowler.ocsf.json"), "--org", "acme")
	out := c.ok(nil, "test", "run", "--org", "acme")
	lines := strings.Split(out, "\n")
	if !strings.HasPrefix(lines[0], "TEST") || !strings.Contains(lines[0], "SEVERITY") || !strings.Contains(lines[0], "STATUS") {
		t.Fatalf("test run output starts with %q; want the table header", lines[0])
	}
	if len(lines) < 42 {
		t.Errorf("test run printed %d lines; want a row per library test", len(lines))
	}
	if !strings.Contains(out, "Tests run ") || !strings.Contains(out, "fail") {
		t.Errorf("test run output lacks the counts or a failing test:\n%s", out)
	}
	if o := c.run(nil, "test", "run"); o.code != 2 || !strings.Contains(o.stderr, "--org is required") {
		t.Errorf("test run without --org: exit %d, %q; want 2 and --org is required", o.code, o.stderr)
	}
}

func TestCollect(t *testing.T) {
	c := monitoringCLI(t)
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"no connections", []string{"collect", "--org", "acme"}, 0, "acme has no enabled connections to run", ""},
		{"unknown connection", []string{"collect", "--org", "acme", "--connection", "prod"}, 1, "", `--connection: acme has no connection named "prod"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(nil, tt.args...)
			if o.code != tt.code || !strings.Contains(o.stdout, tt.stdout) || !strings.Contains(o.stderr, tt.stderr) {
				t.Errorf("evident %s: exit %d, stdout %q, stderr %q; want %d, %q and %q",
					strings.Join(tt.args, " "), o.code, o.stdout, o.stderr, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}
