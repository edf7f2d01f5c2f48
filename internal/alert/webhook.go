package alert

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhook is the generic webhook channel: it posts an alert as a JSON Payload, signed
// with the target's secret, so that any system can act on it.
//
// # What a receiver gets
//
// A POST with Content-Type application/json, the Payload as its body, and these headers:
//
//	Evident-Event: test.failing            (or test.recovered)
//	Evident-Delivery: 3f1c…-…              (the payload's id)
//	Evident-Signature: t=1767225600,v1=5d41…
//
// Answer with any 2xx status once the alert is safely received. Evident tries again, a few
// times with growing waits, after no answer, 429 or 5xx; a delivery tried again has the
// same id and body (and a new signature), so a receiver that has seen the id can answer
// 2xx and ignore it. Any other 4xx is final.
//
// # Verifying the signature
//
// The signature proves that Evident sent the body, unchanged, recently:
//
//  1. Split the Evident-Signature header at commas into key=value pairs; t is a Unix
//     time in seconds and each v1 (there may be several while a secret is rotated) is
//     a signature in lower-case hex.
//  2. Compute HMAC-SHA256 with the webhook's secret (the whole string, prefix included)
//     as the key over the bytes of t, a full stop, and the raw request body exactly as
//     received: "1767225600.{"version":1,…}".
//  3. Compare it in constant time with each v1; one must match.
//  4. Refuse a t more than a few minutes from your clock, so that a captured request
//     cannot be replayed later.
//
// VerifySignature does all of this for receivers written in Go.
type Webhook struct {
	// Client posts the payloads; build it with Guard.Client.
	Client *http.Client
}

// PayloadVersion is the version of Payload's format. Fields may be added within a
// version; a change that removes or redefines a field makes a new one.
const PayloadVersion = 1

// MaxResources is how many failing resources a Payload lists at most; Resources.Total
// counts them all.
const MaxResources = 100

// Payload is the body of a generic webhook.
type Payload struct {
	Version int `json:"version"`
	// Event is "test.failing" or "test.recovered".
	Event string `json:"event"`
	// ID is the delivery's ID, also in the Evident-Delivery header: the same for every
	// attempt to deliver the same alert to the same webhook.
	ID string `json:"id"`
	// OccurredAt is when the test changed state, in UTC.
	OccurredAt   time.Time `json:"occurred_at"`
	Organization Org       `json:"organization"`
	Test         Test      `json:"test"`
	Resources    Resources `json:"resources"`
	Controls     []Control `json:"controls"`
	// Link is the test's page in Evident; absent when Evident has no public address set.
	Link string `json:"link,omitempty"`
}

// Resources are a Payload's failing resources: the first MaxResources and the total.
type Resources struct {
	Total int        `json:"total"`
	Items []Resource `json:"items"`
}

// NewPayload returns the payload of the alert's delivery with the given ID.
func NewPayload(a *Alert, deliveryID string) Payload {
	items := a.Resources
	if len(items) > MaxResources {
		items = items[:MaxResources]
	}
	p := Payload{
		Version:      PayloadVersion,
		Event:        a.State.Event(),
		ID:           deliveryID,
		OccurredAt:   a.At.UTC(),
		Organization: a.Org,
		Test:         a.Test,
		Resources:    Resources{Total: a.Total(), Items: append([]Resource{}, items...)},
		Controls:     append([]Control{}, a.Controls...),
		Link:         a.Link(),
	}
	if a.State == Recovered {
		// A recovered test fails for nothing: whatever the caller passed is history.
		p.Resources = Resources{Items: []Resource{}}
	}
	return p
}

// The webhook's headers.
const (
	HeaderEvent     = "Evident-Event"
	HeaderDelivery  = "Evident-Delivery"
	HeaderSignature = "Evident-Signature"
)

// Send posts the alert once, signed with the target's secret at the delivery's time. An
// answer of 429 or 5xx, or no answer, can be tried again; any other 4xx is permanent.
func (w *Webhook) Send(ctx context.Context, d *Delivery) error {
	if d.Target.Secret == "" {
		return permanent(errors.New("webhook has no signing secret"))
	}
	body, err := json.Marshal(NewPayload(d.Alert, d.ID))
	if err != nil {
		return permanent(fmt.Errorf("webhook payload: %w", err))
	}
	h := http.Header{}
	h.Set(HeaderEvent, d.Alert.State.Event())
	h.Set(HeaderDelivery, d.ID)
	h.Set(HeaderSignature, Sign(d.Target.Secret, d.At, body))
	return post(ctx, w.Client, d, body, h)
}

// Sign returns the Evident-Signature header of body sent at time t: "t=<unix>,v1=<hex
// HMAC-SHA256 of "<unix>.<body>" keyed with secret>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(signature(secret, ts, body))
}

func signature(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// DefaultTolerance is how far from the receiver's clock a signature's time may be.
const DefaultTolerance = 5 * time.Minute

// The errors of VerifySignature.
var (
	ErrSignatureMalformed = errors.New("webhook signature: the header is malformed")
	ErrSignatureMismatch  = errors.New("webhook signature: no signature matches the body")
	ErrSignatureExpired   = errors.New("webhook signature: the timestamp is outside the tolerance")
)

// VerifySignature checks an Evident-Signature header against the raw body and the
// webhook's secret, for receivers: the body must be signed by one of the header's v1
// signatures, and the header's time be within tolerance of now (DefaultTolerance when
// zero; a negative tolerance skips the time check). The comparison takes constant time.
func VerifySignature(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureMalformed
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrSignatureMalformed
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrSignatureMalformed
			}
			sigs = append(sigs, sig)
		}
		// Other schemes are for other versions of this format; skip them.
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 || ts != strconv.FormatInt(sec, 10) {
		return ErrSignatureMalformed
	}
	if tolerance == 0 {
		tolerance = DefaultTolerance
	}
	if tolerance > 0 {
		skew := now.Sub(time.Unix(sec, 0))
		if skew > tolerance || skew < -tolerance {
			return ErrSignatureExpired
		}
	}
	want := signature(secret, ts, body)
	ok := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	return nil
}

// secretPrefix starts every secret NewSecret makes, so that secret scanners and people
// recognise one.
const secretPrefix = "evwhsec_"

// NewSecret returns a new random webhook signing secret: 256 bits, written in base64url
// after a recognisable prefix.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return secretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}
