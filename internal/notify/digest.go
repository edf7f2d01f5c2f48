package notify

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	htmltemplate "html/template"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// Reader is what digests are built from. *store.Store satisfies it.
type Reader interface {
	Members(ctx context.Context, orgID int64) ([]domain.Member, error)
	Controls(ctx context.Context, orgID int64, f domain.ControlFilter) ([]domain.Control, error)
	LatestEvidence(ctx context.Context, orgID int64) (map[int64]time.Time, error)
}

// State is why a control is in a digest.
type State string

// The states, most urgent first.
const (
	// Overdue: the evidence for a period was due and is still missing.
	Overdue State = "overdue"
	// Missing: the control has no current evidence at all.
	Missing State = "missing"
	// Due: the period that just ended needs evidence, and its due date has not passed.
	Due State = "due"
)

// rank orders the states, most urgent first.
func (s State) rank() int {
	switch s {
	case Overdue:
		return 0
	case Missing:
		return 1
	}
	return 2
}

// Label is the state as the digest writes it.
func (s State) Label() string {
	switch s {
	case Overdue:
		return "Overdue"
	case Missing:
		return "No evidence yet"
	}
	return "Due soon"
}

// Item is one control in a digest: what evidence it needs, for which period, by when.
type Item struct {
	Control domain.Control
	State   State
	// Period names the period the evidence must cover, as people say it ("Q1 2026").
	Period string
	// DueDate is the date (a UTC midnight) by which that evidence is or was due.
	DueDate time.Time
	// LatestEnd is the last day the control's current evidence speaks for; zero if none.
	LatestEnd time.Time
}

// ItemFor says whether a control needs evidence at time now, given the last day its
// current evidence speaks for (zero if it has none), by the freshness rule of
// domain.FreshnessOf, and returns the item if so. Retired controls, controls that do not
// apply, and controls whose evidence is current need nothing.
func ItemFor(c domain.Control, latestEnd, now time.Time) (Item, bool) {
	if c.Retired() || c.Status == domain.StatusNotApplicable {
		return Item{}, false
	}
	it := Item{Control: c, LatestEnd: latestEnd}
	start, end, due := domain.RequiredPeriod(c.Frequency, now)
	label := periodLabel(c.Frequency, start, end)
	switch domain.FreshnessOf(c.Frequency, latestEnd, now) {
	case domain.FreshCurrent:
		return Item{}, false
	case domain.FreshNone:
		it.State, it.Period, it.DueDate = Missing, label, due
	case domain.FreshDue:
		it.State, it.Period, it.DueDate = Due, label, due
	case domain.FreshOverdue:
		it.State = Overdue
		switch {
		case c.Frequency == domain.FrequencyPerEvent:
			// Per-event evidence must reach within the last twelve months; it became
			// overdue a year after the last day it speaks for.
			it.Period, it.DueDate = label, domain.DateOf(latestEnd).AddDate(1, 0, 0)
		case !now.Before(due):
			it.Period, it.DueDate = label, due
		default:
			// Within the grace of the period that just ended, it is the period before it
			// that is missing: the one required on the first day of the period just ended.
			ps, pe, pdue := domain.RequiredPeriod(c.Frequency, start)
			it.Period, it.DueDate = periodLabel(c.Frequency, ps, pe), pdue
		}
	}
	return it, true
}

// periodLabel names a required period; a per-event control's is the last twelve months.
func periodLabel(f domain.Frequency, start, end time.Time) string {
	if f == domain.FrequencyPerEvent {
		return "the last 12 months"
	}
	return domain.PeriodLabel(f, start, end)
}

// Digest is what one owner of controls in one organization is told: their controls that
// need evidence, most urgent first.
type Digest struct {
	Org   domain.Organization
	Owner domain.Member
	Items []Item
}

// Count returns how many items are in the state.
func (d *Digest) Count(s State) int {
	n := 0
	for _, it := range d.Items {
		if it.State == s {
			n++
		}
	}
	return n
}

// Build returns the digests of the organization's members who own controls needing
// evidence at time now, ordered by the owner's email. Members with nothing due get none.
func Build(ctx context.Context, r Reader, org domain.Organization, now time.Time) ([]Digest, error) {
	members, err := r.Members(ctx, org.ID)
	if err != nil {
		return nil, fmt.Errorf("digest of %s: members: %w", org.Slug, err)
	}
	controls, err := r.Controls(ctx, org.ID, domain.ControlFilter{})
	if err != nil {
		return nil, fmt.Errorf("digest of %s: controls: %w", org.Slug, err)
	}
	latest, err := r.LatestEvidence(ctx, org.ID)
	if err != nil {
		return nil, fmt.Errorf("digest of %s: evidence: %w", org.Slug, err)
	}
	byOwner := map[int64][]Item{}
	for _, c := range controls {
		if c.OwnerID == nil {
			continue
		}
		if it, ok := ItemFor(c, latest[c.ID], now); ok {
			byOwner[*c.OwnerID] = append(byOwner[*c.OwnerID], it)
		}
	}
	var out []Digest
	for _, m := range members {
		items := byOwner[m.ID]
		if len(items) == 0 {
			continue
		}
		slices.SortFunc(items, func(a, b Item) int {
			return cmp.Or(
				cmp.Compare(a.State.rank(), b.State.rank()),
				a.DueDate.Compare(b.DueDate),
				cmp.Compare(a.Control.Ref, b.Control.Ref),
			)
		})
		out = append(out, Digest{Org: org, Owner: m, Items: items})
	}
	slices.SortFunc(out, func(a, b Digest) int { return cmp.Compare(a.Owner.Email, b.Owner.Email) })
	return out, nil
}

// Message writes the digest as an email from the sender. baseURL, the address people
// reach Evident at, makes each control a link; without it the digest names the controls
// only.
func (d *Digest) Message(from mail.Address, baseURL string, now time.Time) (*Message, error) {
	v := d.view(baseURL)
	var text, html bytes.Buffer
	if err := textDigest.Execute(&text, v); err != nil {
		return nil, fmt.Errorf("digest text: %w", err)
	}
	if err := htmlDigest.Execute(&html, v); err != nil {
		return nil, fmt.Errorf("digest html: %w", err)
	}
	return &Message{
		From:    from,
		To:      []mail.Address{{Name: d.Owner.Name, Address: d.Owner.Email}},
		Subject: v.Subject,
		Date:    now,
		Text:    text.String(),
		HTML:    html.String(),
	}, nil
}

// digestView is what the digest's templates show.
type digestView struct {
	Subject  string
	Greeting string
	Summary  string
	Org      string
	Slug     string
	Groups   []groupView
	TasksURL string
}

type groupView struct {
	Label string
	Items []itemView
}

type itemView struct {
	Ref, Title, Frequency string
	Line                  string // what evidence is needed by when
	Latest                string // the last day current evidence reaches, or ""
	URL                   string
}

// dateLayout is how the digest writes dates.
const dateLayout = "2 January 2006"

func (d *Digest) view(baseURL string) digestView {
	base := strings.TrimRight(baseURL, "/")
	n := len(d.Items)
	controls := "controls"
	if n == 1 {
		controls = "control"
	}
	subject := fmt.Sprintf("Evidence needed for %d %s in %s", n, controls, d.Org.Name)
	if o := d.Count(Overdue); o > 0 {
		subject += fmt.Sprintf(" (%d overdue)", o)
	}
	var parts []string
	for _, s := range []State{Overdue, Missing, Due} {
		if c := d.Count(s); c > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c, strings.ToLower(s.Label())))
		}
	}
	name := d.Owner.Email
	if f := strings.Fields(d.Owner.Name); len(f) > 0 {
		name = f[0]
	}
	v := digestView{
		Subject:  subject,
		Greeting: "Hello " + name + ",",
		Summary: fmt.Sprintf("%d %s you own in %s %s evidence: %s.", n, controls, d.Org.Name,
			map[bool]string{true: "needs", false: "need"}[n == 1], strings.Join(parts, ", ")),
		Org:  d.Org.Name,
		Slug: d.Org.Slug,
	}
	if base != "" {
		v.TasksURL = base + "/"
	}
	for _, it := range d.Items {
		if len(v.Groups) == 0 || v.Groups[len(v.Groups)-1].Label != it.State.Label() {
			v.Groups = append(v.Groups, groupView{Label: it.State.Label()})
		}
		iv := itemView{
			Ref:       it.Control.Ref,
			Title:     it.Control.Title,
			Frequency: strings.ToLower(it.Control.Frequency.Label()),
		}
		due := it.DueDate.Format(dateLayout)
		switch it.State {
		case Overdue:
			iv.Line = fmt.Sprintf("Evidence for %s was due by %s.", it.Period, due)
		default:
			iv.Line = fmt.Sprintf("Evidence for %s is due by %s.", it.Period, due)
		}
		if !it.LatestEnd.IsZero() {
			iv.Latest = it.LatestEnd.Format(dateLayout)
		}
		if base != "" {
			iv.URL = base + "/controls/" + strconv.FormatInt(it.Control.ID, 10)
		}
		g := &v.Groups[len(v.Groups)-1]
		g.Items = append(g.Items, iv)
	}
	return v
}

var textDigest = texttemplate.Must(texttemplate.New("digest.txt").Parse(`{{.Greeting}}

{{.Summary}}
{{range .Groups}}
{{.Label}}
{{range .Items}}
  {{.Ref}} {{.Title}} ({{.Frequency}})
    {{.Line}}{{if .Latest}} Current evidence reaches {{.Latest}}.{{end}}
{{- if .URL}}
    {{.URL}}{{end}}
{{end}}{{end}}
Add evidence on each control's page{{if .TasksURL}} ({{.TasksURL}}){{end}}, or from the command line:
  evident evidence add --org {{.Slug}} --control REF --file PATH --from DATE --to DATE

You receive this digest once a day while controls you own need evidence.
-- Evident
`))

var htmlDigest = htmltemplate.Must(htmltemplate.New("digest.html").Parse(`<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{.Subject}}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; color: #1f2933; line-height: 1.5; max-width: 640px; margin: 0 auto; padding: 16px;">
<p>{{.Greeting}}</p>
<p>{{.Summary}}</p>
{{range .Groups}}
<h2 style="font-size: 16px; margin: 24px 0 8px;">{{.Label}}</h2>
<table style="border-collapse: collapse; width: 100%;">
{{range .Items}}<tr>
<td style="padding: 8px; border-top: 1px solid #d9e2ec; vertical-align: top; white-space: nowrap;"><strong>{{if .URL}}<a href="{{.URL}}" style="color: #1d4ed8;">{{.Ref}}</a>{{else}}{{.Ref}}{{end}}</strong></td>
<td style="padding: 8px; border-top: 1px solid #d9e2ec;">{{.Title}} <span style="color: #52606d;">({{.Frequency}})</span><br>{{.Line}}{{if .Latest}} <span style="color: #52606d;">Current evidence reaches {{.Latest}}.</span>{{end}}</td>
</tr>
{{end}}</table>
{{end}}
<p>Add evidence on each control's page{{if .TasksURL}} in <a href="{{.TasksURL}}" style="color: #1d4ed8;">Evident</a>{{end}}, or from the command line:<br>
<code>evident evidence add --org {{.Slug}} --control REF --file PATH --from DATE --to DATE</code></p>
<p style="color: #52606d; font-size: 13px;">You receive this digest once a day while controls you own need evidence.</p>
</body>
</html>
`))
