package bundle

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// How the ledger records evidence (the store writes these entries), which is what the
// verifier compares items.jsonl with.
//
// Adding an item appends an entry of type "evidence.added" with the subject
// "evidence:<id>", the adding user as actor, the time of the addition as its time, and
// data of this form (file_name and url may be left out when empty; collected_at is an RFC
// 3339 time, the period's days are YYYY-MM-DD):
//
//	{"evidence_id": 42, "kind": "file", "title": "…", "description": "…",
//	 "sha256": "…", "size": 1024, "media_type": "application/pdf",
//	 "file_name": "review.pdf", "url": "", "period_start": "2025-01-01",
//	 "period_end": "2025-03-31", "collected_at": "2025-04-02T10:00:00.000000Z",
//	 "source": "alice@example.com", "controls": [{"id": 12, "ref": "AC-01"}],
//	 "supersedes": null}
//
// Adding an item that corrects another appends the same, with the type
// "evidence.superseded" and the ID of the item corrected in supersedes. Retracting an item
// appends an entry of type "evidence.retracted" with the same subject, the retraction's
// time as its time, and the data {"evidence_id": 42, "title": "…", "sha256": "…",
// "reason": "…"}.
const evidenceSubject = "evidence:"

// isAddition reports whether an entry of type typ adds an item.
func isAddition(typ string) bool {
	return typ == domain.EventEvidenceAdded || typ == domain.EventEvidenceSuperseded
}

// addedData is the data of an entry that adds an item. Pointers tell a member that is
// missing from one that is empty.
type addedData struct {
	EvidenceID  *int64  `json:"evidence_id"`
	Kind        *string `json:"kind"`
	Title       *string `json:"title"`
	Description *string `json:"description"`
	SHA256      *string `json:"sha256"`
	Size        *int64  `json:"size"`
	MediaType   *string `json:"media_type"`
	FileName    *string `json:"file_name"`
	URL         *string `json:"url"`
	PeriodStart *string `json:"period_start"`
	PeriodEnd   *string `json:"period_end"`
	CollectedAt *string `json:"collected_at"`
	Source      *string `json:"source"`
	Controls    *[]struct {
		ID  int64  `json:"id"`
		Ref string `json:"ref"`
	} `json:"controls"`
	Supersedes *int64 `json:"supersedes"`
}

// evidenceRecord is what the ledger says about one item when it was added.
type evidenceRecord struct {
	ID          int64
	Kind        string
	Title       string
	Description string
	Controls    []int64 // sorted
	PeriodStart time.Time
	PeriodEnd   time.Time
	CollectedAt time.Time
	Source      string
	SHA256      string
	Size        int64
	MediaType   string
	FileName    string
	URL         string
	Supersedes  int64 // 0 for none
	AddedBy     int64
	AddedAt     time.Time
}

// evidenceID returns the item ID of an entry about evidence, from its subject.
func evidenceID(e *ledger.Entry) (int64, bool) {
	s, ok := strings.CutPrefix(e.Subject, evidenceSubject)
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strconv.FormatInt(id, 10) != s {
		return 0, false
	}
	return id, true
}

// parseAdded reads an entry that adds an item. The error says which member is wrong.
func parseAdded(e *ledger.Entry) (evidenceRecord, error) {
	id, ok := evidenceID(e)
	if !ok {
		return evidenceRecord{}, fmt.Errorf("subject %q does not name an evidence item", e.Subject)
	}
	var d addedData
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return evidenceRecord{}, fmt.Errorf("data: %v", err)
	}
	missing := func(name string) error { return fmt.Errorf("data: %s is missing", name) }
	r := evidenceRecord{ID: id, AddedBy: e.ActorID, AddedAt: e.At}
	switch {
	case d.EvidenceID == nil:
		return evidenceRecord{}, missing("evidence_id")
	case *d.EvidenceID != id:
		return evidenceRecord{}, fmt.Errorf("data: evidence_id %d is not the subject's item %d", *d.EvidenceID, id)
	}
	for _, f := range []struct {
		name     string
		src      *string
		dst      *string
		optional bool
	}{
		{"kind", d.Kind, &r.Kind, false}, {"title", d.Title, &r.Title, false},
		{"description", d.Description, &r.Description, false}, {"source", d.Source, &r.Source, false},
		{"sha256", d.SHA256, &r.SHA256, false}, {"media_type", d.MediaType, &r.MediaType, false},
		{"file_name", d.FileName, &r.FileName, true}, {"url", d.URL, &r.URL, true},
	} {
		switch {
		case f.src != nil:
			*f.dst = *f.src
		case !f.optional:
			return evidenceRecord{}, missing(f.name)
		}
	}
	if d.Controls == nil {
		return evidenceRecord{}, missing("controls")
	}
	r.Controls = make([]int64, len(*d.Controls))
	for i, c := range *d.Controls {
		r.Controls[i] = c.ID
	}
	slices.Sort(r.Controls)
	if d.Size == nil {
		return evidenceRecord{}, missing("size")
	}
	r.Size = *d.Size
	var err error
	if r.PeriodStart, err = parseDay("period_start", d.PeriodStart); err != nil {
		return evidenceRecord{}, err
	}
	if r.PeriodEnd, err = parseDay("period_end", d.PeriodEnd); err != nil {
		return evidenceRecord{}, err
	}
	if d.CollectedAt == nil {
		return evidenceRecord{}, missing("collected_at")
	}
	if r.CollectedAt, err = time.Parse(time.RFC3339Nano, *d.CollectedAt); err != nil {
		return evidenceRecord{}, fmt.Errorf("data: collected_at %q is not an RFC 3339 time", *d.CollectedAt)
	}
	if d.Supersedes != nil {
		if *d.Supersedes <= 0 {
			return evidenceRecord{}, fmt.Errorf("data: supersedes %d is not an item ID", *d.Supersedes)
		}
		r.Supersedes = *d.Supersedes
	}
	switch {
	case e.Type == domain.EventEvidenceSuperseded && r.Supersedes == 0:
		return evidenceRecord{}, fmt.Errorf("an %s entry must name the item it supersedes", e.Type)
	case e.Type == domain.EventEvidenceAdded && r.Supersedes != 0:
		return evidenceRecord{}, fmt.Errorf("an %s entry supersedes item %d; corrections are %s entries", e.Type, r.Supersedes, domain.EventEvidenceSuperseded)
	}
	return r, nil
}

// parseDay reads a calendar day written as YYYY-MM-DD or as an RFC 3339 UTC midnight.
func parseDay(name string, s *string) (time.Time, error) {
	if s == nil {
		return time.Time{}, fmt.Errorf("data: %s is missing", name)
	}
	if t, err := time.Parse(dateLayout, *s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil || !t.Equal(t.UTC().Truncate(24*time.Hour)) {
		return time.Time{}, fmt.Errorf("data: %s %q is not a date", name, *s)
	}
	return t.UTC(), nil
}

// retractFact is a retraction as the ledger records it.
type retractFact struct {
	Index  int64
	At     time.Time
	Reason string
}

// parseRetracted reads an evidence.retracted entry.
func parseRetracted(e *ledger.Entry) (id int64, f retractFact, err error) {
	id, ok := evidenceID(e)
	if !ok {
		return 0, retractFact{}, fmt.Errorf("subject %q does not name an evidence item", e.Subject)
	}
	var d struct {
		EvidenceID *int64  `json:"evidence_id"`
		Reason     *string `json:"reason"`
	}
	if err := json.Unmarshal(e.Data, &d); err != nil {
		return 0, retractFact{}, fmt.Errorf("data: %v", err)
	}
	switch {
	case d.EvidenceID != nil && *d.EvidenceID != id:
		return 0, retractFact{}, fmt.Errorf("data: evidence_id %d is not the subject's item %d", *d.EvidenceID, id)
	case d.Reason == nil:
		return 0, retractFact{}, fmt.Errorf("data: reason is missing")
	}
	return id, retractFact{Index: e.Index, At: e.At, Reason: *d.Reason}, nil
}

// supersedeFact is a correction as the ledger records it: item ID, added at Index,
// supersedes the item the fact is filed under.
type supersedeFact struct {
	ID    int64
	Index int64
}

// compareItem lists every way an item's manifest record differs from the ledger's record
// of it, each as a sentence naming the field.
func compareItem(it *itemRecord, rec *evidenceRecord, index int64) []string {
	var diffs []string
	// differ takes the field with its verb: "the title is".
	differ := func(field, manifest, ledger string) {
		diffs = append(diffs, fmt.Sprintf("%s %s in items.jsonl, but ledger entry %d records %s", field, manifest, index, ledger))
	}
	str := func(field, m, l string) {
		if m != l {
			differ(field+" is", strconv.Quote(m), strconv.Quote(l))
		}
	}
	if it.ID != rec.ID {
		differ("the item ID is", strconv.FormatInt(it.ID, 10), strconv.FormatInt(rec.ID, 10))
	}
	str("kind", it.Kind, rec.Kind)
	str("title", it.Title, rec.Title)
	str("description", it.Description, rec.Description)
	ids := make([]int64, len(it.Controls))
	for i, c := range it.Controls {
		ids[i] = c.ID
	}
	slices.Sort(ids)
	if !slices.Equal(ids, rec.Controls) {
		differ("the controls are", fmt.Sprint(ids), fmt.Sprint(rec.Controls))
	}
	if !it.Period.Start.Equal(rec.PeriodStart) || !it.Period.End.Equal(rec.PeriodEnd) {
		differ("the effective period is", it.Period.Start.String()+" to "+it.Period.End.String(),
			rec.PeriodStart.Format(dateLayout)+" to "+rec.PeriodEnd.Format(dateLayout))
	}
	if !it.CollectedAt.Equal(rec.CollectedAt) {
		differ("collected_at is", it.CollectedAt.UTC().Format(time.RFC3339Nano), rec.CollectedAt.UTC().Format(time.RFC3339Nano))
	}
	str("source", it.Source, rec.Source)
	str("sha256", it.SHA256, rec.SHA256)
	if it.Size != rec.Size {
		differ("size is", strconv.FormatInt(it.Size, 10), strconv.FormatInt(rec.Size, 10))
	}
	str("media_type", it.MediaType, rec.MediaType)
	str("file_name", it.FileName, rec.FileName)
	str("url", it.URL, rec.URL)
	var sup int64
	if it.Supersedes != nil {
		sup = *it.Supersedes
	}
	if sup != rec.Supersedes {
		differ("supersedes is", itemOrNone(sup), itemOrNone(rec.Supersedes))
	}
	if it.AddedBy.ID != rec.AddedBy {
		differ("added_by is", "user "+strconv.FormatInt(it.AddedBy.ID, 10), "user "+strconv.FormatInt(rec.AddedBy, 10))
	}
	if !it.AddedAt.Equal(rec.AddedAt) {
		differ("added_at is", it.AddedAt.UTC().Format(time.RFC3339Nano), rec.AddedAt.UTC().Format(time.RFC3339Nano))
	}
	return diffs
}

func itemOrNone(id int64) string {
	if id == 0 {
		return "none"
	}
	return "item " + strconv.FormatInt(id, 10)
}

// b64Hash is a SHA-256 hash written in JSON as standard base64 with padding, the way
// checkpoints write root hashes.
type b64Hash tlog.Hash

func (h b64Hash) MarshalJSON() ([]byte, error) {
	return []byte(`"` + base64.StdEncoding.EncodeToString(h[:]) + `"`), nil
}

func (h *b64Hash) UnmarshalJSON(b []byte) error {
	// Base64 needs no escapes, so a hash is the bytes between the quotes.
	s, ok := unquoteSimple(b)
	if !ok {
		return fmt.Errorf("%s is not a hash in standard base64", b)
	}
	var raw [tlog.HashSize + 2]byte // what 44 characters of base64 may decode to
	if len(s) != base64.StdEncoding.EncodedLen(tlog.HashSize) {
		return fmt.Errorf("%q is not a 32-byte hash in standard base64", s)
	}
	n, err := base64.StdEncoding.Strict().Decode(raw[:], s)
	if err != nil || n != tlog.HashSize {
		return fmt.Errorf("%q is not a 32-byte hash in standard base64", s)
	}
	copy(h[:], raw[:n])
	return nil
}

// proofHashes is an inclusion proof, written in JSON as an array of hashes in standard
// base64. It reads the array itself: a bundle has a proof per item, and decoding each
// hash through encoding/json's reflection would be a good part of verifying.
type proofHashes []tlog.Hash

func (p proofHashes) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 2+len(p)*47)
	b = append(b, '[')
	for i, h := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, h[:])
		b = append(b, '"')
	}
	return append(b, ']'), nil
}

func (p *proofHashes) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		*p = nil
		return nil
	}
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return fmt.Errorf("an inclusion proof must be an array of hashes")
	}
	out := proofHashes{}
	if rest := bytes.TrimSpace(b[1 : len(b)-1]); len(rest) > 0 {
		for elem := range bytes.SplitSeq(rest, []byte(",")) {
			if len(out) == maxProof {
				return fmt.Errorf("an inclusion proof has at most %d hashes", maxProof)
			}
			var h b64Hash
			if err := h.UnmarshalJSON(bytes.TrimSpace(elem)); err != nil {
				return err
			}
			out = append(out, tlog.Hash(h))
		}
	}
	*p = out
	return nil
}

// unquoteSimple returns the content of a JSON string without escapes or control
// characters, which is all that hashes and dates are.
func unquoteSimple(b []byte) ([]byte, bool) {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return nil, false
	}
	s := b[1 : len(b)-1]
	for _, c := range s {
		if c == '\\' || c == '"' || c < 0x20 {
			return nil, false
		}
	}
	return s, true
}

// decodeStrict decodes one JSON value from b into v, refusing unknown members and
// anything after the value.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if len(bytes.TrimLeft(b[dec.InputOffset():], " \t\r\n")) > 0 {
		return fmt.Errorf("unexpected data after the JSON value at byte %d", dec.InputOffset())
	}
	return nil
}
