package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/evidence"
)

// listFlag is a flag that may be given several times.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

// Set adds one value.
func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}

// evidenceFlags are the names, in the evidence commands, of the fields the evidence
// service and the store name in their errors.
var evidenceFlags = map[string]string{
	"period_start": "from",
	"period_end":   "to",
	"controls":     "control",
}

// asFlagError rewrites an invalid-input error about a field into one about the flag
// that set it, so that describe names the flag.
func asFlagError(err error) error {
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind != domain.KindInvalid {
		return err
	}
	if f, ok := evidenceFlags[de.Field]; ok {
		return domain.Invalid(f, "%s", de.Message)
	}
	return err
}

func (m *Main) evidenceAddCommand() *command {
	c := newCommand("evidence add", "", "add evidence to controls",
		`Adds an item of evidence to one or more controls: a file (--file), a link (--url) or
a note (--note). --from and --to are its effective period, the dates it speaks for,
which may differ from today: a quarterly access review done in April covers January to
March. The item is recorded in the organization's ledger; the command prints its ID, the
SHA-256 of its content and its ledger index.

A file is stored in the blob store (--blobs) under its SHA-256; the media type is
sniffed from its content. --control takes a control's reference, such as AC-01, or its
ID, and may be repeated. Evidence is never edited: correct or withdraw it in the web
interface or through the API.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindBlobs(c.flags)
	c.flags.Var(&m.Config.MaxUpload, "max-upload", "largest file accepted, such as 100MiB (env "+envMaxUpload+")")
	org := c.flags.String("org", "", "the organization's slug (required)")
	var controls listFlag
	c.flags.Var(&controls, "control", "a control's reference or ID; repeat for several (required)")
	file := c.flags.String("file", "", "a file to upload as the evidence")
	link := c.flags.String("url", "", "an http or https address to record as the evidence")
	note := c.flags.String("note", "", "text to record as the evidence")
	from := c.flags.String("from", "", "the first day the evidence speaks for, as 2026-01-01 (required)")
	to := c.flags.String("to", "", "the last day the evidence speaks for, as 2026-03-31 (required)")
	title := c.flags.String("title", "", "a title (default: the file's name, the address, or the note's first line)")
	description := c.flags.String("description", "", "what the evidence shows, for the auditor")
	by := c.flags.String("by", "", "the email of the member recorded as adding it (default: the system)")
	asJSON := c.flags.Bool("json", false, "print the stored item as JSON")
	c.run = func(ctx context.Context, _ []string) error {
		if err := requireFlags(c.name, map[string]string{"org": *org, "from": *from, "to": *to}); err != nil {
			return err
		}
		if len(controls) == 0 {
			return usageError{cmd: c.name, msg: "--control is required"}
		}
		in, err := evidenceInput(*file, *link, *note)
		if err != nil {
			return usageError{cmd: c.name, msg: err.Error()}
		}
		if in.PeriodStart, err = domain.ParseDate("from", *from); err != nil {
			return err
		}
		if in.PeriodEnd, err = domain.ParseDate("to", *to); err != nil {
			return err
		}
		if in.PeriodEnd.Before(in.PeriodStart) {
			return domain.Invalid("to", "%s is before --from %s", *to, *from)
		}
		in.Title, in.Description = strings.TrimSpace(*title), *description
		if in.Title == "" {
			in.Title = defaultTitle(*file, *link, *note)
		}
		if *file != "" {
			f, err := os.Open(*file)
			if err != nil {
				return fmt.Errorf("--file: %w", err)
			}
			defer f.Close()
			if fi, err := f.Stat(); err == nil && fi.IsDir() {
				return fmt.Errorf("--file: %s is a directory", *file)
			}
			in.File, in.FileName = f, blob.SanitizeFilename(filepath.Base(*file))
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		for _, ref := range controls {
			ctl, err := m.controlByRefOrID(ctx, o, ref)
			if err != nil {
				return err
			}
			in.ControlIDs = append(in.ControlIDs, ctl.ID)
		}
		actor, err := m.actorByEmail(ctx, o, *by)
		if err != nil {
			return err
		}
		svc, err := m.evidenceService(ctx)
		if err != nil {
			return err
		}
		e, err := svc.Add(ctx, actor, o.ID, in)
		if err != nil {
			return asFlagError(err)
		}
		if *asJSON {
			refs, err := m.controlRefs(ctx, o.ID)
			if err != nil {
				return err
			}
			return writeJSON(m.Stdout, toCLIEvidence(e, refs))
		}
		return writeAddedEvidence(m.Stdout, e, controls)
	}
	return c
}

// requireFlags returns a usage error naming the first required flag left empty, in the
// order given by names.
func requireFlags(cmd string, values map[string]string) error {
	for _, name := range []string{"org", "control", "from", "to", "out"} {
		if v, ok := values[name]; ok && strings.TrimSpace(v) == "" {
			return usageError{cmd: cmd, msg: "--" + name + " is required"}
		}
	}
	return nil
}

// evidenceInput starts the service's input from the one content flag that is set.
func evidenceInput(file, link, note string) (evidence.Input, error) {
	set := 0
	for _, v := range []string{file, link, note} {
		if v != "" {
			set++
		}
	}
	switch {
	case set == 0:
		return evidence.Input{}, errors.New("one of --file, --url or --note is required")
	case set > 1:
		return evidence.Input{}, errors.New("give only one of --file, --url and --note")
	case file != "":
		return evidence.Input{Kind: domain.EvidenceFile}, nil
	case link != "":
		return evidence.Input{Kind: domain.EvidenceLink, URL: strings.TrimSpace(link)}, nil
	}
	return evidence.Input{Kind: domain.EvidenceNote, Note: note}, nil
}

// maxDefaultTitle is the length, in characters, of a title made from a note or an address.
const maxDefaultTitle = 80

// defaultTitle names evidence given without --title: a file by its name, a link by its
// host and path, a note by its first line.
func defaultTitle(file, link, note string) string {
	switch {
	case file != "":
		return filepath.Base(file)
	case link != "":
		if u, err := url.Parse(strings.TrimSpace(link)); err == nil && u.Host != "" {
			return shorten(u.Host+strings.TrimRight(u.Path, "/"), maxDefaultTitle)
		}
		return shorten(link, maxDefaultTitle)
	}
	line, _, _ := strings.Cut(strings.TrimSpace(note), "\n")
	return shorten(strings.TrimSpace(line), maxDefaultTitle)
}

// shorten cuts s to at most n characters, marking the cut with an ellipsis.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// controlByRefOrID finds an organization's control by its reference, such as AC-01, or
// its numeric ID.
func (m *Main) controlByRefOrID(ctx context.Context, o *domain.Organization, ref string) (*domain.Control, error) {
	ref = strings.TrimSpace(ref)
	c, err := m.Store.ControlByRef(ctx, o.ID, ref)
	if domain.IsNotFound(err) {
		if id, perr := strconv.ParseInt(ref, 10, 64); perr == nil && id > 0 {
			c, err = m.Store.Control(ctx, o.ID, id)
		}
	}
	if domain.IsNotFound(err) {
		return nil, domain.Invalid("control", "%s has no control %q; list them in the web interface or with 'evident readiness --org %s'", o.Slug, ref, o.Slug)
	}
	return c, err
}

// actorByEmail returns the member with the email as the actor of a change, or the system
// when email is empty.
func (m *Main) actorByEmail(ctx context.Context, o *domain.Organization, email string) (domain.Actor, error) {
	if strings.TrimSpace(email) == "" {
		return domain.SystemActor, nil
	}
	addr, err := domain.NormalizeEmail(email)
	if err != nil {
		return domain.Actor{}, domain.Invalid("by", "is not a valid email address")
	}
	u, err := m.Store.UserByEmail(ctx, addr)
	if err == nil {
		_, err = m.Store.Member(ctx, o.ID, u.ID)
	}
	if domain.IsNotFound(err) {
		return domain.Actor{}, domain.Invalid("by", "%s is not a member of %s", addr, o.Slug)
	}
	if err != nil {
		return domain.Actor{}, err
	}
	return domain.Actor{UserID: u.ID, Email: u.Email}, nil
}

// openBlobs opens the configured blob store.
func (m *Main) openBlobs(ctx context.Context) (blob.Store, error) {
	b, err := blob.Open(ctx, string(m.Config.Blobs), m.Config.DataDir)
	if err != nil {
		return nil, fmt.Errorf("--blobs: %w", err)
	}
	return b, nil
}

// evidenceService returns the evidence service over the open store and the configured
// blob store.
func (m *Main) evidenceService(ctx context.Context) (*evidence.Service, error) {
	blobs, err := m.openBlobs(ctx)
	if err != nil {
		return nil, err
	}
	return &evidence.Service{Store: m.Store, Blobs: blobs, Now: m.Now, MaxUpload: int64(m.Config.MaxUpload)}, nil
}

// writeAddedEvidence prints what evidence add stored.
func writeAddedEvidence(w io.Writer, e *domain.Evidence, controls []string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "Added evidence %d %q (%s) to %s.\n", e.ID, e.Title, e.Kind, strings.Join(controls, ", "))
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  ID\t%d\n", e.ID)
	fmt.Fprintf(tw, "  SHA-256\t%s\n", e.SHA256)
	fmt.Fprintf(tw, "  Size\t%s, %s\n", formatBytes(e.Size), e.MediaType)
	fmt.Fprintf(tw, "  Period\t%s to %s\n", e.PeriodStart.Format(time.DateOnly), e.PeriodEnd.Format(time.DateOnly))
	fmt.Fprintf(tw, "  Ledger index\t%d\n", e.LedgerIndex)
	if err := tw.Flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// formatBytes writes a size for people: bytes, KiB, MiB or GiB with one decimal.
func formatBytes(n int64) string {
	switch {
	case n < 1<<10:
		return plural(int(n), "byte", "bytes")
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
}

// cliEvidence is an item as evidence list --json and evidence add --json print it.
type cliEvidence struct {
	ID            int64               `json:"id"`
	Kind          domain.EvidenceKind `json:"kind"`
	Title         string              `json:"title"`
	Description   string              `json:"description"`
	Controls      []string            `json:"controls"`
	ControlIDs    []int64             `json:"control_ids"`
	PeriodStart   string              `json:"period_start"`
	PeriodEnd     string              `json:"period_end"`
	State         string              `json:"state"`
	SHA256        string              `json:"sha256"`
	Size          int64               `json:"size"`
	MediaType     string              `json:"media_type"`
	FileName      string              `json:"file_name,omitempty"`
	URL           string              `json:"url,omitempty"`
	Source        string              `json:"source"`
	AddedBy       string              `json:"added_by"`
	AddedAt       time.Time           `json:"added_at"`
	CollectedAt   time.Time           `json:"collected_at"`
	Supersedes    *int64              `json:"supersedes,omitempty"`
	SupersededBy  *int64              `json:"superseded_by,omitempty"`
	RetractedAt   *time.Time          `json:"retracted_at,omitempty"`
	RetractReason string              `json:"retract_reason,omitempty"`
	LedgerIndex   int64               `json:"ledger_index"`
}

// evidenceState names an item's state: current, superseded or retracted.
func evidenceState(e *domain.Evidence) string {
	switch {
	case e.RetractedAt != nil:
		return "retracted"
	case e.SupersededBy != nil:
		return "superseded"
	}
	return "current"
}

func toCLIEvidence(e *domain.Evidence, refs map[int64]string) cliEvidence {
	ids := e.ControlIDs
	if ids == nil {
		ids = []int64{}
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = refs[id]
	}
	by := e.AddedByName
	if by == "" {
		by = "system"
	}
	return cliEvidence{
		ID: e.ID, Kind: e.Kind, Title: e.Title, Description: e.Description, Controls: names, ControlIDs: ids,
		PeriodStart: e.PeriodStart.Format(time.DateOnly), PeriodEnd: e.PeriodEnd.Format(time.DateOnly),
		State: evidenceState(e), SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType, FileName: e.FileName,
		URL: e.URL, Source: e.Source, AddedBy: by, AddedAt: e.AddedAt, CollectedAt: e.CollectedAt,
		Supersedes: e.Supersedes, SupersededBy: e.SupersededBy, RetractedAt: e.RetractedAt,
		RetractReason: e.RetractReason, LedgerIndex: e.LedgerIndex,
	}
}

// controlRefs maps the organization's control IDs to their references.
func (m *Main) controlRefs(ctx context.Context, orgID int64) (map[int64]string, error) {
	cs, err := m.Store.Controls(ctx, orgID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		return nil, err
	}
	refs := make(map[int64]string, len(cs))
	for _, c := range cs {
		refs[c.ID] = c.Ref
	}
	return refs, nil
}

// evidencePage is how many items evidence list reads at a time.
const evidencePage = 500

func (m *Main) evidenceListCommand() *command {
	c := newCommand("evidence list", "", "list an organization's evidence",
		`Lists an organization's evidence, newest first: its ID, kind, title, controls,
effective period, state and ledger index. Superseded and retracted items are listed
only with --all. --control lists the evidence of one control, by reference or ID.`)
	m.Config.bindStorage(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	control := c.flags.String("control", "", "only the evidence of this control, by reference or ID")
	all := c.flags.Bool("all", false, "include superseded and retracted items")
	asJSON := c.flags.Bool("json", false, "print every item in full as JSON")
	c.run = func(ctx context.Context, _ []string) error {
		if err := requireFlags(c.name, map[string]string{"org": *org}); err != nil {
			return err
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		f := domain.EvidenceFilter{IncludeSuperseded: *all, IncludeRetracted: *all, Limit: evidencePage}
		if *control != "" {
			ctl, err := m.controlByRefOrID(ctx, o, *control)
			if err != nil {
				return err
			}
			f.ControlID = ctl.ID
		}
		refs, err := m.controlRefs(ctx, o.ID)
		if err != nil {
			return err
		}
		var items []cliEvidence
		for {
			page, err := m.Store.EvidenceList(ctx, o.ID, f)
			if err != nil {
				return err
			}
			for i := range page {
				items = append(items, toCLIEvidence(&page[i], refs))
			}
			if len(page) < evidencePage {
				break
			}
			f.Before = page[len(page)-1].ID
		}
		if *asJSON {
			if items == nil {
				items = []cliEvidence{}
			}
			return writeJSON(m.Stdout, items)
		}
		if len(items) == 0 {
			fmt.Fprintf(m.Stdout, "No evidence yet. Add some with: evident evidence add --org %s --control REF --file PATH --from DATE --to DATE\n", o.Slug)
			return nil
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tKIND\tTITLE\tCONTROLS\tPERIOD\tSTATE\tLEDGER")
		for _, e := range items {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s to %s\t%s\t%d\n", e.ID, e.Kind, shorten(e.Title, 60),
				strings.Join(e.Controls, ","), e.PeriodStart, e.PeriodEnd, e.State, e.LedgerIndex)
		}
		return tw.Flush()
	}
	return c
}
