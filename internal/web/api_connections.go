package web

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
)

// apiConnectionRun is a connection run as the API shows it.
type apiConnectionRun struct {
	ID             int64              `json:"id"`
	ConnectionID   int64              `json:"connection_id"`
	ConnectionName string             `json:"connection_name"`
	Trigger        string             `json:"trigger"`
	DueAt          time.Time          `json:"due_at"`
	StartedAt      time.Time          `json:"started_at"`
	FinishedAt     *time.Time         `json:"finished_at"`
	Status         string             `json:"status"`
	Counts         map[string]int     `json:"counts"`
	Errors         []domain.TypeError `json:"errors"`
	Message        string             `json:"message"`
	Added          int                `json:"added"`
	Changed        int                `json:"changed"`
	Gone           int                `json:"gone"`
	EvidenceID     *int64             `json:"evidence_id"`
}

func toAPIRun(r *domain.ConnectionRun) apiConnectionRun {
	counts, errs := r.Counts, r.Errors
	if counts == nil {
		counts = map[string]int{}
	}
	if errs == nil {
		errs = []domain.TypeError{}
	}
	return apiConnectionRun{
		ID: r.ID, ConnectionID: r.ConnectionID, ConnectionName: r.ConnectionName, Trigger: string(r.Trigger),
		DueAt: r.DueAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Status: string(r.Status),
		Counts: counts, Errors: errs, Message: r.Message, Added: r.Added, Changed: r.Changed, Gone: r.Gone,
		EvidenceID: r.EvidenceID,
	}
}

// apiCredentials says what is known of a connection's credentials: never their values.
type apiCredentials struct {
	Set bool `json:"set"`
	// Fields names the credentials stored, such as ["api_token"].
	Fields []string `json:"fields"`
	// UpdatedAt is when the sealed configuration was last written.
	UpdatedAt time.Time `json:"updated_at"`
	// Error says why the configuration cannot be opened, when it cannot.
	Error string `json:"error,omitempty"`
}

// apiConnection is a connection as the API shows it: its settings, and of its credentials
// only which are set and when.
type apiConnection struct {
	ID              int64             `json:"id"`
	Kind            string            `json:"kind"`
	Name            string            `json:"name"`
	IntervalSeconds int64             `json:"interval_seconds"`
	Enabled         bool              `json:"enabled"`
	NextRunAt       time.Time         `json:"next_run_at"`
	CreatedAt       time.Time         `json:"created_at"`
	UpdatedAt       time.Time         `json:"updated_at"`
	Settings        map[string]any    `json:"settings"`
	Credentials     apiCredentials    `json:"credentials"`
	Resources       int               `json:"resources"`
	LastRun         *apiConnectionRun `json:"last_run"`
}

// toAPIConnection describes a connection, opening its configuration to show its settings.
func (s *Server) toAPIConnection(ctx context.Context, row connectionRow) (apiConnection, error) {
	c := &row.Connection
	out := apiConnection{
		ID: c.ID, Kind: c.Kind, Name: c.Name, IntervalSeconds: int64(c.Interval / time.Second), Enabled: c.Enabled,
		NextRunAt: c.NextRunAt, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Settings: map[string]any{},
		Credentials: apiCredentials{Fields: []string{}}, Resources: row.Resources,
	}
	if c.LastRun != nil {
		r := toAPIRun(c.LastRun)
		out.LastRun = &r
	}
	cs, err := s.configStateOf(ctx, c)
	if err != nil {
		return out, err
	}
	out.Credentials.UpdatedAt = cs.SetAt
	if !cs.Readable {
		out.Credentials.Set = true
		out.Credentials.Error = "the configuration cannot be opened with this server's credential key; send the credentials again"
		return out, nil
	}
	out.Settings = cs.Settings
	if cs.Credentials != nil {
		out.Credentials.Fields = cs.Credentials
	}
	out.Credentials.Set = len(cs.Credentials) > 0
	return out, nil
}

func (s *Server) apiConnections(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	rows, err := s.connectionRows(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	out := make([]apiConnection, len(rows))
	for i, row := range rows {
		if out[i], err = s.toAPIConnection(ctx, row); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"connections": out, "kinds": s.apiKinds()})
	return nil
}

// apiKind describes a connector kind this server runs, for clients building a form.
type apiKind struct {
	Kind        string         `json:"kind"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	Settings    []apiKindField `json:"settings"`
	Credentials []apiKindField `json:"credentials"`
	Types       []string       `json:"types"`
}

type apiKindField struct {
	Key      string `json:"key"`
	Label    string `json:"label"`
	Help     string `json:"help"`
	Type     string `json:"type"` // string, list or integer
	Required bool   `json:"required"`
}

func (s *Server) apiKinds() []apiKind {
	out := []apiKind{}
	for _, k := range s.availableKinds() {
		a := apiKind{Kind: k.Kind, Title: k.Title, Description: k.Description, Settings: []apiKindField{}, Credentials: []apiKindField{}, Types: k.Types()}
		if a.Types == nil {
			a.Types = []string{}
		}
		if k.raw() {
			out = append(out, a)
			continue
		}
		for _, f := range k.Fields {
			typ := "string"
			switch f.Kind {
			case fieldList:
				typ = "list"
			case fieldNumber:
				typ = "integer"
			}
			af := apiKindField{Key: f.Key, Label: f.Label, Help: f.Help, Type: typ, Required: f.Required}
			if f.Secret {
				a.Credentials = append(a.Credentials, af)
			} else {
				a.Settings = append(a.Settings, af)
			}
		}
		out = append(out, a)
	}
	return out
}

// writeConnection answers with a connection as it is now.
func (s *Server) writeConnection(w http.ResponseWriter, r *http.Request, p *principal, id int64, status int) error {
	st, err := s.connStore()
	if err != nil {
		return err
	}
	ctx := r.Context()
	c, err := st.Connection(ctx, p.Org.ID, id)
	if err != nil {
		return err
	}
	row, err := s.connectionRowOf(ctx, c)
	if err != nil {
		return err
	}
	out, err := s.toAPIConnection(ctx, row)
	if err != nil {
		return err
	}
	writeJSON(w, status, out)
	return nil
}

func (s *Server) apiConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	return s.writeConnection(w, r, p, c.ID, http.StatusOK)
}

// apiConnectionRequest is the body of POST /connections and PATCH /connections/{id}.
type apiConnectionRequest struct {
	Kind            string                     `json:"kind"`
	Name            *string                    `json:"name"`
	IntervalSeconds *int64                     `json:"interval_seconds"`
	Enabled         *bool                      `json:"enabled"`
	Settings        map[string]json.RawMessage `json:"settings"`
	Credentials     map[string]json.RawMessage `json:"credentials"`
}

// apiConnectionError names the field of a connection request at fault: the schedule is
// interval_seconds, and a configuration key is under settings or credentials as the kind
// has it.
func apiConnectionError(k connectionKind, err error) error {
	if domain.KindOf(err) != domain.KindInvalid {
		return err
	}
	field, msg := domain.FieldOf(err), errMessage(err)
	switch {
	case field == "interval":
		return domain.Invalid("interval_seconds", "%s", msg)
	case field == "config":
		return domain.Invalid("credentials", "%s", msg)
	case strings.HasPrefix(field, "config."):
		key := strings.TrimPrefix(field, "config.")
		top := key
		if i := strings.IndexAny(top, ".["); i >= 0 {
			top = top[:i]
		}
		group := "credentials"
		if f, ok := k.field(top); ok && !f.Secret {
			group = "settings"
		}
		return domain.Invalid(group+"."+key, "%s", msg)
	}
	return err
}

func (s *Server) apiCreateConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := s.collector()
	if err != nil {
		return err
	}
	var req apiConnectionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Kind == "" {
		return domain.Invalid("kind", "is required: one of %s", strings.Join(svc.Kinds(), ", "))
	}
	k := kindOf(req.Kind)
	in := collect.ConnectionInput{Kind: req.Kind}
	if req.Name != nil {
		in.Name = *req.Name
	}
	if req.IntervalSeconds != nil {
		if in.Interval, err = intervalSeconds(*req.IntervalSeconds); err != nil {
			return apiConnectionError(k, err)
		}
	}
	if req.Enabled != nil {
		in.Disabled = !*req.Enabled
	}
	cfg, _, err := applyConfigPatch(k, nil, req.Settings, req.Credentials)
	if err != nil {
		return err
	}
	if in.Config, err = json.Marshal(cfg); err != nil {
		return err
	}
	defer clear(in.Config)
	c, err := svc.CreateConnection(r.Context(), p.Actor(), p.Org.ID, in)
	if err != nil {
		return apiConnectionError(k, err)
	}
	w.Header().Set("Location", apiPrefix+"/connections/"+strconv.FormatInt(c.ID, 10))
	return s.writeConnection(w, r, p, c.ID, http.StatusCreated)
}

func (s *Server) apiUpdateConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := s.collector()
	if err != nil {
		return err
	}
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	var req apiConnectionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Kind != "" && req.Kind != c.Kind {
		return domain.Invalid("kind", "cannot change: delete the connection and add one of the other kind")
	}
	k := kindOf(c.Kind)
	up := collect.ConnectionUpdate{Name: req.Name, Enabled: req.Enabled}
	if req.IntervalSeconds != nil {
		iv, err := intervalSeconds(*req.IntervalSeconds)
		if err != nil {
			return apiConnectionError(k, err)
		}
		up.Interval = &iv
	}
	ctx := r.Context()
	if len(req.Settings) > 0 || len(req.Credentials) > 0 {
		current, err := s.openConfig(ctx, c)
		if err != nil {
			if domain.KindOf(err) == domain.KindNotFound {
				return err
			}
			// Sealed with another key: the request must carry the whole configuration.
			current = configMap{}
		}
		cfg, changed, err := applyConfigPatch(k, current, req.Settings, req.Credentials)
		if err != nil {
			return err
		}
		if changed {
			if up.Config, err = json.Marshal(cfg); err != nil {
				return err
			}
			defer clear(up.Config)
		}
	}
	if _, err := svc.UpdateConnection(ctx, p.Actor(), p.Org.ID, c.ID, up); err != nil {
		return apiConnectionError(k, err)
	}
	return s.writeConnection(w, r, p, c.ID, http.StatusOK)
}

func (s *Server) apiDeleteConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	st, err := s.connStore()
	if err != nil {
		return err
	}
	if err := st.DeleteConnection(r.Context(), p.Actor(), p.Org.ID, c.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) apiRunConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	run, err := s.startRun(r.Context(), p.Org.ID, c.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/connection-runs/"+strconv.FormatInt(run.ID, 10))
	status := http.StatusAccepted
	if run.Status != domain.RunRunning {
		status = http.StatusOK
	}
	writeJSON(w, status, toAPIRun(run))
	return nil
}

func (s *Server) apiConnectionRuns(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	st, err := s.connStore()
	if err != nil {
		return err
	}
	f := domain.RunFilter{ConnectionID: c.ID}
	if f.Before, err = beforeID(r.URL.Query().Get("before")); err != nil {
		return err
	}
	if f.Limit, err = apiLimit(r); err != nil {
		return err
	}
	runs, err := st.ConnectionRuns(r.Context(), p.Org.ID, f)
	if err != nil {
		return err
	}
	out := make([]apiConnectionRun, len(runs))
	for i := range runs {
		out[i] = toAPIRun(&runs[i])
	}
	var next *int64
	if n := len(runs); n > 0 && n == f.Limit {
		id := runs[n-1].ID
		next = &id
	}
	writeJSON(w, http.StatusOK, map[string]any{"runs": out, "next_before": next})
	return nil
}

func (s *Server) apiConnectionRun(w http.ResponseWriter, r *http.Request, p *principal) error {
	st, err := s.connStore()
	if err != nil {
		return err
	}
	id, err := pathID(r, "id", "connection run")
	if err != nil {
		return err
	}
	run, err := st.ConnectionRun(r.Context(), p.Org.ID, id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIRun(run))
	return nil
}

// apiImportResult is the answer to POST /imports.
type apiImportResult struct {
	Kind           string         `json:"kind"`
	Source         string         `json:"source"`
	Resources      int            `json:"resources"`
	Types          map[string]int `json:"types"`
	Statuses       map[string]int `json:"statuses"`
	IgnoredColumns []string       `json:"ignored_columns"`
	Bytes          int64          `json:"bytes"`
	Added          int            `json:"added"`
	Changed        int            `json:"changed"`
	Unchanged      int            `json:"unchanged"`
	Gone           int            `json:"gone"`
	TestRun        *apiTestRun    `json:"test_run"`
}

// apiImport imports a file sent as multipart/form-data (fields kind and source, then the
// file) or as the raw body with kind and source in the query.
func (s *Server) apiImport(w http.ResponseWriter, r *http.Request, p *principal) error {
	var (
		res *importResult
		err error
	)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		up, rerr := s.startUpload(w, r)
		if err = rerr; err == nil {
			res, err = s.importFile(r.Context(), p, up.Values.Get("kind"), up.Values.Get("source"), up.File)
		}
		up.drain()
	} else {
		q := r.URL.Query()
		limit := s.maxUpload()
		body := &limitedBody{s: s, r: http.MaxBytesReader(w, r.Body, limit+1), limit: limit}
		res, err = s.importFile(r.Context(), p, q.Get("kind"), q.Get("source"), body)
		if err != nil {
			_, _ = io.Copy(io.Discard, body)
		}
	}
	if err != nil {
		return err
	}
	out := apiImportResult{
		Kind: res.Kind, Source: res.Source, Resources: res.Summary.Resources, Types: res.Summary.Types,
		Statuses: res.Summary.Statuses, IgnoredColumns: res.Summary.Ignored, Bytes: res.Summary.Bytes,
		Added: res.Inventory.Added, Changed: res.Inventory.Changed, Unchanged: res.Inventory.Unchanged, Gone: res.Inventory.Gone,
	}
	if out.Types == nil {
		out.Types = map[string]int{}
	}
	if out.Statuses == nil {
		out.Statuses = map[string]int{}
	}
	if out.IgnoredColumns == nil {
		out.IgnoredColumns = []string{}
	}
	if res.TestRun != nil {
		run := toAPITestRun(res.TestRun)
		out.TestRun = &run
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
