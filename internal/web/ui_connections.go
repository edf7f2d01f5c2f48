package web

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/collect"
	"github.com/evidenthq/evident/internal/domain"
)

// connectionStore is the part of the store the connections pages and routes use: the
// connections and their runs (created and changed through the collect service, which
// seals their credentials), and the inventory as the pages browse it.
type connectionStore interface {
	Connections(ctx context.Context, orgID int64) ([]domain.Connection, error)
	Connection(ctx context.Context, orgID, id int64) (*domain.Connection, error)
	// ConnectionSecret returns a connection's sealed configuration; the pages open it only
	// to show its settings, never its credentials.
	ConnectionSecret(ctx context.Context, orgID, id int64) (*domain.SealedSecret, error)
	DeleteConnection(ctx context.Context, actor domain.Actor, orgID, id int64) error
	ConnectionRun(ctx context.Context, orgID, id int64) (*domain.ConnectionRun, error)
	ConnectionRuns(ctx context.Context, orgID int64, f domain.RunFilter) ([]domain.ConnectionRun, error)
	// ConnectionResourceCounts counts the current resources of each connection.
	ConnectionResourceCounts(ctx context.Context, orgID int64) (map[int64]int, error)

	Resource(ctx context.Context, orgID, id int64) (*domain.Resource, error)
	// ResourceVersions lists a resource's versions, newest first.
	ResourceVersions(ctx context.Context, orgID, id int64) ([]domain.ResourceVersion, error)
	// BrowseResources pages through resources by type and ID, after the resource of
	// afterType and f.After.
	BrowseResources(ctx context.Context, orgID int64, f domain.ResourceFilter, afterType string) ([]domain.Resource, error)
	// ResourceCounts counts the resources matching a filter per type.
	ResourceCounts(ctx context.Context, orgID int64, f domain.ResourceFilter) ([]domain.ResourceTypeCount, error)
	// ResourceSources counts resources per source.
	ResourceSources(ctx context.Context, orgID int64, includeGone bool) (map[string]int, error)
	// ResourceOrigins maps each version of a resource to the connection run or the push
	// (its ledger index) that supplied it.
	ResourceOrigins(ctx context.Context, orgID, resourceID int64) (runs, pushes map[int]int64, err error)
	// ResourceVerdicts returns the tests' current verdicts on one resource.
	ResourceVerdicts(ctx context.Context, orgID int64, typ, externalID string, now time.Time) ([]domain.Verdict, error)
}

// routesConnections registers the pages of connections, the inventory, the resource type
// reference and imports.
func (s *Server) routesConnections(mux *http.ServeMux) {
	mux.HandleFunc("GET /connections", s.signedIn(s.connectionsPage))
	mux.HandleFunc("GET /connections/new", s.editor(s.newConnectionPage))
	mux.HandleFunc("POST /connections", s.editor(s.createConnection))
	mux.HandleFunc("GET /connections/{id}", s.signedIn(s.connectionPage))
	mux.HandleFunc("POST /connections/{id}", s.editor(s.updateConnection))
	mux.HandleFunc("POST /connections/{id}/pause", s.editor(s.pauseConnection))
	mux.HandleFunc("POST /connections/{id}/resume", s.editor(s.resumeConnection))
	mux.HandleFunc("POST /connections/{id}/run", s.editor(s.runConnection))
	mux.HandleFunc("GET /connections/{id}/delete", s.editor(s.deleteConnectionPage))
	mux.HandleFunc("POST /connections/{id}/delete", s.editor(s.deleteConnection))
	mux.HandleFunc("GET /connections/{id}/runs/{run}", s.signedIn(s.connectionRunPage))

	mux.HandleFunc("GET /inventory", s.signedIn(s.inventoryPage))
	mux.HandleFunc("GET /inventory/schema", s.signedIn(s.schemaPage))
	mux.HandleFunc("GET /inventory/schema.md", s.signedIn(s.schemaMarkdown))
	mux.HandleFunc("GET /inventory/import", s.editor(s.importPage))
	mux.HandleFunc("POST /inventory/import", s.editor(s.uploadImport))
	mux.HandleFunc("GET /inventory/{id}", s.signedIn(s.resourcePage))
}

// apiConnectionRoutes are the connections and imports routes of /api/v1.
func (s *Server) apiConnectionRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/connections", accessRead, s.apiConnections},
		{"POST", "/connections", accessEdit, s.apiCreateConnection},
		{"GET", "/connections/{id}", accessRead, s.apiConnection},
		{"PATCH", "/connections/{id}", accessEdit, s.apiUpdateConnection},
		{"DELETE", "/connections/{id}", accessEdit, s.apiDeleteConnection},
		{"POST", "/connections/{id}/run", accessEdit, s.apiRunConnection},
		{"GET", "/connections/{id}/runs", accessRead, s.apiConnectionRuns},
		{"GET", "/connection-runs/{id}", accessRead, s.apiConnectionRun},
		{"POST", "/imports", accessEdit, s.apiImport},
	}
}

// errNoConnections is a server built without the collect service or its credential key,
// which connections need: a configuration error.
var errNoConnections = errors.New("connections: no collect service with a credential key configured")

// connStore returns the store of the connections pages, or an error when the server
// has no monitoring.
func (s *Server) connStore() (connectionStore, error) {
	if s.cfg.Monitoring == nil {
		return nil, errNoMonitoring
	}
	return s.cfg.Monitoring, nil
}

// collector returns the service that creates, changes and runs connections.
func (s *Server) collector() (*collect.Service, error) {
	if s.cfg.Collect == nil || s.cfg.Collect.Sealer == nil {
		return nil, errNoConnections
	}
	return s.cfg.Collect, nil
}

// loadConnection reads the connection named in the path, in the principal's organization.
func (s *Server) loadConnection(r *http.Request, p *principal) (*domain.Connection, error) {
	st, err := s.connStore()
	if err != nil {
		return nil, err
	}
	id, err := pathID(r, "id", "connection")
	if err != nil {
		return nil, err
	}
	return st.Connection(r.Context(), p.Org.ID, id)
}

// openConfig opens a connection's sealed configuration. The caller shows only its
// settings and forgets it.
func (s *Server) openConfig(ctx context.Context, c *domain.Connection) (configMap, error) {
	st, err := s.connStore()
	if err != nil {
		return nil, err
	}
	svc, err := s.collector()
	if err != nil {
		return nil, err
	}
	sec, err := st.ConnectionSecret(ctx, c.OrgID, c.ID)
	if err != nil {
		return nil, err
	}
	b, err := svc.Sealer.Open(c.OrgID, c.Kind, *sec)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	return decodeConfig(b)
}

// configState is what may be shown of a connection's sealed configuration: its settings,
// which credentials are stored and when they were last written, never their values.
type configState struct {
	Settings map[string]any
	// Credentials names the credentials stored, such as ["api_token"].
	Credentials []string
	// Readable is false when this server's credential key cannot open the configuration.
	Readable bool
	SetAt    time.Time
}

// configStateOf describes a connection's configuration for its page and the API. A
// configuration this server cannot open is logged and described as unreadable rather
// than failing: whoever reads it is told to enter the credentials again.
func (s *Server) configStateOf(ctx context.Context, c *domain.Connection) (configState, error) {
	var cs configState
	cfg, err := s.openConfig(ctx, c)
	switch {
	case err == nil:
		k := kindOf(c.Kind)
		cs.Readable, cs.Settings, cs.Credentials = true, settingsOf(k, cfg), credentialKeys(k, cfg)
	case domain.KindOf(err) == domain.KindNotFound:
		return cs, err
	default:
		s.log.Warn("open connection configuration", "org_id", c.OrgID, "connection_id", c.ID, "err", err)
	}
	cs.SetAt = c.CredentialsSetAt
	return cs, nil
}

// runView is a connection run as the pages show it.
type runView struct {
	domain.ConnectionRun
	Total int
	Types []typeCount
}

// typeCount is a number of resources of one type.
type typeCount struct {
	Type  string
	Count int
}

// sortedCounts lists counts per type, by type.
func sortedCounts(m map[string]int) []typeCount {
	out := make([]typeCount, 0, len(m))
	for t, n := range m {
		out = append(out, typeCount{Type: t, Count: n})
	}
	slices.SortFunc(out, func(a, b typeCount) int { return strings.Compare(a.Type, b.Type) })
	return out
}

func newRunView(r domain.ConnectionRun) runView {
	v := runView{ConnectionRun: r, Types: sortedCounts(r.Counts)}
	for _, n := range r.Counts {
		v.Total += n
	}
	return v
}

// Badge is the class of the run's status badge: the status colours of the rest of the
// interface, green for success, amber for partial, red for failure, blue while running.
func (r runView) Badge() string { return runBadge(r.Status) }

// StatusLabel is the run's status in words.
func (r runView) StatusLabel() string { return runStatusLabel(r.Status) }

// Changes says what the run changed in the inventory, such as "3 added, 1 gone"; empty
// when it changed nothing.
func (r runView) Changes() string {
	var parts []string
	for _, c := range []struct {
		n    int
		what string
	}{{r.Added, "added"}, {r.Changed, "changed"}, {r.Gone, "gone"}} {
		if c.n > 0 {
			parts = append(parts, strconv.Itoa(c.n)+" "+c.what)
		}
	}
	return strings.Join(parts, ", ")
}

// Running reports whether the run has not finished.
func (r runView) Running() bool { return r.Status == domain.RunRunning }

// Duration is how long the run took, or has been running at now.
func (r runView) Duration(now time.Time) string {
	end := now
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return durationText(end.Sub(r.StartedAt))
}

func runBadge(s domain.RunStatus) string {
	switch s {
	case domain.RunSucceeded:
		return "state-ready"
	case domain.RunPartial:
		return "state-partial"
	case domain.RunFailed:
		return "state-uncovered"
	}
	return "badge-scope"
}

func runStatusLabel(s domain.RunStatus) string {
	switch s {
	case domain.RunSucceeded:
		return "Succeeded"
	case domain.RunPartial:
		return "Partial"
	case domain.RunFailed:
		return "Failed"
	case domain.RunRunning:
		return "Running"
	}
	return upperFirst(string(s))
}

// durationText says a duration roughly: "840 ms", "12 s", "3 min 5 s", "2 h 4 min".
func durationText(d time.Duration) string {
	switch {
	case d < 0:
		return "—"
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min " + strconv.Itoa(int(d%time.Minute/time.Second)) + " s"
	}
	return strconv.Itoa(int(d/time.Hour)) + " h " + strconv.Itoa(int(d%time.Hour/time.Minute)) + " min"
}

// connectionRow is a connection in the list.
type connectionRow struct {
	domain.Connection
	Kind      connectionKind
	Resources int
	Last      *runView
}

// Schedule is the connection's schedule in words.
func (c connectionRow) Schedule() string { return intervalLabel(c.Interval) }

// newConnectionRow describes a connection with its number of current resources.
func newConnectionRow(c domain.Connection, resources int) connectionRow {
	row := connectionRow{Connection: c, Kind: kindOf(c.Kind), Resources: resources}
	if c.LastRun != nil {
		lr := newRunView(*c.LastRun)
		row.Last = &lr
	}
	return row
}

// connectionRows lists the organization's connections with their current resources, for
// the connections page and the API.
func (s *Server) connectionRows(ctx context.Context, orgID int64) ([]connectionRow, error) {
	st, err := s.connStore()
	if err != nil {
		return nil, err
	}
	list, err := st.Connections(ctx, orgID)
	if err != nil {
		return nil, err
	}
	counts, err := st.ConnectionResourceCounts(ctx, orgID)
	if err != nil {
		return nil, err
	}
	rows := make([]connectionRow, len(list))
	for i, c := range list {
		rows[i] = newConnectionRow(c, counts[c.ID])
	}
	return rows, nil
}

// connectionRowOf is one connection with its current resources.
func (s *Server) connectionRowOf(ctx context.Context, c *domain.Connection) (connectionRow, error) {
	st, err := s.connStore()
	if err != nil {
		return connectionRow{}, err
	}
	counts, err := st.ConnectionResourceCounts(ctx, c.OrgID)
	if err != nil {
		return connectionRow{}, err
	}
	return newConnectionRow(*c, counts[c.ID]), nil
}

// connectionsView is the data of the connections page.
type connectionsView struct {
	Connections []connectionRow
	Kinds       []connectionKind
	Now         time.Time
}

func (s *Server) connectionsPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	rows, err := s.connectionRows(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	v := connectionsView{Connections: rows, Now: s.now(), Kinds: s.availableKinds()}
	pg := s.newPage(w, r, p, "Connections", "connections")
	pg.Data = v
	return s.render(w, http.StatusOK, "connections", pg)
}

// availableKinds lists the connector kinds this server runs, described.
func (s *Server) availableKinds() []connectionKind {
	if s.cfg.Collect == nil {
		return nil
	}
	var out []connectionKind
	for _, k := range s.cfg.Collect.Kinds() {
		out = append(out, kindOf(k))
	}
	return out
}

// fieldView is a configuration field in a form: its description, the value to show
// (never a credential's) and its error.
type fieldView struct {
	configField
	Value string
	Error string
	// Set says a credential is stored; it is kept when the field is left empty.
	Set bool
}

// Long reports whether the field takes several lines.
func (f fieldView) Long() bool { return f.Kind == fieldLongText }

// Wide reports whether the field takes the form's whole width.
func (f fieldView) Wide() bool {
	return f.Kind == fieldLongText || f.Kind == fieldList || len(f.Help) > 160
}

// Number reports whether the field takes a whole number.
func (f fieldView) Number() bool { return f.Kind == fieldNumber }

// connectionFormView is the data of the add and edit forms.
type connectionFormView struct {
	Kind        connectionKind
	Kinds       []connectionKind // to choose from, when no kind is chosen yet
	Intervals   []intervalOption
	Settings    []fieldView
	Credentials []fieldView
}

// connectionFields fills the form's fields from the submitted values (settings only) and
// their errors; set lists the credentials stored.
func connectionFields(k connectionKind, f *form, set []string) (settings, credentials []fieldView) {
	for _, fd := range k.Fields {
		fv := fieldView{configField: fd, Error: f.Err(fd.Input())}
		if fd.Secret {
			fv.Set = slices.Contains(set, fd.Key) || (k.raw() && len(set) > 0)
			credentials = append(credentials, fv)
			continue
		}
		fv.Value = f.Get(fd.Input())
		settings = append(settings, fv)
	}
	return settings, credentials
}

func (s *Server) newConnectionPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	if _, err := s.collector(); err != nil {
		return err
	}
	f := newForm(nil)
	kind := r.URL.Query().Get("kind")
	if kind != "" {
		f.Values.Set("kind", kind)
		f.Values.Set("interval", strconv.FormatInt(int64(domain.DefaultConnectionInterval/time.Second), 10))
		f.Values.Set("enabled", "1")
	}
	return s.renderNewConnection(w, r, p, f, http.StatusOK)
}

func (s *Server) renderNewConnection(w http.ResponseWriter, r *http.Request, p *principal, f *form, status int) error {
	v := connectionFormView{Kinds: s.availableKinds()}
	kind := f.Get("kind")
	if kind != "" {
		if !slices.ContainsFunc(v.Kinds, func(k connectionKind) bool { return k.Kind == kind }) {
			return domain.Invalid("kind", "must be one of %s", strings.Join(s.cfg.Collect.Kinds(), ", "))
		}
		v.Kind = kindOf(kind)
		iv, err := parseInterval(f.Get("interval"))
		if err != nil {
			iv = domain.DefaultConnectionInterval
		}
		v.Intervals = intervalOptions(iv)
		v.Settings, v.Credentials = connectionFields(v.Kind, f, nil)
	}
	title := "Add a connection"
	if v.Kind.Kind != "" {
		title = "New " + v.Kind.Title + " connection"
	}
	pg := s.newPage(w, r, p, title, "connections")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "connection_new", pg)
}

// connectionFormFields are the fields of the add and edit forms that errors can name,
// besides the configuration's.
var connectionFormFields = []string{"kind", "name", "interval"}

// failConnectionForm records an error on the form, next to the configuration field it
// names ("config.regions[1]" is the regions field), and reports whether the form can
// show it.
func failConnectionForm(f *form, k connectionKind, err error) bool {
	field := domain.FieldOf(err)
	if key, ok := strings.CutPrefix(field, "config."); ok && domain.KindOf(err) == domain.KindInvalid {
		if i := strings.IndexAny(key, ".["); i >= 0 {
			key = key[:i]
		}
		if fd, ok := k.field(key); ok && !k.raw() {
			f.Errors[fd.Input()] = upperFirst(strings.TrimSuffix(fd.Label+" "+errMessage(err), ".")) + "."
			return true
		}
	}
	if strings.HasPrefix(field, "cfg_") && domain.KindOf(err) == domain.KindInvalid {
		label := field
		if fd, ok := k.field(strings.TrimPrefix(field, "cfg_")); ok {
			label = fd.Label
		} else if field == rawConfigField.Input() {
			label = rawConfigField.Label
		}
		f.Errors[field] = upperFirst(strings.TrimSuffix(label+" "+errMessage(err), ".")) + "."
		return true
	}
	return f.fail(err, connectionFormFields...)
}

func (s *Server) createConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := s.collector()
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	kind := f.Get("kind")
	if !slices.Contains(svc.Kinds(), kind) {
		return domain.Invalid("kind", "must be one of %s", strings.Join(svc.Kinds(), ", "))
	}
	k := kindOf(kind)
	c, err := s.createFromForm(r, p, svc, k, f)
	if err != nil {
		if !failConnectionForm(f, k, err) {
			return err
		}
		return s.renderNewConnection(w, r, p, f, statusOf(err))
	}
	return s.redirect(w, r, connectionURL(c.ID), "Added the connection "+c.Name+". Its first run starts within a minute; run it now to see the result at once.")
}

func (s *Server) createFromForm(r *http.Request, p *principal, svc *collect.Service, k connectionKind, f *form) (*domain.Connection, error) {
	interval, err := parseInterval(f.Get("interval"))
	if err != nil {
		return nil, err
	}
	cfg, _, err := configFromForm(k, f, nil)
	if err != nil {
		return nil, err
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	defer clear(raw)
	return svc.CreateConnection(r.Context(), p.Actor(), p.Org.ID, collect.ConnectionInput{
		Kind: k.Kind, Name: f.Get("name"), Interval: interval, Disabled: f.Get("enabled") != "1", Config: raw,
	})
}

// connectionURL is a connection's page.
func connectionURL(id int64) string { return "/connections/" + strconv.FormatInt(id, 10) }

// runURL is a run's page.
func runURL(r *domain.ConnectionRun) string {
	return connectionURL(r.ConnectionID) + "/runs/" + strconv.FormatInt(r.ID, 10)
}

// connectionView is the data of a connection's page.
type connectionView struct {
	connectionRow
	Form      connectionFormView
	Settings  []fieldView // the settings as stored, for people who cannot edit
	CredsSet  bool
	CredsAt   time.Time
	CredsNote string // why the configuration could not be read, when it could not
	Runs      []runView
	OlderRuns string
	Types     []domain.ResourceTypeCount
	Now       time.Time
}

// connectionRunsPage is how many runs a connection's page lists.
const connectionRunsPage = 25

func (s *Server) connectionPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	return s.renderConnection(w, r, p, c, nil, http.StatusOK)
}

// renderConnection shows a connection's page; f is the submitted edit form, nil to start
// from the connection as stored.
func (s *Server) renderConnection(w http.ResponseWriter, r *http.Request, p *principal, c *domain.Connection, f *form, status int) error {
	st, err := s.connStore()
	if err != nil {
		return err
	}
	ctx := r.Context()
	k := kindOf(c.Kind)
	cs, err := s.configStateOf(ctx, c)
	if err != nil {
		return err
	}
	v := connectionView{connectionRow: newConnectionRow(*c, 0), CredsSet: len(cs.Credentials) > 0, CredsAt: cs.SetAt, Now: s.now()}
	if !cs.Readable {
		v.CredsNote = "The configuration cannot be opened with this server's credential key. Enter the credentials again to replace them."
	}
	for _, fd := range k.Settings() {
		if val, ok := cs.Settings[fd.Key]; ok {
			v.Settings = append(v.Settings, fieldView{configField: fd, Value: valueText(val)})
		}
	}
	if f == nil {
		f = newForm(nil)
		f.Values.Set("name", c.Name)
		f.Values.Set("interval", strconv.FormatInt(int64(c.Interval/time.Second), 10))
		for _, sv := range v.Settings {
			f.Values.Set(sv.Input(), sv.Value)
		}
	}
	iv, err := parseInterval(f.Get("interval"))
	if err != nil {
		iv = c.Interval
	}
	v.Form = connectionFormView{Kind: k, Intervals: intervalOptions(iv)}
	v.Form.Settings, v.Form.Credentials = connectionFields(k, f, cs.Credentials)

	before, err := beforeID(r.URL.Query().Get("before"))
	if err != nil {
		return err
	}
	runs, err := st.ConnectionRuns(ctx, p.Org.ID, domain.RunFilter{ConnectionID: c.ID, Before: before, Limit: connectionRunsPage})
	if err != nil {
		return err
	}
	for _, run := range runs {
		v.Runs = append(v.Runs, newRunView(run))
	}
	if len(runs) == connectionRunsPage {
		v.OlderRuns = connectionURL(c.ID) + "?before=" + strconv.FormatInt(runs[len(runs)-1].ID, 10) + "#runs"
	}
	if v.Types, err = st.ResourceCounts(ctx, p.Org.ID, domain.ResourceFilter{ConnectionID: c.ID}); err != nil {
		return err
	}
	for _, t := range v.Types {
		v.Resources += t.Count
	}
	pg := s.newPage(w, r, p, c.Name, "connections")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "connection", pg)
}

func (s *Server) updateConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	svc, err := s.collector()
	if err != nil {
		return err
	}
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	k := kindOf(c.Kind)
	updated, err := s.updateFromForm(r, p, svc, c, k, f)
	if err != nil {
		if !failConnectionForm(f, k, err) {
			return err
		}
		return s.renderConnection(w, r, p, c, f, statusOf(err))
	}
	return s.redirect(w, r, connectionURL(c.ID), "Saved the connection "+updated.Name+".")
}

func (s *Server) updateFromForm(r *http.Request, p *principal, svc *collect.Service, c *domain.Connection, k connectionKind, f *form) (*domain.Connection, error) {
	ctx := r.Context()
	name := f.Get("name")
	interval, err := parseInterval(f.Get("interval"))
	if err != nil {
		return nil, err
	}
	current, err := s.openConfig(ctx, c)
	if err != nil {
		if domain.KindOf(err) == domain.KindNotFound {
			return nil, err
		}
		// The credentials must be entered again, whole.
		current = nil
	}
	cfg, changed, err := configFromForm(k, f, current)
	if err != nil {
		return nil, err
	}
	up := collect.ConnectionUpdate{Name: &name, Interval: &interval}
	if changed {
		raw, err := json.Marshal(cfg)
		if err != nil {
			return nil, err
		}
		defer clear(raw)
		up.Config = raw
	}
	return svc.UpdateConnection(ctx, p.Actor(), p.Org.ID, c.ID, up)
}

func (s *Server) pauseConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setConnectionEnabled(w, r, p, false)
}

func (s *Server) resumeConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.setConnectionEnabled(w, r, p, true)
}

func (s *Server) setConnectionEnabled(w http.ResponseWriter, r *http.Request, p *principal, enabled bool) error {
	svc, err := s.collector()
	if err != nil {
		return err
	}
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	if _, err := svc.UpdateConnection(r.Context(), p.Actor(), p.Org.ID, c.ID, collect.ConnectionUpdate{Enabled: &enabled}); err != nil {
		return err
	}
	msg := "Paused " + c.Name + ": it runs only when asked until it is resumed."
	if enabled {
		msg = "Resumed " + c.Name + ": it runs " + strings.ToLower(intervalLabel(c.Interval)) + "."
	}
	return s.redirect(w, r, connectionURL(c.ID), msg)
}

func (s *Server) deleteConnectionPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	c, err := s.loadConnection(r, p)
	if err != nil {
		return err
	}
	row, err := s.connectionRowOf(r.Context(), c)
	if err != nil {
		return err
	}
	pg := s.newPage(w, r, p, "Delete "+c.Name, "connections")
	pg.Data = row
	return s.render(w, http.StatusOK, "connection_delete", pg)
}

func (s *Server) deleteConnection(w http.ResponseWriter, r *http.Request, p *principal) error {
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
	return s.redirect(w, r, "/connections", "Deleted the connection "+c.Name+". Its resources stay in the inventory, marked gone, and its snapshots stay in the evidence.")
}
