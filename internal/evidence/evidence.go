// Package evidence adds, corrects, withdraws and reads evidence, keeping small content in
// the database and large files in the blob store, and publishes signed ledger checkpoints.
package evidence

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
)

// Service adds and reads evidence. Store and Blobs are required.
type Service struct {
	Store domain.Store
	Blobs blob.Store
	Now   func() time.Time
	// MaxUpload caps a file's size in bytes, enforced while streaming; 0 means blob.DefaultLimit.
	MaxUpload int64
}

// Input is an item of evidence to add. Exactly one of File, URL, Note or Snapshot carries
// the content, as Kind says.
type Input struct {
	Kind        domain.EvidenceKind
	Title       string
	Description string
	ControlIDs  []int64
	PeriodStart time.Time
	PeriodEnd   time.Time
	// CollectedAt is when the content was produced; zero means now.
	CollectedAt time.Time
	// Source is who or what produced it; empty means the actor's email.
	Source string

	File     io.Reader // for files
	FileName string    // the original name of a file; sanitized before it is kept
	URL      string    // for links
	Note     string    // for notes
	Snapshot []byte    // for automated snapshots (raw responses, results)
	// MediaType overrides the sniffed media type of a snapshot, such as application/json.
	MediaType string
}

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

// Add adds one item and returns it as stored, with its ledger index.
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

// AddBatch adds many items in one transaction, all or nothing: the ingest path for
// connectors and imports. An error names the item's position.
func (s *Service) AddBatch(ctx context.Context, actor domain.Actor, orgID int64, ins []Input) ([]domain.Evidence, error) {
	items := make([]domain.NewEvidence, len(ins))
	for i, in := range ins {
		item, err := s.prepare(ctx, actor, in)
		if err != nil {
			return nil, itemError(i, err)
		}
		items[i] = item
	}
	return s.Store.AddEvidence(ctx, actor, orgID, items)
}

// Supersede adds in as the correction of the current item oldID.
func (s *Service) Supersede(ctx context.Context, actor domain.Actor, orgID, oldID int64, in Input) (*domain.Evidence, error) {
	item, err := s.prepare(ctx, actor, in)
	if err != nil {
		return nil, err
	}
	return s.Store.SupersedeEvidence(ctx, actor, orgID, oldID, item)
}

// Retract withdraws the current item id for the reason given.
func (s *Service) Retract(ctx context.Context, actor domain.Actor, orgID, id int64, reason string) (*domain.Evidence, error) {
	if strings.TrimSpace(reason) == "" {
		return nil, domain.Invalid("reason", "is required: say why the evidence is withdrawn")
	}
	return s.Store.RetractEvidence(ctx, actor, orgID, id, reason)
}

// Open returns the item's content, from the database or the blob store. The reader from
// the blob store checks the content's hash as it is read.
func (s *Service) Open(ctx context.Context, orgID int64, e *domain.Evidence) (io.ReadCloser, error) {
	data, err := s.Store.EvidenceContent(ctx, orgID, e.SHA256)
	if err == nil {
		return io.NopCloser(bytes.NewReader(data)), nil
	}
	if !domain.IsNotFound(err) {
		return nil, err
	}
	if e.OrgID != 0 && e.OrgID != orgID {
		return nil, domain.NotFound("evidence")
	}
	r, _, err := s.Blobs.Open(ctx, e.SHA256)
	if err != nil {
		return nil, fmt.Errorf("open content of evidence %d: %w", e.ID, err)
	}
	return r, nil
}

// prepare turns an input into an item for the store: the content read and hashed, small
// content kept inline and larger content streamed into the blob store.
func (s *Service) prepare(ctx context.Context, actor domain.Actor, in Input) (domain.NewEvidence, error) {
	now := s.now()
	e := domain.Evidence{
		Kind: in.Kind, Title: in.Title, Description: in.Description, ControlIDs: in.ControlIDs,
		PeriodStart: in.PeriodStart, PeriodEnd: in.PeriodEnd, CollectedAt: in.CollectedAt, Source: in.Source,
	}
	if e.CollectedAt.IsZero() {
		e.CollectedAt = now
	}
	if e.Source == "" {
		e.Source = actor.Email
	}
	var content io.Reader
	switch in.Kind {
	case domain.EvidenceFile:
		if in.File == nil {
			return domain.NewEvidence{}, domain.Invalid("file", "is required: choose a file to upload")
		}
		content = in.File
		e.FileName = blob.SanitizeFilename(in.FileName)
	case domain.EvidenceLink:
		e.URL = strings.TrimSpace(in.URL)
		content = strings.NewReader(e.URL)
		e.MediaType = "text/uri-list"
	case domain.EvidenceNote:
		if strings.TrimSpace(in.Note) == "" {
			return domain.NewEvidence{}, domain.Invalid("note", "is required: write the note")
		}
		content = strings.NewReader(in.Note)
		e.MediaType = "text/plain; charset=utf-8"
	case domain.EvidenceSnapshot:
		if len(in.Snapshot) == 0 {
			return domain.NewEvidence{}, domain.Invalid("snapshot", "is empty")
		}
		content = bytes.NewReader(in.Snapshot)
		e.MediaType = in.MediaType
	default:
		return domain.NewEvidence{}, domain.Invalid("kind", "must be one of file, link, note, snapshot")
	}
	// Check the metadata before reading any content, so a bad form stores nothing.
	probe := e
	probe.SHA256 = strings.Repeat("0", 64)
	if err := domain.ValidateEvidence(&probe); err != nil {
		return domain.NewEvidence{}, err
	}

	head := make([]byte, domain.MaxInlineContent+1)
	n, err := io.ReadFull(content, head)
	switch {
	case err == nil:
		// More than fits inline: stream the whole content into the blob store.
		info, err := s.Blobs.Put(ctx, io.MultiReader(bytes.NewReader(head), content), s.limit())
		if err != nil {
			return domain.NewEvidence{}, err
		}
		e.SHA256, e.Size = info.SHA256, info.Size
		if e.MediaType == "" {
			e.MediaType = info.MediaType
		}
		return domain.NewEvidence{Evidence: e}, nil
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		head = head[:n]
	default:
		return domain.NewEvidence{}, fmt.Errorf("read evidence content: %w", err)
	}
	if int64(len(head)) > s.limit() {
		return domain.NewEvidence{}, domain.Invalid("file", "larger than the upload limit of %d bytes", s.limit())
	}
	sum := sha256.Sum256(head)
	e.SHA256 = hex.EncodeToString(sum[:])
	e.Size = int64(len(head))
	if e.MediaType == "" {
		e.MediaType = http.DetectContentType(head)
	}
	return domain.NewEvidence{Evidence: e, Content: head}, nil
}

// itemError names the position of a failing item in a batch, keeping the error's kind.
func itemError(i int, err error) error {
	var de *domain.Error
	if errors.As(err, &de) {
		c := *de
		if c.Field != "" {
			c.Field = fmt.Sprintf("items[%d].%s", i, c.Field)
		} else {
			c.Message = fmt.Sprintf("item %d: %s", i, c.Message)
		}
		return &c
	}
	return fmt.Errorf("item %d: %w", i, err)
}
