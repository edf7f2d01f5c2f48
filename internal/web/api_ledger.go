package web

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/bundle"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// apiEvidenceRoutes are the API routes of evidence, the ledger and the export.
func (s *Server) apiEvidenceRoutes() []apiRoute {
	return []apiRoute{
		{"GET", "/evidence", accessRead, s.apiEvidenceList},
		{"POST", "/evidence", accessEdit, s.apiAddEvidence},
		{"GET", "/evidence/{id}", accessRead, s.apiEvidence},
		{"GET", "/evidence/{id}/content", accessRead, s.apiEvidenceContent},
		{"GET", "/evidence/{id}/proof", accessRead, s.apiEvidenceProof},
		{"POST", "/evidence/{id}/supersede", accessEdit, s.apiSupersedeEvidence},
		{"POST", "/evidence/{id}/retract", accessEdit, s.apiRetractEvidence},

		{"GET", "/ledger", accessRead, s.apiLedger},
		{"POST", "/ledger/checkpoints", accessAdmin, s.apiPublishCheckpoint},
		{"GET", "/ledger/checkpoints/latest", accessRead, s.apiLatestCheckpoint},
		{"GET", "/ledger/entries", accessRead, s.apiLedgerEntries},
		{"GET", "/ledger/entries/{index}/proof", accessRead, s.apiEntryProof},
		{"GET", "/ledger/consistency", accessRead, s.apiConsistency},

		{"GET", "/export", accessRead, s.apiExport},
	}
}

// apiCheckpoint is a signed checkpoint as the API shows it.
type apiCheckpoint struct {
	Origin    string    `json:"origin"`
	Size      int64     `json:"size"`
	RootHash  tlog.Hash `json:"root_hash"`
	CreatedAt time.Time `json:"created_at"`
	// Note is the signed note, which auditors keep and verify with the public key.
	Note string `json:"note"`
}

func toAPICheckpoint(cp *domain.Checkpoint) *apiCheckpoint {
	if cp == nil {
		return nil
	}
	origin, _, _ := strings.Cut(cp.Note, "\n")
	return &apiCheckpoint{Origin: origin, Size: cp.Size, RootHash: cp.Root, CreatedAt: cp.CreatedAt.UTC(), Note: cp.Note}
}

func (s *Server) apiLedger(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	size, err := s.cfg.Store.LedgerSize(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	cp, err := s.latestCheckpoint(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"public_key": s.cfg.LedgerKey, "size": size, "latest_checkpoint": toAPICheckpoint(cp),
	})
	return nil
}

func (s *Server) apiPublishCheckpoint(w http.ResponseWriter, r *http.Request, p *principal) error {
	cp, err := s.publish(r.Context(), p.Org.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPICheckpoint(cp))
	return nil
}

// apiLatestCheckpoint serves the latest checkpoint: the signed note as text/plain, exactly
// as it was signed, unless the client prefers application/json.
func (s *Server) apiLatestCheckpoint(w http.ResponseWriter, r *http.Request, p *principal) error {
	cp, err := s.cfg.Store.LatestCheckpoint(r.Context(), p.Org.ID)
	if err != nil {
		if domain.IsNotFound(err) {
			return domain.NotFound("checkpoint")
		}
		return err
	}
	if prefersJSON(r.Header.Get("Accept")) {
		writeJSON(w, http.StatusOK, toAPICheckpoint(cp))
		return nil
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(cp.Note))
	return nil
}

// prefersJSON reports whether an Accept header ranks application/json above text/plain.
// Without a preference the answer is no.
func prefersJSON(accept string) bool {
	quality := func(mediaType string) float64 {
		major, _, _ := strings.Cut(mediaType, "/")
		best, specificity := 0.0, -1
		for _, item := range strings.Split(accept, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
			if err != nil {
				continue
			}
			spec := -1
			switch mt {
			case mediaType:
				spec = 2
			case major + "/*":
				spec = 1
			case "*/*":
				spec = 0
			}
			if spec <= specificity {
				continue
			}
			q := 1.0
			if raw, ok := params["q"]; ok {
				if q, err = strconv.ParseFloat(raw, 64); err != nil {
					q = 0
				}
			}
			best, specificity = q, spec
		}
		return best
	}
	return quality("application/json") > quality("text/plain")
}

// maxEntriesPerRequest bounds the entries GET /ledger/entries returns at once.
const maxEntriesPerRequest = 1000

// apiLedgerEntries serves entries of the ledger in their canonical form, the bytes their
// leaf hashes are computed over.
func (s *Server) apiLedgerEntries(w http.ResponseWriter, r *http.Request, p *principal) error {
	ctx := r.Context()
	q := r.URL.Query()
	from, err := parseSize("from", q.Get("from"), false)
	if err != nil {
		return err
	}
	size, err := s.cfg.Store.LedgerSize(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	to := min(from+maxEntriesPerRequest, size)
	if q.Get("to") != "" {
		if to, err = parseSize("to", q.Get("to"), true); err != nil {
			return err
		}
	}
	switch {
	case from > size:
		return domain.Invalid("from", "must be at most the ledger's size, %d", size)
	case to > size:
		return domain.Invalid("to", "must be at most the ledger's size, %d", size)
	case to < from:
		return domain.Invalid("to", "must not be below from")
	case to-from > maxEntriesPerRequest:
		return domain.Invalid("to", "must be at most %d entries after from", maxEntriesPerRequest)
	}
	evs, err := s.cfg.Store.LedgerEvents(ctx, p.Org.ID, from, to)
	if err != nil {
		return err
	}
	entries := make([]ledger.Entry, len(evs))
	for i, e := range evs {
		entries[i] = ledger.FromEvent(e)
	}
	return encodeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "size": size, "entries": entries}, "")
}

func (s *Server) apiEntryProof(w http.ResponseWriter, r *http.Request, p *principal) error {
	index, err := strconv.ParseInt(r.PathValue("index"), 10, 64)
	if err != nil || index < 0 {
		return domain.NotFound("ledger entry")
	}
	size, err := parseSize("size", r.URL.Query().Get("size"), false)
	if err != nil {
		return err
	}
	doc, err := s.inclusion(r.Context(), p.Org.ID, index, size)
	if err != nil {
		return err
	}
	return encodeJSON(w, http.StatusOK, doc, "")
}

func (s *Server) apiConsistency(w http.ResponseWriter, r *http.Request, p *principal) error {
	q := r.URL.Query()
	from, err := parseSize("from", q.Get("from"), true)
	if err != nil {
		return err
	}
	to, err := parseSize("to", q.Get("to"), false)
	if err != nil {
		return err
	}
	doc, err := s.consistency(r.Context(), p.Org.ID, from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

func (s *Server) apiExport(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.writeBundle(w, r, p, r.URL.Query())
}

// exportBundle downloads the verifiable bundle from the export form.
func (s *Server) exportBundle(w http.ResponseWriter, r *http.Request, p *principal) error {
	return s.writeBundle(w, r, p, r.URL.Query())
}

// exportOptions reads the export's filter: a control's ref and a period, naming the
// parameter at fault.
func (s *Server) exportOptions(r *http.Request, p *principal, q url.Values) (bundle.WriteOptions, error) {
	opts := bundle.WriteOptions{Now: s.now}
	if ref := strings.TrimSpace(q.Get("control")); ref != "" {
		c, err := s.cfg.Store.ControlByRef(r.Context(), p.Org.ID, ref)
		if err != nil {
			if domain.IsNotFound(err) {
				return opts, domain.Invalid("control", "no control has the reference %q", ref)
			}
			return opts, err
		}
		opts.Control = c.Ref
	}
	since, until, err := periodFilter(strings.TrimSpace(q.Get("from")), strings.TrimSpace(q.Get("to")))
	if err != nil {
		return opts, err
	}
	if since != nil {
		opts.From = *since
	}
	if until != nil {
		opts.To = *until
	}
	return opts, nil
}

// writeBundle streams the organization's verifiable evidence bundle as a zip attachment.
// It publishes a checkpoint first, so that the bundle includes everything recorded until
// now. The response's headers go out with the first bytes of the zip: an error before
// then is answered as usual, and one after it cuts the download short, so that a partial
// zip is never taken for a whole one.
func (s *Server) writeBundle(w http.ResponseWriter, r *http.Request, p *principal, q url.Values) error {
	opts, err := s.exportOptions(r, p, q)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if _, err := s.publish(ctx, p.Org.ID); err != nil {
		return err
	}
	src, err := s.bundleSource(ctx, p)
	if err != nil {
		return err
	}
	name := "evident-evidence-" + p.Org.Slug
	if opts.Control != "" {
		name += "-" + opts.Control
	}
	name += "-" + s.now().UTC().Format("20060102T150405Z") + ".zip"
	lw := &lazyWriter{w: w, start: func(h http.Header) {
		h.Set("Content-Type", "application/zip")
		h.Set("Content-Disposition", contentDisposition(name))
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "private, no-store")
	}}
	if _, err := bundle.Write(ctx, lw, src, opts); err != nil {
		if !lw.started {
			return err
		}
		s.log.Error("export bundle", "org", p.Org.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	if !lw.started {
		return fmt.Errorf("export bundle: nothing was written")
	}
	return nil
}

// bundleSource returns the source of the principal's organization's export.
func (s *Server) bundleSource(ctx context.Context, p *principal) (bundle.Source, error) {
	if s.cfg.BundleSource == nil {
		return nil, errors.New("export: no bundle source configured")
	}
	return s.cfg.BundleSource(ctx, p.Org)
}

// lazyWriter sets the response's headers and status when the first byte is written.
type lazyWriter struct {
	w       http.ResponseWriter
	start   func(http.Header)
	started bool
}

func (l *lazyWriter) Write(b []byte) (int, error) {
	if !l.started {
		l.started = true
		l.start(l.w.Header())
		l.w.WriteHeader(http.StatusOK)
	}
	return l.w.Write(b)
}

// contentDisposition offers a download under a name made of safe characters only.
func contentDisposition(name string) string {
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r) {
			return r
		}
		return '_'
	}, name)
	return `attachment; filename="` + safe + `"`
}
