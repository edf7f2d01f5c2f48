package main

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
	"github.com/evidenthq/evident/internal/ledger"
)

// evidenceCLI is a data directory with the organization acme and a signing key.
func evidenceCLI(tb testing.TB) (*cli, string) {
	tb.Helper()
	c := newCLI(tb)
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "acme", "--name", "Acme Cloud, Inc.")
	c.ok(strings.NewReader("correct horse battery\n"), "user", "create", "--org", "acme", "--email", "ana@acme.example", "--role", "member", "--name", "Ana Silva")
	_, vkey, err := evidence.LoadOrCreateKey(filepath.Join(c.data, ledgerKeyFileName))
	if err != nil {
		tb.Fatalf("signing key: %v", err)
	}
	return c, vkey
}

var (
	addedID     = regexp.MustCompile(`(?m)^  ID +(\d+)$`)
	addedSHA    = regexp.MustCompile(`(?m)^  SHA-256 +([0-9a-f]{64})$`)
	addedLedger = regexp.MustCompile(`(?m)^  Ledger index +(\d+)$`)
)

// added reads what evidence add printed: the ID, SHA-256 and ledger index.
func added(tb testing.TB, out string) (id int64, sha string, index int64) {
	tb.Helper()
	m1, m2, m3 := addedID.FindStringSubmatch(out), addedSHA.FindStringSubmatch(out), addedLedger.FindStringSubmatch(out)
	if m1 == nil || m2 == nil || m3 == nil {
		tb.Fatalf("evidence add printed %q; want the ID, SHA-256 and ledger index", out)
	}
	id, _ = strconv.ParseInt(m1[1], 10, 64)
	index, _ = strconv.ParseInt(m3[1], 10, 64)
	return id, m2[1], index
}

func sha256Of(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestEvidenceAdd(t *testing.T) {
	c, _ := evidenceCLI(t)
	ctx := context.Background()
	st := c.openStore()
	org, err := st.OrganizationBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ac01, err := st.ControlByRef(ctx, org.ID, "AC-01")
	if err != nil {
		t.Fatal(err)
	}
	size0, _ := st.LedgerSize(ctx, org.ID)

	const note = "Reviewed Okta, AWS and GitHub access for Q1; removed 3 accounts."
	out := c.ok(nil, "evidence", "add", "--org", "acme", "--control", "AC-01", "--note", note, "--from", "2026-01-01", "--to", "2026-03-31")
	id, sha, index := added(t, out)
	if !strings.HasPrefix(out, `Added evidence `+strconv.FormatInt(id, 10)+` "Reviewed Okta, AWS and GitHub access for Q1; removed 3 accounts." (note) to AC-01.`) {
		t.Errorf("evidence add --note printed %q; want what was added, titled by the note's first line", out)
	}
	if sha != sha256Of([]byte(note)) || index != size0 {
		t.Errorf("evidence add --note: sha256 %s, ledger index %d; want %s, %d", sha, index, sha256Of([]byte(note)), size0)
	}
	e, err := st.Evidence(ctx, org.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{e.Title, string(e.Kind), e.PeriodStart.Format("2006-01-02"), e.PeriodEnd.Format("2006-01-02"), e.SHA256}
	if diff := cmp.Diff([]string{"Reviewed Okta, AWS and GitHub access for Q1; removed 3 accounts.", "note", "2026-01-01", "2026-03-31", sha}, want); diff != "" {
		t.Errorf("stored note (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{ac01.ID}, e.ControlIDs); diff != "" {
		t.Errorf("stored note's controls (-want +got):\n%s", diff)
	}

	// A file larger than the database keeps inline goes to the blob store.
	content := bytes.Repeat([]byte("user,system,decision\nana,aws,keep\n"), 3000)
	path := filepath.Join(t.TempDir(), "Q1 access review.csv")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	out = c.ok(nil, "evidence", "add", "--org", "acme", "--control", "AC-01", "--control", strconv.FormatInt(ac01.ID+1, 10),
		"--file", path, "--from", "2026-01-01", "--to", "2026-03-31", "--description", "Sign-off sheet", "--by", "ana@acme.example")
	fileID, fileSHA, fileIndex := added(t, out)
	if fileSHA != sha256Of(content) || fileIndex != index+1 {
		t.Errorf("evidence add --file: sha256 %s, index %d; want %s, %d", fileSHA, fileIndex, sha256Of(content), index+1)
	}
	f, err := st.Evidence(ctx, org.ID, fileID)
	if err != nil {
		t.Fatal(err)
	}
	if f.Title != "Q1 access review.csv" || f.Kind != domain.EvidenceFile || len(f.ControlIDs) != 2 || f.Description != "Sign-off sheet" || f.AddedByName != "Ana Silva" {
		t.Errorf("stored file = %+v; want the file's name as title, two controls, the description, added by Ana", f)
	}
	blobs, err := blob.Open(ctx, "", c.data)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := blobs.Exists(ctx, fileSHA); !ok || err != nil {
		t.Errorf("blob %s exists = %v, %v; want the file in the data directory's blob store", fileSHA, ok, err)
	}

	out = c.ok(nil, "evidence", "add", "--org", "acme", "--control", "VEN-04", "--url", "https://aws.amazon.com/artifact/",
		"--from", "2025-01-01", "--to", "2025-12-31", "--title", "AWS SOC 2 report", "--json")
	var js cliEvidence
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("evidence add --json printed %q: %v", out, err)
	}
	if js.Kind != domain.EvidenceLink || js.Title != "AWS SOC 2 report" || js.URL != "https://aws.amazon.com/artifact/" ||
		js.LedgerIndex != fileIndex+1 || js.State != "current" || !cmp.Equal(js.Controls, []string{"VEN-04"}) {
		t.Errorf("evidence add --json = %+v; want the link as stored", js)
	}
}

func TestEvidenceAddErrors(t *testing.T) {
	c, _ := evidenceCLI(t)
	base := []string{"evidence", "add", "--org", "acme", "--control", "AC-01", "--from", "2026-01-01", "--to", "2026-03-31"}
	usage := []struct {
		name string
		args []string
		want string
	}{
		{"no org", []string{"evidence", "add", "--control", "AC-01", "--note", "x", "--from", "2026-01-01", "--to", "2026-03-31"}, "--org is required"},
		{"no control", []string{"evidence", "add", "--org", "acme", "--note", "x", "--from", "2026-01-01", "--to", "2026-03-31"}, "--control is required"},
		{"no period", []string{"evidence", "add", "--org", "acme", "--control", "AC-01", "--note", "x"}, "--from is required"},
		{"no content", base, "one of --file, --url or --note is required"},
		{"two contents", append(base, "--note", "x", "--url", "https://example.com"), "give only one of --file, --url and --note"},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(nil, tt.args...)
			if o.code != 2 || !strings.Contains(o.stderr, tt.want) || !strings.Contains(o.stderr, "evident help evidence add") {
				t.Errorf("evident %s: exit %d, stderr %q; want 2 and %q", strings.Join(tt.args, " "), o.code, o.stderr, tt.want)
			}
		})
	}
	failures := []struct {
		name string
		args []string
		want string
		also string // a second thing stderr must say, if any
	}{
		{"bad date", []string{"evidence", "add", "--org", "acme", "--control", "AC-01", "--note", "x", "--from", "1 Jan", "--to", "2026-03-31"}, "--from: must be a date like 2026-03-31", ""},
		{"end before start", []string{"evidence", "add", "--org", "acme", "--control", "AC-01", "--note", "x", "--from", "2026-03-31", "--to", "2026-01-01"}, "--to: 2026-01-01 is before --from 2026-03-31", ""},
		{"unknown control", append(base[:4:4], "--control", "ZZ-99", "--note", "x", "--from", "2026-01-01", "--to", "2026-03-31"), `--control: acme has no control "ZZ-99"`, ""},
		{"unknown organization", []string{"evidence", "add", "--org", "nope", "--control", "AC-01", "--note", "x", "--from", "2026-01-01", "--to", "2026-03-31"}, `no organization with slug "nope"`, ""},
		{"bad url", append(base, "--url", "ftp://files.example.com/x"), "--url: must be an http or https address", ""},
		{"missing file", append(base, "--file", filepath.Join(t.TempDir(), "absent.pdf")), "--file: open", ""},
		{"not a member", append(base, "--note", "x", "--by", "zed@acme.example"), "--by: zed@acme.example is not a member of acme", ""},
		{"file over the limit", append(base, "--file", writeTemp(t, "big.bin", strings.Repeat("x", 4096)), "--max-upload", "1KiB"), "than the upload limit of 1 KiB", "--file: "},
		{"large file over the limit", append(base, "--file", writeTemp(t, "bigger.bin", strings.Repeat("x", 100<<10)), "--max-upload", "80KiB"), "than the upload limit of 80 KiB", "--file: "},
	}
	for _, tt := range failures {
		t.Run(tt.name, func(t *testing.T) {
			c.wantFailure(nil, tt.want, tt.args...)
			if tt.also != "" {
				c.wantFailure(nil, tt.also, tt.args...)
			}
		})
	}
	if out := c.ok(nil, "evidence", "list", "--org", "acme"); !strings.HasPrefix(out, "No evidence yet.") {
		t.Errorf("after failed adds, evidence list = %q; want nothing added", out)
	}
}

// addNote adds a note with the command line and returns its ID.
func (c *cli) addNote(control, title, from, to string) int64 {
	c.tb.Helper()
	id, _, _ := added(c.tb, c.ok(nil, "evidence", "add", "--org", "acme", "--control", control, "--note", "Notes on "+title, "--title", title, "--from", from, "--to", to))
	return id
}

// service opens the evidence service over the cli's database and data directory.
func (c *cli) service() (*evidence.Service, int64) {
	c.tb.Helper()
	st := c.openStore()
	blobs, err := blob.Open(context.Background(), "", c.data)
	if err != nil {
		c.tb.Fatal(err)
	}
	org, err := st.OrganizationBySlug(context.Background(), "acme")
	if err != nil {
		c.tb.Fatal(err)
	}
	return &evidence.Service{Store: st, Blobs: blobs}, org.ID
}

func TestEvidenceList(t *testing.T) {
	c, _ := evidenceCLI(t)
	review := c.addNote("AC-01", "Q1 access review", "2026-01-01", "2026-03-31")
	training := c.addNote("HR-02", "Training completions 2025", "2025-01-01", "2025-12-31")
	wrong := c.addNote("HR-02", "Training completions (wrong year)", "2024-01-01", "2024-12-31")
	svc, orgID := c.service()
	ctx := context.Background()
	if _, err := svc.Retract(ctx, domain.SystemActor, orgID, wrong, "Wrong year uploaded."); err != nil {
		t.Fatal(err)
	}
	fixed, err := svc.Supersede(ctx, domain.SystemActor, orgID, training, evidence.Input{
		Kind: domain.EvidenceNote, Title: "Training completions 2025 (all staff)", ControlIDs: c.controlIDs("HR-02"),
		PeriodStart: mustDate(t, "2025-01-01"), PeriodEnd: mustDate(t, "2025-12-31"), Note: "All staff.",
	})
	if err != nil {
		t.Fatal(err)
	}

	out := c.ok(nil, "evidence", "list", "--org", "acme")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[0], "LEDGER") ||
		!strings.HasPrefix(lines[1], strconv.FormatInt(fixed.ID, 10)+" ") || !strings.HasPrefix(lines[2], strconv.FormatInt(review, 10)+" ") {
		t.Errorf("evidence list = %q; want a header, then the two current items, newest first", out)
	}
	if !strings.Contains(lines[2], "Q1 access review") || !strings.Contains(lines[2], "AC-01") || !strings.Contains(lines[2], "2026-01-01 to 2026-03-31") || !strings.Contains(lines[2], "current") {
		t.Errorf("evidence list row %q; want the title, control, period and state", lines[2])
	}

	var all []cliEvidence
	if err := json.Unmarshal([]byte(c.ok(nil, "evidence", "list", "--org", "acme", "--all", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	states := map[int64]string{}
	for _, e := range all {
		states[e.ID] = e.State
	}
	if diff := cmp.Diff(map[int64]string{review: "current", training: "superseded", wrong: "retracted", fixed.ID: "current"}, states); diff != "" {
		t.Errorf("evidence list --all --json states (-want +got):\n%s", diff)
	}

	var ac01 []cliEvidence
	if err := json.Unmarshal([]byte(c.ok(nil, "evidence", "list", "--org", "acme", "--control", "AC-01", "--json")), &ac01); err != nil {
		t.Fatal(err)
	}
	if len(ac01) != 1 || ac01[0].ID != review {
		t.Errorf("evidence list --control AC-01 = %+v; want only the access review", ac01)
	}
	if out := c.ok(nil, "evidence", "list", "--org", "acme", "--control", "VEN-04", "--json"); strings.TrimSpace(out) != "[]" {
		t.Errorf("evidence list of a control without evidence --json = %q; want []", out)
	}
	o := c.run(nil, "evidence", "list")
	if o.code != 2 || !strings.Contains(o.stderr, "--org is required") {
		t.Errorf("evidence list without --org: exit %d, stderr %q", o.code, o.stderr)
	}
}

// controlIDs returns the IDs of acme's controls with the given references.
func (c *cli) controlIDs(refs ...string) []int64 {
	c.tb.Helper()
	st := c.openStore()
	org, err := st.OrganizationBySlug(context.Background(), "acme")
	if err != nil {
		c.tb.Fatal(err)
	}
	var ids []int64
	for _, ref := range refs {
		ctl, err := st.ControlByRef(context.Background(), org.ID, ref)
		if err != nil {
			c.tb.Fatal(err)
		}
		ids = append(ids, ctl.ID)
	}
	return ids
}

func mustDate(tb testing.TB, s string) time.Time {
	tb.Helper()
	d, err := domain.ParseDate("date", s)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func TestLedgerCheckpoint(t *testing.T) {
	c := newCLI(t)
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "acme", "--name", "Acme Cloud, Inc.")
	c.wantFailure(nil, "--ledger-key: no signing key at "+filepath.Join(c.data, "ledger.key"), "ledger", "checkpoint", "--org", "acme")

	_, vkey, err := evidence.LoadOrCreateKey(filepath.Join(c.data, ledgerKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	st := c.openStore()
	org, _ := st.OrganizationBySlug(context.Background(), "acme")
	checkpoint := func() ledger.Checkpoint {
		t.Helper()
		o := c.run(nil, "ledger", "checkpoint", "--org", "acme")
		if o.code != 0 {
			t.Fatalf("ledger checkpoint: exit %d: %s", o.code, o.stderr)
		}
		cp, err := ledger.ParseCheckpoint([]byte(o.stdout), vkey)
		if err != nil {
			t.Fatalf("ledger checkpoint printed %q, which does not verify with the key: %v", o.stdout, err)
		}
		if !strings.Contains(o.stderr, "Public key: "+vkey) {
			t.Errorf("ledger checkpoint said %q; want the public key on standard error", o.stderr)
		}
		return cp
	}
	first := checkpoint()
	n, _ := st.LedgerSize(context.Background(), org.ID)
	if first.Size != n {
		t.Errorf("checkpoint size %d; want the ledger's %d entries", first.Size, n)
	}
	if again := checkpoint(); again.Note != first.Note {
		t.Errorf("a second checkpoint of an unchanged ledger differs:\n%s\nwant\n%s", again.Note, first.Note)
	}
	c.addNote("AC-01", "Q1 access review", "2026-01-01", "2026-03-31")
	if next := checkpoint(); next.Size != first.Size+1 {
		t.Errorf("checkpoint after one more entry has size %d; want %d", next.Size, first.Size+1)
	}
	c.wantFailure(nil, `no organization with slug "nope"`, "ledger", "checkpoint", "--org", "nope")
}

// exportFixture is an organization with evidence in every state, and a checkpoint saved
// before the last items were added.
type exportFixture struct {
	c     *cli
	vkey  string
	saved string // path of the saved checkpoint
	file  string // SHA-256 of the file item
	ids   map[string]int64
}

func newExportFixture(tb testing.TB) *exportFixture {
	tb.Helper()
	c, vkey := evidenceCLI(tb)
	fx := &exportFixture{c: c, vkey: vkey, ids: map[string]int64{}}
	fx.ids["review"] = c.addNote("AC-01", "Q1 access review", "2026-01-01", "2026-03-31")
	fx.ids["old review"] = c.addNote("AC-01", "Q4 access review", "2025-10-01", "2025-12-31")
	path := filepath.Join(tb.TempDir(), "restore-test.txt")
	if err := os.WriteFile(path, bytes.Repeat([]byte("restored 12 tables, checksums match\n"), 2500), 0o600); err != nil {
		tb.Fatal(err)
	}
	out := c.ok(nil, "evidence", "add", "--org", "acme", "--control", "BCP-04", "--file", path, "--from", "2026-01-01", "--to", "2026-03-31")
	fx.ids["restore"], fx.file, _ = added(tb, out)
	fx.saved = filepath.Join(tb.TempDir(), "saved-checkpoint.txt")
	if err := os.WriteFile(fx.saved, []byte(c.ok(nil, "ledger", "checkpoint", "--org", "acme")), 0o600); err != nil {
		tb.Fatal(err)
	}
	// After the saved checkpoint: a correction, a withdrawal and a new item.
	svc, orgID := c.service()
	ctx := context.Background()
	if _, err := svc.Retract(ctx, domain.SystemActor, orgID, fx.ids["old review"], "Uploaded the draft."); err != nil {
		tb.Fatal(err)
	}
	fixed, err := svc.Supersede(ctx, domain.SystemActor, orgID, fx.ids["review"], evidence.Input{
		Kind: domain.EvidenceNote, Title: "Q1 access review (signed)", ControlIDs: c.controlIDs("AC-01"), PeriodStart: mustDate(tb, "2026-01-01"),
		PeriodEnd: mustDate(tb, "2026-03-31"), Note: "Signed by the CTO.",
	})
	if err != nil {
		tb.Fatal(err)
	}
	fx.ids["signed review"] = fixed.ID
	fx.ids["training"] = c.addNote("HR-02", "Training completions 2025", "2025-01-01", "2025-12-31")
	return fx
}

// export runs export evidence with the extra arguments into a new file and returns its path.
func (fx *exportFixture) export(tb testing.TB, args ...string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "acme-evidence.zip")
	stdout := fx.c.ok(nil, append([]string{"export", "evidence", "--org", "acme", "--out", out}, args...)...)
	if !strings.HasPrefix(stdout, "Wrote "+out+": ") || !strings.Contains(stdout, "evident verify "+out+" --key "+fx.vkey) {
		tb.Errorf("export evidence printed %q; want what it wrote and how to verify it", stdout)
	}
	fi, err := os.Stat(out)
	if err != nil {
		tb.Fatalf("export evidence wrote no %s: %v", out, err)
	}
	if fi.Mode().Perm() != 0o600 {
		tb.Errorf("the bundle's mode is %v; want 0600", fi.Mode().Perm())
	}
	return out
}

var verifiedOK = regexp.MustCompile(`^verified (\d+) items, (\d+) ledger entries, checkpoint size (\d+) signed by \S+.*: OK\n$`)

func TestExportAndVerify(t *testing.T) {
	fx := newExportFixture(t)
	c := fx.c
	bundlePath := fx.export(t)

	tests := []struct {
		name      string
		args      []string
		wantItems string
		wantMore  string
	}{
		{"alone", nil, "5", ""},
		{"with the key", []string{"--key", fx.vkey}, "5", ""},
		{"with the key from a file", []string{"--key", writeTemp(t, "key.txt", fx.vkey+"\n")}, "5", ""},
		{"with an older saved checkpoint", []string{"--key", fx.vkey, "--checkpoint", fx.saved}, "5", ", consistent with the saved checkpoint of size "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newCLI(t).run(nil, append([]string{"verify", bundlePath}, tt.args...)...)
			if o.code != 0 || o.stderr != "" {
				t.Fatalf("verify %s: exit %d, stderr %q; want 0\n%s", strings.Join(tt.args, " "), o.code, o.stderr, o.stdout)
			}
			first, _, _ := strings.Cut(o.stdout, "\n")
			m := verifiedOK.FindStringSubmatch(first + "\n")
			if m == nil || m[1] != tt.wantItems || !strings.Contains(first, tt.wantMore) {
				t.Errorf("verify printed %q; want one line saying %s items verified%s", o.stdout, tt.wantItems, tt.wantMore)
			}
			if len(tt.args) > 0 && strings.Count(o.stdout, "\n") != 1 {
				t.Errorf("verify with the key printed %q; want a single line", o.stdout)
			}
		})
	}

	t.Run("filtered", func(t *testing.T) {
		path := fx.export(t, "--control", "AC-01", "--from", "2026-01-01", "--to", "2026-03-31")
		o := newCLI(t).run(nil, "verify", path, "--key", fx.vkey)
		if o.code != 0 || !strings.HasPrefix(o.stdout, "verified 2 items") {
			t.Errorf("verify of the AC-01 Q1 bundle: exit %d, %q; want the review and its correction verified", o.code, o.stdout)
		}
	})

	t.Run("to standard output", func(t *testing.T) {
		o := c.run(nil, "export", "evidence", "--org", "acme", "--out", "-")
		if o.code != 0 || !strings.HasPrefix(o.stdout, "PK") || !strings.Contains(o.stderr, "Wrote the bundle: 5 items") {
			t.Fatalf("export --out -: exit %d, stderr %q; want the zip on standard output", o.code, o.stderr)
		}
		path := writeTemp(t, "stdout.zip", o.stdout)
		if v := newCLI(t).run(nil, "verify", path, "--key", fx.vkey); v.code != 0 {
			t.Errorf("verify of the bundle from standard output: exit %d\n%s", v.code, v.stdout)
		}
	})
}

// writeTemp writes a file in a new temporary directory and returns its path.
func writeTemp(tb testing.TB, name, content string) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// rewriteZip copies a zip file, passing each member's content through change.
func rewriteZip(tb testing.TB, path string, change func(name string, content []byte) []byte) string {
	tb.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		content, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.Name, Method: f.Method, Modified: f.Modified})
		if err != nil {
			tb.Fatal(err)
		}
		w.Write(change(f.Name, content))
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return writeTemp(tb, "tampered.zip", b.String())
}

func TestVerifyFailures(t *testing.T) {
	fx := newExportFixture(t)
	bundlePath := fx.export(t)
	otherKey := func() string {
		_, vkey, err := ledger.GenerateKey("someone-else")
		if err != nil {
			t.Fatal(err)
		}
		return vkey
	}()
	tampered := rewriteZip(t, bundlePath, func(name string, content []byte) []byte {
		if name == "files/"+fx.file {
			content = bytes.Clone(content)
			content[100] ^= 0x01
		}
		return content
	})

	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"one byte changed in a file", []string{"verify", tampered, "--key", fx.vkey}, []string{
			": FAILED, 1 problem",
			`  - item ` + strconv.FormatInt(fx.ids["restore"], 10) + ` "restore-test.txt", files/` + fx.file + `: its file has content with the SHA-256 `,
			`: the file was changed`,
		}},
		{"signed by another key", []string{"verify", bundlePath, "--key", otherKey}, []string{
			": FAILED", "checkpoint signed by another key",
		}},
		{"not a bundle", []string{"verify", writeTemp(t, "notes.zip", "just some text")}, []string{
			": FAILED",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := newCLI(t).run(nil, tt.args...)
			if o.code != 1 {
				t.Fatalf("evident %s: exit %d; want 1\nstdout %s\nstderr %s", strings.Join(tt.args, " "), o.code, o.stdout, o.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(o.stdout, w) {
					t.Errorf("evident %s printed:\n%s\nwant it to contain %q", strings.Join(tt.args, " "), o.stdout, w)
				}
			}
			if !strings.Contains(o.stderr, "did not verify") {
				t.Errorf("evident %s: stderr %q; want it to say the bundle did not verify", strings.Join(tt.args, " "), o.stderr)
			}
		})
	}

	usage := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no file", []string{"verify"}, 2, "missing FILE.zip"},
		{"missing file", []string{"verify", filepath.Join(t.TempDir(), "absent.zip")}, 1, "open bundle"},
		{"bad key", []string{"verify", bundlePath, "--key", "not-a-key"}, 2, `--key: "not-a-key" is neither a public checkpoint key`},
		{"missing saved checkpoint", []string{"verify", bundlePath, "--checkpoint", filepath.Join(t.TempDir(), "absent.txt")}, 1, "--checkpoint: open"},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			o := newCLI(t).run(nil, tt.args...)
			if o.code != tt.code || !strings.Contains(o.stderr, tt.want) {
				t.Errorf("evident %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), o.code, o.stderr, tt.code, tt.want)
			}
		})
	}
}

func TestExportErrors(t *testing.T) {
	c := newCLI(t)
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "acme", "--name", "Acme Cloud, Inc.")
	out := filepath.Join(t.TempDir(), "x.zip")
	c.wantFailure(nil, "--ledger-key: no signing key", "export", "evidence", "--org", "acme", "--out", out)
	if _, _, err := evidence.LoadOrCreateKey(filepath.Join(c.data, ledgerKeyFileName)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no out", []string{"--org", "acme"}, 2, "--out is required"},
		{"no org", []string{"--out", out}, 2, "--org is required"},
		{"bad date", []string{"--org", "acme", "--out", out, "--from", "March"}, 1, "--from: must be a date like 2026-03-31"},
		{"reversed period", []string{"--org", "acme", "--out", out, "--from", "2026-03-31", "--to", "2026-01-01"}, 1, "--to: 2026-01-01 is before --from 2026-03-31"},
		{"unknown control", []string{"--org", "acme", "--out", out, "--control", "ZZ-99"}, 1, `--control: acme has no control "ZZ-99"`},
		{"unwritable", []string{"--org", "acme", "--out", filepath.Join(t.TempDir(), "absent", "x.zip")}, 1, "--out:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := c.run(nil, append([]string{"export", "evidence"}, tt.args...)...)
			if o.code != tt.code || !strings.Contains(o.stderr, tt.want) {
				t.Errorf("export evidence %s: exit %d, stderr %q; want %d and %q", strings.Join(tt.args, " "), o.code, o.stderr, tt.code, tt.want)
			}
		})
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed export left %s behind", out)
	}
}

// TestServeSignsCheckpoints checks the server's evidence wiring: the signing key created
// at first start with mode 0600, evidence added through the service the server holds,
// and a last checkpoint signed at shutdown covering all of it.
func TestServeSignsCheckpoints(t *testing.T) {
	c := newCLI(t)
	c.ok(nil, "migrate")
	c.ok(nil, "org", "create", "acme", "--name", "Acme Cloud, Inc.")
	m := c.main("serve", "--addr", "127.0.0.1:0", "--checkpoint-interval", "1h")
	keyPath := filepath.Join(c.data, ledgerKeyFileName)
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatalf("the signing key: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the signing key's mode = %v; want 0600", fi.Mode().Perm())
	}
	ctx := context.Background()
	org, err := m.Store.OrganizationBySlug(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	ctl, err := m.Store.ControlByRef(ctx, org.ID, "AC-01")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Evidence.Add(ctx, domain.SystemActor, org.ID, evidence.Input{
		Kind: domain.EvidenceNote, Title: "Q1 access review", ControlIDs: []int64{ctl.ID},
		PeriodStart: mustDate(t, "2026-01-01"), PeriodEnd: mustDate(t, "2026-03-31"), Note: "Reviewed.",
	}); err != nil {
		t.Fatal(err)
	}
	public := m.LedgerKey.Public
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	st := c.openStore()
	n, err := st.LedgerSize(ctx, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := st.LatestCheckpoint(ctx, org.ID)
	if err != nil {
		t.Fatalf("no checkpoint after shutdown: %v", err)
	}
	parsed, err := ledger.ParseCheckpoint([]byte(cp.Note), public)
	if err != nil || parsed.Size != n || parsed.Origin != evidence.Origin("acme") {
		t.Errorf("checkpoint at shutdown = %+v, %v; want one of all %d entries of evident/acme, signed by the server's key", parsed, err, n)
	}
	// The next start finds the same key.
	m2 := c.main("serve", "--addr", "127.0.0.1:0")
	if m2.LedgerKey.Public != public {
		t.Errorf("the second start's public key = %s; want the first start's %s", m2.LedgerKey.Public, public)
	}
}
