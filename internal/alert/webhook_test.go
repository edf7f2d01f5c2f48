package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const testSecret = "evwhsec_test-secret-of-enough-length"

func TestWebhookDelivery(t *testing.T) {
	rc := newReceiver(t)
	d, _ := testDispatcher(t, nil, nil)
	target := Target{Name: "siem", Kind: KindWebhook, URL: rc.URL + "/hooks/evident", Secret: testSecret}
	res := d.Deliver(context.Background(), failingAlert(), []Target{target})
	if !res[0].Delivered() {
		t.Fatalf("Deliver = %+v; want delivered", res[0])
	}
	reqs := rc.Requests()
	if len(reqs) != 1 {
		t.Fatalf("the receiver got %d requests; want 1", len(reqs))
	}
	r := reqs[0]
	sentAt := changedAt.Add(time.Minute)
	if err := VerifySignature(testSecret, r.Header.Get(HeaderSignature), r.Body, sentAt.Add(30*time.Second), 0); err != nil {
		t.Errorf("VerifySignature of the delivered request: %v", err)
	}
	wantHeader := map[string]string{
		"Content-Type":  "application/json",
		HeaderEvent:     "test.failing",
		HeaderDelivery:  res[0].DeliveryID,
		HeaderSignature: Sign(testSecret, sentAt, r.Body),
		"User-Agent":    userAgent,
	}
	for k, want := range wantHeader {
		if got := r.Header.Get(k); got != want {
			t.Errorf("header %s = %q; want %q", k, got, want)
		}
	}
	if !strings.HasPrefix(r.Header.Get(HeaderSignature), "t="+strconv.FormatInt(sentAt.Unix(), 10)+",v1=") {
		t.Errorf("signature header = %q; want t=<unix>,v1=<hex>", r.Header.Get(HeaderSignature))
	}
	var got map[string]any
	if err := json.Unmarshal(r.Body, &got); err != nil {
		t.Fatalf("the body is not JSON: %v", err)
	}
	want := map[string]any{
		"version":     1.0,
		"event":       "test.failing",
		"id":          res[0].DeliveryID,
		"occurred_at": "2026-03-02T14:05:00Z",
		"organization": map[string]any{
			"slug": "acme", "name": "Acme Corp",
		},
		"test": map[string]any{
			"id": "aws-iam-user-mfa", "title": "IAM users have MFA", "severity": "high",
			"remediation": "Enable a virtual MFA device for each user:\naws iam enable-mfa-device --user-name NAME",
		},
		"resources": map[string]any{
			"total": 12.0,
			"items": []any{
				map[string]any{"type": "aws.iam.user", "id": "AIDA1", "name": "alice"},
				map[string]any{"type": "aws.iam.user", "id": "AIDA2", "name": "bob"},
				map[string]any{"type": "aws.iam.user", "id": "AIDA3", "name": "AIDA3"},
			},
		},
		"controls": []any{
			map[string]any{"ref": "AC-02", "title": "User access provisioning"},
			map[string]any{"ref": "AC-07", "title": "Multi-factor authentication"},
		},
		"link": "https://evident.acme.test/tests/aws-iam-user-mfa",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
}

func TestWebhookRecoveredPayload(t *testing.T) {
	a := recoveredAlert()
	a.BaseURL = ""
	a.Controls = nil
	body, err := json.Marshal(NewPayload(&a, "d-1"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":1,"event":"test.recovered","id":"d-1","occurred_at":"2026-03-02T17:05:00Z",` +
		`"organization":{"slug":"acme","name":"Acme Corp"},` +
		`"test":{"id":"aws-iam-user-mfa","title":"IAM users have MFA","severity":"high","remediation":"Enable a virtual MFA device for each user:\naws iam enable-mfa-device --user-name NAME"},` +
		`"resources":{"total":0,"items":[]},"controls":[]}`
	if string(body) != want {
		t.Errorf("payload =\n%s\nwant\n%s", body, want)
	}
}

func TestPayloadCapsResources(t *testing.T) {
	a := failingAlert()
	a.Resources = make([]Resource, MaxResources+50)
	for i := range a.Resources {
		a.Resources[i] = Resource{Type: "github.member", ID: strconv.Itoa(i)}
	}
	a.TotalResources = 0
	p := NewPayload(&a, "d")
	if len(p.Resources.Items) != MaxResources || p.Resources.Total != MaxResources+50 {
		t.Errorf("payload lists %d of %d resources; want %d of %d", len(p.Resources.Items), p.Resources.Total, MaxResources, MaxResources+50)
	}
}

func TestDeliveryIDs(t *testing.T) {
	a := failingAlert()
	id := deliveryID(&a, "siem")
	if id != deliveryID(&a, "siem") {
		t.Errorf("deliveryID is not stable for the same alert and target")
	}
	other := map[string]string{"other target": deliveryID(&a, "slack")}
	b := a
	b.ID = "43"
	other["other alert"] = deliveryID(&b, "siem")
	c := a
	c.Org.Slug = "globex"
	other["other organization"] = deliveryID(&c, "siem")
	for name, o := range other {
		if o == id {
			t.Errorf("%s has the same delivery ID %s", name, id)
		}
	}
	r := a
	r.ID = ""
	if first, second := deliveryID(&r, "siem"), deliveryID(&r, "siem"); first == second {
		t.Errorf("deliveryID without an alert ID repeats itself")
	}
	for _, s := range []string{id, deliveryID(&r, "siem")} {
		if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			t.Errorf("delivery ID %q is not in UUID form", s)
		}
	}
	if id[14] != '8' || deliveryID(&r, "siem")[14] != '4' {
		t.Errorf("delivery IDs %s and %s: want UUID versions 8 and 4", id, deliveryID(&r, "siem"))
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"version":1,"event":"test.failing"}`)
	at := time.Unix(1767225600, 0)
	good := Sign(testSecret, at, body)
	other := Sign("another-secret-of-enough-length", at, body)
	v1 := strings.TrimPrefix(good, "t=1767225600,")
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		tol    time.Duration
		want   error
	}{
		{"valid", testSecret, good, body, at.Add(time.Minute), 0, nil},
		{"valid just within tolerance", testSecret, good, body, at.Add(DefaultTolerance), 0, nil},
		{"clock behind the sender", testSecret, good, body, at.Add(-time.Minute), 0, nil},
		{"rotation: second signature matches", testSecret, other + "," + v1, body, at, 0, nil},
		{"spaces after commas", testSecret, "t=1767225600, " + v1, body, at, 0, nil},
		{"unknown scheme skipped", testSecret, good + ",v0=abc", body, at, 0, nil},
		{"tampered body", testSecret, good, []byte(`{"version":1,"event":"test.recovered"}`), at, 0, ErrSignatureMismatch},
		{"wrong secret", "wrong-secret-of-enough-length", good, body, at, 0, ErrSignatureMismatch},
		{"other secret's signature", testSecret, other, body, at, 0, ErrSignatureMismatch},
		{"replayed later", testSecret, good, body, at.Add(DefaultTolerance + time.Second), 0, ErrSignatureExpired},
		{"from the future", testSecret, good, body, at.Add(-10 * time.Minute), 0, ErrSignatureExpired},
		{"custom tolerance", testSecret, good, body, at.Add(2 * time.Minute), time.Minute, ErrSignatureExpired},
		{"no time check", testSecret, good, body, at.Add(1000 * time.Hour), -1, nil},
		{"changed timestamp", testSecret, "t=1767225601," + v1, body, at, 0, ErrSignatureMismatch},
		{"empty", testSecret, "", body, at, 0, ErrSignatureMalformed},
		{"no timestamp", testSecret, v1, body, at, 0, ErrSignatureMalformed},
		{"no signature", testSecret, "t=1767225600", body, at, 0, ErrSignatureMalformed},
		{"two timestamps", testSecret, "t=1767225600,t=1767225600," + v1, body, at, 0, ErrSignatureMalformed},
		{"timestamp with sign", testSecret, "t=+1767225600," + v1, body, at, 0, ErrSignatureMalformed},
		{"short signature", testSecret, "t=1767225600,v1=abcd", body, at, 0, ErrSignatureMalformed},
		{"not hex", testSecret, "t=1767225600,v1=" + strings.Repeat("zz", 32), body, at, 0, ErrSignatureMalformed},
		{"no equals sign", testSecret, "t1767225600," + v1, body, at, 0, ErrSignatureMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifySignature(tt.secret, tt.header, tt.body, tt.now, tt.tol)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("VerifySignature(%q) = %v; want %v", tt.header, err, tt.want)
			}
		})
	}
}

func TestSignKnownValue(t *testing.T) {
	// Computed independently: printf '1767225600.{}' | openssl dgst -sha256 -hmac secret
	got := Sign("secret", time.Unix(1767225600, 0), []byte("{}"))
	want := "t=1767225600,v1=fa7eaa06bf97d7815f3f456e97cde70c9e50cb005f01660c8d10b10c21964887"
	if got != want {
		t.Errorf("Sign = %q; want %q", got, want)
	}
}

func TestNewSecret(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewSecret()
	if a == b || !strings.HasPrefix(a, secretPrefix) || len(a) != len(secretPrefix)+43 {
		t.Errorf("NewSecret() = %q, %q; want two different %s secrets of 256 bits", a, b, secretPrefix)
	}
	target := Target{Name: "siem", Kind: KindWebhook, URL: "https://hooks.example.com/e", Secret: a}
	if err := target.Validate(&Guard{}); err != nil {
		t.Errorf("a target with a new secret: %v", err)
	}
}

func ExampleVerifySignature() {
	// In a receiver's handler: body is the raw request body, read in full.
	body := []byte(`{"version":1,"event":"test.failing","id":"…"}`)
	header := Sign("evwhsec_example-secret", time.Unix(1767225600, 0), body) // r.Header.Get("Evident-Signature")
	err := VerifySignature("evwhsec_example-secret", header, body, time.Unix(1767225660, 0), DefaultTolerance)
	fmt.Println(err)
	// Output: <nil>
}

func TestWebhookWithoutSecret(t *testing.T) {
	rc := newReceiver(t)
	d, _ := testDispatcher(t, nil, nil)
	res := d.Deliver(context.Background(), failingAlert(), []Target{{Name: "unsigned", Kind: KindWebhook, URL: rc.URL}})
	if res[0].Delivered() || !res[0].Permanent || !strings.Contains(res[0].Err.Error(), "no signing secret") {
		t.Errorf("Deliver without a secret = %+v; want a permanent failure", res[0])
	}
	if n := len(rc.Requests()); n != 0 {
		t.Errorf("the receiver got %d unsigned requests", n)
	}
}
