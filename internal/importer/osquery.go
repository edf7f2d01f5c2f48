package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// fleetPolicy is a Fleet policy as its API returns it, in a policy list (with host counts)
// or in a host's policies (with the host's response).
type fleetPolicy struct {
	ID                 scalar  `json:"id"`
	Name               string  `json:"name"`
	Query              string  `json:"query"`
	Description        string  `json:"description"`
	Resolution         string  `json:"resolution"`
	Platform           string  `json:"platform"`
	Critical           bool    `json:"critical"`
	Response           *string `json:"response"`
	PassingHostCount   *int64  `json:"passing_host_count"`
	FailingHostCount   *int64  `json:"failing_host_count"`
	HostCountUpdatedAt string  `json:"host_count_updated_at"`
	UpdatedAt          string  `json:"updated_at"`
}

// fleetHost is a Fleet host with its policies.
type fleetHost struct {
	ID              scalar        `json:"id"`
	UUID            string        `json:"uuid"`
	Hostname        string        `json:"hostname"`
	DisplayName     string        `json:"display_name"`
	ComputerName    string        `json:"computer_name"`
	HardwareSerial  string        `json:"hardware_serial"`
	Platform        string        `json:"platform"`
	PolicyUpdatedAt string        `json:"policy_updated_at"`
	Policies        []fleetPolicy `json:"policies"`
}

// osqueryLine is one line of osquery's scheduled query result log, in event format (one
// row per line with action "added" or "removed"), snapshot format, or batch format
// (diffResults).
type osqueryLine struct {
	name, host, action string
	calendarTime       string
	unixTime           scalar
	columns            map[string]any
	snapshot           []map[string]any
	added, removed     []map[string]any
	hasColumns         bool
	hasSnapshot        bool
	hasDiff            bool
}

// importOsquery reads a sequence of top-level JSON objects, each a Fleet policy list, a
// Fleet host or host list, or an osquery result log line. Policy and host lists are read an
// element at a time.
func importOsquery(p *run, in *lineReader) error {
	s := newJSONStream(in)
	found := false
	for s.dec.More() {
		line := s.begin()
		found = true
		t, err := s.token()
		if err != nil {
			return err
		}
		if !isDelim(t, '{') {
			return &Error{Line: line, Msg: "want a JSON object (a Fleet policy list or host, or an osquery result log line), not " + tokenKind(t)}
		}
		var (
			ol    osqueryLine
			fleet bool
		)
		err = s.objectBody(func(key string) error {
			kline := s.begin()
			switch key {
			case "policies", "inherited_policies":
				fleet = true
				return s.array(key, func(line int) error {
					var pol fleetPolicy
					if err := s.decode(&pol); err != nil {
						return err
					}
					return pol.emitAggregate(p, line)
				})
			case "host":
				fleet = true
				var h fleetHost
				if err := s.decodeAs(key, &h); err != nil {
					return err
				}
				return h.emit(p, kline, "host.")
			case "hosts":
				fleet = true
				return s.array(key, func(line int) error {
					var h fleetHost
					if err := s.decode(&h); err != nil {
						return err
					}
					return h.emit(p, line, "")
				})
			}
			return ol.field(s, key)
		})
		if err != nil {
			return err
		}
		if fleet {
			continue
		}
		if err := ol.emit(p, line); err != nil {
			return err
		}
	}
	if !found {
		t, err := s.token()
		if err == io.EOF {
			return &Error{Line: 1, Msg: "the file is empty; want Fleet policies or hosts as JSON, or osquery result log lines"}
		}
		if err != nil {
			return err
		}
		return &Error{Line: s.in.lineAt(s.dec.InputOffset() - 1), Msg: "want a JSON object (a Fleet policy list or host, or an osquery result log line), not " + tokenKind(t)}
	}
	return s.end()
}

// field reads one key of an osquery result log line.
func (l *osqueryLine) field(s *jsonStream, key string) error {
	switch key {
	case "name":
		return s.decodeAs(key, &l.name)
	case "hostIdentifier":
		return s.decodeAs(key, &l.host)
	case "action":
		return s.decodeAs(key, &l.action)
	case "calendarTime":
		return s.decodeAs(key, &l.calendarTime)
	case "unixTime":
		return s.decodeAs(key, &l.unixTime)
	case "columns":
		l.hasColumns = true
		return s.decodeAs(key, &l.columns)
	case "snapshot":
		l.hasSnapshot = true
		return s.decodeAs(key, &l.snapshot)
	case "diffResults":
		l.hasDiff = true
		var d struct {
			Added   []map[string]any `json:"added"`
			Removed []map[string]any `json:"removed"`
		}
		if err := s.decodeAs(key, &d); err != nil {
			return err
		}
		l.added, l.removed = d.Added, d.Removed
		return nil
	}
	return s.skip()
}

// emit turns a result log line into findings.
func (l *osqueryLine) emit(p *run, line int) error {
	name, host := clean(l.name), clean(l.host)
	if name == "" {
		return errorf(line, "name", "is required: an osquery result log line names its query (or give Fleet's policies, host or hosts)")
	}
	if host == "" {
		return errorf(line, "hostIdentifier", "is required")
	}
	observed, err := l.time(p.now)
	if err != nil {
		return errorf(line, "unixTime", "%v", err)
	}
	base := finding{source: "osquery", checkID: name, title: name, severity: "medium",
		resourceID: host, resourceType: "host", observed: observed}
	row := func(status, verb string, cols map[string]any) error {
		f := base
		f.status = status
		text := rowText(cols)
		f.message = verb + ": " + truncate(text, 500)
		sum := sha256.Sum256([]byte(text))
		f.id = "osquery:" + name + ":" + host + ":" + hex.EncodeToString(sum[:6])
		f.name = name + " on " + host
		return p.put(line, f.resource())
	}
	switch {
	case l.hasSnapshot || strings.EqualFold(clean(l.action), "snapshot"):
		f := base
		f.name = name + " on " + host
		f.status = "pass"
		f.message = "The query returned no rows."
		if n := len(l.snapshot); n > 0 {
			f.status = "fail"
			f.message = fmt.Sprintf("The query returned %d %s; the first: %s", n, plural(n, "row", "rows"), truncate(rowText(l.snapshot[0]), 500))
		}
		return p.put(line, f.resource())
	case l.hasDiff:
		for _, r := range l.added {
			if err := row("fail", "Added", r); err != nil {
				return err
			}
		}
		for _, r := range l.removed {
			if err := row("pass", "Removed", r); err != nil {
				return err
			}
		}
		return nil
	case l.hasColumns:
		switch a := strings.ToLower(clean(l.action)); a {
		case "added":
			return row("fail", "Added", l.columns)
		case "removed":
			return row("pass", "Removed", l.columns)
		default:
			return errorf(line, "action", "must be added, removed or snapshot, not %q", clean(l.action))
		}
	}
	return errorf(line, "columns", "is required: an osquery result log line has columns, snapshot or diffResults")
}

// time reads unixTime (a number, or a string in older osquery versions), else calendarTime,
// else the import's time.
func (l *osqueryLine) time(now time.Time) (time.Time, error) {
	if raw := clean(string(l.unixTime)); raw != "" {
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || n < 0 || n > 1e11 {
			return time.Time{}, fmt.Errorf("must be a Unix time in seconds, not %q", raw)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	if c := clean(l.calendarTime); c != "" {
		if t, err := time.Parse("Mon Jan _2 15:04:05 2006 MST", c); err == nil {
			return t.UTC(), nil
		}
	}
	return now, nil
}

// rowText writes a result row as sorted key=value pairs.
func rowText(cols map[string]any) string {
	keys := make([]string, 0, len(cols))
	for k := range cols {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		b.WriteByte('=')
		switch v := cols[k].(type) {
		case string:
			b.WriteString(v)
		case nil:
			b.WriteString("null")
		default:
			j, _ := json.Marshal(v)
			b.Write(j)
		}
	}
	if b.Len() == 0 {
		return "(no columns)"
	}
	return b.String()
}

// truncate shortens s to at most n bytes, on a character boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fleetSeverity maps Fleet's critical flag: Fleet has no severity of its own.
func fleetSeverity(critical bool) string {
	if critical {
		return "high"
	}
	return "medium"
}

// fleetBase fills what a policy says about itself.
func (pol *fleetPolicy) base(line int, field string) (finding, error) {
	id := clean(string(pol.ID))
	if id == "" {
		return finding{}, errorf(line, field+"id", "is required")
	}
	f := finding{source: "fleet", checkID: id, title: firstNonEmpty(pol.Name, "Fleet policy "+id),
		severity: fleetSeverity(pol.Critical), remediation: clean(pol.Resolution)}
	return f, nil
}

// emitAggregate emits one finding for a policy of a policy list: failing while any host
// fails it.
func (pol *fleetPolicy) emitAggregate(p *run, line int) error {
	f, err := pol.base(line, "")
	if err != nil {
		return err
	}
	if pol.PassingHostCount == nil || pol.FailingHostCount == nil {
		return errorf(line, "failing_host_count", "is required: a Fleet policy list has passing_host_count and failing_host_count")
	}
	pass, fail := *pol.PassingHostCount, *pol.FailingHostCount
	switch {
	case fail > 0:
		f.status = "fail"
	case pass > 0:
		f.status = "pass"
	default:
		f.status = "skip"
	}
	f.message = fmt.Sprintf("%d of %d %s fail the policy.", fail, pass+fail, plural(int(pass+fail), "host", "hosts"))
	if pass+fail == 0 {
		f.message = "No host has reported a result yet."
	}
	f.resourceType = "policy"
	f.observed = p.now
	for _, field := range []struct{ name, v string }{{"host_count_updated_at", pol.HostCountUpdatedAt}, {"updated_at", pol.UpdatedAt}} {
		if v := clean(field.v); v != "" {
			t, err := parseISOTime(v)
			if err != nil {
				return errorf(line, field.name, "%v", err)
			}
			f.observed = t
			break
		}
	}
	f.id = "fleet:" + f.checkID
	return p.put(line, f.resource())
}

// emit emits one finding per policy of a host. prefix names the host object in errors.
func (h *fleetHost) emit(p *run, line int, prefix string) error {
	name := firstNonEmpty(h.DisplayName, h.Hostname, h.ComputerName, h.HardwareSerial)
	key := firstNonEmpty(h.UUID, h.HardwareSerial, h.Hostname, string(h.ID))
	if name == "" || key == "" {
		return errorf(line, prefix+"hostname", "is required")
	}
	observed := p.now
	if v := clean(h.PolicyUpdatedAt); v != "" {
		t, err := parseISOTime(v)
		if err != nil {
			return errorf(line, prefix+"policy_updated_at", "%v", err)
		}
		observed = t
	}
	for i, pol := range h.Policies {
		field := fmt.Sprintf("%spolicies[%d].", prefix, i)
		f, err := pol.base(line, field)
		if err != nil {
			return err
		}
		resp := ""
		if pol.Response != nil {
			resp = strings.ToLower(clean(*pol.Response))
		}
		switch resp {
		case "pass":
			f.status = "pass"
			f.message = "The host passes the policy."
		case "fail":
			f.status = "fail"
			f.message = "The host fails the policy."
		case "":
			f.status = "skip"
			f.message = "The host has not run the policy yet."
		default:
			return errorf(line, field+"response", `must be "pass", "fail" or empty, not %q`, resp)
		}
		f.resourceID = name
		f.resourceType = "host"
		f.observed = observed
		f.id = "fleet:" + f.checkID + ":" + key
		f.name = f.title + " on " + name
		if err := p.put(line, f.resource()); err != nil {
			return err
		}
	}
	return nil
}
