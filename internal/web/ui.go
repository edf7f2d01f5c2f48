package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// routesUI registers the HTML pages and their static assets.
func (s *Server) routesUI(mux *http.ServeMux) error {
	views, err := parseViews()
	if err != nil {
		return err
	}
	s.views = views
	if s.assets, err = hashAssets(); err != nil {
		return err
	}

	mux.Handle("GET /static/", s.staticHandler())
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.asset("logo.svg"), http.StatusMovedPermanently)
	})

	mux.HandleFunc("GET /signin", s.signInPage)
	mux.HandleFunc("POST /signin", s.signIn)
	mux.HandleFunc("POST /signout", s.signOut)
	mux.HandleFunc("POST /switch-organization", s.signedIn(s.switchOrganization))

	mux.HandleFunc("GET /{$}", s.signedIn(s.dashboard))
	mux.HandleFunc("GET /readiness", s.signedIn(s.readinessPage))
	mux.HandleFunc("GET /readiness/gaps.csv", s.signedIn(s.gapsCSV))
	mux.HandleFunc("GET /readiness/report.html", s.signedIn(s.readinessReport))

	mux.HandleFunc("GET /controls", s.signedIn(s.controlsPage))
	mux.HandleFunc("GET /controls.csv", s.signedIn(s.controlsCSV))
	mux.HandleFunc("GET /controls/new", s.editor(s.newControlPage))
	mux.HandleFunc("POST /controls", s.editor(s.createControl))
	mux.HandleFunc("GET /controls/{id}", s.signedIn(s.controlPage))
	mux.HandleFunc("POST /controls/{id}", s.editor(s.updateControl))
	mux.HandleFunc("POST /controls/{id}/map", s.editor(s.mapControl))
	mux.HandleFunc("POST /controls/{id}/unmap", s.editor(s.unmapControl))
	mux.HandleFunc("POST /controls/{id}/retire", s.editor(s.retireControl))
	mux.HandleFunc("POST /controls/{id}/restore", s.editor(s.restoreControl))

	mux.HandleFunc("GET /criteria", s.signedIn(s.criteriaPage))
	mux.HandleFunc("GET /criteria/{id}", s.signedIn(s.criterionPage))
	mux.HandleFunc("POST /criteria/{id}/map", s.editor(s.mapToCriterion))

	mux.HandleFunc("GET /scope", s.signedIn(s.scopePage))
	mux.HandleFunc("POST /scope", s.admin(s.updateScope))
	mux.HandleFunc("POST /scope/systems", s.admin(s.createSystem))
	mux.HandleFunc("GET /scope/systems/{id}", s.signedIn(s.systemPage))
	mux.HandleFunc("POST /scope/systems/{id}", s.admin(s.updateSystem))
	mux.HandleFunc("POST /scope/systems/{id}/delete", s.admin(s.deleteSystem))

	mux.HandleFunc("GET /people", s.signedIn(s.peoplePage))
	mux.HandleFunc("POST /people", s.admin(s.addPerson))
	mux.HandleFunc("POST /people/{id}/role", s.admin(s.changeRole))
	mux.HandleFunc("POST /people/{id}/remove", s.admin(s.removePerson))

	mux.HandleFunc("GET /account", s.signedIn(s.accountPage))
	mux.HandleFunc("POST /account/password", s.signedIn(s.changePassword))

	mux.HandleFunc("GET /tokens", s.signedIn(s.tokensPage))
	mux.HandleFunc("POST /tokens", s.admin(s.createToken))
	mux.HandleFunc("POST /tokens/{id}/revoke", s.admin(s.revokeToken))

	mux.HandleFunc("GET /organization", s.signedIn(s.organizationPage))
	mux.HandleFunc("GET /activity", s.signedIn(s.activityPage))

	s.routesEvidence(mux)
	s.routesConnections(mux) // connections, inventory, schema reference, imports
	s.routesTests(mux)       // tests, custom tests, exceptions
	s.routesAlerts(mux)      // alerts and where they are sent

	// Anything else is a page that does not exist.
	mux.HandleFunc("/", s.notFound)
	return nil
}

// parseViews parses the layout with each page template, once. Every page is its own
// template set so that each can define "content" without clashing.
func parseViews() (map[string]*template.Template, error) {
	base, err := template.New("").Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	views := map[string]*template.Template{}
	for _, file := range names {
		name := strings.TrimSuffix(path.Base(file), ".html")
		if name == "layout" || name == "report" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(templateFS, file); err != nil {
			return nil, fmt.Errorf("parse %s: %w", file, err)
		}
		views[name] = t
	}
	return views, nil
}

// hashAssets returns a short content hash per static file, added to asset URLs so that
// browsers can cache them for a year and still see a new version at once.
func hashAssets() (map[string]string, error) {
	out := map[string]string{}
	err := fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	return out, err
}

// asset is the versioned URL of a static file.
func (s *Server) asset(name string) string {
	return "/static/" + name + "?v=" + s.assets[name]
}

func (s *Server) staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/static/")
		if _, ok := s.assets[name]; !ok {
			s.notFound(w, r)
			return
		}
		if v := r.URL.Query().Get("v"); v != "" && v == s.assets[name] {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// page is what every page template receives.
type page struct {
	Title   string // the document title, before " · Evident"
	Section string // the navigation entry to mark as current
	P       *principal
	Orgs    []domain.Membership // the organizations the user can switch to, when more than one
	Flash   string
	Form    *form
	Version string
	Assets  func(string) string
	Data    any
}

// CanEdit reports whether the signed-in person may change controls.
func (pg *page) CanEdit() bool { return pg.P != nil && pg.P.Role.CanEdit() }

// CanAdmin reports whether the signed-in person may manage scope, people and tokens.
func (pg *page) CanAdmin() bool { return pg.P != nil && pg.P.Role.CanAdmin() }

// newPage starts a page for a signed-in person, taking the pending flash message.
func (s *Server) newPage(w http.ResponseWriter, r *http.Request, p *principal, title, section string) *page {
	pg := &page{Title: title, Section: section, P: p, Version: s.cfg.Version, Assets: s.asset}
	pg.Flash = s.takeFlash(w, r)
	if p != nil {
		ms := p.memberships
		if ms == nil {
			var err error
			if ms, err = s.cfg.Store.Memberships(r.Context(), p.User.ID); err != nil {
				s.log.Warn("list memberships", "user", p.User.ID, "err", err)
			}
		}
		if len(ms) > 1 {
			pg.Orgs = ms
		}
	}
	return pg
}

// render executes a page within the layout and writes it with the given status. It renders
// into a buffer first so that a template error becomes a clean 500, not half a page.
func (s *Server) render(w http.ResponseWriter, status int, name string, pg *page) error {
	t, ok := s.views[name]
	if !ok {
		return fmt.Errorf("render: no template %q", name)
	}
	buf := pageBuffers.Get().(*bytes.Buffer)
	defer putPageBuffer(buf)
	if err := t.ExecuteTemplate(buf, "layout", pg); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return nil
}

// pageBuffers keeps the buffers pages are rendered into, so that a busy server does not
// grow a new one to the size of a page for every request.
var pageBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledPage is the largest buffer kept for reuse; the rare larger page's is dropped.
const maxPooledPage = 1 << 20

func putPageBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledPage {
		return
	}
	b.Reset()
	pageBuffers.Put(b)
}

// pageHandler is a page that needs a signed-in person. It returns an error rather than
// writing one, so that every failure is answered the same way.
type pageHandler func(w http.ResponseWriter, r *http.Request, p *principal) error

// signedIn lets in anyone signed in, and sends everyone else to the sign-in page.
func (s *Server) signedIn(h pageHandler) http.HandlerFunc {
	return s.withRole(h, nil)
}

// editor lets in people who may change controls; viewers get 403.
func (s *Server) editor(h pageHandler) http.HandlerFunc {
	return s.withRole(h, func(r domain.Role) bool { return r.CanEdit() })
}

// admin lets in owners and admins; members and viewers get 403.
func (s *Server) admin(h pageHandler) http.HandlerFunc {
	return s.withRole(h, func(r domain.Role) bool { return r.CanAdmin() })
}

func (s *Server) withRole(h pageHandler, allowed func(domain.Role) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, err := s.sessionPrincipal(r)
		if err != nil {
			if domain.KindOf(err) == domain.KindUnauthorized {
				s.clearSessionCookie(w, r)
				s.redirectToSignIn(w, r)
				return
			}
			s.fail(w, r, nil, err)
			return
		}
		if allowed != nil && !allowed(p.Role) {
			s.fail(w, r, p, domain.Errorf(domain.KindForbidden, "your role (%s) cannot make this change", p.Role))
			return
		}
		r = r.WithContext(withPrincipal(r.Context(), p))
		if err := h(w, r, p); err != nil {
			s.fail(w, r, p, err)
		}
	}
}

func (s *Server) redirectToSignIn(w http.ResponseWriter, r *http.Request) {
	target := "/signin"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// errorView is the data of the error page.
type errorView struct {
	Status  int
	Heading string
	Message string
}

// fail answers a request that went wrong with the error page for its kind. Only internal
// errors are logged, and their details are never shown.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, p *principal, err error) {
	if p == nil {
		p = principalFrom(r.Context())
	}
	if domain.KindOf(err) == domain.KindUnauthorized {
		s.redirectToSignIn(w, r)
		return
	}
	s.logError(r, err)
	status := statusOf(err)
	v := errorView{Status: status}
	switch status {
	case http.StatusNotFound:
		v.Heading = "Page not found"
		v.Message = "There is nothing here, or it belongs to an organization you are not signed in to."
	case http.StatusForbidden:
		v.Heading = "Not allowed"
		v.Message = "Your role in this organization does not allow this. An owner or admin can change your role."
		if domain.KindOf(err) == domain.KindForbidden {
			v.Message = errorText(err)
		}
	case http.StatusBadRequest, http.StatusConflict, http.StatusTooManyRequests:
		v.Heading = "That did not work"
		v.Message = errorText(err)
	default:
		v.Heading = "Something went wrong"
		v.Message = "The error has been logged. Try again in a moment; if it keeps happening, tell your Evident operator."
	}
	pg := &page{Title: v.Heading, P: p, Version: s.cfg.Version, Assets: s.asset, Data: v}
	if rerr := s.render(w, status, "error", pg); rerr != nil {
		s.log.Error("render error page", "err", rerr)
		http.Error(w, http.StatusText(status), status)
	}
}

// notFound answers unknown paths.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such endpoint"}}` + "\n"))
		return
	}
	p, _ := s.sessionPrincipal(r)
	s.fail(w, r, p, domain.NotFound("page"))
}

// denyCrossOrigin answers a state-changing request that came from another site.
func (s *Server) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"code":"forbidden","message":"cross-origin request refused"}}` + "\n"))
		return
	}
	p, _ := s.sessionPrincipal(r)
	s.fail(w, r, p, domain.Errorf(domain.KindForbidden, "this request came from another site and was refused"))
}

// redirect answers a successful form with 303 See Other and a message for the next page.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, flash string) error {
	if flash != "" {
		s.setFlash(w, r, flash)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
	return nil
}

func (s *Server) flashCookieName(r *http.Request) string {
	if s.secureRequest(r) {
		return "__Host-evident_flash"
	}
	return "evident_flash"
}

func (s *Server) setFlash(w http.ResponseWriter, r *http.Request, msg string) {
	http.SetCookie(w, &http.Cookie{
		Name: s.flashCookieName(r), Value: url.QueryEscape(msg), Path: "/", MaxAge: 60,
		HttpOnly: true, Secure: s.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
}

// takeFlash returns the pending flash message and clears it, so it shows once.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(s.flashCookieName(r))
	if err != nil || c.Value == "" {
		return ""
	}
	http.SetCookie(w, &http.Cookie{
		Name: c.Name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secureRequest(r), SameSite: http.SameSiteLaxMode,
	})
	msg, err := url.QueryUnescape(c.Value)
	if err != nil || len(msg) > 300 {
		return ""
	}
	return msg
}

// form is a submitted form: the values to show again and the messages per field.
type form struct {
	Values url.Values
	Errors map[string]string
	// Error is a message that belongs to no single field.
	Error string
}

func newForm(v url.Values) *form {
	if v == nil {
		v = url.Values{}
	}
	return &form{Values: v, Errors: map[string]string{}}
}

// Get returns the submitted value of a field.
func (f *form) Get(name string) string {
	if f == nil {
		return ""
	}
	return f.Values.Get(name)
}

// Has reports whether a multi-valued field (checkboxes) includes v.
func (f *form) Has(name, v string) bool {
	if f == nil {
		return false
	}
	for _, x := range f.Values[name] {
		if x == v {
			return true
		}
	}
	return false
}

// Err returns the message for a field, or "".
func (f *form) Err(name string) string {
	if f == nil {
		return ""
	}
	return f.Errors[name]
}

// Invalid reports whether the form has any message.
func (f *form) Invalid() bool { return f != nil && (len(f.Errors) > 0 || f.Error != "") }

// fail records err on the form: next to its field when the error names one of fields,
// else as a message for the whole form. It returns false for errors a form cannot show
// (not found, forbidden, internal), which the caller returns instead.
func (f *form) fail(err error, fields ...string) bool {
	switch domain.KindOf(err) {
	case domain.KindInvalid, domain.KindConflict, domain.KindRateLimited:
	default:
		return false
	}
	field := domain.FieldOf(err)
	for _, name := range fields {
		if name == field {
			f.Errors[field] = errorText(err)
			return true
		}
	}
	f.Error = errorText(err)
	return true
}

// errorText is an error as a sentence for a person: the field it names, in words, then
// what is wrong with it, such as "Period end must be after the period start."
func errorText(err error) string {
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind == domain.KindInternal {
		return "Something went wrong."
	}
	msg := de.Message
	if de.Field != "" {
		msg = fieldLabel(de.Field) + " " + msg
	}
	msg = upperFirst(msg)
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

// fieldLabel is a field's name in words: owner_id is "owner", period_end "period end".
func fieldLabel(field string) string {
	return strings.ReplaceAll(strings.TrimSuffix(field, "_id"), "_", " ")
}

// parseForm reads a submitted form, refusing bodies over 1 MiB.
func parseForm(w http.ResponseWriter, r *http.Request) (*form, error) {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return nil, domain.Errorf(domain.KindInvalid, "the form could not be read")
	}
	return newForm(r.PostForm), nil
}

// localPath returns next when it is a path on this site, else "/". It keeps sign-in from
// being used to send people elsewhere.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n\t") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return "/"
	}
	return u.RequestURI()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// templateFuncs are the helpers every template can call.
var templateFuncs = template.FuncMap{
	"statusLabel": func(s domain.ControlStatus) string { return s.Label() },
	"icon":        icon,
	"date":        fmtDate,
	"datetime":    fmtDateTime,
	"ago":         ago,
	"add":         func(a, b int) int { return a + b },
	"roleLabel":   func(r domain.Role) string { return upperFirst(string(r)) },
	"kindLabel":   func(k string) string { return systemKindLabel(k) },
	"classLabel": func(c domain.DataClassification) string {
		return upperFirst(string(c))
	},
	"upperFirst":      upperFirst,
	"catTitle":        func(c domain.Category) string { return c.Title() },
	"initials":        initials,
	"statuses":        func() []domain.ControlStatus { return domain.Statuses },
	"systemKinds":     func() []string { return domain.SystemKinds },
	"classifications": func() []domain.DataClassification { return domain.DataClassifications },
	"frequencies":     func() []domain.Frequency { return domain.Frequencies },
	"systemFormOf": func(f *form, members []domain.Member) systemFormBlock {
		return systemFormBlock{Form: f, Members: members}
	},
	"eventsOf": func(evs []eventView, now time.Time) eventsBlock {
		return eventsBlock{Events: evs, Now: now}
	},
}

// systemFormBlock is the data of the "system-fields" template.
type systemFormBlock struct {
	Form    *form
	Members []domain.Member
}

// eventsBlock is the data of the "events" template: a list of activity.
type eventsBlock struct {
	Events []eventView
	Now    time.Time // for "5 minutes ago"
}

func fmtDate(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.Format("2 Jan 2006")
	case *time.Time:
		if v == nil || v.IsZero() {
			return "—"
		}
		return v.Format("2 Jan 2006")
	}
	return ""
}

func fmtDateTime(t any) string {
	switch v := t.(type) {
	case time.Time:
		if v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2 Jan 2006 15:04 UTC")
	case *time.Time:
		if v == nil || v.IsZero() {
			return "—"
		}
		return v.UTC().Format("2 Jan 2006 15:04 UTC")
	}
	return ""
}

// ago says how long ago t was, roughly, for lists where the exact time is in a tooltip.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 24*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	case d < 45*24*time.Hour:
		return plural(int(d/(24*time.Hour)), "day") + " ago"
	}
	return t.Format("2 Jan 2006")
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

func initials(name string) string {
	var out []rune
	for _, f := range strings.Fields(name) {
		for _, r := range f {
			out = append(out, r)
			break
		}
		if len(out) == 2 {
			break
		}
	}
	return strings.ToUpper(string(out))
}

func systemKindLabel(k string) string {
	switch k {
	case "saas":
		return "SaaS"
	case "":
		return ""
	}
	return upperFirst(k)
}
