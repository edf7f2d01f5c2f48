// Package alert tells people when an automated test starts failing or recovers: by email,
// by Slack incoming webhook and by signed generic webhooks, over outbound connections that
// refuse private and other special-purpose addresses unless the configuration allows them.
//
// The package knows nothing of the store or the test engine. Its caller turns a test's
// change of state into an Alert, picks the organization's Targets and calls
// Dispatcher.Deliver, which returns one Result per target so that the caller can mark each
// delivery done or failed.
package alert

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"time"
)

// State is what happened to a test.
type State string

// The states an alert announces.
const (
	// Failing: the test passed (or had never run) and now fails for at least one resource.
	Failing State = "failing"
	// Recovered: the test failed and now passes.
	Recovered State = "recovered"
)

// Valid reports whether s is a known state.
func (s State) Valid() bool { return s == Failing || s == Recovered }

// Event is the state's event name in webhook payloads: "test.failing" or "test.recovered".
func (s State) Event() string { return "test." + string(s) }

// Org is the organization an alert belongs to.
type Org struct {
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// Test is the test an alert is about.
type Test struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	// Severity is the test's severity: critical, high, medium or low.
	Severity string `json:"severity"`
	// Remediation tells the reader how to fix a failure.
	Remediation string `json:"remediation"`
}

// Resource is a resource the test fails for.
type Resource struct {
	Type string `json:"type"` // such as "aws.iam.user"
	ID   string `json:"id"`   // the resource's external ID
	Name string `json:"name"`
}

// Control is a control the test supports.
type Control struct {
	Ref   string `json:"ref"` // such as "AC-02"
	Title string `json:"title"`
}

// Owner is a person who owns one of the test's controls. Email targets without their own
// recipients write to the owners.
type Owner struct {
	Name  string
	Email string
}

// Alert is one change of a test's state in one organization, as the channels tell it.
type Alert struct {
	// ID identifies the alert in the organization, such as the store's row ID. Every
	// delivery of the same alert to the same target carries the same delivery ID, derived
	// from it, so that receivers can drop duplicates. Empty: a random delivery ID per
	// Deliver call.
	ID    string
	Org   Org
	Test  Test
	State State
	// Resources are failing resources; the caller may cap the list. Messages show the
	// first few and webhooks carry at most MaxResources.
	Resources []Resource
	// TotalResources is how many resources fail in all, at least len(Resources).
	TotalResources int
	Controls       []Control
	Owners         []Owner
	// At is when the test changed state; the Dispatcher's clock when zero.
	At time.Time
	// BaseURL is the address people reach Evident at, such as "https://evident.example.com",
	// and Path the test's page under it (see TestPath). Without BaseURL messages carry no link.
	BaseURL string
	Path    string
}

// Total returns how many resources fail: TotalResources, or len(Resources) when larger.
func (a *Alert) Total() int { return max(a.TotalResources, len(a.Resources)) }

// TestPath is the path of a test's page in Evident, for Alert.Path.
func TestPath(testID string) string { return "/tests/" + url.PathEscape(testID) }

// Link returns the absolute address of the test's page, or "" when the alert has no base
// URL or the base URL is not an http or https address.
func (a *Alert) Link() string {
	base := strings.TrimRight(strings.TrimSpace(a.BaseURL), "/")
	if base == "" {
		return ""
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	path := a.Path
	if path == "" {
		path = TestPath(a.Test.ID)
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return base + path
}

// deliveryID returns the ID of the alert's delivery to the named target: a UUID derived
// from the alert's ID and the target (version 8, RFC 9562), or a random one (version 4)
// when the alert has no ID.
func deliveryID(a *Alert, target string) string {
	var b [16]byte
	if a.ID == "" {
		_, _ = rand.Read(b[:])
		b[6] = b[6]&0x0f | 0x40
	} else {
		sum := sha256.Sum256([]byte("evident alert delivery\x00" + a.Org.Slug + "\x00" + a.ID + "\x00" + target))
		copy(b[:], sum[:16])
		b[6] = b[6]&0x0f | 0x80
	}
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// severityLabel writes a severity as a word with a capital.
func severityLabel(s string) string {
	if s == "" {
		return "Unspecified"
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// resourceLabel names a resource for people: its name, and its ID when that differs.
func resourceLabel(r Resource) string {
	switch {
	case r.Name == "" && r.ID == "":
		return "(unnamed)"
	case r.Name == "" || r.Name == r.ID:
		return r.ID
	case r.ID == "":
		return r.Name
	}
	return r.Name + " (" + r.ID + ")"
}

// plural returns word for one and word+"s" for anything else.
func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// oneLine makes text fit on one line: line breaks and other control characters become
// spaces, and runs of spaces one space.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029'
	}), " ")
}
