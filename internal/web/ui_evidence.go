package web

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
)

// routesEvidence registers the pages of evidence, tasks, the ledger and the export.
func (s *Server) routesEvidence(mux *http.ServeMux) {
	mux.HandleFunc("GET /evidence", s.signedIn(s.evidenceListPage))
	mux.HandleFunc("GET /evidence.csv", s.signedIn(s.evidenceCSV))
	mux.HandleFunc("GET /evidence/new", s.editor(s.newEvidencePage))
	mux.HandleFunc("POST /evidence", s.editor(s.uploadEvidence))
	mux.HandleFunc("GET /evidence/export.zip", s.signedIn(s.exportBundle))
	mux.HandleFunc("GET /evidence/{id}", s.signedIn(s.evidencePage))
	mux.HandleFunc("GET /evidence/{id}/download", s.signedIn(s.downloadEvidence))
	mux.HandleFunc("GET /evidence/{id}/proof.json", s.signedIn(s.evidenceProofDownload))
	mux.HandleFunc("POST /evidence/{id}/supersede", s.editor(s.supersedeEvidence))
	mux.HandleFunc("POST /evidence/{id}/retract", s.editor(s.retractEvidence))

	mux.HandleFunc("GET /tasks", s.signedIn(s.tasksPage))

	mux.HandleFunc("GET /ledger", s.signedIn(s.ledgerPage))
	mux.HandleFunc("GET /ledger/checkpoint.txt", s.signedIn(s.checkpointText))
	mux.HandleFunc("POST /ledger/checkpoints", s.admin(s.publishCheckpoint))
	mux.HandleFunc("GET /ledger/consistency.json", s.signedIn(s.consistencyDownload))
	mux.HandleFunc("GET /ledger/entries/{index}/proof.json", s.signedIn(s.entryProofDownload))
}

// evidenceKinds are the kinds people add through the forms, with their names. Snapshots
// come from connectors only.
var evidenceKinds = []struct {
	Kind  domain.EvidenceKind
	Label string
}{
	{domain.EvidenceFile, "File"},
	{domain.EvidenceLink, "Link"},
	{domain.EvidenceNote, "Note"},
}

// evidenceKindLabel names a kind for people.
func evidenceKindLabel(k domain.EvidenceKind) string {
	for _, x := range evidenceKinds {
		if x.Kind == k {
			return x.Label
		}
	}
	if k == domain.EvidenceSnapshot {
		return "Snapshot"
	}
	return string(k)
}

// evidenceState names where an item stands: current, superseded or retracted.
func evidenceState(e *domain.Evidence) string {
	switch {
	case e.RetractedAt != nil:
		return "retracted"
	case e.SupersededBy != nil:
		return "superseded"
	}
	return "current"
}

// formatSize writes a size in bytes the way people read it: "812 bytes", "14.2 KiB".
func formatSize(n int64) string {
	if n < 1024 {
		if n == 1 {
			return "1 byte"
		}
		return strconv.FormatInt(n, 10) + " bytes"
	}
	f := float64(n)
	for _, unit := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || unit == "TiB" {
			return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) + " " + unit
		}
	}
	return ""
}

// evidenceURL is an item's page.
func evidenceURL(id int64) string { return "/evidence/" + strconv.FormatInt(id, 10) }

// loadEvidence reads the item named in the path, in the principal's organization only.
func (s *Server) loadEvidence(r *http.Request, p *principal) (*domain.Evidence, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return nil, domain.NotFound("evidence")
	}
	return s.cfg.Store.Evidence(r.Context(), p.Org.ID, id)
}

// controlIndex maps the organization's controls, retired ones included, by ID.
func (s *Server) controlIndex(ctx context.Context, orgID int64) (map[int64]domain.Control, []domain.Control, error) {
	cs, err := s.cfg.Store.Controls(ctx, orgID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		return nil, nil, err
	}
	m := make(map[int64]domain.Control, len(cs))
	for _, c := range cs {
		m[c.ID] = c
	}
	return m, cs, nil
}

// controlsOf returns the controls an item supports, in the order of its IDs.
func controlsOf(e *domain.Evidence, index map[int64]domain.Control) []domain.Control {
	out := make([]domain.Control, 0, len(e.ControlIDs))
	for _, id := range e.ControlIDs {
		if c, ok := index[id]; ok {
			out = append(out, c)
		}
	}
	return out
}

// evidenceQuery is the evidence list's filter as the GET form submits it.
type evidenceQuery struct {
	Control    string // a control ID
	Kind       string
	From       string // YYYY-MM-DD
	To         string
	Superseded bool
	Retracted  bool
}

// Encode is the query string of the filter, for links such as the CSV export.
func (q evidenceQuery) Encode() string {
	v := url.Values{}
	for k, x := range map[string]string{"control": q.Control, "kind": q.Kind, "from": q.From, "to": q.To} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if q.Superseded {
		v.Set("superseded", "1")
	}
	if q.Retracted {
		v.Set("retracted", "1")
	}
	return v.Encode()
}

// Active reports whether any filter is set.
func (q evidenceQuery) Active() bool { return q.Encode() != "" }

// parseEvidenceQuery reads the list filter from the URL, naming the parameter at fault.
func parseEvidenceQuery(v url.Values) (evidenceQuery, domain.EvidenceFilter, error) {
	q := evidenceQuery{
		Control: strings.TrimSpace(v.Get("control")), Kind: v.Get("kind"),
		From: strings.TrimSpace(v.Get("from")), To: strings.TrimSpace(v.Get("to")),
		Superseded: v.Get("superseded") == "1", Retracted: v.Get("retracted") == "1",
	}
	f := domain.EvidenceFilter{IncludeSuperseded: q.Superseded, IncludeRetracted: q.Retracted}
	if q.Control != "" {
		id, err := strconv.ParseInt(q.Control, 10, 64)
		if err != nil || id <= 0 {
			return q, f, domain.Invalid("control", "must be chosen from the list")
		}
		f.ControlID = id
	}
	if q.Kind != "" {
		if k := domain.EvidenceKind(q.Kind); k.Valid() {
			f.Kind = k
		} else {
			return q, f, domain.Invalid("kind", "must be one of file, link, note, snapshot")
		}
	}
	var err error
	if f.Since, f.Until, err = periodFilter(q.From, q.To); err != nil {
		return q, f, err
	}
	return q, f, nil
}

// periodFilter parses an optional from/to pair of dates, naming the one at fault.
func periodFilter(from, to string) (since, until *time.Time, err error) {
	if from != "" {
		t, err := domain.ParseDate("from", from)
		if err != nil {
			return nil, nil, err
		}
		since = &t
	}
	if to != "" {
		t, err := domain.ParseDate("to", to)
		if err != nil {
			return nil, nil, err
		}
		until = &t
	}
	if since != nil && until != nil && until.Before(*since) {
		return nil, nil, domain.Invalid("to", "must not be before from")
	}
	return since, until, nil
}

// evidenceRow is an item in a list, with the controls it supports.
type evidenceRow struct {
	domain.Evidence
	Controls []domain.Control
	State    string
}

// KindLabel names the item's kind.
func (r evidenceRow) KindLabel() string { return evidenceKindLabel(r.Kind) }

// SizeLabel is the content's size as people read it.
func (r evidenceRow) SizeLabel() string { return formatSize(r.Size) }

// Period is the effective period in words: "1 Jan 2026 – 31 Mar 2026", or one date.
func (r evidenceRow) Period() string {
	if r.PeriodStart.Equal(r.PeriodEnd) {
		return fmtDate(r.PeriodStart)
	}
	return fmtDate(r.PeriodStart) + " – " + fmtDate(r.PeriodEnd)
}

// evidenceFields is the data of the "evidence-fields" template: the fields of an upload.
type evidenceFields struct {
	Form   *form
	Prefix string // prefixes the fields' IDs, so that two forms can share a page
	// Choose offers a select of Controls; otherwise a control_id in Form is sent along.
	Choose   bool
	Controls []domain.Control
	Limit    string // the upload limit in words
}

// uploadFieldsFor is the upload fields over f.
func (s *Server) uploadFieldsFor(f *form, prefix string, choose []domain.Control) evidenceFields {
	return evidenceFields{Form: f, Prefix: prefix, Choose: choose != nil, Controls: choose, Limit: formatSize(s.maxUpload())}
}

func evidenceRows(items []domain.Evidence, index map[int64]domain.Control) []evidenceRow {
	out := make([]evidenceRow, len(items))
	for i := range items {
		out[i] = evidenceRow{Evidence: items[i], Controls: controlsOf(&items[i], index), State: evidenceState(&items[i])}
	}
	return out
}

// evidenceListView is the data of the evidence list.
type evidenceListView struct {
	Query    evidenceQuery
	Items    []evidenceRow
	Controls []domain.Control // for the filter and the export form
	Kinds    any
	Older    string
	Export   string // the CSV export of the filtered list
	// Bundle is the export form, filled from the list's filter.
	Bundle *form
	Now    time.Time
}

// evidencePageSize is how many items the evidence list shows at once.
const evidencePageSize = 100

func (s *Server) evidenceListPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	q, f, err := parseEvidenceQuery(r.URL.Query())
	if err != nil {
		return err
	}
	if b := r.URL.Query().Get("before"); b != "" {
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 {
			return domain.Invalid("before", "must be a positive number")
		}
		f.Before = n
	}
	f.Limit = evidencePageSize
	ctx := r.Context()
	items, err := s.cfg.Store.EvidenceList(ctx, p.Org.ID, f)
	if err != nil {
		return err
	}
	index, controls, err := s.controlIndex(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := evidenceListView{Query: q, Items: evidenceRows(items, index), Controls: controls, Kinds: evidenceKinds, Now: s.now()}
	v.Export = "/evidence.csv"
	if enc := q.Encode(); enc != "" {
		v.Export += "?" + enc
	}
	if len(items) == evidencePageSize {
		older, _ := url.ParseQuery(q.Encode())
		older.Set("before", strconv.FormatInt(items[len(items)-1].ID, 10))
		v.Older = "/evidence?" + older.Encode()
	}
	v.Bundle = newForm(url.Values{"from": {q.From}, "to": {q.To}})
	if c, ok := index[f.ControlID]; ok {
		v.Bundle.Values.Set("control", c.Ref)
	}
	pg := s.newPage(w, r, p, "Evidence", "evidence")
	pg.Data = v
	return s.render(w, http.StatusOK, "evidence_list", pg)
}

// evidenceCSV exports every item matching the filter, page by page.
func (s *Server) evidenceCSV(w http.ResponseWriter, r *http.Request, p *principal) error {
	_, f, err := parseEvidenceQuery(r.URL.Query())
	if err != nil {
		return err
	}
	ctx := r.Context()
	index, _, err := s.controlIndex(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	f.Limit = 1000
	first, err := s.cfg.Store.EvidenceList(ctx, p.Org.ID, f)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="evident-evidence-%s-%s.csv"`, p.Org.Slug, s.now().UTC().Format(time.DateOnly)))
	h.Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "kind", "title", "controls", "period_start", "period_end", "state", "collected_at", "source",
		"sha256", "size", "media_type", "file_name", "url", "added_by", "added_at", "supersedes", "superseded_by",
		"retracted_at", "retract_reason", "ledger_index", "page"})
	optID := func(id *int64) string {
		if id == nil {
			return ""
		}
		return strconv.FormatInt(*id, 10)
	}
	for items := first; len(items) > 0; {
		for i := range items {
			e := &items[i]
			refs := make([]string, 0, len(e.ControlIDs))
			for _, c := range controlsOf(e, index) {
				refs = append(refs, c.Ref)
			}
			retracted := ""
			if e.RetractedAt != nil {
				retracted = e.RetractedAt.UTC().Format(time.RFC3339)
			}
			row := []string{
				strconv.FormatInt(e.ID, 10), string(e.Kind), e.Title, strings.Join(refs, " "),
				e.PeriodStart.Format(time.DateOnly), e.PeriodEnd.Format(time.DateOnly), evidenceState(e),
				e.CollectedAt.UTC().Format(time.RFC3339), e.Source, e.SHA256, strconv.FormatInt(e.Size, 10),
				e.MediaType, e.FileName, e.URL, e.AddedByName, e.AddedAt.UTC().Format(time.RFC3339),
				optID(e.Supersedes), optID(e.SupersededBy), retracted, e.RetractReason,
				strconv.FormatInt(e.LedgerIndex, 10), evidenceURL(e.ID),
			}
			for j := range row {
				row[j] = csvCell(row[j])
			}
			if err := cw.Write(row); err != nil {
				return nil // the client went away
			}
		}
		if len(items) < f.Limit {
			break
		}
		f.Before = items[len(items)-1].ID
		if items, err = s.cfg.Store.EvidenceList(ctx, p.Org.ID, f); err != nil {
			// The header is out: all that is left is to cut the download short, so
			// that it cannot pass for a complete one.
			s.logError(r, err)
			panic(http.ErrAbortHandler)
		}
	}
	cw.Flush()
	return nil
}

// evidenceView is the data of an item's page.
type evidenceView struct {
	Item evidenceRow
	// Chain is the item's supersession chain, oldest first: the items it corrects, the
	// item itself, and the items that correct it.
	Chain []chainLink
	// Entries are the ledger entries about the item.
	Entries []eventView
	// Note is the text of a note, shown on the page.
	Note           string
	Supersede      *form
	SupersedeBlock evidenceFields
	Retract        *form
	Now            time.Time
}

// chainLink is one item of a supersession chain.
type chainLink struct {
	Row  evidenceRow
	This bool // the item whose page it is
}

// maxChain bounds how far the evidence page follows a supersession chain each way.
const maxChain = 50

// maxNoteShown is how much of a note the evidence page shows.
const maxNoteShown = 64 << 10

func (s *Server) evidencePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.loadEvidence(r, p)
	if err != nil {
		return err
	}
	return s.renderEvidence(w, r, p, e, nil, nil, http.StatusOK)
}

// supersedeFormFor is the supersede form filled from the item it corrects.
func supersedeFormFor(e *domain.Evidence) *form {
	f := newForm(nil)
	f.Values.Set("kind", string(e.Kind))
	f.Values.Set("title", e.Title)
	f.Values.Set("description", e.Description)
	f.Values.Set("period_start", e.PeriodStart.Format(time.DateOnly))
	f.Values.Set("period_end", e.PeriodEnd.Format(time.DateOnly))
	f.Values.Set("url", e.URL)
	return f
}

func (s *Server) renderEvidence(w http.ResponseWriter, r *http.Request, p *principal, e *domain.Evidence, supersede, retract *form, status int) error {
	ctx := r.Context()
	index, _, err := s.controlIndex(ctx, p.Org.ID)
	if err != nil {
		return err
	}
	v := evidenceView{Item: evidenceRows([]domain.Evidence{*e}, index)[0], Supersede: supersede, Retract: retract, Now: s.now()}
	if v.Supersede == nil {
		v.Supersede = supersedeFormFor(e)
	}
	v.SupersedeBlock = s.uploadFieldsFor(v.Supersede, "sup-", nil)
	if v.Retract == nil {
		v.Retract = newForm(nil)
	}
	var earlier, later []domain.Evidence
	for prev, n := e.Supersedes, 0; prev != nil && n < maxChain; n++ {
		old, err := s.cfg.Store.Evidence(ctx, p.Org.ID, *prev)
		if err != nil {
			return err
		}
		earlier = append(earlier, *old)
		prev = old.Supersedes
	}
	for next, n := e.SupersededBy, 0; next != nil && n < maxChain; n++ {
		item, err := s.cfg.Store.Evidence(ctx, p.Org.ID, *next)
		if err != nil {
			return err
		}
		later = append(later, *item)
		next = item.SupersededBy
	}
	slices.Reverse(earlier)
	for _, row := range evidenceRows(earlier, index) {
		v.Chain = append(v.Chain, chainLink{Row: row})
	}
	v.Chain = append(v.Chain, chainLink{Row: v.Item, This: true})
	for _, row := range evidenceRows(later, index) {
		v.Chain = append(v.Chain, chainLink{Row: row})
	}
	if v.Entries, err = s.events(r, p, domain.EventFilter{Subject: "evidence:" + strconv.FormatInt(e.ID, 10), Limit: 20}); err != nil {
		return err
	}
	if e.Kind == domain.EvidenceNote && s.cfg.Evidence != nil {
		if v.Note, err = s.noteText(ctx, p, e); err != nil {
			return err
		}
	}
	pg := s.newPage(w, r, p, e.Title, "evidence")
	pg.Data = v
	return s.render(w, status, "evidence", pg)
}

// noteText reads the text of a note for its page, cut at maxNoteShown bytes.
func (s *Server) noteText(ctx context.Context, p *principal, e *domain.Evidence) (string, error) {
	rc, err := s.openContent(ctx, p, e)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxNoteShown))
	if err != nil {
		return "", fmt.Errorf("read note %d: %w", e.ID, err)
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), nil
}

// downloadEvidence serves an item's content as an attachment, never inline: the media
// type is the sniffed one, with nosniff and a sandboxing policy, so an uploaded HTML page
// cannot run in Evident's origin.
func (s *Server) downloadEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.loadEvidence(r, p)
	if err != nil {
		return err
	}
	return s.serveContent(w, r, p, e)
}

// serveContent writes an item's content as a download. Content that turns out not to
// match its hash while it streams cuts the response short rather than completing it.
func (s *Server) serveContent(w http.ResponseWriter, r *http.Request, p *principal, e *domain.Evidence) error {
	rc, err := s.openContent(r.Context(), p, e)
	if err != nil {
		return err
	}
	defer rc.Close()
	blob.SetAttachmentHeaders(w.Header(), downloadName(e), blob.Info{SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType})
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(w, rc); err != nil {
		s.log.Error("serve evidence content", "org", p.Org.ID, "evidence", e.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// downloadName is the file name an item's content downloads as: the uploaded name for
// files, else one made from its kind and ID.
func downloadName(e *domain.Evidence) string {
	if e.FileName != "" {
		return e.FileName
	}
	switch e.Kind {
	case domain.EvidenceLink:
		return fmt.Sprintf("evidence-%d-link.txt", e.ID)
	case domain.EvidenceNote:
		return fmt.Sprintf("evidence-%d-note.txt", e.ID)
	}
	return fmt.Sprintf("evidence-%d", e.ID)
}

// evidenceProofDownload offers the proof that the ledger recorded the item: the entry
// that added it and its inclusion in a signed checkpoint, as one JSON file.
func (s *Server) evidenceProofDownload(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.loadEvidence(r, p)
	if err != nil {
		return err
	}
	doc, err := s.evidenceProof(r.Context(), p, e)
	if err != nil {
		return err
	}
	return writeJSONFile(w, fmt.Sprintf("evidence-%d-proof.json", e.ID), doc)
}

// evidenceProof builds the inclusion proof of the entry that recorded the item.
func (s *Server) evidenceProof(ctx context.Context, p *principal, e *domain.Evidence) (*inclusionDoc, error) {
	doc, err := s.inclusion(ctx, p.Org.ID, e.LedgerIndex, 0)
	if err != nil {
		return nil, err
	}
	doc.EvidenceID = e.ID
	return doc, nil
}

// uploadFields are the upload form's fields, for placing error messages.
var uploadFields = []string{"control_id", "controls", "kind", "title", "description", "period_start", "period_end", "file", "url", "note"}

// newEvidenceView is the data of the upload page.
type newEvidenceView struct {
	Fields  evidenceFields
	Control *domain.Control // the control the upload is for, when chosen in advance
}

func (s *Server) newEvidencePage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(nil)
	f.Values.Set("kind", string(domain.EvidenceFile))
	if raw := r.URL.Query().Get("control"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return domain.NotFound("control")
		}
		c, err := s.cfg.Store.Control(r.Context(), p.Org.ID, id)
		if err != nil {
			return err
		}
		f.Values.Set("control_id", raw)
		start, end := defaultPeriod(c.Frequency, freshnessOf(c.Frequency, time.Time{}, s.now()), s.now())
		f.Values.Set("period_start", start.Format(time.DateOnly))
		f.Values.Set("period_end", end.Format(time.DateOnly))
	}
	return s.renderNewEvidence(w, r, p, f, http.StatusOK)
}

func (s *Server) renderNewEvidence(w http.ResponseWriter, r *http.Request, p *principal, f *form, status int) error {
	ctx := r.Context()
	controls, err := s.cfg.Store.Controls(ctx, p.Org.ID, domain.ControlFilter{})
	if err != nil {
		return err
	}
	v := newEvidenceView{Fields: s.uploadFieldsFor(f, "", controls)}
	for i := range controls {
		if strconv.FormatInt(controls[i].ID, 10) == f.Get("control_id") {
			v.Control = &controls[i]
		}
	}
	pg := s.newPage(w, r, p, "Add evidence", "evidence")
	pg.Form = f
	pg.Data = v
	return s.render(w, status, "evidence_new", pg)
}

// uploadEvidence adds an item from the upload form, streaming its file. Errors show the
// form again with the message beside the field at fault.
func (s *Server) uploadEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	var added *domain.Evidence
	values, err := s.readUpload(w, r, func(up *evidenceUpload) error {
		var err error
		added, err = s.addEvidence(r.Context(), p, up, 0)
		return err
	})
	if err != nil {
		f := newForm(values)
		if !f.fail(err, uploadFields...) {
			return err
		}
		return s.renderNewEvidence(w, r, p, f, statusOf(err))
	}
	to := evidenceURL(added.ID)
	if len(added.ControlIDs) == 1 && values.Get("return") == "control" {
		to = "/controls/" + strconv.FormatInt(added.ControlIDs[0], 10) + "#evidence"
	}
	return s.redirect(w, r, to, "Added “"+added.Title+"” to the ledger at entry "+strconv.FormatInt(added.LedgerIndex, 10)+".")
}

// supersedeEvidence adds the corrected item for an item, which stays in the ledger as
// superseded. Errors show the item's page with the message in the supersede form.
func (s *Server) supersedeEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.loadEvidence(r, p)
	if err != nil {
		return err
	}
	if err := stillCurrent(old, "superseded"); err != nil {
		f := supersedeFormFor(old)
		f.fail(err)
		return s.renderEvidence(w, r, p, old, f, nil, statusOf(err))
	}
	var added *domain.Evidence
	values, err := s.readUpload(w, r, func(up *evidenceUpload) error {
		if len(up.ControlIDs) == 0 {
			up.ControlIDs = old.ControlIDs
		}
		var err error
		added, err = s.addEvidence(r.Context(), p, up, old.ID)
		return err
	})
	if err != nil {
		f := newForm(values)
		if !f.fail(err, uploadFields...) {
			return err
		}
		return s.renderEvidence(w, r, p, old, f, nil, statusOf(err))
	}
	return s.redirect(w, r, evidenceURL(added.ID), "“"+added.Title+"” supersedes evidence "+strconv.FormatInt(old.ID, 10)+".")
}

// stillCurrent refuses to supersede or retract (verb) an item that is no longer current,
// before any upload is read; the store refuses it too, in its transaction.
func stillCurrent(e *domain.Evidence, verb string) error {
	switch {
	case e.RetractedAt != nil:
		return domain.Errorf(domain.KindConflict, "evidence %d was retracted and cannot be %s", e.ID, verb)
	case e.SupersededBy != nil:
		return domain.Errorf(domain.KindConflict, "evidence %d was superseded by evidence %d and cannot be %s", e.ID, *e.SupersededBy, verb)
	}
	return nil
}

// retractEvidence withdraws an item for the reason given.
func (s *Server) retractEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.loadEvidence(r, p)
	if err != nil {
		return err
	}
	f, err := parseForm(w, r)
	if err != nil {
		return err
	}
	if _, err := s.retract(r.Context(), p, e.ID, f.Get("reason")); err != nil {
		if !f.fail(err, "reason") {
			return err
		}
		return s.renderEvidence(w, r, p, e, nil, f, statusOf(err))
	}
	return s.redirect(w, r, evidenceURL(e.ID), "Retracted “"+e.Title+"”. It stays in the ledger with the reason.")
}

// controlEvidence is the evidence card of a control's page.
type controlEvidence struct {
	// Applies is false for retired and not-applicable controls, which need no evidence.
	Applies   bool
	Freshness freshnessView
	Current   []evidenceRow
	Past      []evidenceRow // superseded and retracted, newest first
	// Upload is the upload form, its period set to the one the control needs now.
	Upload evidenceFields
}

// controlEvidenceCard reads a control's evidence and judges its freshness.
func (s *Server) controlEvidenceCard(ctx context.Context, p *principal, c *domain.Control) (*controlEvidence, error) {
	items, err := s.cfg.Store.EvidenceList(ctx, p.Org.ID, domain.EvidenceFilter{
		ControlID: c.ID, IncludeSuperseded: true, IncludeRetracted: true, Limit: 1000,
	})
	if err != nil {
		return nil, err
	}
	latest, err := s.cfg.Store.LatestEvidence(ctx, p.Org.ID)
	if err != nil {
		return nil, err
	}
	card := &controlEvidence{Applies: needsEvidence(c), Freshness: freshnessOf(c.Frequency, latest[c.ID], s.now())}
	for _, row := range evidenceRows(items, nil) {
		if row.Current() {
			card.Current = append(card.Current, row)
		} else {
			card.Past = append(card.Past, row)
		}
	}
	start, end := defaultPeriod(c.Frequency, card.Freshness, s.now())
	card.Upload = s.uploadFieldsFor(newForm(url.Values{
		"kind":         {string(domain.EvidenceFile)},
		"control_id":   {strconv.FormatInt(c.ID, 10)},
		"return":       {"control"},
		"period_start": {start.Format(time.DateOnly)},
		"period_end":   {end.Format(time.DateOnly)},
	}), "ev-", nil)
	return card, nil
}

// defaultPeriod is the effective period an upload form suggests for a control: the period
// it needs evidence for now, or today for a control that operates per event.
func defaultPeriod(f domain.Frequency, fv freshnessView, now time.Time) (time.Time, time.Time) {
	if f == domain.FrequencyPerEvent {
		today := domain.DateOf(now)
		return today, today
	}
	return fv.NeededStart, fv.NeededEnd
}
