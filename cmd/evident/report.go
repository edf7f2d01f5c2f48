package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"strings"

	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/readiness"
	"github.com/evidenthq/evident/internal/web"
)

func (m *Main) catalogCommand() *command {
	c := newCommand("catalog", "", "print the SOC 2 Trust Services Criteria",
		`Prints the SOC 2 Trust Services Criteria (2017, points of focus revised 2022) that
Evident ships: by category, each criterion's identifier and title. With --json, every
criterion in full: category, series, title, explanation and points of focus.`)
	asJSON := c.flags.Bool("json", false, "print every criterion in full as JSON")
	c.run = func(ctx context.Context, _ []string) error {
		cat := catalog.Default()
		if *asJSON {
			return writeJSON(m.Stdout, cat.Criteria)
		}
		return writeCatalogText(m.Stdout, cat)
	}
	return c
}

// writeCatalogText prints the criteria grouped by category.
func writeCatalogText(w io.Writer, cat *catalog.Catalog) error {
	bw := bufio.NewWriter(w)
	for i, category := range domain.Categories {
		crit := cat.InScope([]domain.Category{category})
		if i > 0 {
			bw.WriteString("\n")
		}
		fmt.Fprintf(bw, "%s (%s)\n", category.Title(), plural(len(crit), "criterion", "criteria"))
		width := 0
		for _, cr := range crit {
			width = max(width, len(cr.ID))
		}
		for _, cr := range crit {
			fmt.Fprintf(bw, "  %-*s  %s\n", width, cr.ID, cr.Title)
		}
	}
	fmt.Fprintf(bw, "\n%s in all. Run 'evident catalog --json' for explanations and points of focus.\n", plural(len(cat.Criteria), "criterion", "criteria"))
	return bw.Flush()
}

func (m *Main) readinessCommand() *command {
	c := newCommand("readiness", "", "print an organization's readiness report",
		`Prints an organization's SOC 2 readiness: the score, and the gaps from the most to the
least urgent with the next step for each. --format json prints the report as the API
serves it; --format html writes the self-contained report a lead can send on, as in:

  evident readiness --org acme --format html > readiness.html`)
	m.Config.bindStorage(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	format := c.flags.String("format", "text", "text, json or html")
	c.run = func(ctx context.Context, _ []string) error {
		if strings.TrimSpace(*org) == "" {
			return usageError{cmd: c.name, msg: "--org is required"}
		}
		switch *format {
		case "text", "json", "html":
		default:
			return usageError{cmd: c.name, msg: fmt.Sprintf("--format: %q is not a format; use text, json or html", *format)}
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		rep, err := readiness.Compute(ctx, m.Store, catalog.Default(), o.ID, m.Now())
		if err != nil {
			return err
		}
		switch *format {
		case "json":
			return writeJSON(m.Stdout, rep)
		case "html":
			return web.WriteReadinessReport(m.Stdout, *o, rep)
		}
		return writeReadinessText(m.Stdout, o, rep)
	}
	return c
}

// writeReadinessText prints a readiness report for a terminal.
func writeReadinessText(w io.Writer, o *domain.Organization, r *readiness.Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Readiness of %s (%s), %s\n", o.Name, o.Slug, r.GeneratedAt.Format("2 January 2006 15:04 MST"))
	cats := make([]string, len(r.Categories))
	for i, c := range r.Categories {
		cats[i] = c.Title()
	}
	scope := "Scope: " + strings.Join(cats, ", ")
	switch r.ReportType {
	case domain.ReportTypeI:
		scope += "; Type I"
	case domain.ReportTypeII:
		scope += "; Type II"
	}
	if r.TargetDate != nil {
		scope += "; report due " + r.TargetDate.Format("2 January 2006")
	}
	fmt.Fprintln(bw, scope)
	fmt.Fprintf(bw, "\nScore: %.1f / 100\n", r.Score)
	fmt.Fprintf(bw, "Criteria: %d in scope, %d covered by a control, %d ready\n", len(r.Criteria), r.CriteriaCovered, r.CriteriaReady)
	var statuses []string
	for _, sc := range r.ControlsByStatus {
		statuses = append(statuses, fmt.Sprintf("%d %s", sc.Count, strings.ToLower(sc.Status.Label())))
	}
	fmt.Fprintf(bw, "Controls: %d in scope (%s)\n", r.Controls, strings.Join(statuses, ", "))
	if len(r.Gaps) == 0 {
		fmt.Fprintln(bw, "\nNo gaps: every criterion in scope is covered by ready controls.")
		return bw.Flush()
	}
	var counts []string
	for _, sc := range r.GapsBySeverity {
		counts = append(counts, fmt.Sprintf("%d %s", sc.Count, sc.Severity))
	}
	fmt.Fprintf(bw, "Gaps: %d (%s)\n", len(r.Gaps), strings.Join(counts, ", "))
	var current readiness.Severity
	for _, g := range r.Gaps {
		if g.Severity != current {
			current = g.Severity
			n := 0
			for _, sc := range r.GapsBySeverity {
				if sc.Severity == current {
					n = sc.Count
				}
			}
			fmt.Fprintf(bw, "\n%s (%d)\n", strings.ToUpper(current.Label()), n)
		}
		title := g.Title
		if g.ControlRef != "" && !strings.HasPrefix(title, g.ControlRef) {
			title += " (" + g.ControlRef + ")"
		}
		fmt.Fprintf(bw, "  - %s\n", title)
		fmt.Fprintf(bw, "    Criteria: %s\n", strings.Join(g.Criteria, ", "))
		fmt.Fprintf(bw, "    Next step: %s\n", g.NextStep)
	}
	return bw.Flush()
}

func (m *Main) versionCommand() *command {
	c := newCommand("version", "", "print the version",
		`Prints Evident's version and the Go toolchain and platform it was built for.`)
	c.run = func(ctx context.Context, _ []string) error {
		fmt.Fprintf(m.Stdout, "evident %s (%s %s/%s)\n", Version(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return nil
	}
	return c
}

// writeJSON writes v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
