package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// inventoryPageSize is how many resources a page of the inventory lists.
const inventoryPageSize = 50

// inventoryQuery is the inventory's filter as the GET form submits it, with the page's
// cursor: the type and ID of the last resource of the previous page.
type inventoryQuery struct {
	Type      string
	Source    string
	Q         string
	Gone      bool
	AfterType string
	After     int64
}

// values is the filter as query parameters, without the cursor.
func (q inventoryQuery) values() url.Values {
	v := url.Values{}
	for k, x := range map[string]string{"type": q.Type, "source": q.Source, "q": q.Q} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if q.Gone {
		v.Set("gone", "1")
	}
	return v
}

// Active reports whether any filter is set.
func (q inventoryQuery) Active() bool { return len(q.values()) > 0 }

// With returns the inventory's address with the filter and one parameter changed.
func (q inventoryQuery) With(key, value string) string {
	v := q.values()
	if value == "" {
		v.Del(key)
	} else {
		v.Set(key, value)
	}
	if len(v) == 0 {
		return "/inventory"
	}
	return "/inventory?" + v.Encode()
}

// First is the first page of the listing.
func (q inventoryQuery) First() string { return q.With("", "") }

// filter is the store's filter for the query.
func (q inventoryQuery) filter() domain.ResourceFilter {
	return domain.ResourceFilter{Type: q.Type, Source: q.Source, Query: q.Q, IncludeGone: q.Gone, After: q.After}
}

// parseInventoryQuery reads the filter from the URL, naming the parameter at fault.
func parseInventoryQuery(v url.Values) (inventoryQuery, error) {
	q := inventoryQuery{
		Type: strings.TrimSpace(v.Get("type")), Source: strings.TrimSpace(v.Get("source")), Q: strings.TrimSpace(v.Get("q")),
		Gone: v.Get("gone") == "1", AfterType: v.Get("after_type"),
	}
	if len(q.Q) > 200 {
		return q, domain.Invalid("q", "must be at most 200 characters")
	}
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return q, domain.Invalid("after", "must be a resource ID")
		}
		q.After = n
	}
	if (q.AfterType == "") != (q.After == 0) {
		return q, domain.Invalid("after", "must come with after_type, the type of the last resource of the previous page")
	}
	return q, nil
}

// typeRow is a resource type with its count, in the inventory's side list.
type typeRow struct {
	Type    string
	Count   int
	Current bool
	Link    string
}

// sourceRow is a source to filter by.
type sourceRow struct {
	Name  string
	Count int
}

// inventoryView is the data of the inventory page.
type inventoryView struct {
	Query     inventoryQuery
	Resources []domain.Resource
	Types     []typeRow
	Sources   []sourceRow
	Total     int // resources matching the filter, of every type
	Matching  int // resources matching the filter and the type
	Next      string
	Now       time.Time
}

// schemaAnchor is a type's anchor on the reference page: custom types share one.
func schemaAnchor(typ string) string {
	if monitor.IsCustomType(typ) {
		typ = "custom.NAME"
	}
	return "/inventory/schema#type-" + typ
}

// SchemaLink is a type's entry in the resource type reference.
func (inventoryView) SchemaLink(typ string) string { return schemaAnchor(typ) }

func (s *Server) inventoryPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.connStore()
	if err != nil {
		return err
	}
	q, err := parseInventoryQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	f := q.filter()
	f.Limit = inventoryPageSize
	rs, err := st.BrowseResources(ctx, p.Org.ID, f, q.AfterType)
	if err != nil {
		return err
	}
	counts, err := st.ResourceCounts(ctx, p.Org.ID, f)
	if err != nil {
		return err
	}
	sources, err := st.ResourceSources(ctx, p.Org.ID, q.Gone)
	if err != nil {
		return err
	}
	v := inventoryView{Query: q, Resources: rs, Now: s.now()}
	for _, c := range counts {
		v.Total += c.Count
		if q.Type == "" || q.Type == c.Type {
			v.Matching += c.Count
		}
		v.Types = append(v.Types, typeRow{Type: c.Type, Count: c.Count, Current: c.Type == q.Type, Link: q.With("type", c.Type)})
	}
	for name, n := range sources {
		v.Sources = append(v.Sources, sourceRow{Name: name, Count: n})
	}
	if q.Source != "" && sources[q.Source] == 0 {
		v.Sources = append(v.Sources, sourceRow{Name: q.Source})
	}
	slices.SortFunc(v.Sources, func(a, b sourceRow) int { return strings.Compare(a.Name, b.Name) })
	if len(rs) == inventoryPageSize {
		last := rs[len(rs)-1]
		next := q.values()
		next.Set("after_type", last.Type)
		next.Set("after", strconv.FormatInt(last.ID, 10))
		v.Next = "/inventory?" + next.Encode()
	}
	pg := s.newPage(w, r, p, "Inventory", "inventory")
	pg.Data = v
	return s.render(w, http.StatusOK, "inventory", pg)
}

// loadResource reads the resource named in the path, in the principal's organization.
func (s *Server) loadResource(r *http.Request, p *principal) (*domain.Resource, error) {
	st, err := s.connStore()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id", "resource")
	if err != nil {
		return nil, err
	}
	return st.Resource(r.Context(), p.Org.ID, id)
}

// attrChange is one attribute that differs between two versions of a resource.
type attrChange struct {
	Path string `json:"path"`
	// From and To are the values as compact JSON; From is empty for an added attribute
	// and To for a removed one.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// maxChanges bounds the changes listed between two versions; maxChangeValue the length
// of a value shown.
const (
	maxChanges     = 50
	maxChangeValue = 200
)

// diffVersions lists what changed from one version of a resource to the next: its name,
// then every attribute whose value differs, by path such as "access_keys[0].status".
func diffVersions(old, cur domain.ResourceVersion) ([]attrChange, bool) {
	var out []attrChange
	if old.Name != cur.Name {
		out = append(out, attrChange{Path: "name", From: jsonText(old.Name), To: jsonText(cur.Name)})
	}
	var a, b any
	if json.Unmarshal(old.Attributes, &a) != nil || json.Unmarshal(cur.Attributes, &b) != nil {
		return out, false
	}
	more := diffJSON("", a, b, &out)
	return out, more
}

// diffJSON appends the differences between a and b under path, stopping at maxChanges; it
// reports whether it stopped early.
func diffJSON(path string, a, b any, out *[]attrChange) bool {
	if len(*out) >= maxChanges {
		return true
	}
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			keys := make([]string, 0, len(av)+len(bv))
			for k := range av {
				keys = append(keys, k)
			}
			for k := range bv {
				if _, ok := av[k]; !ok {
					keys = append(keys, k)
				}
			}
			slices.Sort(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				x, inA := av[k]
				y, inB := bv[k]
				switch {
				case !inA:
					*out = append(*out, attrChange{Path: p, To: jsonText(y)})
				case !inB:
					*out = append(*out, attrChange{Path: p, From: jsonText(x)})
				default:
					if diffJSON(p, x, y, out) {
						return true
					}
				}
				if len(*out) >= maxChanges {
					return true
				}
			}
			return false
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				if diffJSON(path+"["+strconv.Itoa(i)+"]", av[i], bv[i], out) {
					return true
				}
			}
			return false
		}
	}
	if jsonText(a) != jsonText(b) {
		if path == "" {
			path = "attributes"
		}
		*out = append(*out, attrChange{Path: path, From: jsonText(a), To: jsonText(b)})
	}
	return len(*out) >= maxChanges
}

// jsonText is a value as compact JSON, shortened for a list of changes.
func jsonText(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > maxChangeValue {
		cut := maxChangeValue
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// utf8Start reports whether b starts a UTF-8 sequence.
func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// prettyJSON indents a resource's attributes for reading.
func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Indent(&buf, raw, "", "  "); err != nil {
		return string(raw)
	}
	return buf.String()
}

// versionView is one version of a resource with what changed since the one before.
type versionView struct {
	domain.ResourceVersion
	Changes []attrChange
	More    bool // more changes than listed
	First   bool
	// RunID is the connection run that reported it; LedgerIndex the ledger entry of the
	// push or import that sent it (nil when unknown).
	RunID       *int64
	LedgerIndex *int64
}

// verdictView is a test's verdict on the resource.
type verdictView struct {
	domain.Verdict
	Title    string
	Severity string
}

// Badge is the class of the verdict's badge.
func (v verdictView) Badge() string {
	switch v.Status {
	case domain.ResultPass:
		return "state-ready"
	case domain.ResultFail:
		return "state-uncovered"
	case domain.ResultError:
		return "state-partial"
	}
	return "status-not_applicable"
}

// Label is the verdict in words.
func (v verdictView) Label() string {
	switch v.Status {
	case domain.ResultPass:
		return "Passing"
	case domain.ResultFail:
		return "Failing"
	case domain.ResultError:
		return "Error"
	case domain.ResultExcepted:
		return "Excepted"
	}
	return upperFirst(string(v.Status))
}

// resourceView is the data of a resource's page.
type resourceView struct {
	Resource   *domain.Resource
	Attributes string
	Versions   []versionView
	Verdicts   []verdictView
	Connection *domain.Connection
	SchemaLink string
	Known      bool // the type has a schema
	Now        time.Time
}

// maxVersionsShown bounds the versions a resource's page lists.
const maxVersionsShown = 50

func (s *Server) resourcePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	res, err := s.loadResource(r, p)
	if err != nil {
		return err
	}
	st, err := s.connStore()
	if err != nil {
		return err
	}
	ctx := r.Context()
	v := resourceView{Resource: res, Attributes: prettyJSON(res.Attributes), SchemaLink: schemaAnchor(res.Type), Now: s.now()}
	_, v.Known = monitor.SchemaFor(res.Type)
	if v.Versions, err = s.resourceHistory(ctx, p.Org.ID, res.ID, maxVersionsShown); err != nil {
		return err
	}
	if res.ConnectionID != nil {
		if v.Connection, err = st.Connection(ctx, p.Org.ID, *res.ConnectionID); err != nil && !domain.IsNotFound(err) {
			return err
		}
	}
	verdicts, err := st.ResourceVerdicts(ctx, p.Org.ID, res.Type, res.ExternalID, s.now())
	if err != nil {
		return err
	}
	if len(verdicts) > 0 {
		sums, err := s.cfg.Monitoring.TestSummaries(ctx, p.Org.ID, s.now())
		if err != nil {
			return err
		}
		byID := make(map[string]domain.TestSummary, len(sums))
		for _, sm := range sums {
			byID[sm.TestID] = sm
		}
		for _, vd := range verdicts {
			sm := byID[vd.TestID]
			title := sm.Title
			if title == "" {
				title = vd.TestID
			}
			v.Verdicts = append(v.Verdicts, verdictView{Verdict: vd, Title: title, Severity: sm.Severity})
		}
	}
	name := res.Name
	if name == "" {
		name = res.ExternalID
	}
	pg := s.newPage(w, r, p, name, "inventory")
	pg.Data = v
	return s.render(w, http.StatusOK, "resource", pg)
}

// resourceHistory lists a resource's versions, newest first and at most limit of them (0
// for all), each with what changed since the one before and where it came from.
func (s *Server) resourceHistory(ctx context.Context, orgID, resourceID int64, limit int) ([]versionView, error) {
	st, err := s.connStore()
	if err != nil {
		return nil, err
	}
	versions, err := st.ResourceVersions(ctx, orgID, resourceID)
	if err != nil {
		return nil, err
	}
	runs, pushes, err := st.ResourceOrigins(ctx, orgID, resourceID)
	if err != nil {
		return nil, err
	}
	n := len(versions)
	if limit > 0 {
		n = min(n, limit)
	}
	out := make([]versionView, n)
	for i, ver := range versions[:n] {
		vv := versionView{ResourceVersion: ver}
		if id, ok := runs[ver.Version]; ok {
			vv.RunID = &id
		}
		if idx, ok := pushes[ver.Version]; ok {
			vv.LedgerIndex = &idx
		}
		if i+1 < len(versions) {
			vv.Changes, vv.More = diffVersions(versions[i+1], ver)
		} else {
			vv.First = true
		}
		out[i] = vv
	}
	return out, nil
}

// schemaView is the data of the resource type reference page.
type schemaView struct {
	Reference template.HTML
}

func (s *Server) schemaPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	pg := s.newPage(w, r, p, "Resource types", "inventory")
	pg.Data = schemaView{Reference: monitor.ReferenceHTML()}
	return s.render(w, http.StatusOK, "schema", pg)
}

func (s *Server) schemaMarkdown(w http.ResponseWriter, r *http.Request, p *principal) error {
	body := monitor.ReferenceMarkdown()
	h := w.Header()
	h.Set("Content-Type", "text/markdown; charset=utf-8")
	h.Set("Content-Disposition", `attachment; filename="evident-resource-types.md"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(body))
	return nil
}
