package ledger

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/domain"
)

// goldenEntry and goldenCanonical pin the canonical entry encoding. The expected bytes
// were checked against Python's json.dumps(sort_keys=True, separators=(",", ":"),
// ensure_ascii=False); if this test fails, the encoding changed and every existing log
// would stop verifying.
var goldenEntry = Entry{
	OrgID:   1,
	Index:   0,
	At:      time.Date(2025, 1, 2, 3, 4, 5, 123456789, time.UTC),
	ActorID: 7,
	Actor:   "alice@example.com",
	Type:    "control.updated",
	Subject: "control:42",
	Data:    json.RawMessage(`{"status": "implemented", "owner": 7, "note": "a\u00e9\n\u0001\u007f\u2028/<>&\"\\", "emoji": "\ud83d\ude00"}`),
}

const goldenCanonical = `{"actor":"alice@example.com","actor_id":7,"at":"2025-01-02T03:04:05.123456Z",` +
	`"data":{"emoji":"😀","note":"aé\n\u0001` + "\u007f\u2028" + `/<>&\"\\","owner":7,"status":"implemented"},` +
	`"index":0,"org_id":1,"subject":"control:42","type":"control.updated","v":1}`

func TestEntryCanonicalGolden(t *testing.T) {
	got, err := goldenEntry.Canonical()
	if err != nil {
		t.Fatalf("Canonical: %v", err)
	}
	if string(got) != goldenCanonical {
		t.Errorf("Canonical() =\n%s\nwant\n%s", got, goldenCanonical)
	}
	again, err := CanonicalJSON(got)
	if err != nil || string(again) != string(got) {
		t.Errorf("CanonicalJSON(Canonical()) = %s, %v; want it unchanged", again, err)
	}
	// The leaf hash is RFC 6962's SHA-256(0x00 || encoding), computed here without tlog.
	want := tlog.Hash(sha256.Sum256(append([]byte{0}, goldenCanonical...)))
	h, err := goldenEntry.Hash()
	if err != nil || h != want {
		t.Errorf("Hash() = %s, %v; want %s", h, err, want)
	}
}

func TestEntryCanonicalSameEntrySameBytes(t *testing.T) {
	base := goldenEntry
	for _, tt := range []struct {
		name   string
		change func(e *Entry)
	}{
		{"data reformatted", func(e *Entry) {
			e.Data = json.RawMessage("{\n  \"owner\" : 7,\n  \"emoji\":\"😀\", \"status\":\"implemented\",\"note\":\"a\u00e9\\n\\u0001\u007f\\u2028\\/<>&\\\"\\\\\"}\n")
		}},
		{"time in another zone", func(e *Entry) {
			e.At = e.At.In(time.FixedZone("CET", 3600))
		}},
		{"sub-microsecond digits differ", func(e *Entry) {
			e.At = e.At.Add(-789)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := base
			tt.change(&e)
			got, err := e.Canonical()
			if err != nil {
				t.Fatalf("Canonical: %v", err)
			}
			if string(got) != goldenCanonical {
				t.Errorf("Canonical() =\n%s\nwant\n%s", got, goldenCanonical)
			}
		})
	}
}

func TestEntryCanonicalDistinguishes(t *testing.T) {
	want, err := goldenEntry.Hash()
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		change func(e *Entry)
	}{
		{"org", func(e *Entry) { e.OrgID = 2 }},
		{"index", func(e *Entry) { e.Index = 1 }},
		{"time by a microsecond", func(e *Entry) { e.At = e.At.Add(time.Microsecond) }},
		{"actor id", func(e *Entry) { e.ActorID = 8 }},
		{"actor", func(e *Entry) { e.Actor = "mallory@example.com" }},
		{"type", func(e *Entry) { e.Type = "control.created" }},
		{"subject", func(e *Entry) { e.Subject = "control:43" }},
		{"data value", func(e *Entry) { e.Data = json.RawMessage(`{"status":"not_implemented"}`) }},
		{"number written otherwise", func(e *Entry) {
			e.Data = json.RawMessage(`{"emoji":"😀","note":"x","owner":7.0,"status":"implemented"}`)
		}},
		{"no data", func(e *Entry) { e.Data = nil }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := goldenEntry
			tt.change(&e)
			got, err := e.Hash()
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if got == want {
				t.Errorf("Hash() of the changed entry = %s, the same as the original's", got)
			}
		})
	}
}

func TestEntryCanonicalNoData(t *testing.T) {
	for _, data := range []json.RawMessage{nil, {}, json.RawMessage(" \n"), json.RawMessage("null")} {
		e := Entry{OrgID: 3, Index: 9, At: time.Date(1999, 12, 31, 23, 59, 59, 0, time.UTC), Actor: "system", Type: "organization.created", Subject: "organization:3", Data: data}
		got, err := e.Canonical()
		if err != nil {
			t.Fatalf("Canonical with data %q: %v", data, err)
		}
		want := `{"actor":"system","actor_id":0,"at":"1999-12-31T23:59:59.000000Z","data":null,"index":9,"org_id":3,"subject":"organization:3","type":"organization.created","v":1}`
		if string(got) != want {
			t.Errorf("Canonical with data %q = %s; want %s", data, got, want)
		}
	}
}

func TestEntryCanonicalErrors(t *testing.T) {
	for _, tt := range []struct {
		name   string
		change func(e *Entry)
		field  string
	}{
		{"negative index", func(e *Entry) { e.Index = -1 }, "index"},
		{"actor not UTF-8", func(e *Entry) { e.Actor = "a\xff" }, "actor"},
		{"type not UTF-8", func(e *Entry) { e.Type = "\xc3" }, "type"},
		{"subject not UTF-8", func(e *Entry) { e.Subject = "\xed\xa0\x80" }, "subject"},
		{"year after 9999", func(e *Entry) { e.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "at"},
		{"year before 0", func(e *Entry) { e.At = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) }, "at"},
		{"data not JSON", func(e *Entry) { e.Data = json.RawMessage(`{"a":}`) }, "data"},
		{"data with duplicate member", func(e *Entry) { e.Data = json.RawMessage(`{"a":1,"a":2}`) }, "data"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := goldenEntry
			tt.change(&e)
			got, err := e.Canonical()
			if err == nil {
				t.Fatalf("Canonical() = %s; want an error", got)
			}
			if domain.KindOf(err) != domain.KindInvalid || domain.FieldOf(err) != tt.field {
				t.Errorf("Canonical() error = %v (kind %s, field %q); want invalid %q", err, domain.KindOf(err), domain.FieldOf(err), tt.field)
			}
			if _, err := e.Hash(); err == nil {
				t.Errorf("Hash() succeeded; want the Canonical error")
			}
		})
	}
}

func TestFromEvent(t *testing.T) {
	at := time.Date(2025, 6, 1, 14, 0, 0, 999_999_999, time.FixedZone("EST", -5*3600))
	ev := domain.Event{OrgID: 4, Index: 12, At: at, ActorID: 2, Actor: "bob@example.com", Type: domain.EventMemberAdded, Subject: "user:5", Data: json.RawMessage(`{"role":"viewer"}`)}
	got := FromEvent(ev)
	want := Entry{OrgID: 4, Index: 12, At: time.Date(2025, 6, 1, 19, 0, 0, 999_999_000, time.UTC), ActorID: 2, Actor: "bob@example.com", Type: domain.EventMemberAdded, Subject: "user:5", Data: json.RawMessage(`{"role":"viewer"}`)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("FromEvent: diff (-want +got)\n%s", diff)
	}
	if got.At.Location() != time.UTC {
		t.Errorf("FromEvent: At is in %v; want UTC", got.At.Location())
	}
}

func TestParseEntry(t *testing.T) {
	e, err := ParseEntry([]byte(goldenCanonical))
	if err != nil {
		t.Fatalf("ParseEntry(golden): %v", err)
	}
	want := goldenEntry
	want.At = want.At.Truncate(time.Microsecond)
	want.Data, _ = CanonicalJSON(want.Data)
	if diff := cmp.Diff(want, e); diff != "" {
		t.Errorf("ParseEntry(golden): diff (-want +got)\n%s", diff)
	}

	noData := `{"actor":"system","actor_id":0,"at":"1999-12-31T23:59:59.000000Z","data":null,"index":9,"org_id":3,"subject":"organization:3","type":"organization.created","v":1}`
	e, err = ParseEntry([]byte(noData))
	if err != nil {
		t.Fatalf("ParseEntry(no data): %v", err)
	}
	if e.Data != nil {
		t.Errorf("ParseEntry(no data).Data = %q; want nil", e.Data)
	}
}

func TestParseEntryErrors(t *testing.T) {
	g := goldenCanonical
	for _, tt := range []struct {
		name  string
		in    string
		field string
	}{
		{"not JSON", `{`, "entry"},
		{"whitespace added", strings.Replace(g, `"index":0`, `"index": 0`, 1), "entry"},
		{"members reordered", `{"actor_id":7,` + strings.Replace(g[1:], `"actor_id":7,`, "", 1), "entry"},
		{"unknown member", strings.Replace(g, `"v":1}`, `"v":1,"w":2}`, 1), "entry"},
		{"other version", strings.Replace(g, `"v":1}`, `"v":2}`, 1), "v"},
		{"no version", strings.Replace(g, `,"v":1}`, `}`, 1), "v"},
		{"no actor", strings.Replace(g, `"actor":"alice@example.com",`, "", 1), "actor"},
		{"no data", strings.Replace(g, `"data":{"emoji":"😀","note":"aé\n\u0001`+"\u007f\u2028"+`/<>&\"\\","owner":7,"status":"implemented"},`, "", 1), "data"},
		{"time without microseconds", strings.Replace(g, `03:04:05.123456Z`, `03:04:05Z`, 1), "at"},
		{"time with offset", strings.Replace(g, `03:04:05.123456Z`, `03:04:05.123456+00:00`, 1), "at"},
		{"data not canonical", strings.Replace(g, `"owner":7,"status":"implemented"`, `"status":"implemented","owner":7`, 1), "entry"},
		{"data with duplicate member", strings.Replace(g, `"owner":7,"status"`, `"status":"x","owner":7,"status"`, 1), "data"},
		{"trailing data", g + "\n", "entry"},
		{"index as fraction", strings.Replace(g, `"index":0`, `"index":0.0`, 1), "entry"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEntry([]byte(tt.in))
			if err == nil {
				t.Fatalf("ParseEntry(%s) = %+v; want an error", tt.in, got)
			}
			if domain.FieldOf(err) != tt.field {
				t.Errorf("ParseEntry(%s) error = %v (field %q); want field %q", tt.in, err, domain.FieldOf(err), tt.field)
			}
		})
	}
}

func TestEntryJSON(t *testing.T) {
	type bundle struct {
		Entries []Entry `json:"entries"`
	}
	in := bundle{Entries: []Entry{goldenEntry, {OrgID: 1, Index: 1, At: testStart, Actor: "system", Type: "scope.updated", Subject: "scope"}}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	var out bundle
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("Unmarshal(%s): %v", b, err)
	}
	for i := range in.Entries {
		want, _ := in.Entries[i].Hash()
		got, err := out.Entries[i].Hash()
		if err != nil || got != want {
			t.Errorf("entry %d after a JSON round trip hashes to %s, %v; want %s", i, got, err, want)
		}
	}
	indented, err := json.MarshalIndent(goldenEntry, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	var e Entry
	if err := json.Unmarshal(indented, &e); err != nil {
		t.Fatalf("Unmarshal of indented JSON: %v", err)
	}
	if c, _ := e.Canonical(); string(c) != goldenCanonical {
		t.Errorf("indented JSON read back as %s; want %s", c, goldenCanonical)
	}
	for _, bad := range []string{`{"v":1}`, `[]`, `{`} {
		if err := json.Unmarshal([]byte(bad), &e); err == nil {
			t.Errorf("Unmarshal(%s) succeeded; want an error", bad)
		}
	}
}
