package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// apiMonitoringRoutes are the routes of continuous monitoring: the resource inventory,
// resources pushed by clients without a connector, and the tests.
func (s *Server) apiMonitoringRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/resources", accessRead, s.apiResources},
		{"POST", "/resources", accessEdit, s.apiPushResources},
		{"GET", "/resources/{id}", accessRead, s.apiResource},
		{"GET", "/resources/{id}/versions", accessRead, s.apiResourceVersions},
		{"GET", "/resource-types", accessRead, s.apiResourceTypes},
		{"GET", "/tests", accessRead, s.apiTests},
	}
}

// apiResource is a resource of the inventory as the API shows it.
type apiResource struct {
	ID     int64  `json:"id"`
	Source string `json:"source"`
	// ConnectionID is the connection that reports it; null for pushed and imported ones.
	ConnectionID *int64          `json:"connection_id"`
	Type         string          `json:"type"`
	ExternalID   string          `json:"external_id"`
	Name         string          `json:"name"`
	Attributes   json.RawMessage `json:"attributes"`
	Version      int             `json:"version"`
	FirstSeen    time.Time       `json:"first_seen"`
	LastSeen     time.Time       `json:"last_seen"`
	ChangedAt    time.Time       `json:"changed_at"`
	GoneAt       *time.Time      `json:"gone_at"`
}

func toAPIResource(r domain.Resource) apiResource {
	attrs := r.Attributes
	if len(attrs) == 0 {
		attrs = json.RawMessage("{}")
	}
	return apiResource{ID: r.ID, Source: r.Source, ConnectionID: r.ConnectionID, Type: r.Type, ExternalID: r.ExternalID, Name: r.Name, Attributes: attrs,
		Version: r.Version, FirstSeen: r.FirstSeen, LastSeen: r.LastSeen, ChangedAt: r.ChangedAt, GoneAt: r.GoneAt}
}

// errNoMonitoring is a server built without continuous monitoring: a configuration error.
var errNoMonitoring = errors.New("monitoring: no collect service or monitoring reader configured")

// monitoring returns the inventory reader, or an error when the server has none.
func (s *Server) monitoring() (MonitoringReader, error) {
	if s.cfg.Monitoring == nil {
		return nil, errNoMonitoring
	}
	return s.cfg.Monitoring, nil
}

func (s *Server) apiResources(w http.ResponseWriter, r *http.Request, p *principal) error {
	mon, err := s.monitoring()
	if err != nil {
		return err
	}
	q := r.URL.Query()
	f := domain.ResourceFilter{Type: q.Get("type"), Source: q.Get("source"), Query: q.Get("q")}
	if f.IncludeGone, err = queryBool(r, "include_gone"); err != nil {
		return err
	}
	if v := q.Get("after"); v != "" {
		if f.After, err = strconv.ParseInt(v, 10, 64); err != nil || f.After < 0 {
			return domain.Invalid("after", "must be a resource ID")
		}
	}
	if f.Limit, err = apiLimit(r); err != nil {
		return err
	}
	rs, err := mon.Resources(r.Context(), p.Org.ID, f)
	if err != nil {
		return err
	}
	out := make([]apiResource, len(rs))
	for i, res := range rs {
		out[i] = toAPIResource(res)
	}
	// Pages follow each other by ID, which is the order of a listing of one type or of
	// one that starts after an ID.
	var next *int64
	if n := len(rs); n > 0 && n == f.Limit && (f.Type != "" || f.After > 0) {
		id := rs[n-1].ID
		next = &id
	}
	writeJSON(w, http.StatusOK, map[string]any{"resources": out, "next_after": next})
	return nil
}

// apiPushRequest is the body of POST /resources.
type apiPushRequest struct {
	Source    string             `json:"source"`
	Replace   bool               `json:"replace"`
	Resources []monitor.Resource `json:"resources"`
}

// apiTestRun is a test run's counts.
type apiTestRun struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Tests    int       `json:"tests"`
	Passing  int       `json:"passing"`
	Failing  int       `json:"failing"`
	Erroring int       `json:"erroring"`
	NoData   int       `json:"no_data"`
}

func (s *Server) apiPushResources(w http.ResponseWriter, r *http.Request, p *principal) error {
	if s.cfg.Collect == nil {
		return errNoMonitoring
	}
	in, err := s.decodePush(w, r)
	if err != nil {
		return err
	}
	for i := range in.Resources {
		in.Resources[i].Connection = in.Source
	}
	sum, run, err := s.pushResources(r.Context(), p, in.Source, in.Resources, in.Replace)
	if err != nil {
		return err
	}
	out := map[string]any{
		"added": sum.Added, "changed": sum.Changed, "unchanged": sum.Unchanged, "gone": sum.Gone, "test_run": nil,
	}
	if run != nil {
		out["test_run"] = toAPITestRun(run)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// pushResources stores resources sent through the API or imported under their source,
// then runs the tests. It fails only when nothing was stored: when the tests cannot run
// after, the failure is logged, the run is nil, and the next run judges the resources.
func (s *Server) pushResources(ctx context.Context, p *principal, source string, rs []monitor.Resource, replace bool) (domain.UpsertSummary, *domain.TestRun, error) {
	sum, run, err := s.cfg.Collect.PushResources(ctx, p.Actor(), p.Org.ID, source, rs, replace)
	if notRun := (*collect.TestsNotRunError)(nil); errors.As(err, &notRun) {
		s.log.Error("run tests after storing resources", "org_id", p.Org.ID, "source", source, "err", notRun.Err)
		return sum, nil, nil
	}
	return sum, run, err
}

// apiTest is a test as the API lists it: its definition, whether it is enabled, and its
// current outcome.
type apiTest struct {
	ID          string   `json:"id"`
	Title       string   `json:"title"`
	Type        string   `json:"type"`
	Severity    string   `json:"severity"`
	Controls    []string `json:"controls"`
	Remediation string   `json:"remediation"`
	Custom      bool     `json:"custom"`
	Enabled     bool     `json:"enabled"`
	// Error says why one of the organization's own tests no longer compiles.
	Error string `json:"error,omitempty"`
	// State is the test's state as the pages show it: failing, excepted, error, passing,
	// no_resources, not_run or disabled.
	State     string     `json:"state"`
	Status    *string    `json:"status"`
	Passed    int        `json:"passed"`
	Failed    int        `json:"failed"`
	Errors    int        `json:"errors"`
	Excepted  int        `json:"excepted"`
	LastRunAt *time.Time `json:"last_run_at"`
}

func (s *Server) apiTests(w http.ResponseWriter, r *http.Request, p *principal) error {
	tests, err := s.loadTests(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	out := make([]apiTest, len(tests))
	for i := range tests {
		out[i] = toAPITest(&tests[i])
	}
	writeJSON(w, http.StatusOK, map[string]any{"tests": out})
	return nil
}

// decodePush reads the body of POST /resources as a stream: the object's fields one by
// one, and the resources one at a time, so that a push as large as the upload limit is
// never held as text beside its resources. Its errors are KindInvalid naming the field,
// such as "resources[3].attributes".
func (s *Server) decodePush(w http.ResponseWriter, r *http.Request) (*apiPushRequest, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, domain.Invalid("body", "send JSON with Content-Type: application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.maxUpload()))
	dec.DisallowUnknownFields()
	if err := expectDelim(dec, '{', "body", "must be a JSON object"); err != nil {
		return nil, err
	}
	in := &apiPushRequest{}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(err)
		}
		key, _ := tok.(string)
		if seen[key] {
			return nil, domain.Invalid(key, "is given twice")
		}
		seen[key] = true
		switch key {
		case "source":
			if err := dec.Decode(&in.Source); err != nil {
				return nil, fieldJSONError("source", err)
			}
		case "replace":
			if err := dec.Decode(&in.Replace); err != nil {
				return nil, fieldJSONError("replace", err)
			}
		case "resources":
			if in.Resources, err = decodeResources(dec); err != nil {
				return nil, err
			}
		default:
			return nil, domain.Invalid(key, "is not a known field")
		}
	}
	if err := expectDelim(dec, '}', "body", "must be one JSON object"); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, domain.Invalid("body", "must hold exactly one JSON object")
	}
	if in.Resources == nil {
		return nil, domain.Invalid("resources", "is required: an array of resources, empty to send none")
	}
	return in, nil
}

// decodeResources reads the array of resources one element at a time; null is no array.
func decodeResources(dec *json.Decoder) ([]monitor.Resource, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fieldJSONError("resources", err)
	}
	if tok == nil {
		return nil, nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		return nil, domain.Invalid("resources", "must be an array")
	}
	out := []monitor.Resource{}
	for i := 0; dec.More(); i++ {
		var res monitor.Resource
		if err := dec.Decode(&res); err != nil {
			return nil, fieldJSONError(fmt.Sprintf("resources[%d]", i), err)
		}
		out = append(out, res)
	}
	if err := expectDelim(dec, ']', "resources", "must be an array"); err != nil {
		return nil, err
	}
	return out, nil
}

// expectDelim reads the next token, which must be the delimiter d.
func expectDelim(dec *json.Decoder, d json.Delim, field, msg string) error {
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err)
	}
	if got, ok := tok.(json.Delim); !ok || got != d {
		return domain.Invalid(field, "%s", msg)
	}
	return nil
}

// fieldJSONError is a decoding error of the value at path, naming the field within it.
func fieldJSONError(path string, err error) error {
	err = jsonError(err)
	field := domain.FieldOf(err)
	switch {
	case field == "body" && strings.HasPrefix(errMessage(err), "must be at most"):
		return err
	case field == "body" || field == "":
		return domain.Invalid(path, "%s", errMessage(err))
	}
	return domain.Invalid(path+"."+field, "%s", errMessage(err))
}

// apiVerdict is a test's current verdict on a resource.
type apiVerdict struct {
	TestID  string    `json:"test_id"`
	Status  string    `json:"status"`
	Message string    `json:"message"`
	Since   time.Time `json:"since"`
	// ExceptionID is the exception that covers a failure, when the status is excepted.
	ExceptionID *int64 `json:"exception_id"`
}

// apiResourceDetail is one resource with the tests' current verdicts on it.
type apiResourceDetail struct {
	apiResource
	Verdicts []apiVerdict `json:"verdicts"`
}

func (s *Server) apiResource(w http.ResponseWriter, r *http.Request, p *principal) error {
	res, err := s.loadResource(r, p)
	if err != nil {
		return err
	}
	st, err := s.connStore()
	if err != nil {
		return err
	}
	vs, err := st.ResourceVerdicts(r.Context(), p.Org.ID, res.Type, res.ExternalID, s.now())
	if err != nil {
		return err
	}
	out := apiResourceDetail{apiResource: toAPIResource(*res), Verdicts: make([]apiVerdict, len(vs))}
	for i, v := range vs {
		out.Verdicts[i] = apiVerdict{TestID: v.TestID, Status: string(v.Status), Message: v.Message, Since: v.Since, ExceptionID: v.ExceptionID}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// apiResourceVersion is one version of a resource, with what changed since the one before
// and where it came from.
type apiResourceVersion struct {
	Version    int             `json:"version"`
	Name       string          `json:"name"`
	Attributes json.RawMessage `json:"attributes"`
	Hash       string          `json:"hash"`
	ObservedAt time.Time       `json:"observed_at"`
	// Changes are empty for the first version.
	Changes []attrChange `json:"changes"`
	// ConnectionRunID is the run that reported it; LedgerIndex the ledger entry of the
	// push or import that sent it.
	ConnectionRunID *int64 `json:"connection_run_id"`
	LedgerIndex     *int64 `json:"ledger_index"`
}

func (s *Server) apiResourceVersions(w http.ResponseWriter, r *http.Request, p *principal) error {
	res, err := s.loadResource(r, p)
	if err != nil {
		return err
	}
	versions, err := s.resourceHistory(r.Context(), p.Org.ID, res.ID, 0)
	if err != nil {
		return err
	}
	out := make([]apiResourceVersion, len(versions))
	for i, v := range versions {
		attrs := v.Attributes
		if len(attrs) == 0 {
			attrs = json.RawMessage("{}")
		}
		changes := v.Changes
		if changes == nil {
			changes = []attrChange{}
		}
		out[i] = apiResourceVersion{Version: v.Version, Name: v.Name, Attributes: attrs, Hash: v.Hash, ObservedAt: v.ObservedAt,
			Changes: changes, ConnectionRunID: v.RunID, LedgerIndex: v.LedgerIndex}
	}
	writeJSON(w, http.StatusOK, map[string]any{"versions": out})
	return nil
}

func (s *Server) apiResourceTypes(w http.ResponseWriter, r *http.Request, p *principal) error {
	schemas := monitor.Schemas()
	for i := range schemas {
		if schemas[i].Fields == nil {
			schemas[i].Fields = []monitor.Field{}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"types": schemas})
	return nil
}
