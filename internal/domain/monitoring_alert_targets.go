package domain

import (
	"net/mail"
	"slices"
	"strings"
	"time"
)

// Alert targets: where an organization's alerts go (email, a Slack incoming webhook, a
// signed generic webhook), and the record of each alert's delivery to each target. The
// URLs and signing secrets of targets are sealed like connection credentials; the store
// keeps them only as a SealedSecret and a redacted destination to show.

// The event types of alert targets.
const (
	EventAlertTargetCreated = "alert_target.created"
	EventAlertTargetUpdated = "alert_target.updated"
	EventAlertTargetDeleted = "alert_target.deleted"
)

// AlertTargetKind is the channel a target is reached by.
type AlertTargetKind string

// The kinds of alert target.
const (
	TargetEmail   AlertTargetKind = "email"
	TargetSlack   AlertTargetKind = "slack"
	TargetWebhook AlertTargetKind = "webhook"
)

// AlertTargetKinds lists the kinds of alert target.
var AlertTargetKinds = []AlertTargetKind{TargetEmail, TargetSlack, TargetWebhook}

// Valid reports whether k is a known kind.
func (k AlertTargetKind) Valid() bool { return slices.Contains(AlertTargetKinds, k) }

// Label names the kind for people.
func (k AlertTargetKind) Label() string {
	switch k {
	case TargetEmail:
		return "Email"
	case TargetSlack:
		return "Slack"
	case TargetWebhook:
		return "Webhook"
	}
	return string(k)
}

// AlertSeverities lists test severities from the least to the most severe; a target's
// MinSeverity is one of them.
var AlertSeverities = []string{"low", "medium", "high", "critical"}

// SeverityRank orders test severities: low 1, medium 2, high 3, critical 4, anything
// else 0.
func SeverityRank(s string) int { return slices.Index(AlertSeverities, s) + 1 }

// MaxAlertRecipients bounds an email target's list of recipients.
const MaxAlertRecipients = 50

// AlertTarget is a destination of an organization's alerts. Its URL and signing secret
// are sealed apart (see SealedSecret) and never part of an AlertTarget.
type AlertTarget struct {
	ID    int64
	OrgID int64
	Kind  AlertTargetKind
	// Name is unique in the organization, such as "Security on-call".
	Name string
	// Recipients are an email target's addresses; empty writes to the owners of the
	// controls the test supports.
	Recipients []string
	// Destination is where a Slack or webhook target posts, redacted for people: its
	// scheme and host, such as "https://hooks.slack.com/…".
	Destination string
	// OnFailing and OnRecovered say which changes of a test's state the target hears of.
	OnFailing   bool
	OnRecovered bool
	// MinSeverity is the least severity of the tests the target hears of.
	MinSeverity string
	Enabled     bool
	CreatedBy   int64
	// CreatedByName is the creator's name, filled on read; empty once they are gone.
	CreatedByName string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Matches reports whether the enabled target hears of the alert: its event is one the
// target wants and its test at least as severe as the target's minimum.
func (t *AlertTarget) Matches(a *Alert) bool {
	if !t.Enabled {
		return false
	}
	switch a.State {
	case AlertFailing:
		if !t.OnFailing {
			return false
		}
	case AlertRecovered:
		if !t.OnRecovered {
			return false
		}
	default:
		return false
	}
	return SeverityRank(a.Severity) >= SeverityRank(t.MinSeverity)
}

// ValidateAlertTarget checks a target's own fields, trimming its name and recipients; an
// empty MinSeverity becomes "low". Where a Slack or webhook target posts is checked by the
// service that seals it.
func ValidateAlertTarget(t *AlertTarget) error {
	t.Name = strings.TrimSpace(t.Name)
	if t.MinSeverity == "" {
		t.MinSeverity = AlertSeverities[0]
	}
	switch {
	case !t.Kind.Valid():
		return Invalid("kind", "must be one of email, slack, webhook")
	case t.Name == "":
		return Invalid("name", "is required")
	case len(t.Name) > 100:
		return Invalid("name", "must be at most 100 characters")
	case !printable(t.Name):
		return Invalid("name", "must be printable text on one line")
	case SeverityRank(t.MinSeverity) == 0:
		return Invalid("min_severity", "must be one of low, medium, high, critical")
	case !t.OnFailing && !t.OnRecovered:
		return Invalid("events", "must include failing, recovered or both")
	case t.Kind != TargetEmail && len(t.Recipients) > 0:
		return Invalid("recipients", "are for email targets only")
	case len(t.Recipients) > MaxAlertRecipients:
		return Invalid("recipients", "must list at most %d addresses", MaxAlertRecipients)
	case len(t.Destination) > 300 || !printable(t.Destination):
		return Invalid("url", "is not a URL Evident can show")
	}
	seen := map[string]bool{}
	out := make([]string, 0, len(t.Recipients))
	for _, r := range t.Recipients {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		a, err := mail.ParseAddress(r)
		if err != nil || a.Address != r || a.Name != "" {
			return Invalid("recipients", "%q is not an email address such as security@example.com", r)
		}
		if key := strings.ToLower(r); !seen[key] {
			seen[key] = true
			out = append(out, r)
		}
	}
	t.Recipients = out
	return nil
}

// AlertTargetChange is a partial update of a target: nil fields stay as they are.
type AlertTargetChange struct {
	Name        *string
	Recipients  *[]string
	OnFailing   *bool
	OnRecovered *bool
	MinSeverity *string
	Enabled     *bool
	// Destination and Secret replace where a Slack or webhook target posts, or its
	// signing secret; they are set together.
	Destination *string
	Secret      *SealedSecret
	// SecretChange names what Secret replaced, for the ledger: "url", "signing secret"
	// or both, never their values.
	SecretChange string
}

// AlertDeliveryStatus is where the delivery of an alert to a target stands.
type AlertDeliveryStatus string

// The delivery statuses.
const (
	// DeliveryDelivered: the target accepted the alert.
	DeliveryDelivered AlertDeliveryStatus = "delivered"
	// DeliveryRetrying: the last attempts failed in a way that may pass; the notifier
	// tries again at NextAttemptAt.
	DeliveryRetrying AlertDeliveryStatus = "retrying"
	// DeliveryFailed: the target refused the alert, is misconfigured, or kept failing
	// until the notifier gave up.
	DeliveryFailed AlertDeliveryStatus = "failed"
)

// Valid reports whether s is a known status.
func (s AlertDeliveryStatus) Valid() bool {
	return s == DeliveryDelivered || s == DeliveryRetrying || s == DeliveryFailed
}

// Label names the status for people.
func (s AlertDeliveryStatus) Label() string {
	switch s {
	case DeliveryDelivered:
		return "Delivered"
	case DeliveryRetrying:
		return "Retrying"
	case DeliveryFailed:
		return "Failed"
	}
	return "Pending"
}

// Final reports whether the delivery is over, delivered or failed for good.
func (s AlertDeliveryStatus) Final() bool { return s == DeliveryDelivered || s == DeliveryFailed }

// AlertDelivery is the delivery of one alert to one target.
type AlertDelivery struct {
	AlertID int64
	OrgID   int64
	// TargetID is the target; nil once the target was deleted. TargetName and TargetKind
	// are the target's as of the last attempt.
	TargetID   *int64
	TargetName string
	TargetKind AlertTargetKind
	Status     AlertDeliveryStatus
	// Attempts counts every attempt; Rounds the notifier's passes, each of a few attempts.
	Attempts int
	Rounds   int
	// LastError is why the last attempt failed, without secrets; empty once delivered.
	LastError string
	// DeliveryID is what receivers see, the same for every attempt.
	DeliveryID    string
	NextAttemptAt *time.Time
	DeliveredAt   *time.Time
	UpdatedAt     time.Time
}

// AlertResource is a resource a test failed for when it raised an alert.
type AlertResource struct {
	Type       string `json:"type"`
	ExternalID string `json:"id"`
	Name       string `json:"name"`
}

// AlertDetail is an alert with the resources it is about and its deliveries.
type AlertDetail struct {
	Alert
	// Resources are the first failing resources (at most MaxAlertResources); Failing
	// counts them all.
	Resources []AlertResource
	// Deliveries are by target name.
	Deliveries []AlertDelivery
}

// MaxAlertResources is how many failing resources an alert records.
const MaxAlertResources = 100

// Pending reports whether the alert is still being delivered.
func (d *AlertDetail) Pending() bool { return d.DeliveredAt == nil }
