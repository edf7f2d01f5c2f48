// Package ledger is Evident's tamper-evident log: one append-only Merkle log per
// organization, with RFC 6962 hashing, signed checkpoints, inclusion and consistency proofs,
// and the offline verification of all of them. It does no I/O; the store keeps the hashes
// it computes and the exporter ships the proofs it makes.
//
// The tree, its hashes and its proofs come from golang.org/x/mod/sumdb/tlog, and
// checkpoints are C2SP tlog-checkpoint bodies in golang.org/x/mod/sumdb/note signed notes.
package ledger

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
)

// EntryVersion is the version of the canonical entry encoding, recorded in every entry as
// "v" so that a verifier knows which rules produced it.
const EntryVersion = 1

// TimeLayout is how an entry's time appears in its canonical encoding: UTC, whole
// microseconds, always six fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// Entry is one record of an organization's ledger: who did what, when. It mirrors
// domain.Event, whose per-organization index is the entry's position in the log. In JSON
// an entry is its canonical encoding (see Canonical).
type Entry struct {
	OrgID   int64
	Index   int64
	At      time.Time // UTC, whole microseconds
	ActorID int64
	Actor   string
	Type    string
	Subject string
	Data    json.RawMessage // any JSON value, or empty
}

// FromEvent returns the ledger entry for an audit-trail event. Its time is converted to UTC
// and truncated to whole microseconds, the precision the canonical encoding keeps.
func FromEvent(e domain.Event) Entry {
	return Entry{
		OrgID:   e.OrgID,
		Index:   e.Index,
		At:      e.At.UTC().Truncate(time.Microsecond),
		ActorID: e.ActorID,
		Actor:   e.Actor,
		Type:    e.Type,
		Subject: e.Subject,
		Data:    e.Data,
	}
}

// Canonical returns the entry's canonical encoding, the bytes its leaf hash is computed
// over. It is one JSON object with exactly these members, in this order, and no whitespace:
//
//	{"actor":A,"actor_id":I,"at":T,"data":D,"index":N,"org_id":O,"subject":S,"type":Y,"v":1}
//
// where A, S and Y are the Actor, Subject and Type strings and I, N and O the ActorID, Index
// and OrgID integers in decimal (a minus sign for negatives, no leading zeros); T is At in
// UTC truncated to whole microseconds, written as "YYYY-MM-DDThh:mm:ss.ffffffZ"; D is
// CanonicalJSON(Data), or null when Data is empty. Strings are written by the rule of
// CanonicalJSON. Because the member names are in code point order the whole encoding is
// itself canonical JSON: CanonicalJSON(e.Canonical()) returns it unchanged, so a verifier
// may also rebuild it by canonicalizing the object above with any conforming
// implementation of CanonicalJSON's rules.
//
// The index is part of the encoding, so an entry cannot be moved to another position of
// the log without changing its hash. Canonical fails when Index is negative, when a string
// is not valid UTF-8, when the year of At is outside 0000–9999, or when Data is not
// acceptable to CanonicalJSON; the error names the field.
func (e Entry) Canonical() ([]byte, error) {
	return e.AppendCanonical(make([]byte, 0, 160+len(e.Actor)+len(e.Subject)+len(e.Data)))
}

// AppendCanonical appends the entry's canonical encoding (see Canonical) to b and returns
// the extended slice, or an error as Canonical does. Encoders of many entries reuse one
// buffer.
func (e Entry) AppendCanonical(b []byte) ([]byte, error) {
	if e.Index < 0 {
		return nil, domain.Invalid("index", "%d is negative", e.Index)
	}
	for _, f := range []struct{ name, value string }{
		{"actor", e.Actor}, {"type", e.Type}, {"subject", e.Subject},
	} {
		if !utf8.ValidString(f.value) {
			return nil, domain.Invalid(f.name, "not valid UTF-8")
		}
	}
	at := e.At.UTC().Truncate(time.Microsecond)
	if y := at.Year(); y < 0 || y > 9999 {
		return nil, domain.Invalid("at", "year %d is outside 0000–9999", y)
	}
	b = append(b, `{"actor":`...)
	b = appendCanonicalString(b, e.Actor)
	b = append(b, `,"actor_id":`...)
	b = strconv.AppendInt(b, e.ActorID, 10)
	b = append(b, `,"at":"`...)
	b = at.AppendFormat(b, TimeLayout)
	b = append(b, `","data":`...)
	if len(bytes.TrimLeft(e.Data, " \t\r\n")) > 0 {
		var err error
		if b, err = AppendCanonicalJSON(b, e.Data); err != nil {
			return nil, domain.Invalid("data", "%v", err)
		}
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"index":`...)
	b = strconv.AppendInt(b, e.Index, 10)
	b = append(b, `,"org_id":`...)
	b = strconv.AppendInt(b, e.OrgID, 10)
	b = append(b, `,"subject":`...)
	b = appendCanonicalString(b, e.Subject)
	b = append(b, `,"type":`...)
	b = appendCanonicalString(b, e.Type)
	b = append(b, `,"v":`...)
	b = strconv.AppendInt(b, EntryVersion, 10)
	return append(b, '}'), nil
}

// Hash returns the entry's leaf hash: tlog.RecordHash of its canonical encoding, which is
// RFC 6962's SHA-256(0x00 || encoding).
func (e Entry) Hash() (tlog.Hash, error) {
	c, err := e.Canonical()
	if err != nil {
		return tlog.Hash{}, err
	}
	return tlog.RecordHash(c), nil
}

// ParseEntry reads an entry from its canonical encoding, as an exported bundle carries it.
// It accepts only the exact bytes Canonical produces, so that hashing the input and hashing
// the parsed entry agree; anything else (other whitespace, member order, unknown members,
// another version) is an error. A null data member gives an entry with empty Data.
func ParseEntry(canonical []byte) (Entry, error) {
	var raw struct {
		Actor   *string         `json:"actor"`
		ActorID *int64          `json:"actor_id"`
		At      *string         `json:"at"`
		Data    json.RawMessage `json:"data"`
		Index   *int64          `json:"index"`
		OrgID   *int64          `json:"org_id"`
		Subject *string         `json:"subject"`
		Type    *string         `json:"type"`
		V       *int            `json:"v"`
	}
	dec := json.NewDecoder(bytes.NewReader(canonical))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Entry{}, domain.Invalid("entry", "%v", err)
	}
	switch {
	case raw.V == nil:
		return Entry{}, domain.Invalid("v", "missing")
	case *raw.V != EntryVersion:
		return Entry{}, domain.Invalid("v", "version %d is not supported, want %d", *raw.V, EntryVersion)
	case raw.Actor == nil:
		return Entry{}, domain.Invalid("actor", "missing")
	case raw.ActorID == nil:
		return Entry{}, domain.Invalid("actor_id", "missing")
	case raw.At == nil:
		return Entry{}, domain.Invalid("at", "missing")
	case raw.Data == nil:
		return Entry{}, domain.Invalid("data", "missing")
	case raw.Index == nil:
		return Entry{}, domain.Invalid("index", "missing")
	case raw.OrgID == nil:
		return Entry{}, domain.Invalid("org_id", "missing")
	case raw.Subject == nil:
		return Entry{}, domain.Invalid("subject", "missing")
	case raw.Type == nil:
		return Entry{}, domain.Invalid("type", "missing")
	}
	at, err := time.ParseInLocation(TimeLayout, *raw.At, time.UTC)
	if err != nil {
		return Entry{}, domain.Invalid("at", "%q is not of the form %s", *raw.At, TimeLayout)
	}
	e := Entry{
		OrgID:   *raw.OrgID,
		Index:   *raw.Index,
		At:      at,
		ActorID: *raw.ActorID,
		Actor:   *raw.Actor,
		Type:    *raw.Type,
		Subject: *raw.Subject,
	}
	if string(raw.Data) != "null" {
		e.Data = raw.Data
	}
	again, err := e.Canonical()
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(again, canonical) {
		return Entry{}, domain.Invalid("entry", "not in canonical form")
	}
	return e, nil
}

// MarshalJSON returns the entry's canonical encoding. (encoding/json escapes <, > and &
// in it when it is embedded in a larger value; the encoding to hash is Canonical's.)
func (e Entry) MarshalJSON() ([]byte, error) {
	return e.Canonical()
}

// UnmarshalJSON reads an entry written by MarshalJSON, also after encoding/json or any
// other tool has changed its whitespace, member order or escaping: it canonicalizes the
// value first, then reads it as ParseEntry does.
func (e *Entry) UnmarshalJSON(b []byte) error {
	c, err := CanonicalJSON(b)
	if err != nil {
		return domain.Invalid("entry", "%v", err)
	}
	parsed, err := ParseEntry(c)
	if err != nil {
		return err
	}
	*e = parsed
	return nil
}
