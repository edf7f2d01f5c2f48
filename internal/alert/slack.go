package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Slack is the Slack channel: it posts an alert to a Slack incoming webhook, or to a
// Slack-compatible one such as Mattermost's, as a message with a plain-text fallback and
// Block Kit blocks: a header, a section with fields, the failing resources, the fix, and
// a button to the test's page.
//
// The webhook's URL is its secret: errors and logs show only its scheme and host.
type Slack struct {
	// Client posts the messages; build it with Guard.Client.
	Client *http.Client
}

// Send posts the alert once. An answer of 429 or 5xx, or no answer, can be tried again;
// any other 4xx is permanent.
func (s *Slack) Send(ctx context.Context, d *Delivery) error {
	body, err := json.Marshal(slackMessage(d.Alert))
	if err != nil {
		return permanent(fmt.Errorf("slack message: %w", err))
	}
	return post(ctx, s.Client, d, body, nil)
}

// Slack's limits on a message, in characters.
const (
	slackHeaderLimit  = 150
	slackSectionLimit = 3000
	slackFieldLimit   = 2000
	slackButtonLimit  = 75
	slackURLLimit     = 3000
)

// slackPayload is an incoming webhook's message.
type slackPayload struct {
	Text        string       `json:"text"`
	Blocks      []slackBlock `json:"blocks"`
	UnfurlLinks bool         `json:"unfurl_links"`
	UnfurlMedia bool         `json:"unfurl_media"`
}

type slackBlock struct {
	Type     string         `json:"type"`
	Text     *slackText     `json:"text,omitempty"`
	Fields   []slackText    `json:"fields,omitempty"`
	Elements []slackElement `json:"elements,omitempty"`
}

type slackText struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackElement struct {
	Type     string     `json:"type"`
	Text     *slackText `json:"text,omitempty"`
	URL      string     `json:"url,omitempty"`
	ActionID string     `json:"action_id,omitempty"`
	Style    string     `json:"style,omitempty"`
}

func mrkdwn(s string) slackText { return slackText{Type: "mrkdwn", Text: s} }

// slackMessage writes the alert as a Slack message. Everything taken from the alert goes
// through escapeSlack (in mrkdwn) or is plain text, so that a title or a resource name
// cannot mention @channel or make a link of its own.
func slackMessage(a *Alert) slackPayload {
	title := oneLine(a.Test.Title)
	if title == "" {
		title = oneLine(a.Test.ID)
	}
	org := oneLine(a.Org.Name)
	if org == "" {
		org = oneLine(a.Org.Slug)
	}
	when := a.At.UTC().Format(timeLayout)
	total := a.Total()
	var text, header, lead string
	if a.State == Failing {
		text = fmt.Sprintf("Failing (%s): %s, %d %s in %s", strings.ToLower(severityLabel(a.Test.Severity)), title, total, plural(total, "resource"), org)
		header = "🔴 Failing: " + title
		lead = fmt.Sprintf("*%s*: the test *%s* started failing on %s.", slackLimit(org, 300), slackLimit(title, 1000), when)
	} else {
		text = fmt.Sprintf("Recovered: %s in %s", title, org)
		header = "✅ Recovered: " + title
		lead = fmt.Sprintf("*%s*: the test *%s* passes again since %s.", slackLimit(org, 300), slackLimit(title, 1000), when)
	}
	fields := []slackText{
		mrkdwn("*Severity*\n" + escapeSlack(severityLabel(a.Test.Severity))),
		mrkdwn("*Test*\n" + slackLimit(a.Test.ID, slackFieldLimit-len("*Test*\n"))),
	}
	if a.State == Failing {
		fields = append(fields, mrkdwn("*Failing resources*\n"+strconv.Itoa(total)))
	}
	if len(a.Controls) > 0 {
		refs := make([]string, len(a.Controls))
		for i, c := range a.Controls {
			refs[i] = oneLine(c.Ref)
		}
		fields = append(fields, mrkdwn("*Controls*\n"+slackLimit(strings.Join(refs, ", "), slackFieldLimit-len("*Controls*\n"))))
	}
	var owners []string
	for _, o := range a.Owners {
		if n := oneLine(o.Name); n != "" {
			owners = append(owners, n)
		} else if o.Email != "" {
			owners = append(owners, oneLine(o.Email))
		}
	}
	if len(owners) > 0 {
		fields = append(fields, mrkdwn("*Owners*\n"+slackLimit(strings.Join(owners, ", "), slackFieldLimit-len("*Owners*\n"))))
	}
	msg := slackPayload{
		Text: slackLimit(text, slackSectionLimit),
		Blocks: []slackBlock{
			{Type: "header", Text: &slackText{Type: "plain_text", Text: truncateRunes(header, slackHeaderLimit), Emoji: true}},
			{Type: "section", Text: &slackText{Type: "mrkdwn", Text: lead}, Fields: fields},
		},
	}
	if a.State == Failing && len(a.Resources) > 0 {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: slackResources(a, total)}})
	}
	if fix := strings.TrimSpace(a.Test.Remediation); a.State == Failing && fix != "" {
		const heading = "*How to fix*\n"
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: heading + slackLimit(fix, slackSectionLimit-len(heading))}})
	}
	if link := a.Link(); link != "" && len(link) <= slackURLLimit {
		button := slackElement{Type: "button", Text: &slackText{Type: "plain_text", Text: "View test in Evident"}, URL: link, ActionID: "evident-view-test"}
		if a.State == Failing {
			button.Style = "primary"
		}
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "actions", Elements: []slackElement{button}})
	}
	return msg
}

// slackResources lists the first failing resources, one a line, within a section's limit.
func slackResources(a *Alert, total int) string {
	var b strings.Builder
	b.WriteString("*Failing resources*")
	shown := 0
	for _, r := range a.Resources {
		if shown == shownResources {
			break
		}
		line := oneLine(resourceLabel(r))
		if r.Type != "" {
			line = oneLine(r.Type) + ": " + line
		}
		line = "\n• " + slackLimit(line, 200)
		// Keep room for the "and N more" line.
		if utf8.RuneCountInString(b.String())+utf8.RuneCountInString(line) > slackSectionLimit-40 {
			break
		}
		b.WriteString(line)
		shown++
	}
	if more := total - shown; more > 0 {
		fmt.Fprintf(&b, "\n…and %d more", more)
	}
	return b.String()
}

// escapeSlack escapes the three characters Slack gives meaning to in message text: &, <
// and >. Without it, text such as "<!channel>" or "<https://example.com|click>" in a
// test's title would notify everyone or make a link.
func escapeSlack(s string) string {
	if !strings.ContainsAny(s, "&<>") {
		return s
	}
	return slackEscaper.Replace(s)
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackLimit escapes s and cuts it to at most limit characters, counted after escaping,
// never in the middle of an escape, ending with "…" when cut.
func slackLimit(s string, limit int) string {
	e := escapeSlack(s)
	if utf8.RuneCountInString(e) <= limit {
		return e
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(s); {
		_, size := utf8.DecodeRuneInString(s[i:])
		piece := s[i : i+size]
		switch piece {
		case "&":
			piece = "&amp;"
		case "<":
			piece = "&lt;"
		case ">":
			piece = "&gt;"
		}
		w := utf8.RuneCountInString(piece)
		if n+w > limit-1 {
			break
		}
		b.WriteString(piece)
		n += w
		i += size
	}
	b.WriteString("…")
	return b.String()
}
