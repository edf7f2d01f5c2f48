package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/importer"
	"github.com/evidenthq/evident/internal/monitor"
)

// An import reads a scanner's report, an HR roster or a CSV of resources into the
// inventory. The file streams from the request through the importer, whose first error
// names the line and field at fault; the resources it yields are stored in one
// transaction only once the whole file has been read, so a file that fails half-way
// stores nothing. Resources of the import's source missing from the file are marked gone:
// importing this week's report replaces last week's.

// importResult is what an import did.
type importResult struct {
	Kind      string
	Source    string
	Summary   importer.Summary
	Inventory domain.UpsertSummary
	TestRun   *domain.TestRun
}

// Types lists the resources imported per type, by type.
func (r importResult) Types() []typeCount { return sortedCounts(r.Summary.Types) }

// Statuses lists the findings imported per status, by status.
func (r importResult) Statuses() []typeCount { return sortedCounts(r.Summary.Statuses) }

// importSource is the source an import records its resources under: the one given, or
// "import:KIND".
func importSource(kind, source string) string {
	if source = strings.TrimSpace(source); source != "" {
		return source
	}
	return "import:" + kind
}

// importFile imports one file of the given kind for the principal's organization, all or
// nothing, and runs the tests. A malformed file is KindInvalid for "file", its message
// naming the line and field.
func (s *Server) importFile(ctx context.Context, p *principal, kind, source string, file io.Reader) (*importResult, error) {
	if s.cfg.Collect == nil {
		return nil, errNoMonitoring
	}
	if !slices.Contains(importer.Kinds(), kind) {
		return nil, domain.Invalid("kind", "must be one of %s", strings.Join(importer.Kinds(), ", "))
	}
	if file == nil {
		return nil, domain.Invalid("file", "is required: choose a file to import")
	}
	src := importSource(kind, source)
	var rs []monitor.Resource
	im := importer.Importer{Connection: src, Now: s.now}
	sum, err := im.Import(ctx, kind, file, func(r monitor.Resource) error {
		rs = append(rs, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sum.Resources == 0 {
		return nil, domain.Invalid("file", "holds no resources: is it a %s file?", kind)
	}
	up, run, err := s.pushResources(ctx, p, src, rs, true)
	if err != nil {
		return nil, err
	}
	return &importResult{Kind: kind, Source: src, Summary: sum, Inventory: up, TestRun: run}, nil
}

// limitedBody streams a raw request body, failing with KindInvalid for "file" past the
// upload limit.
type limitedBody struct {
	s     *Server
	r     io.Reader
	limit int64
	n     int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n, b.s.tooLargeError()
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return n, b.s.tooLargeError()
	}
	return n, err
}

// importView is the data of the import page.
type importView struct {
	Formats []importer.Format
	Limit   string
	Result  *importResult
}

func (s *Server) importPage(w http.ResponseWriter, r *http.Request, p *principal) error {
	f := newForm(nil)
	if k := r.URL.Query().Get("kind"); k != "" {
		f.Values.Set("kind", k)
	}
	return s.renderImport(w, r, p, f, nil, http.StatusOK)
}

func (s *Server) renderImport(w http.ResponseWriter, r *http.Request, p *principal, f *form, res *importResult, status int) error {
	pg := s.newPage(w, r, p, "Import a file", "inventory")
	pg.Form = f
	pg.Data = importView{Formats: importer.Formats(), Limit: formatSize(s.maxUpload()), Result: res}
	return s.render(w, status, "import", pg)
}

// importFormFields are the fields of the import form that errors can name.
var importFormFields = []string{"kind", "source", "file"}

// failImportForm records an error on the import form. A malformed file's error names its
// line and field, and says that nothing was imported.
func failImportForm(f *form, err error) bool {
	var ie *importer.Error
	if errors.As(err, &ie) {
		f.Errors["file"] = upperFirst(strings.TrimSuffix(ie.Error(), ".")) + ". Nothing was imported."
		return true
	}
	return f.fail(err, importFormFields...)
}

func (s *Server) uploadImport(w http.ResponseWriter, r *http.Request, p *principal) error {
	up, err := s.startUpload(w, r)
	f := newForm(up.Values)
	var res *importResult
	if err == nil {
		res, err = s.importFile(r.Context(), p, f.Get("kind"), f.Get("source"), up.File)
	}
	up.drain()
	if err != nil {
		if !failImportForm(f, err) {
			return err
		}
		return s.renderImport(w, r, p, f, nil, statusOf(err))
	}
	return s.renderImport(w, r, p, newForm(url.Values{"kind": {res.Kind}}), res, http.StatusOK)
}
