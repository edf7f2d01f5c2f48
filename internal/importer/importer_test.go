package importer

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

var testNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)

// importReader imports r with a fixed clock, checking every emitted resource against its
// schema.
func importReader(tb testing.TB, kind string, r io.Reader) ([]monitor.Resource, Summary, error) {
	tb.Helper()
	var out []monitor.Resource
	im := Importer{Now: func() time.Time { return testNow }}
	sum, err := im.Import(context.Background(), kind, r, func(res monitor.Resource) error {
		if err := monitor.ValidateResource(&res); err != nil {
			tb.Errorf("Import(%s) emitted %s %q, which does not validate: %v", kind, res.Type, res.ExternalID, err)
		}
		out = append(out, res)
		return nil
	})
	return out, sum, err
}

func importString(tb testing.TB, kind, in string) ([]monitor.Resource, Summary, error) {
	tb.Helper()
	return importReader(tb, kind, strings.NewReader(in))
}

// importFile imports a file from testdata, which must succeed.
func importFile(tb testing.TB, kind, name string) ([]monitor.Resource, Summary) {
	tb.Helper()
	b := readTestdata(tb, name)
	out, sum, err := importReader(tb, kind, strings.NewReader(string(b)))
	if err != nil {
		tb.Fatalf("Import(%s, %s) = %v", kind, name, err)
	}
	return out, sum
}

func readTestdata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// malformed is a row of a table of inputs an importer must reject with an exact message.
type malformed struct {
	name, in, want string
}

// checkMalformed imports each row's input and checks the error: an *Error with the exact
// message, an invalid-input error in the domain's terms, and nothing emitted after it.
func checkMalformed(t *testing.T, kind string, rows []malformed) {
	t.Helper()
	for _, tc := range rows {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := importString(t, kind, tc.in)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Import(%s, %q) = %v; want an *Error", kind, tc.in, err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("Import(%s, %q) = %q; want %q", kind, tc.in, got, tc.want)
			}
			if k := domain.KindOf(err); k != domain.KindInvalid {
				t.Errorf("KindOf(%v) = %s; want invalid", err, k)
			}
		})
	}
}

// fnd builds an expected finding resource.
func fnd(id, name string, attrs map[string]any) monitor.Resource {
	return monitor.Resource{Type: "finding", ExternalID: id, Name: name, Attributes: attrs}
}

func TestKindsAndFormats(t *testing.T) {
	want := []string{"csv", "hr", "osquery", "powerpipe", "prowler", "trivy"}
	if diff := cmp.Diff(want, Kinds()); diff != "" {
		t.Errorf("Kinds() mismatch (-want +got):\n%s", diff)
	}
	var kinds []string
	for _, f := range Formats() {
		if f.Title == "" || f.Description == "" || len(f.Types) == 0 {
			t.Errorf("Formats(): %s lacks a title, description or types: %+v", f.Kind, f)
		}
		kinds = append(kinds, f.Kind)
	}
	if diff := cmp.Diff(want, kinds, cmpSorted); diff != "" {
		t.Errorf("Formats() kinds mismatch (-want +got):\n%s", diff)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestUnknownKind(t *testing.T) {
	_, err := Import(context.Background(), "nessus", strings.NewReader("{}"), func(monitor.Resource) error { return nil })
	if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != "kind" {
		t.Fatalf("Import(nessus) = %v; want an invalid-input error for kind", err)
	}
	want := `kind: unknown import kind "nessus"; use one of csv, hr, osquery, powerpipe, prowler, trivy`
	if err.Error() != want {
		t.Errorf("Import(nessus) = %q; want %q", err, want)
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"csv column", &Error{Line: 7, Column: "end_date", Msg: "must be a date like 2026-03-31"}, "line 7, column end_date: must be a date like 2026-03-31"},
		{"json field", &Error{Line: 12, Field: "finding_info.uid", Msg: "is required"}, "line 12, field finding_info.uid: is required"},
		{"line only", &Error{Line: 3, Msg: "invalid JSON"}, "line 3: invalid JSON"},
		{"no line", &Error{Msg: "empty"}, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.err.Error(); got != tc.want {
				t.Errorf("Error() = %q; want %q", got, tc.want)
			}
			if domain.KindOf(tc.err) != domain.KindInvalid || domain.FieldOf(tc.err) != "file" {
				t.Errorf("KindOf, FieldOf(%v) = %s, %q; want invalid, file", tc.err, domain.KindOf(tc.err), domain.FieldOf(tc.err))
			}
			if got, want := domain.MessageOf(tc.err), "file: "+tc.want; got != want {
				t.Errorf("MessageOf(%v) = %q; want %q", tc.err, got, want)
			}
		})
	}
}

// TestEmitErrorStops checks that an error from emit ends the import at once, with the line
// it happened on, and that emit is not called again.
func TestEmitErrorStops(t *testing.T) {
	inputs := map[string]string{
		"prowler":   "prowler.ocsf.json",
		"powerpipe": "powerpipe.json",
		"trivy":     "trivy.json",
		"osquery":   "osquery.results.log",
		"csv":       "resources.csv",
		"hr":        "roster.csv",
	}
	stop := errors.New("store is full")
	for kind, file := range inputs {
		t.Run(kind, func(t *testing.T) {
			calls := 0
			sum, err := Import(context.Background(), kind, strings.NewReader(string(readTestdata(t, file))), func(monitor.Resource) error {
				calls++
				if calls == 2 {
					return stop
				}
				return nil
			})
			if !errors.Is(err, stop) || !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("Import(%s) = %v; want the emit error with its line", kind, err)
			}
			if calls != 2 || sum.Resources != 1 {
				t.Errorf("Import(%s): emit called %d times, %d resources counted; want 2 and 1", kind, calls, sum.Resources)
			}
		})
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	_, err := Import(ctx, "prowler", strings.NewReader(string(readTestdata(t, "prowler.ocsf.json"))), func(monitor.Resource) error {
		calls++
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("Import(cancelled) = %v after %d emits; want context.Canceled and none", err, calls)
	}
}

func TestConnectionAndSummary(t *testing.T) {
	im := Importer{Connection: "import:trivy", Now: func() time.Time { return testNow }}
	var conns []string
	b := readTestdata(t, "trivy.json")
	sum, err := im.Import(context.Background(), "trivy", strings.NewReader(string(b)), func(r monitor.Resource) error {
		conns = append(conns, r.Connection)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		if c != "import:trivy" {
			t.Errorf("resource connection = %q; want import:trivy", c)
		}
	}
	want := Summary{Kind: "trivy", Resources: 6, Types: map[string]int{"finding": 6},
		Statuses: map[string]int{"fail": 5, "pass": 1}, Bytes: int64(len(b))}
	if diff := cmp.Diff(want, sum); diff != "" {
		t.Errorf("Summary mismatch (-want +got):\n%s", diff)
	}
}

// TestReaders feeds every sample through readers that return a byte at a time, return data
// with io.EOF, and start with a byte order mark: the results must not change.
func TestReaders(t *testing.T) {
	samples := []struct{ kind, file string }{
		{"prowler", "prowler.ocsf.json"}, {"powerpipe", "powerpipe.json"}, {"trivy", "trivy.json"},
		{"osquery", "fleet-policies.json"}, {"osquery", "fleet-host.json"}, {"osquery", "osquery.results.log"},
		{"csv", "resources.csv"}, {"hr", "roster.csv"},
	}
	for _, s := range samples {
		t.Run(s.file, func(t *testing.T) {
			b := string(readTestdata(t, s.file))
			want, _ := importFile(t, s.kind, s.file)
			readers := map[string]io.Reader{
				"one byte": iotest.OneByteReader(strings.NewReader(b)),
				"data+EOF": iotest.DataErrReader(strings.NewReader(b)),
				"BOM":      strings.NewReader("\uFEFF" + b),
			}
			for name, r := range readers {
				got, _, err := importReader(t, s.kind, r)
				if err != nil {
					t.Fatalf("%s: Import = %v", name, err)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s: resources differ (-plain +%s):\n%s", name, name, diff)
				}
			}
		})
	}
}

func TestReadError(t *testing.T) {
	broken := errors.New("connection reset")
	// Each input starts the way its kind should, then the connection breaks.
	starts := map[string]string{
		"prowler":   `[{"status_code": "PASS", `,
		"powerpipe": `{"group_id": "root_result_group", "groups": [`,
		"trivy":     `{"SchemaVersion": 2, "Results": [`,
		"osquery":   `{"name": "q", `,
		"csv":       "type,id\ncustom.box,",
		"hr":        "name,email,start date\nAlice,",
	}
	for _, kind := range Kinds() {
		t.Run(kind, func(t *testing.T) {
			r := io.MultiReader(strings.NewReader(starts[kind]), iotest.ErrReader(broken))
			_, _, err := importReader(t, kind, r)
			var e *Error
			if !errors.Is(err, broken) || errors.As(err, &e) {
				t.Errorf("Import(%s) = %v; want the read error, not an *Error", kind, err)
			}
		})
	}
}

func TestNULRejected(t *testing.T) {
	checkMalformed(t, "csv", []malformed{
		{"in an attribute", "type,id,owner\ncustom.box,b1,a\x00b\n", "line 2, column owner: contains a NUL character"},
	})
	checkMalformed(t, "prowler", []malformed{
		{"in a title", `[{"status_code":"FAIL","metadata":{"event_code":"c"},"finding_info":{"title":"a\u0000b"},"time":1}]`,
			"line 1, field name: contains a NUL character"},
	})
}

// TestElementLimit checks that one oversized element is refused, not buffered.
func TestElementLimit(t *testing.T) {
	big := `[{"status_code": "PASS", "message": "` + strings.Repeat("x", 4096) + `"}]`
	p := &run{ctx: context.Background(), emit: func(monitor.Resource) error { return nil }, now: testNow, sum: &Summary{Types: map[string]int{}}}
	err := importProwler(p, newLineReader(strings.NewReader(big), 1024))
	want := "line 1: a single value is larger than 1024 bytes"
	if err == nil || err.Error() != want {
		t.Errorf("importProwler(4 KiB element, 1 KiB limit) = %v; want %q", err, want)
	}
}
