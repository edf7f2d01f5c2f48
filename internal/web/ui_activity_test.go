package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/evidenthq/evident/internal/domain"
)

// TestEveryEventHasWords reads the domain package's source for its event types: the
// activity page says each of them in words, never "recorded" and the raw type.
func TestEveryEventHasWords(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "domain", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Event") || i >= len(vs.Values) {
						continue
					}
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						continue
					}
					typ, _ := strconv.Unquote(lit.Value)
					found++
					if eventSummaries[typ] == "" {
						t.Errorf("%s (%q) has no words on the activity page", id.Name, typ)
					}
				}
			}
		}
	}
	if found < 30 {
		t.Fatalf("found %d event types in the domain package; want every one of them", found)
	}
	// The link of a subject with a page goes to it; one deleted has none.
	for _, tt := range []struct {
		typ, subject, link string
	}{
		{domain.EventConnectionUpdated, "connection:4", "/connections/4"},
		{domain.EventConnectionDeleted, "connection:4", ""},
		{domain.EventTestFailing, "test:aws-root-mfa", "/tests/aws-root-mfa"},
		{domain.EventTestDeleted, "test:mine", ""},
		{domain.EventExceptionRevoked, "exception:9", "/exceptions"},
		{domain.EventAlertTargetCreated, "alert_target:2", "/alerts/targets/2"},
		{domain.EventAlertTargetDeleted, "alert_target:2", ""},
		{domain.EventTaskClosed, "task:3", "/tasks"},
	} {
		v := describeEvent(domain.Event{Type: tt.typ, Subject: tt.subject}, nil)
		if v.Link != tt.link || strings.HasPrefix(v.Summary, "recorded ") {
			t.Errorf("%s on %s: link %q, summary %q; want link %q and words", tt.typ, tt.subject, v.Link, v.Summary, tt.link)
		}
	}
}
