package importer

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ocsfFinding is the part of an OCSF Detection Finding, as Prowler writes it, that Evident
// keeps. Everything else in the object is skipped by the decoder without being kept.
type ocsfFinding struct {
	Message      string `json:"message"`
	Status       string `json:"status"`
	StatusID     int    `json:"status_id"`
	StatusCode   string `json:"status_code"`
	StatusDetail string `json:"status_detail"`
	Severity     string `json:"severity"`
	SeverityID   int    `json:"severity_id"`
	Time         scalar `json:"time"`
	TimeDT       string `json:"time_dt"`
	FindingInfo  struct {
		UID           string `json:"uid"`
		Title         string `json:"title"`
		Desc          string `json:"desc"`
		CreatedTime   scalar `json:"created_time"`
		CreatedTimeDT string `json:"created_time_dt"`
	} `json:"finding_info"`
	Metadata struct {
		EventCode string `json:"event_code"`
	} `json:"metadata"`
	Resources []struct {
		UID       string `json:"uid"`
		Name      string `json:"name"`
		Type      string `json:"type"`
		Region    string `json:"region"`
		Namespace string `json:"namespace"`
	} `json:"resources"`
	Cloud struct {
		Account struct {
			UID string `json:"uid"`
		} `json:"account"`
		Provider string `json:"provider"`
		Region   string `json:"region"`
	} `json:"cloud"`
	Remediation struct {
		Desc       string   `json:"desc"`
		References []string `json:"references"`
	} `json:"remediation"`
	Unmapped struct {
		Compliance map[string]stringList `json:"compliance"`
	} `json:"unmapped"`
}

// importProwler reads Prowler's OCSF JSON: a top-level array decoded one finding at a time.
func importProwler(p *run, in *lineReader) error {
	s := newJSONStream(in)
	t, err := s.start("a JSON array of findings (prowler … -M json-ocsf)")
	if err != nil {
		return err
	}
	if !isDelim(t, '[') {
		return &Error{Line: s.in.lineAt(s.dec.InputOffset() - 1),
			Msg: "a Prowler OCSF file is a JSON array of findings (prowler … -M json-ocsf), not " + tokenKind(t)}
	}
	for s.dec.More() {
		line := s.begin()
		var o ocsfFinding
		if err := s.decode(&o); err != nil {
			return err
		}
		f, err := o.finding(line)
		if err != nil {
			return err
		}
		if err := p.put(line, f.resource()); err != nil {
			return err
		}
	}
	if err := s.closeDelim(); err != nil {
		return err
	}
	return s.end()
}

// finding maps one OCSF finding. line is where the finding's object starts.
func (o *ocsfFinding) finding(line int) (*finding, error) {
	f := &finding{source: "prowler"}
	f.checkID = clean(o.Metadata.EventCode)
	if f.checkID == "" {
		return nil, errorf(line, "metadata.event_code", "is required: it names the Prowler check (is this prowler -M json-ocsf output?)")
	}
	switch code := clean(o.StatusCode); strings.ToUpper(code) {
	case "PASS":
		f.status = "pass"
	case "FAIL":
		f.status = "fail"
	case "MANUAL":
		f.status = "info"
	case "":
		return nil, errorf(line, "status_code", "is required: PASS, FAIL or MANUAL")
	default:
		return nil, errorf(line, "status_code", "must be PASS, FAIL or MANUAL, not %q", code)
	}
	f.message = firstNonEmpty(o.StatusDetail, o.Message)
	// Prowler marks findings its mutelist covers as Suppressed (status_id 3): they count as
	// accepted, so they are skipped rather than failed, keeping the original outcome visible.
	if strings.EqualFold(clean(o.Status), "suppressed") || o.StatusID == 3 {
		f.message = strings.TrimSpace("Muted in Prowler (" + strings.ToUpper(clean(o.StatusCode)) + "). " + f.message)
		f.status = "skip"
	}
	sev, ok := severity(o.Severity)
	switch {
	case ok:
	case clean(o.Severity) != "":
		return nil, errorf(line, "severity", "must be Critical, High, Medium, Low, Informational or Unknown, not %q", clean(o.Severity))
	default:
		sev = ocsfSeverity(o.SeverityID)
	}
	f.severity = sev
	f.title = firstNonEmpty(o.FindingInfo.Title, f.checkID)
	if len(o.Resources) > 0 {
		res := o.Resources[0]
		f.resourceID = clean(res.UID)
		f.resourceType = clean(res.Type)
		f.region = firstNonEmpty(res.Region, res.Namespace)
		if n := clean(res.Name); n != "" && n != f.title {
			f.name = f.title + " (" + n + ")"
		}
	}
	if f.resourceID == "" {
		f.resourceID = clean(o.FindingInfo.UID)
	}
	f.region = firstNonEmpty(f.region, o.Cloud.Region)
	f.account = clean(o.Cloud.Account.UID)
	f.remediation = remediation(o.Remediation.Desc, o.Remediation.References)
	f.compliance = compliance(o.Unmapped.Compliance)
	t, field, err := ocsfTime(o)
	if err != nil {
		return nil, errorf(line, field, "%v", err)
	}
	f.observed = t
	return f, nil
}

// ocsfSeverity maps an OCSF severity_id.
func ocsfSeverity(id int) string {
	switch id {
	case 2:
		return "low"
	case 3:
		return "medium"
	case 4:
		return "high"
	case 5, 6:
		return "critical"
	}
	return "info"
}

// ocsfTime returns the finding's time: time_dt, else time, else the finding_info creation
// time. It names the field at fault when none is usable.
func ocsfTime(o *ocsfFinding) (time.Time, string, error) {
	if s := clean(o.TimeDT); s != "" {
		t, err := parseISOTime(s)
		return t, "time_dt", err
	}
	if o.Time != "" {
		t, err := epochTime(o.Time)
		return t, "time", err
	}
	if s := clean(o.FindingInfo.CreatedTimeDT); s != "" {
		t, err := parseISOTime(s)
		return t, "finding_info.created_time_dt", err
	}
	if o.FindingInfo.CreatedTime != "" {
		t, err := epochTime(o.FindingInfo.CreatedTime)
		return t, "finding_info.created_time", err
	}
	return time.Time{}, "time_dt", errors.New("is required (or time): when Prowler produced the finding")
}

// isoLayouts are the timestamp forms Python and Go tools write: RFC 3339, and ISO 8601
// without a zone (which Prowler writes for local naive times), read as UTC.
var isoLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999"}

func parseISOTime(s string) (time.Time, error) {
	for _, l := range isoLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("must be an ISO 8601 timestamp such as 2026-03-31T12:00:00Z, not " + strconv.Quote(s))
}

// epochTime reads Unix time in seconds, or milliseconds as the OCSF schema prescribes (a
// value too large to be seconds after the year 5000 is taken as milliseconds).
func epochTime(n scalar) (time.Time, error) {
	f, err := strconv.ParseFloat(clean(string(n)), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1e15 {
		return time.Time{}, errors.New("must be a Unix time in seconds or milliseconds, not " + strconv.Quote(string(n)))
	}
	if f > 1e11 {
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

// remediation joins advice and its references into one text.
func remediation(desc string, refs []string) string {
	text := clean(desc)
	var links []string
	for _, r := range refs {
		if r = clean(r); r != "" {
			links = append(links, r)
		}
	}
	if len(links) > 0 {
		if text != "" && !strings.ContainsAny(text[len(text)-1:], ".!?") {
			text += "."
		}
		if text != "" {
			text += " "
		}
		text += "See " + strings.Join(links, ", ") + "."
	}
	return text
}

// compliance flattens {framework: [requirement…]} into sorted "FRAMEWORK:REQUIREMENT".
func compliance(m map[string]stringList) []string {
	var out []string
	for fw, reqs := range m {
		fw = clean(fw)
		if fw == "" {
			continue
		}
		for _, r := range reqs {
			if r = clean(r); r != "" {
				out = append(out, fw+":"+r)
			}
		}
	}
	sort.Strings(out)
	return out
}
