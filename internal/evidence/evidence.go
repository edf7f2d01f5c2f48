// Package evidence adds, corrects, withdraws and reads evidence, keeping small content in
// the database and large files in the blob store, and publishes signed ledger checkpoints.
package evidence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
)

// Service adds and reads evidence. Store and Blobs are required.
type Service struct {
	Store domain.Store
	Blobs blob.Store
	// Now is the clock for collection times left unset; nil means time.Now.
	Now func() time.Time
	// MaxUpload caps an item's content in bytes, enforced while it streams; 0 means
	// blob.DefaultLimit.
	MaxUpload int64
}

// Input is an item of evidence to add. The content comes from the field its Kind names:
// File for a file; URL for a link (the content is the URL); Note for a note (the content
// is the text, text/plain; charset=utf-8); Snapshot, or File for one that streams, for an
// automated snapshot. The other content fields must be empty.
type Input struct {
	Kind        domain.EvidenceKind
	Title       string
	Description string
	ControlIDs  []int64
	PeriodStart time.Time
	PeriodEnd   time.Time
	// CollectedAt is when the content was produced; zero means now.
	CollectedAt time.Time
	// Source is who or what produced it, such as "aws/1.4.0"; empty means the actor's email.
	Source string

	File     io.Reader // a file's content, read once
	FileName string    // the original name of a file; sanitized before it is kept
	URL      string    // a link
	Note     string    // a note's text
	Snapshot []byte    // a snapshot's content: raw responses, results
	// MediaType is a snapshot's media type, such as application/json; empty means sniffed.
	// The media type of other kinds is sniffed from their content or fixed by their kind.
	MediaType string
}

// The media types of the kinds whose content Evident writes itself.
const (
	linkMediaType = "text/uri-list"
	noteMediaType = "text/plain; charset=utf-8"
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) limit() int64 {
	if s.MaxUpload > 0 {
		return s.MaxUpload
	}
	return blob.DefaultLimit
}

// Add adds one item and returns it as stored, with its ledger index. Content up to
// domain.MaxInlineContent bytes is kept in the database; larger content streams into the
// blob store first.
func (s *Service) Add(ctx context.Context, actor domain.Actor, orgID int64, in Input) (*domain.Evidence, error) {
	item, err := s.prepare(ctx, actor, in)
	if err != nil {
		return nil, err
	}
	out, err := s.Store.AddEvidence(ctx, actor, orgID, []domain.NewEvidence{item})
	if err != nil {
		return nil, err
	}
	return &out[0], nil
}

// AddBatch adds many items in one transaction, all or nothing, and returns them as
// stored, in order: the ingest path for connectors and imports, where one commit makes
// thousands of small items durable at once. An invalid item is named in the error's
// field, such as "items[2].note".
func (s *Service) AddBatch(ctx context.Context, actor domain.Actor, orgID int64, ins []Input) ([]domain.Evidence, error) {
	if len(ins) == 0 {
		return nil, domain.Invalid("items", "at least one item is required")
	}
	items := make([]domain.NewEvidence, len(ins))
	for i, in := range ins {
		item, err := s.prepare(ctx, actor, in)
		if err != nil {
			return nil, itemError(i, len(ins), err)
		}
		items[i] = item
	}
	return s.Store.AddEvidence(ctx, actor, orgID, items)
}

// Supersede adds in as the correction of the organization's current item oldID and
// returns it.
func (s *Service) Supersede(ctx context.Context, actor domain.Actor, orgID, oldID int64, in Input) (*domain.Evidence, error) {
	item, err := s.prepare(ctx, actor, in)
	if err != nil {
		return nil, err
	}
	return s.Store.SupersedeEvidence(ctx, actor, orgID, oldID, item)
}

// Retract withdraws the organization's current item id for the reason given, which is
// required, and returns it.
func (s *Service) Retract(ctx context.Context, actor domain.Actor, orgID, id int64, reason string) (*domain.Evidence, error) {
	reason, err := domain.ValidateRetractReason(reason)
	if err != nil {
		return nil, err
	}
	return s.Store.RetractEvidence(ctx, actor, orgID, id, reason)
}

// Open returns the content of one of the organization's items, e as the store returned
// it, from the database or the blob store. Either way the content is checked against
// the item's SHA-256: inline content before Open returns, blob content as it is read
// (the reader fails at the end, wrapping blob.ErrCorrupt, when it does not match).
func (s *Service) Open(ctx context.Context, orgID int64, e *domain.Evidence) (io.ReadCloser, error) {
	if e == nil || e.OrgID != orgID {
		return nil, domain.NotFound("evidence")
	}
	if e.Size <= domain.MaxInlineContent {
		data, err := s.Store.EvidenceContent(ctx, orgID, e.ID)
		if err == nil {
			return io.NopCloser(bytes.NewReader(data)), nil
		}
		if !domain.IsNotFound(err) {
			return nil, err
		}
	}
	r, info, err := s.Blobs.Open(ctx, e.SHA256)
	if err != nil {
		if domain.IsNotFound(err) {
			return nil, domain.NotFound("content of evidence " + strconv.FormatInt(e.ID, 10))
		}
		return nil, fmt.Errorf("open content of evidence %d: %w", e.ID, err)
	}
	if info.Size != e.Size {
		r.Close()
		return nil, fmt.Errorf("content of evidence %d: %d bytes stored, %d recorded: %w", e.ID, info.Size, e.Size, blob.ErrCorrupt)
	}
	return r, nil
}

// heads hold the first bytes of streamed content while Evident decides where it goes.
var heads = sync.Pool{New: func() any { b := make([]byte, domain.MaxInlineContent+1); return &b }}

// prepare turns an input into an item for the store: metadata checked first, so that a
// bad form stores nothing; then the content, kept inline when it is small and streamed
// into the blob store, hashed and counted, when it is not.
func (s *Service) prepare(ctx context.Context, actor domain.Actor, in Input) (domain.NewEvidence, error) {
	e := domain.Evidence{
		Kind: in.Kind, Title: in.Title, Description: in.Description, ControlIDs: in.ControlIDs,
		PeriodStart: in.PeriodStart, PeriodEnd: in.PeriodEnd, CollectedAt: in.CollectedAt, Source: in.Source,
	}
	if e.CollectedAt.IsZero() {
		e.CollectedAt = s.now()
	}
	if strings.TrimSpace(e.Source) == "" {
		e.Source = actor.Email
		if e.Source == "" {
			e.Source = domain.SystemActor.Email
		}
	}
	var data []byte      // content given whole
	var stream io.Reader // content to read
	field := "file"      // the input field the content came from, for errors
	switch in.Kind {
	case domain.EvidenceFile:
		if in.File == nil {
			return domain.NewEvidence{}, domain.Invalid("file", "is required: choose a file to upload")
		}
		if err := onlyContent(in); err != nil {
			return domain.NewEvidence{}, err
		}
		stream = in.File
		e.FileName = blob.SanitizeFilename(in.FileName)
	case domain.EvidenceLink:
		if err := onlyContent(in); err != nil {
			return domain.NewEvidence{}, err
		}
		e.URL = strings.TrimSpace(in.URL)
		data, field, e.MediaType = []byte(e.URL), "url", linkMediaType
	case domain.EvidenceNote:
		if strings.TrimSpace(in.Note) == "" {
			return domain.NewEvidence{}, domain.Invalid("note", "is required: write the note")
		}
		if err := onlyContent(in); err != nil {
			return domain.NewEvidence{}, err
		}
		data, field, e.MediaType = []byte(in.Note), "note", noteMediaType
	case domain.EvidenceSnapshot:
		switch {
		case in.File != nil && in.Snapshot != nil:
			return domain.NewEvidence{}, domain.Invalid("snapshot", "give the content once, as bytes or as a stream")
		case in.File != nil:
			stream = in.File
		case len(in.Snapshot) == 0:
			return domain.NewEvidence{}, domain.Invalid("snapshot", "is empty")
		default:
			data, field = in.Snapshot, "snapshot"
		}
		if err := onlyContent(in); err != nil {
			return domain.NewEvidence{}, err
		}
		if in.MediaType != "" {
			if !validMediaType(in.MediaType) {
				return domain.NewEvidence{}, domain.Invalid("media_type", "is not a media type, such as application/json")
			}
			e.MediaType = in.MediaType
		}
		e.FileName = in.FileName
		if e.FileName != "" {
			e.FileName = blob.SanitizeFilename(e.FileName)
		}
	default:
		return domain.NewEvidence{}, domain.Invalid("kind", "must be one of file, link, note, snapshot")
	}
	probe := e
	probe.SHA256 = probeSHA256
	if err := domain.ValidateEvidence(&probe); err != nil {
		return domain.NewEvidence{}, err
	}
	if stream != nil {
		return s.prepareStream(ctx, e, stream)
	}
	if int64(len(data)) > s.limit() {
		return domain.NewEvidence{}, domain.Invalid(field, "is larger than the upload limit of %s", formatSize(s.limit()))
	}
	if len(data) <= domain.MaxInlineContent {
		return inline(e, data), nil
	}
	return s.putBlob(ctx, e, bytes.NewReader(data))
}

// probeSHA256 stands in for the content's hash while the metadata is checked before the
// content is read.
const probeSHA256 = "0000000000000000000000000000000000000000000000000000000000000000"

// onlyContent refuses content given in a field that the input's kind does not read.
func onlyContent(in Input) error {
	file := in.Kind == domain.EvidenceFile || in.Kind == domain.EvidenceSnapshot
	switch {
	case in.File != nil && !file:
		return domain.Invalid("file", "is not the content of a %s", in.Kind)
	case in.URL != "" && in.Kind != domain.EvidenceLink:
		return domain.Invalid("url", "is not the content of a %s", in.Kind)
	case in.Note != "" && in.Kind != domain.EvidenceNote:
		return domain.Invalid("note", "is not the content of a %s", in.Kind)
	case in.Snapshot != nil && in.Kind != domain.EvidenceSnapshot:
		return domain.Invalid("snapshot", "is not the content of a %s", in.Kind)
	}
	return nil
}

// validMediaType reports whether s is a media type that mime.ParseMediaType accepts. The
// plain type/subtype that connectors send with every item, such as application/json, is
// recognized without the parse and the map of parameters it builds.
func validMediaType(s string) bool {
	slash := strings.IndexByte(s, '/')
	if slash > 0 && slash < len(s)-1 && tokenOnly(s[:slash]) && tokenOnly(s[slash+1:]) {
		return true
	}
	_, _, err := mime.ParseMediaType(s)
	return err == nil
}

// tokenOnly reports whether s is made of the characters of an RFC 2045 token: printable
// ASCII other than space and the tspecials ()<>@,;:\"/[]?=.
func tokenOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}

// prepareStream reads up to domain.MaxInlineContent bytes of r: content that ends there is
// kept inline, longer content streams into the blob store under the upload limit.
func (s *Service) prepareStream(ctx context.Context, e domain.Evidence, r io.Reader) (domain.NewEvidence, error) {
	bufp := heads.Get().(*[]byte)
	defer heads.Put(bufp)
	head := *bufp
	n, err := io.ReadFull(r, head)
	switch {
	case err == nil: // more than fits inline
		return s.putBlob(ctx, e, io.MultiReader(bytes.NewReader(head[:n]), r))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
	default:
		return domain.NewEvidence{}, fmt.Errorf("read evidence content: %w", err)
	}
	if int64(n) > s.limit() {
		return domain.NewEvidence{}, domain.Invalid("file", "is larger than the upload limit of %s", formatSize(s.limit()))
	}
	return inline(e, bytes.Clone(head[:n])), nil
}

// inline returns the item with its content kept in the database. The store hashes and
// counts the content; the media type is sniffed unless the kind fixed it.
func inline(e domain.Evidence, data []byte) domain.NewEvidence {
	if e.MediaType == "" {
		e.MediaType = http.DetectContentType(data)
	}
	if data == nil {
		data = []byte{}
	}
	return domain.NewEvidence{Evidence: e, Content: data}
}

// putBlob streams content into the blob store and returns the item naming it.
func (s *Service) putBlob(ctx context.Context, e domain.Evidence, r io.Reader) (domain.NewEvidence, error) {
	info, err := s.Blobs.Put(ctx, r, s.limit())
	if err != nil {
		return domain.NewEvidence{}, err
	}
	e.SHA256, e.Size = info.SHA256, info.Size
	if e.MediaType == "" {
		e.MediaType = info.MediaType
	}
	return domain.NewEvidence{Evidence: e}, nil
}

// itemError names the position of a failing item of a batch of n in the error's field,
// such as "items[2].note", keeping the error's kind.
func itemError(i, n int, err error) error {
	var de *domain.Error
	if n < 2 || !errors.As(err, &de) {
		return err
	}
	c := *de
	if c.Field != "" {
		c.Field = fmt.Sprintf("items[%d].%s", i, c.Field)
	} else {
		c.Message = fmt.Sprintf("items[%d]: %s", i, c.Message)
	}
	return &c
}

// formatSize writes a size in the largest binary unit that divides it exactly.
func formatSize(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return strconv.FormatInt(n/u.size, 10) + " " + u.name
		}
	}
	return strconv.FormatInt(n, 10) + " bytes"
}
