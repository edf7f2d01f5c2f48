package web

import (
	"bufio"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
)

// evidenceUpload is an item of evidence as a form or an API request submits it.
type evidenceUpload struct {
	Kind        domain.EvidenceKind
	Title       string
	Description string
	ControlIDs  []int64
	PeriodStart time.Time
	PeriodEnd   time.Time
	URL         string
	Note        string
	// File streams the content of a file upload; FileName is the name it was sent with.
	File     io.Reader
	FileName string
}

// maxUploadFields bounds the bytes of an upload's fields other than the file, which are
// allowed on top of the upload limit.
const maxUploadFields = 1 << 20

// maxUpload is the largest file accepted, in bytes.
func (s *Server) maxUpload() int64 {
	if s.cfg.MaxUpload > 0 {
		return s.cfg.MaxUpload
	}
	return blob.DefaultLimit
}

// tooLargeError is the error for a file over the upload limit.
func (s *Server) tooLargeError() error {
	return domain.Invalid("file", "is larger than the upload limit of %s", formatSize(s.maxUpload()))
}

// multipartUpload is a multipart upload: its fields, then the file.
type multipartUpload struct {
	Values   url.Values
	File     io.Reader // nil when no file was sent
	FileName string    // as the client sent it, unsanitized
	rest     io.Reader
}

// drain reads what is left of the upload, so that the client gets the answer rather than
// a reset connection; the body's limit bounds the work.
func (u *multipartUpload) drain() {
	if u.rest != nil {
		_, _ = io.Copy(io.Discard, u.rest)
	}
}

// startUpload starts reading a multipart/form-data upload: the fields before the file,
// then the file, which must come last, left to stream so that no upload is held in memory
// or spooled twice. The body is limited to the upload limit plus maxUploadFields; the
// file is KindInvalid for "file" once it passes the upload limit while it is read.
func (s *Server) startUpload(w http.ResponseWriter, r *http.Request) (*multipartUpload, error) {
	up := &multipartUpload{Values: url.Values{}}
	limit := s.maxUpload()
	r.Body = http.MaxBytesReader(w, r.Body, limit+maxUploadFields)
	mr, err := r.MultipartReader()
	if err != nil {
		return up, domain.Invalid("body", "send the upload as multipart/form-data")
	}
	fieldBytes := 0
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return up, nil
		}
		if err != nil {
			return up, s.uploadReadError(err)
		}
		name := part.FormName()
		if name == "file" {
			br := bufio.NewReader(part)
			if _, err := br.Peek(1); err == io.EOF && part.FileName() == "" {
				continue
			} else if err != nil && err != io.EOF {
				return up, s.uploadReadError(err)
			}
			// A browser sends an empty, nameless file part when no file was chosen.
			f := &uploadFile{s: s, r: br, mr: mr, limit: limit}
			up.File, up.FileName, up.rest = f, part.FileName(), f
			return up, nil
		}
		b, err := io.ReadAll(io.LimitReader(part, int64(maxUploadFields-fieldBytes+1)))
		if err != nil {
			return up, s.uploadReadError(err)
		}
		if fieldBytes += len(b); fieldBytes > maxUploadFields {
			return up, domain.Invalid(name, "is too long: the fields of an upload may hold at most %s", formatSize(maxUploadFields))
		}
		if name != "" {
			up.Values.Add(name, string(b))
		}
	}
}

// readUpload reads a multipart/form-data upload as it streams: the fields first, into the
// values it returns (to show the form again), then the file, which must be the last part.
// It calls add once with the upload, the file still streaming from the request, so that
// no upload is held in memory or spooled twice. The body is limited to the upload limit
// plus maxUploadFields; a file over the limit is KindInvalid for "file", also when the
// limit is reached while add reads it.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request, add func(*evidenceUpload) error) (url.Values, error) {
	mu, err := s.startUpload(w, r)
	if err != nil {
		mu.drain()
		return mu.Values, err
	}
	up, err := uploadFromValues(mu.Values, mu.File != nil)
	switch {
	case up.Kind.Valid() && mu.File != nil && up.Kind != domain.EvidenceFile:
		err = domain.Invalid("file", "is only for evidence of kind file: choose kind file, or remove the file")
	case err == nil && mu.File == nil && up.Kind == domain.EvidenceFile:
		err = domain.Invalid("file", "is required: choose a file to upload")
	}
	if err != nil {
		mu.drain()
		return mu.Values, err
	}
	if mu.File != nil {
		up.File = mu.File
		if mu.FileName != "" {
			up.FileName = blob.SanitizeFilename(mu.FileName)
		}
	}
	if err := add(up); err != nil {
		// The item was refused before its file was read to the end: read the rest, so
		// that the client gets the answer rather than a reset connection. The file's own
		// limit stops this early for a file that is too large.
		mu.drain()
		return mu.Values, err
	}
	return mu.Values, nil
}

// uploadReadError turns a failure to read an upload into an error for the client.
func (s *Server) uploadReadError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return s.tooLargeError()
	}
	var de *domain.Error
	if errors.As(err, &de) {
		return err
	}
	return domain.Invalid("body", "the upload could not be read to its end")
}

// uploadFile streams the file part of an upload. It fails with KindInvalid for "file"
// past the upload limit, and at its end when another part follows it: the fields must
// come first, so that they are known before the file is stored.
type uploadFile struct {
	s     *Server
	r     io.Reader
	mr    *multipart.Reader
	limit int64
	n     int64
	err   error
}

func (u *uploadFile) Read(p []byte) (int, error) {
	if u.err != nil {
		return 0, u.err
	}
	n, err := u.r.Read(p)
	u.n += int64(n)
	switch {
	case u.n > u.limit:
		u.err = u.s.tooLargeError()
	case err == io.EOF:
		if _, next := u.mr.NextPart(); next == nil {
			u.err = domain.Invalid("file", "must be the last field of the form")
		} else if next != io.EOF {
			u.err = u.s.uploadReadError(next)
		} else {
			u.err = io.EOF
		}
	case err != nil:
		u.err = u.s.uploadReadError(err)
	}
	if u.err != nil {
		return n, u.err
	}
	return n, nil
}

// uploadFromValues reads an upload's fields, naming the one at fault. hasFile tells a
// kind left out from the content sent.
func uploadFromValues(v url.Values, hasFile bool) (*evidenceUpload, error) {
	up := &evidenceUpload{
		Kind:  domain.EvidenceKind(strings.TrimSpace(v.Get("kind"))),
		Title: v.Get("title"), Description: v.Get("description"),
		URL: strings.TrimSpace(v.Get("url")), Note: v.Get("note"),
	}
	if up.Kind == "" {
		switch {
		case hasFile:
			up.Kind = domain.EvidenceFile
		case up.URL != "":
			up.Kind = domain.EvidenceLink
		case strings.TrimSpace(up.Note) != "":
			up.Kind = domain.EvidenceNote
		}
	}
	if !oneOf(up.Kind, []domain.EvidenceKind{domain.EvidenceFile, domain.EvidenceLink, domain.EvidenceNote}) {
		return up, domain.Invalid("kind", "must be one of file, link, note")
	}
	for _, raw := range v["control_id"] {
		if raw = strings.TrimSpace(raw); raw == "" {
			continue
		}
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return up, domain.Invalid("control_id", "must be chosen from the list")
		}
		up.ControlIDs = append(up.ControlIDs, id)
	}
	var err error
	if up.PeriodStart, up.PeriodEnd, err = parsePeriod(v.Get("period_start"), v.Get("period_end")); err != nil {
		return up, err
	}
	return up, checkUploadContent(up)
}

// parsePeriod reads an effective period: both dates required, the end not before the start.
func parsePeriod(start, end string) (time.Time, time.Time, error) {
	if strings.TrimSpace(start) == "" {
		return time.Time{}, time.Time{}, domain.Invalid("period_start", "is required: the first day the evidence speaks for")
	}
	s, err := domain.ParseDate("period_start", start)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if strings.TrimSpace(end) == "" {
		return time.Time{}, time.Time{}, domain.Invalid("period_end", "is required: the last day the evidence speaks for")
	}
	e, err := domain.ParseDate("period_end", end)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if e.Before(s) {
		return time.Time{}, time.Time{}, domain.Invalid("period_end", "must not be before the period start")
	}
	return s, e, nil
}

// checkUploadContent checks that a link has its address and a note its text.
func checkUploadContent(up *evidenceUpload) error {
	switch up.Kind {
	case domain.EvidenceLink:
		if up.URL == "" {
			return domain.Invalid("url", "is required for a link")
		}
	case domain.EvidenceNote:
		if strings.TrimSpace(up.Note) == "" {
			return domain.Invalid("note", "is required for a note: write its text")
		}
	}
	return nil
}

// evidenceService returns the configured evidence service, or an internal error when the
// server was started without one.
func (s *Server) evidenceService() (*evidence.Service, error) {
	if s.cfg.Evidence == nil {
		return nil, errors.New("evidence: no evidence service configured")
	}
	return s.cfg.Evidence, nil
}

// addEvidence adds an upload as a new item, or as the correction of the item supersedes
// when it is not 0.
func (s *Server) addEvidence(ctx context.Context, p *principal, up *evidenceUpload, supersedes int64) (*domain.Evidence, error) {
	svc, err := s.evidenceService()
	if err != nil {
		return nil, err
	}
	in := evidence.Input{
		Kind: up.Kind, Title: up.Title, Description: up.Description, ControlIDs: up.ControlIDs,
		PeriodStart: up.PeriodStart, PeriodEnd: up.PeriodEnd,
		File: up.File, FileName: up.FileName, URL: up.URL, Note: up.Note,
	}
	if supersedes != 0 {
		return svc.Supersede(ctx, p.Actor(), p.Org.ID, supersedes, in)
	}
	return svc.Add(ctx, p.Actor(), p.Org.ID, in)
}

// retract withdraws an item for the reason given.
func (s *Server) retract(ctx context.Context, p *principal, id int64, reason string) (*domain.Evidence, error) {
	svc, err := s.evidenceService()
	if err != nil {
		return nil, err
	}
	return svc.Retract(ctx, p.Actor(), p.Org.ID, id, reason)
}

// openContent opens an item's content.
func (s *Server) openContent(ctx context.Context, p *principal, e *domain.Evidence) (io.ReadCloser, error) {
	svc, err := s.evidenceService()
	if err != nil {
		return nil, err
	}
	return svc.Open(ctx, p.Org.ID, e)
}

// apiEvidenceItem is an item of evidence as the API shows it.
type apiEvidenceItem struct {
	ID            int64               `json:"id"`
	Kind          domain.EvidenceKind `json:"kind"`
	Title         string              `json:"title"`
	Description   string              `json:"description"`
	ControlIDs    []int64             `json:"control_ids"`
	PeriodStart   string              `json:"period_start"`
	PeriodEnd     string              `json:"period_end"`
	CollectedAt   time.Time           `json:"collected_at"`
	Source        string              `json:"source"`
	SHA256        string              `json:"sha256"`
	Size          int64               `json:"size"`
	MediaType     string              `json:"media_type"`
	FileName      string              `json:"file_name"`
	URL           string              `json:"url"`
	AddedBy       int64               `json:"added_by"`
	AddedByName   string              `json:"added_by_name"`
	AddedAt       time.Time           `json:"added_at"`
	State         string              `json:"state"`
	Supersedes    *int64              `json:"supersedes"`
	SupersededBy  *int64              `json:"superseded_by"`
	RetractedAt   *time.Time          `json:"retracted_at"`
	RetractReason string              `json:"retract_reason"`
	LedgerIndex   int64               `json:"ledger_index"`
}

func toAPIEvidence(e *domain.Evidence) apiEvidenceItem {
	ids := e.ControlIDs
	if ids == nil {
		ids = []int64{}
	}
	return apiEvidenceItem{
		ID: e.ID, Kind: e.Kind, Title: e.Title, Description: e.Description, ControlIDs: ids,
		PeriodStart: e.PeriodStart.Format(time.DateOnly), PeriodEnd: e.PeriodEnd.Format(time.DateOnly),
		CollectedAt: e.CollectedAt, Source: e.Source, SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType,
		FileName: e.FileName, URL: e.URL, AddedBy: e.AddedBy, AddedByName: e.AddedByName, AddedAt: e.AddedAt,
		State: evidenceState(e), Supersedes: e.Supersedes, SupersededBy: e.SupersededBy,
		RetractedAt: e.RetractedAt, RetractReason: e.RetractReason, LedgerIndex: e.LedgerIndex,
	}
}

// evidenceAPIFilter reads the query parameters of GET /evidence.
func evidenceAPIFilter(r *http.Request) (domain.EvidenceFilter, error) {
	q := r.URL.Query()
	var f domain.EvidenceFilter
	if raw := q.Get("control"); raw != "" {
		id, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || id <= 0 {
			return f, domain.Invalid("control", "must be a control ID")
		}
		f.ControlID = id
	}
	if raw := q.Get("kind"); raw != "" {
		if f.Kind = domain.EvidenceKind(raw); !f.Kind.Valid() {
			return f, domain.Invalid("kind", "must be one of file, link, note, snapshot")
		}
	}
	var err error
	if f.Since, f.Until, err = periodFilter(q.Get("from"), q.Get("to")); err != nil {
		return f, err
	}
	if f.IncludeSuperseded, err = queryBool(r, "include_superseded"); err != nil {
		return f, err
	}
	if f.IncludeRetracted, err = queryBool(r, "include_retracted"); err != nil {
		return f, err
	}
	if raw := q.Get("before"); raw != "" {
		if f.Before, err = strconv.ParseInt(raw, 10, 64); err != nil || f.Before <= 0 {
			return f, domain.Invalid("before", "must be an evidence ID")
		}
	}
	f.Limit = 100
	if raw := q.Get("limit"); raw != "" {
		if f.Limit, err = strconv.Atoi(raw); err != nil || f.Limit < 1 || f.Limit > 1000 {
			return f, domain.Invalid("limit", "must be from 1 to 1000")
		}
	}
	return f, nil
}

func (s *Server) apiEvidenceList(w http.ResponseWriter, r *http.Request, p *principal) error {
	f, err := evidenceAPIFilter(r)
	if err != nil {
		return err
	}
	items, err := s.cfg.Store.EvidenceList(r.Context(), p.Org.ID, f)
	if err != nil {
		return err
	}
	out := make([]apiEvidenceItem, len(items))
	for i := range items {
		out[i] = toAPIEvidence(&items[i])
	}
	var next *int64
	if len(items) == f.Limit {
		next = &items[len(items)-1].ID
	}
	writeJSON(w, http.StatusOK, map[string]any{"evidence": out, "next_before": next})
	return nil
}

// apiEvidenceID reads the item named in the path, in the principal's organization only.
func (s *Server) apiEvidenceID(r *http.Request, p *principal) (*domain.Evidence, error) {
	id, err := pathID(r, "id", "evidence")
	if err != nil {
		return nil, err
	}
	return s.cfg.Store.Evidence(r.Context(), p.Org.ID, id)
}

func (s *Server) apiEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.apiEvidenceID(r, p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIEvidence(e))
	return nil
}

// evidenceRequest is the JSON body of POST /evidence and POST /evidence/{id}/supersede
// for links and notes; files are sent as multipart/form-data.
type evidenceRequest struct {
	Kind        domain.EvidenceKind `json:"kind"`
	Title       string              `json:"title"`
	Description string              `json:"description"`
	ControlIDs  []int64             `json:"control_ids"`
	PeriodStart string              `json:"period_start"`
	PeriodEnd   string              `json:"period_end"`
	URL         string              `json:"url"`
	Note        string              `json:"note"`
}

// apiUpload reads an item from a JSON body (links and notes) or a multipart/form-data
// body (any kind, and the only way to send a file), and adds it with add.
func (s *Server) apiUpload(w http.ResponseWriter, r *http.Request, add func(*evidenceUpload) error) error {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		_, err := s.readUpload(w, r, add)
		return err
	}
	var req evidenceRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	if req.Kind == domain.EvidenceFile {
		return domain.Invalid("file", "send a file as multipart/form-data, with the file as the last part")
	}
	if !oneOf(req.Kind, []domain.EvidenceKind{domain.EvidenceLink, domain.EvidenceNote}) {
		return domain.Invalid("kind", "must be link or note in a JSON body; send files as multipart/form-data")
	}
	up := &evidenceUpload{
		Kind: req.Kind, Title: req.Title, Description: req.Description, ControlIDs: req.ControlIDs,
		URL: strings.TrimSpace(req.URL), Note: req.Note,
	}
	var err error
	if up.PeriodStart, up.PeriodEnd, err = parsePeriod(req.PeriodStart, req.PeriodEnd); err != nil {
		return err
	}
	if err := checkUploadContent(up); err != nil {
		return err
	}
	return add(up)
}

func (s *Server) apiAddEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	var added *domain.Evidence
	err := s.apiUpload(w, r, func(up *evidenceUpload) error {
		var err error
		added, err = s.addEvidence(r.Context(), p, up, 0)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/evidence/"+strconv.FormatInt(added.ID, 10))
	writeJSON(w, http.StatusCreated, toAPIEvidence(added))
	return nil
}

func (s *Server) apiSupersedeEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	old, err := s.apiEvidenceID(r, p)
	if err != nil {
		return err
	}
	if err := stillCurrent(old, "superseded"); err != nil {
		return err
	}
	var added *domain.Evidence
	err = s.apiUpload(w, r, func(up *evidenceUpload) error {
		if len(up.ControlIDs) == 0 {
			up.ControlIDs = old.ControlIDs
		}
		var err error
		added, err = s.addEvidence(r.Context(), p, up, old.ID)
		return err
	})
	if err != nil {
		return err
	}
	w.Header().Set("Location", apiPrefix+"/evidence/"+strconv.FormatInt(added.ID, 10))
	writeJSON(w, http.StatusCreated, toAPIEvidence(added))
	return nil
}

// retractRequest is the body of POST /evidence/{id}/retract.
type retractRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) apiRetractEvidence(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.apiEvidenceID(r, p)
	if err != nil {
		return err
	}
	var req retractRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return err
	}
	retracted, err := s.retract(r.Context(), p, e.ID, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toAPIEvidence(retracted))
	return nil
}

func (s *Server) apiEvidenceContent(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.apiEvidenceID(r, p)
	if err != nil {
		return err
	}
	return s.serveContent(w, r, p, e)
}

func (s *Server) apiEvidenceProof(w http.ResponseWriter, r *http.Request, p *principal) error {
	e, err := s.apiEvidenceID(r, p)
	if err != nil {
		return err
	}
	doc, err := s.evidenceProof(r.Context(), p, e)
	if err != nil {
		return err
	}
	return encodeJSON(w, http.StatusOK, doc, "")
}
