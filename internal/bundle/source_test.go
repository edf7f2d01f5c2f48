package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// fakeOrg is an organization kept in memory: its ledger, evidence, files and controls,
// recorded the way the evidence service records them. It is a Source.
type fakeOrg struct {
	org      domain.Organization
	controls []Control
	items    []Item // by ledger index
	blobs    map[string][]byte
	entries  []ledger.Entry
	hashes   ledger.MemoryHashes
	signer   *ledger.Signer
	note     []byte
	now      time.Time
}

var testStart = time.Date(2025, 4, 2, 9, 30, 0, 0, time.UTC)

// testSigner returns a signer with a key derived from seed, so that tests are repeatable.
func testSigner(tb testing.TB, name string, seed byte) *ledger.Signer {
	tb.Helper()
	skey, _, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{seed}, 32)), name)
	if err != nil {
		tb.Fatalf("GenerateKey: %v", err)
	}
	s, err := ledger.NewCheckpointSigner(skey)
	if err != nil {
		tb.Fatalf("NewCheckpointSigner: %v", err)
	}
	return s
}

// newFakeOrg returns an organization with three controls and nothing else yet.
func newFakeOrg(tb testing.TB) *fakeOrg {
	tb.Helper()
	o := &fakeOrg{
		org:    domain.Organization{ID: 7, Slug: "acme", Name: "Acme <Corp> & Co"},
		blobs:  map[string][]byte{},
		signer: testSigner(tb, "evident.test", 1),
		now:    testStart,
	}
	o.appendEntry(tb, domain.Actor{UserID: 1, Email: "owner@acme.test"}, domain.EventOrgCreated, "organization:7",
		map[string]any{"slug": o.org.Slug, "name": o.org.Name})
	for i, c := range []Control{
		{ID: 11, Ref: "AC-01", Title: "Access reviews"},
		{ID: 12, Ref: "CM-02", Title: "Change management"},
		{ID: 13, Ref: "IR-03", Title: "Incident response"},
	} {
		o.controls = append(o.controls, c)
		o.appendEntry(tb, domain.Actor{UserID: 1, Email: "owner@acme.test"}, domain.EventControlCreated,
			fmt.Sprintf("control:%d", c.ID), map[string]any{"ref": c.Ref, "title": c.Title, "n": i})
	}
	return o
}

// tick returns the next moment of the fake clock.
func (o *fakeOrg) tick() time.Time {
	o.now = o.now.Add(time.Minute + 123456*time.Microsecond)
	return o.now
}

func (o *fakeOrg) appendEntry(tb testing.TB, a domain.Actor, typ, subject string, data any) ledger.Entry {
	tb.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		tb.Fatal(err)
	}
	e := ledger.Entry{OrgID: o.org.ID, Index: int64(len(o.entries)), At: o.tick(), ActorID: a.UserID, Actor: a.Email, Type: typ, Subject: subject, Data: raw}
	o.pushEntry(tb, e)
	return e
}

func (o *fakeOrg) pushEntry(tb testing.TB, e ledger.Entry) {
	tb.Helper()
	c, err := e.Canonical()
	if err != nil {
		tb.Fatalf("entry %d: %v", e.Index, err)
	}
	if _, err := o.hashes.Append(c); err != nil {
		tb.Fatal(err)
	}
	o.entries = append(o.entries, e)
}

// addedEntryData is the data of the entry that adds an item, as the store writes it.
func addedEntryData(e *domain.Evidence, refs map[int64]string) map[string]any {
	controls := []map[string]any{}
	for _, id := range e.ControlIDs {
		controls = append(controls, map[string]any{"id": id, "ref": refs[id]})
	}
	d := map[string]any{
		"evidence_id":  e.ID,
		"kind":         e.Kind,
		"title":        e.Title,
		"description":  e.Description,
		"sha256":       e.SHA256,
		"size":         e.Size,
		"media_type":   e.MediaType,
		"period_start": e.PeriodStart.Format(time.DateOnly),
		"period_end":   e.PeriodEnd.Format(time.DateOnly),
		"collected_at": e.CollectedAt.UTC().Format(ledger.TimeLayout),
		"source":       e.Source,
		"controls":     controls,
		"supersedes":   e.Supersedes,
	}
	if e.FileName != "" {
		d["file_name"] = e.FileName
	}
	if e.URL != "" {
		d["url"] = e.URL
	}
	return d
}

// evidenceSpec describes an item to add; zero fields get defaults.
type evidenceSpec struct {
	title      string
	controls   []int64
	start, end string
	content    string
	supersedes int64
	kind       domain.EvidenceKind
	mediaType  string
}

// add records a new item and returns it.
func (o *fakeOrg) add(tb testing.TB, s evidenceSpec) *domain.Evidence {
	tb.Helper()
	if s.content == "" {
		s.content = "content of " + s.title
	}
	if s.kind == "" {
		s.kind = domain.EvidenceFile
	}
	if s.mediaType == "" {
		s.mediaType = "text/plain; charset=utf-8"
	}
	if s.start == "" {
		s.start, s.end = "2025-01-01", "2025-03-31"
	}
	sum := sha256.Sum256([]byte(s.content))
	sha := hex.EncodeToString(sum[:])
	o.blobs[sha] = []byte(s.content)
	user := domain.Actor{UserID: 3, Email: "alice@acme.test"}
	e := domain.Evidence{
		ID:          int64(100 + len(o.items)),
		OrgID:       o.org.ID,
		Kind:        s.kind,
		Title:       s.title,
		Description: "Described:\n" + s.title,
		ControlIDs:  s.controls,
		PeriodStart: mustDate(tb, s.start),
		PeriodEnd:   mustDate(tb, s.end),
		CollectedAt: o.now.Add(-time.Hour),
		Source:      user.Email,
		SHA256:      sha,
		Size:        int64(len(s.content)),
		MediaType:   s.mediaType,
		FileName:    s.title + ".txt",
		AddedBy:     user.UserID,
		AddedByName: "Alice",
		LedgerIndex: int64(len(o.entries)),
	}
	if s.kind == domain.EvidenceLink {
		e.URL = s.content
		e.FileName = ""
	}
	if s.supersedes != 0 {
		e.Supersedes = &s.supersedes
	}
	typ := domain.EventEvidenceAdded
	if e.Supersedes != nil {
		typ = domain.EventEvidenceSuperseded
	}
	refs := map[int64]string{}
	for _, c := range o.controls {
		refs[c.ID] = c.Ref
	}
	// The store sets the time of addition just before it appends the entry.
	e.AddedAt = o.now.Add(time.Millisecond)
	o.appendEntry(tb, user, typ, fmt.Sprintf("evidence:%d", e.ID), addedEntryData(&e, refs))
	var controls []Control
	for _, id := range s.controls {
		for _, c := range o.controls {
			if c.ID == id {
				controls = append(controls, c)
			}
		}
	}
	o.items = append(o.items, Item{Evidence: e, Controls: controls})
	if s.supersedes != 0 {
		old := o.item(tb, s.supersedes)
		id := e.ID
		old.Evidence.SupersededBy = &id
	}
	return &o.items[len(o.items)-1].Evidence
}

func (o *fakeOrg) item(tb testing.TB, id int64) *Item {
	tb.Helper()
	for i := range o.items {
		if o.items[i].Evidence.ID == id {
			return &o.items[i]
		}
	}
	tb.Fatalf("no item %d", id)
	return nil
}

// retract records the withdrawal of an item.
func (o *fakeOrg) retract(tb testing.TB, id int64, reason string) {
	tb.Helper()
	it := o.item(tb, id)
	at := o.now.Add(time.Millisecond) // the store sets it just before it appends the entry
	o.appendEntry(tb, domain.Actor{UserID: 3, Email: "alice@acme.test"}, domain.EventEvidenceRetracted, fmt.Sprintf("evidence:%d", id),
		map[string]any{"evidence_id": id, "title": it.Evidence.Title, "sha256": it.Evidence.SHA256, "reason": reason})
	it.Evidence.RetractedAt = &at
	it.Evidence.RetractReason = reason
}

// sign signs a checkpoint of the whole ledger as it is now and makes it the Source's.
func (o *fakeOrg) sign(tb testing.TB) ledger.Checkpoint {
	tb.Helper()
	root, err := o.hashes.Root()
	if err != nil {
		tb.Fatal(err)
	}
	cp, err := o.signer.SignCheckpoint("evident.test/acme", o.hashes.Size(), root, o.tick())
	if err != nil {
		tb.Fatal(err)
	}
	o.note = []byte(cp.Note)
	return cp
}

func mustDate(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func (o *fakeOrg) Organization(context.Context) (domain.Organization, error) { return o.org, nil }

func (o *fakeOrg) Checkpoint(context.Context) ([]byte, string, error) {
	return o.note, o.signer.VerifierKey(), nil
}

func (o *fakeOrg) Control(_ context.Context, ref string) (Control, error) {
	for _, c := range o.controls {
		if c.Ref == ref {
			return c, nil
		}
	}
	return Control{}, domain.NotFound("control")
}

func (o *fakeOrg) Items(_ context.Context, f Filter) iter.Seq2[Item, error] {
	return func(yield func(Item, error) bool) {
		for _, it := range o.items {
			e := &it.Evidence
			if f.Matches(e.ControlIDs, e.PeriodStart, e.PeriodEnd) && !yield(it, nil) {
				return
			}
		}
	}
}

func (o *fakeOrg) Open(_ context.Context, e *domain.Evidence) (io.ReadCloser, error) {
	b, ok := o.blobs[e.SHA256]
	if !ok {
		return nil, domain.NotFound("blob")
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (o *fakeOrg) Entries(_ context.Context, size int64) iter.Seq2[ledger.Entry, error] {
	return func(yield func(ledger.Entry, error) bool) {
		for _, e := range o.entries[:min(size, int64(len(o.entries)))] {
			if !yield(e, nil) {
				return
			}
		}
	}
}

func (o *fakeOrg) Hashes(context.Context) (tlog.HashReader, error) { return &o.hashes, nil }

// standardOrg returns an organization with a handful of items: a correction, a
// retraction, a link, two items sharing one file, and a control change in between.
func standardOrg(tb testing.TB) *fakeOrg {
	tb.Helper()
	o := newFakeOrg(tb)
	review := o.add(tb, evidenceSpec{title: "Q1 access review", controls: []int64{11}})
	o.add(tb, evidenceSpec{title: "Change tickets", controls: []int64{12, 11}, start: "2025-01-01", end: "2025-01-31"})
	o.appendEntry(tb, domain.Actor{UserID: 1, Email: "owner@acme.test"}, domain.EventControlUpdated, "control:12", map[string]any{"status": "implemented"})
	o.add(tb, evidenceSpec{title: "Q1 access review, corrected", controls: []int64{11}, supersedes: review.ID, content: "corrected review"})
	note := o.add(tb, evidenceSpec{title: "Tabletop exercise", controls: []int64{13}, start: "2024-10-01", end: "2024-12-31", kind: domain.EvidenceNote})
	o.retract(tb, note.ID, "wrong exercise attached")
	o.add(tb, evidenceSpec{title: "Status page", controls: []int64{13}, kind: domain.EvidenceLink, content: "https://status.acme.test/history"})
	o.add(tb, evidenceSpec{title: "Same content again", controls: []int64{12}, content: "content of Change tickets", start: "2025-02-01", end: "2025-02-28"})
	o.sign(tb)
	return o
}

// writeBundle writes the Source's bundle and returns its bytes.
func writeBundle(tb testing.TB, src Source, opts WriteOptions) ([]byte, Summary) {
	tb.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC) }
	}
	var buf bytes.Buffer
	sum, err := Write(context.Background(), &buf, src, opts)
	if err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), sum
}

func verifyBytes(tb testing.TB, b []byte, opts VerifyOptions) *Report {
	tb.Helper()
	rep, err := Verify(context.Background(), bytes.NewReader(b), int64(len(b)), opts)
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	return rep
}
