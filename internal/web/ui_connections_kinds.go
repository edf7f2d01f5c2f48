package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// A connection's configuration is one JSON object, sealed whole with its credentials. The
// pages and the API split it by what each key is: settings (an organization's login, the
// regions to scan), which people may see again, and credentials, which nobody ever sees
// again. connectionKinds says which is which for every connector Evident ships; a key it
// does not list is treated as a credential, never shown.

// fieldKind is how a configuration field is entered.
type fieldKind int

const (
	fieldText     fieldKind = iota // one line of text
	fieldLongText                  // several lines, such as a JSON key file
	fieldList                      // a list of strings, entered separated by commas or lines
	fieldNumber                    // a whole number
)

// configField is one key of a connector's configuration.
type configField struct {
	Key      string // the JSON key
	Label    string
	Help     string
	Kind     fieldKind
	Secret   bool // a credential: never shown again, kept when left empty on edit
	Required bool
	// Placeholder shows the shape of a value.
	Placeholder string
}

// Input is the name and ID of the field's input in the forms.
func (f configField) Input() string {
	if f.Key == "" {
		return "cfg_json"
	}
	return "cfg_" + f.Key
}

// connectionKind describes a connector for the forms: what it reads and how to configure it.
type connectionKind struct {
	Kind        string
	Title       string
	Description string
	Fields      []configField
}

// Types lists the resource types the connector reports, from the schema registry.
func (k connectionKind) Types() []string {
	var out []string
	for _, s := range monitor.Schemas() {
		if s.Source == k.Kind {
			out = append(out, s.Type)
		}
	}
	return out
}

// Settings are the fields that are not credentials.
func (k connectionKind) Settings() []configField {
	var out []configField
	for _, f := range k.Fields {
		if !f.Secret {
			out = append(out, f)
		}
	}
	return out
}

// Credentials are the secret fields.
func (k connectionKind) Credentials() []configField {
	var out []configField
	for _, f := range k.Fields {
		if f.Secret {
			out = append(out, f)
		}
	}
	return out
}

// field returns the kind's field with the JSON key.
func (k connectionKind) field(key string) (configField, bool) {
	for _, f := range k.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return configField{}, false
}

// rawConfigField is the one field of a kind the pages do not describe: its whole
// configuration as JSON, a credential.
var rawConfigField = configField{
	Key: "", Label: "Configuration (JSON)", Kind: fieldLongText, Secret: true, Required: true,
	Help: "The connector's configuration, credentials included, as one JSON object.",
}

// connectionKinds describes the connectors Evident ships. Their fields are the JSON keys of
// each connector's Config; a test holds the two together.
var connectionKinds = []connectionKind{
	{
		Kind: "aws", Title: "Amazon Web Services",
		Description: "One AWS account: IAM users, the root user and the password policy, S3, EC2 volumes and security groups, RDS, CloudTrail, KMS, GuardDuty and AWS Config, in every region enabled or the ones listed. It only reads.",
		Fields: []configField{
			{Key: "access_key_id", Label: "Access key ID", Secret: true, Required: true, Placeholder: "AKIA…",
				Help: "The access key of an IAM user with the SecurityAudit managed policy: in the IAM console, open Users, the user, Security credentials, then Create access key."},
			{Key: "secret_access_key", Label: "Secret access key", Secret: true, Required: true,
				Help: "Shown once, when the access key is created."},
			{Key: "session_token", Label: "Session token", Secret: true,
				Help: "Only for temporary credentials from AWS STS; leave empty for an IAM user's access key."},
			{Key: "role_arn", Label: "Role to assume", Placeholder: "arn:aws:iam::123456789012:role/EvidentAudit",
				Help: "An IAM role the access key assumes before reading: the usual way to grant read access to another account. Give the role the SecurityAudit policy."},
			{Key: "external_id", Label: "External ID",
				Help: "The external ID the role's trust policy requires, if it requires one."},
			{Key: "regions", Label: "Regions", Kind: fieldList, Placeholder: "eu-west-1, us-east-1",
				Help: "Separated by commas. Empty scans every region enabled in the account; the first region listed is where global services are read."},
			{Key: "endpoint", Label: "Endpoint",
				Help: "Only for an AWS-compatible service or a local test server: one base URL used for every service. Leave empty for AWS."},
		},
	},
	{
		Kind: "github", Title: "GitHub",
		Description: "One GitHub organization: its settings, members, outside collaborators, repositories with their branch protection and Dependabot alerts, and merged pull requests with their reviews.",
		Fields: []configField{
			{Key: "token", Label: "Access token", Secret: true, Required: true, Placeholder: "github_pat_…",
				Help: "A token of an organization owner: a fine-grained personal access token with read access to members, administration, pull requests, contents and Dependabot alerts, or a classic token with the read:org and repo scopes. Create it in GitHub under Settings, Developer settings, Personal access tokens."},
			{Key: "organization", Label: "Organization", Required: true, Placeholder: "acme",
				Help: "The organization's login, as in https://github.com/acme."},
			{Key: "repositories", Label: "Repositories", Kind: fieldList, Placeholder: "api, web",
				Help: "Names without the owner, separated by commas. Empty reads every repository."},
			{Key: "pull_request_days", Label: "Pull requests of the last … days", Kind: fieldNumber, Placeholder: "90",
				Help: "How far back merged pull requests are read. Empty means 90 days."},
			{Key: "base_url", Label: "GitHub Enterprise Server address", Placeholder: "https://github.example.com",
				Help: "Only for GitHub Enterprise Server. Leave empty for github.com."},
		},
	},
	{
		Kind: "okta", Title: "Okta",
		Description: "One Okta organization: users with their factors and admin roles, and the sign-on, access and password policies with their rules.",
		Fields: []configField{
			{Key: "org_url", Label: "Okta address", Required: true, Placeholder: "https://acme.okta.com",
				Help: "The organization's address, without -admin."},
			{Key: "api_token", Label: "API token", Secret: true, Required: true,
				Help: "Sign in to the Admin Console as a read-only administrator, then open Security, API, Tokens and create a token. It acts with that administrator's rights."},
		},
	},
	{
		Kind: "google", Title: "Google Workspace",
		Description: "One Google Workspace account: its users with their 2-step verification, admin status and last sign-in.",
		Fields: []configField{
			{Key: "credentials", Label: "Service account key (JSON)", Kind: fieldLongText, Secret: true, Required: true,
				Placeholder: `{"type": "service_account", …}`,
				Help:        "In Google Cloud, create a service account and a JSON key for it. In the Admin console, under Security, Access and data control, API controls, Domain-wide delegation, grant its client ID the scope https://www.googleapis.com/auth/admin.directory.user.readonly. Paste the whole key file."},
			{Key: "subject", Label: "Administrator email", Required: true, Placeholder: "admin@acme.example",
				Help: "A Workspace administrator the service account acts as: the directory answers administrators only."},
			{Key: "customer", Label: "Customer ID", Placeholder: "C03az79cb",
				Help: "In the Admin console, Account, Account settings. Empty means the administrator's own account."},
			{Key: "endpoint", Label: "Endpoint",
				Help: "Only for a proxy or a local test server: the base URL of the Admin SDK. Leave empty for Google."},
		},
	},
}

// kindOf returns the description of a connector kind; a kind the pages do not know is
// configured with its raw JSON, as a credential.
func kindOf(kind string) connectionKind {
	for _, k := range connectionKinds {
		if k.Kind == kind {
			return k
		}
	}
	return connectionKind{Kind: kind, Title: kind, Fields: []configField{rawConfigField}}
}

// raw reports whether the kind is configured as raw JSON.
func (k connectionKind) raw() bool { return len(k.Fields) == 1 && k.Fields[0].Key == "" }

// configMap is a connection's configuration, decoded.
type configMap map[string]any

// decodeConfig decodes a sealed configuration once opened.
func decodeConfig(b []byte) (configMap, error) {
	m := configMap{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("decode a connection's configuration: %w", err)
	}
	return m, nil
}

// settingsOf returns the settings of a configuration that people may see: the values of
// the kind's fields that are not credentials, and nothing of a kind the pages do not know.
func settingsOf(k connectionKind, cfg configMap) map[string]any {
	out := map[string]any{}
	for _, f := range k.Settings() {
		if v, ok := cfg[f.Key]; ok && v != nil {
			out[f.Key] = v
		}
	}
	return out
}

// credentialKeys lists the keys of a configuration that are credentials: the kind's secret
// fields that are set, and every key the kind does not describe.
func credentialKeys(k connectionKind, cfg configMap) []string {
	var out []string
	for key, v := range cfg {
		f, ok := k.field(key)
		if (!ok || f.Secret) && v != nil && v != "" {
			out = append(out, key)
		}
	}
	slices.Sort(out)
	return out
}

// valueText is a setting's value as the forms show it.
func valueText(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			parts = append(parts, valueText(x))
		}
		return strings.Join(parts, ", ")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// parseFieldValue reads a field's value as a person typed it; ok is false when it is empty.
// The error names the field's input.
func parseFieldValue(f configField, s string) (v any, ok bool, err error) {
	if f.Kind != fieldLongText {
		s = strings.TrimSpace(s)
	}
	if strings.TrimSpace(s) == "" {
		return nil, false, nil
	}
	switch f.Kind {
	case fieldList:
		var items []string
		for _, x := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ';' }) {
			if x = strings.TrimSpace(x); x != "" {
				items = append(items, x)
			}
		}
		if len(items) == 0 {
			return nil, false, nil
		}
		return items, true, nil
	case fieldNumber:
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, false, domain.Invalid(f.Input(), "must be a whole number")
		}
		return n, true, nil
	}
	return s, true, nil
}

// configFromForm builds a configuration from a submitted form over the current one (nil
// when creating): settings are taken as submitted, empty ones removed; credentials left
// empty keep their current value. It reports whether anything changed.
func configFromForm(k connectionKind, f *form, current configMap) (configMap, bool, error) {
	if k.raw() {
		s := f.Get(rawConfigField.Input())
		if strings.TrimSpace(s) == "" {
			if current == nil {
				return nil, false, domain.Invalid(rawConfigField.Input(), "is required")
			}
			return current, false, nil
		}
		var m configMap
		if err := json.Unmarshal([]byte(s), &m); err != nil || m == nil {
			return nil, false, domain.Invalid(rawConfigField.Input(), "must be one JSON object")
		}
		return m, true, nil
	}
	out := configMap{}
	for key, v := range current {
		out[key] = v
	}
	changed := current == nil
	for _, fd := range k.Fields {
		v, ok, err := parseFieldValue(fd, f.Get(fd.Input()))
		if err != nil {
			return nil, false, err
		}
		switch {
		case ok:
			if !changed && !sameValue(out[fd.Key], v) {
				changed = true
			}
			out[fd.Key] = v
		case fd.Secret && current != nil:
			// Left empty: the credential stays as it is.
		default:
			if _, had := out[fd.Key]; had {
				changed = true
			}
			delete(out, fd.Key)
		}
	}
	return out, changed, nil
}

// sameValue compares a stored value (decoded JSON) with a parsed one.
func sameValue(stored, v any) bool {
	a, err1 := json.Marshal(stored)
	b, err2 := json.Marshal(v)
	return err1 == nil && err2 == nil && string(a) == string(b)
}

// applyConfigPatch applies the settings and credentials of an API request to a
// configuration (nil when creating): a key set to null is removed. For a kind the pages
// describe, settings must be its settings and credentials its credentials, named in the
// error as "settings.KEY" or "credentials.KEY".
func applyConfigPatch(k connectionKind, current configMap, settings, credentials map[string]json.RawMessage) (configMap, bool, error) {
	out := configMap{}
	for key, v := range current {
		out[key] = v
	}
	changed := current == nil
	apply := func(group string, values map[string]json.RawMessage, secret bool) error {
		keys := make([]string, 0, len(values))
		for key := range values {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		for _, key := range keys {
			if !k.raw() {
				f, ok := k.field(key)
				switch {
				case !ok:
					return domain.Invalid(group+"."+key, "is not a setting or credential of %s connections", k.Kind)
				case f.Secret != secret && secret:
					return domain.Invalid(group+"."+key, "is a setting, not a credential: send it in settings")
				case f.Secret != secret:
					return domain.Invalid(group+"."+key, "is a credential: send it in credentials")
				}
			}
			raw := values[key]
			if string(raw) == "null" {
				if _, had := out[key]; had {
					changed = true
				}
				delete(out, key)
				continue
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return domain.Invalid(group+"."+key, "is not valid JSON")
			}
			if !sameValue(out[key], v) {
				changed = true
			}
			out[key] = v
		}
		return nil
	}
	if err := apply("settings", settings, false); err != nil {
		return nil, false, err
	}
	if err := apply("credentials", credentials, true); err != nil {
		return nil, false, err
	}
	return out, changed, nil
}

// intervalChoices are the schedules the forms offer.
var intervalChoices = []time.Duration{
	5 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour,
	6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour,
}

// intervalOption is one choice of schedule.
type intervalOption struct {
	Seconds  int64
	Label    string
	Selected bool
}

// intervalOptions lists the schedules to choose from with the current one selected,
// added to the list when it is not a usual one (it was set through the API).
func intervalOptions(current time.Duration) []intervalOption {
	if current == 0 {
		current = domain.DefaultConnectionInterval
	}
	choices := intervalChoices
	if !slices.Contains(choices, current) {
		choices = append(slices.Clone(choices), current)
		slices.Sort(choices)
	}
	out := make([]intervalOption, len(choices))
	for i, d := range choices {
		out[i] = intervalOption{Seconds: int64(d / time.Second), Label: intervalLabel(d), Selected: d == current}
	}
	return out
}

// intervalLabel says a schedule in words: "Every hour", "Every 15 minutes", "Every 7 days".
func intervalLabel(d time.Duration) string {
	switch {
	case d == time.Hour:
		return "Every hour"
	case d == 24*time.Hour:
		return "Every day"
	case d%(24*time.Hour) == 0:
		return "Every " + plural(int(d/(24*time.Hour)), "day")
	case d%time.Hour == 0:
		return "Every " + plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return "Every " + plural(int(d/time.Minute), "minute")
	}
	return "Every " + plural(int(d/time.Second), "second")
}

// parseInterval reads the schedule field of a form, in seconds.
func parseInterval(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return domain.DefaultConnectionInterval, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, domain.Invalid("interval", "must be chosen from the list")
	}
	return intervalSeconds(n)
}

// intervalSeconds turns a schedule in seconds into a duration, refusing one out of range
// before it could overflow.
func intervalSeconds(n int64) (time.Duration, error) {
	if n < int64(domain.MinConnectionInterval/time.Second) || n > int64(domain.MaxConnectionInterval/time.Second) {
		return 0, domain.Invalid("interval", "must be between %s and %s", domain.MinConnectionInterval, "30 days")
	}
	return time.Duration(n) * time.Second, nil
}

// errMessage is what an error of a known kind says, without the field it names, for
// errors that are named again under another field or shown next to theirs.
func errMessage(err error) string {
	var e *domain.Error
	if errors.As(err, &e) && e.Kind != domain.KindInternal {
		return e.Message
	}
	return domain.MessageOf(err)
}
