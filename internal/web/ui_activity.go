package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// activityTypes are the activity page's filter choices: event type prefixes.
var activityTypes = []struct{ Prefix, Label string }{
	{"control.", "Controls"},
	{"scope.", "Scope"},
	{"system.", "Systems"},
	{"member.", "People"},
	{"token.", "API tokens"},
	{"evidence.", "Evidence"},
	{"organization.", "Organization"},
}

// activityView is the data of the activity page.
type activityView struct {
	Events []eventView
	Type   string
	Types  any
	Older  string // link to the next page, or ""
	Now    time.Time
}

// activityPageSize is how many events the activity page shows at once.
const activityPageSize = 50

func (s *Server) activityPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	f := domain.EventFilter{Type: q.Get("type"), Limit: activityPageSize}
	if f.Type != "" {
		ok := false
		for _, t := range activityTypes {
			ok = ok || t.Prefix == f.Type
		}
		if !ok {
			return domain.Invalid("type", "is not a kind of activity")
		}
	}
	if b := q.Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return domain.Invalid("before", "must be a positive number")
		}
		f.Before = n
	}
	evs, err := s.events(r, p, f)
	if err != nil {
		return err
	}
	v := activityView{Events: evs, Type: f.Type, Types: activityTypes, Now: s.now()}
	if len(evs) == activityPageSize && evs[len(evs)-1].Index > 0 {
		older := url.Values{"before": {strconv.FormatInt(evs[len(evs)-1].Index, 10)}}
		if f.Type != "" {
			older.Set("type", f.Type)
		}
		v.Older = "/activity?" + older.Encode()
	}
	pg := s.newPage(w, r, p, "Activity", "activity")
	pg.Data = v
	return s.render(w, http.StatusOK, "activity", pg)
}

// eventView is one line of an activity list.
type eventView struct {
	domain.Event
	ActorName string // the actor's name when still a member, else the recorded email
	Summary   string // what happened, to follow the actor's name
	Object    string // the subject's own name, such as a control's ref, when the data has one
	Details   []eventDetail
	Link      string
}

// eventDetail is one changed field of an event, as shown to people.
type eventDetail struct {
	Field string
	Value string
}

// events reads the organization's audit trail, newest first, ready to show.
func (s *Server) events(r *http.Request, p *principal, f domain.EventFilter) ([]eventView, error) {
	evs, err := s.cfg.Store.Events(r.Context(), p.Org.ID, f)
	if err != nil {
		return nil, err
	}
	members, err := s.cfg.Store.Members(r.Context(), p.Org.ID)
	if err != nil {
		return nil, err
	}
	names := map[int64]string{}
	for _, m := range members {
		names[m.User.ID] = m.User.Name
	}
	sort.Slice(evs, func(a, b int) bool { return evs[a].Index > evs[b].Index })
	out := make([]eventView, 0, len(evs))
	for _, e := range evs {
		out = append(out, describeEvent(e, names))
	}
	return out, nil
}

// eventSummaries say in words what each event type means.
var eventSummaries = map[string]string{
	domain.EventOrgCreated:        "created the organization",
	domain.EventControlCreated:    "created a control",
	domain.EventControlUpdated:    "updated a control",
	domain.EventControlMapped:     "mapped a control to a criterion",
	domain.EventControlUnmapped:   "unmapped a control from a criterion",
	domain.EventScopeUpdated:      "updated the scope",
	domain.EventSystemCreated:     "added a system",
	domain.EventSystemUpdated:     "updated a system",
	domain.EventSystemDeleted:     "deleted a system",
	domain.EventMemberAdded:       "added a person",
	domain.EventMemberRoleChanged: "changed a person's role",
	domain.EventMemberRemoved:     "removed a person",
	domain.EventTokenCreated:      "created an API token",
	domain.EventTokenRevoked:      "revoked an API token",

	domain.EventEvidenceAdded:      "added evidence",
	domain.EventEvidenceSuperseded: "superseded evidence",
	domain.EventEvidenceRetracted:  "retracted evidence",

	domain.EventConnectionCreated:  "added a connection",
	domain.EventConnectionUpdated:  "updated a connection",
	domain.EventConnectionDeleted:  "deleted a connection",
	domain.EventResourcesPushed:    "pushed resources to the inventory",
	domain.EventTestCreated:        "wrote a test",
	domain.EventTestUpdated:        "updated a test",
	domain.EventTestDeleted:        "deleted a test",
	domain.EventTestEnabled:        "enabled a test",
	domain.EventTestDisabled:       "disabled a test",
	domain.EventTestFailing:        "saw a test start failing",
	domain.EventTestRecovered:      "saw a test recover",
	domain.EventExceptionCreated:   "accepted a failing resource as an exception",
	domain.EventExceptionRevoked:   "revoked an exception",
	domain.EventTaskClosed:         "closed a task",
	domain.EventAlertTargetCreated: "added an alert target",
	domain.EventAlertTargetUpdated: "updated an alert target",
	domain.EventAlertTargetDeleted: "deleted an alert target",
}

// longFields are fields whose values are too long for an activity line: only the fact
// that they changed is shown.
var longFields = map[string]bool{"description": true, "evidence_expected": true, "out_of_scope": true, "justification": true}

// describeEvent turns an event into a sentence, its fields in words, and a link to its
// subject when the subject has a page. names maps user IDs to names.
func describeEvent(e domain.Event, names map[int64]string) eventView {
	v := eventView{Event: e, Summary: eventSummaries[e.Type], ActorName: e.Actor}
	if v.Summary == "" {
		v.Summary = "recorded " + e.Type
	}
	if name, ok := names[e.ActorID]; ok && e.ActorID != 0 {
		v.ActorName = name
	} else if e.ActorID == 0 {
		v.ActorName = "Evident"
	}
	kind, id, _ := strings.Cut(e.Subject, ":")
	switch kind {
	case "control":
		v.Link = "/controls/" + id
	case "system":
		if e.Type != domain.EventSystemDeleted {
			v.Link = "/scope/systems/" + id
		}
	case "scope":
		v.Link = "/scope"
	case "user":
		v.Link = "/people"
	case "token":
		v.Link = "/tokens"
	case "evidence":
		v.Link = "/evidence/" + id
	case "connection":
		if e.Type != domain.EventConnectionDeleted {
			v.Link = "/connections/" + id
		}
	case "test":
		if e.Type != domain.EventTestDeleted {
			v.Link = "/tests/" + id
		}
	case "exception":
		v.Link = "/exceptions"
	case "task":
		v.Link = "/tasks"
	case "alert_target":
		if e.Type != domain.EventAlertTargetDeleted {
			v.Link = "/alerts/targets/" + id
		}
	}
	var data map[string]any
	if len(e.Data) == 0 || json.Unmarshal(e.Data, &data) != nil {
		return v
	}
	value := func(field string, x any) string {
		if field == "owner_id" || field == "user_id" {
			if n, ok := x.(float64); ok {
				if name, ok := names[int64(n)]; ok {
					return name
				}
				return "a former member"
			}
			if x == nil {
				return "nobody"
			}
		}
		if field == "status" {
			if s, ok := x.(string); ok {
				return domain.ControlStatus(s).Label()
			}
		}
		text, _ := scalarText(x)
		if text == "" {
			return "empty"
		}
		return text
	}
	label := func(field string) string {
		if field == "owner_id" {
			return "owner"
		}
		return strings.ReplaceAll(field, "_", " ")
	}
	objectKey := ""
	for _, k := range []string{"ref", "name", "email", "slug", "title"} {
		if str, ok := data[k].(string); ok && str != "" {
			v.Object, objectKey = str, k
			break
		}
	}
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == "changes" || k == objectKey {
			continue
		}
		if _, ok := scalarText(data[k]); ok && !longFields[k] {
			v.Details = append(v.Details, eventDetail{Field: label(k), Value: value(k, data[k])})
		}
	}
	if ch, ok := data["changes"].(map[string]any); ok {
		fields := make([]string, 0, len(ch))
		for k := range ch {
			fields = append(fields, k)
		}
		sort.Strings(fields)
		for _, k := range fields {
			d, _ := ch[k].(map[string]any)
			if longFields[k] || d == nil {
				v.Details = append(v.Details, eventDetail{Field: label(k), Value: "changed"})
				continue
			}
			v.Details = append(v.Details, eventDetail{Field: label(k), Value: value(k, d["from"]) + " → " + value(k, d["to"])})
		}
	}
	return v
}

// scalarText renders a JSON value for an activity line; objects are left out and long
// text is cut.
func scalarText(x any) (string, bool) {
	var s string
	switch t := x.(type) {
	case string:
		s = t
	case float64:
		s = strconv.FormatFloat(t, 'f', -1, 64)
	case bool:
		if t {
			s = "yes"
		} else {
			s = "no"
		}
	case nil:
		s = "none"
	case []any:
		parts := make([]string, 0, len(t))
		for _, e := range t {
			if str, ok := scalarText(e); ok {
				parts = append(parts, str)
			} else if m, ok := e.(map[string]any); ok {
				// Objects that name a control, as evidence entries list them.
				if ref, ok := m["ref"].(string); ok {
					parts = append(parts, ref)
				}
			}
		}
		s = strings.Join(parts, ", ")
	default:
		return "", false
	}
	if r := []rune(s); len(r) > 120 {
		s = string(r[:119]) + "…"
	}
	return s, true
}
