package main

import (
	"bytes"
	"context"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/evidenthq/evident/internal/demo"
	"github.com/evidenthq/evident/internal/notify"
	"github.com/evidenthq/evident/internal/notify/notifytest"
)

// TestDemoSendsDigests runs the demonstration with a mail server configured and the
// digest hour at midnight: the owners of controls whose evidence is due get their digest
// through real SMTP, with links to the base URL, and no password shows in the logs.
func TestDemoSendsDigests(t *testing.T) {
	const password = "smtp-pass-5f2c9"
	srv := notifytest.Start(t, notifytest.Options{User: "mailer", Password: password})
	c := newCLI(t)
	c.env[envSMTPURL] = srv.URL("mailer", password)
	c.env[envMailFrom] = "Evident <evident@acme.example>"
	c.env[envBaseURL] = "https://evident.acme.example"
	c.env[envDigestHour] = "0"
	c.env[envLogLevel] = "debug"

	// One clock for both starts, so that they fall on the same day.
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(9 * time.Hour)
	var logs syncBuffer
	m := startDemoAt(t, c, now, &logs)
	defer m.Close()

	ctx := context.Background()
	org, err := m.Store.OrganizationBySlug(ctx, demo.Slug)
	if err != nil {
		t.Fatal(err)
	}
	digests, err := notify.Build(ctx, m.Store, *org, now)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]bool{}
	for _, d := range digests {
		owners[d.Owner.Email] = true
	}
	if len(owners) < 2 {
		t.Fatalf("the demonstration has %d owners with evidence due; want several", len(owners))
	}
	deadline := time.Now().Add(time.Minute)
	for len(srv.Messages()) < len(owners) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	msgs := srv.Messages()
	if len(msgs) != len(owners) {
		t.Fatalf("%d digests reached the mail server in a minute; want %d; logs:\n%s", len(msgs), len(owners), logs.String())
	}
	for _, msg := range msgs {
		if msg.User != "mailer" || msg.From != "evident@acme.example" || len(msg.To) != 1 || !owners[msg.To[0]] {
			t.Errorf("message from %q to %v as %q; want one owner with evidence due each, sent as mailer from evident@acme.example", msg.From, msg.To, msg.User)
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(msg.Data))
		if err != nil {
			t.Fatalf("read message: %v", err)
		}
		if subject := parsed.Header.Get("Subject"); !strings.HasPrefix(subject, "Evidence needed for ") || !strings.Contains(subject, demo.Name) {
			t.Errorf("Subject = %q; want the evidence digest of %s", subject, demo.Name)
		}
		if !bytes.Contains(msg.Data, []byte("https://evident.acme.example/controls/")) {
			t.Errorf("the digest to %v does not link to the controls at the base URL", msg.To)
		}
	}
	n := len(msgs)
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := len(srv.Messages()); got != n {
		t.Errorf("the mail server received %d messages after shutdown began; want the %d of the first run", got, n)
	}
	out := logs.String()
	if strings.Contains(out, password) {
		t.Errorf("the logs show the SMTP password:\n%s", out)
	}
	if !strings.Contains(out, `msg="evidence digest on"`) || !strings.Contains(out, `msg="evidence digest sent"`) {
		t.Errorf("the logs do not say the digest is on and was sent:\n%s", out)
	}

	// Another replica, or the next start the same day, sends nothing more: each digest
	// is claimed once a day.
	m2 := startDemoAt(t, c, now.Add(3*time.Hour), &syncBuffer{})
	defer m2.Close()
	sender, err := m2.newDigestSender()
	if err != nil {
		t.Fatal(err)
	}
	if sent, err := sender.SendDue(ctx); sent != 0 || err != nil {
		t.Errorf("SendDue on a second start the same day = %d, %v; want 0, nil", sent, err)
	}
}

// startDemoAt starts the demonstration with its clock at now, logging to logs.
func startDemoAt(tb testing.TB, c *cli, now time.Time, logs *syncBuffer) *Main {
	tb.Helper()
	m := NewMain()
	m.Stdout, m.Stderr, m.Getenv = &bytes.Buffer{}, logs, c.getenv
	m.Now = func() time.Time { return now }
	if err := m.ParseFlags(context.Background(), []string{"demo", "--addr", "127.0.0.1:0"}); err != nil {
		tb.Fatalf("ParseFlags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		tb.Fatalf("Run: %v", err)
	}
	return m
}

func TestSecretsAreNeverShown(t *testing.T) {
	const smtpSecret, s3Secret = "smtp-secret-91ab", "s3-secret-77cd"
	c := newCLI(t)
	c.env[envSMTPURL] = "smtp://mailer:" + smtpSecret + "@mail.example.com:587"
	c.env[envMailFrom] = "evident@example.com"
	c.env[envBlobs] = "s3://KEYID:" + s3Secret + "@evidence/acme?endpoint=http://127.0.0.1:9&path_style=true"

	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"help", nil, []string{"help", "serve"}},
		{"demo help", nil, []string{"demo", "--help"}},
		{"bad smtp url", map[string]string{envSMTPURL: "smtp://mailer:" + smtpSecret + "@mail.example.com:99999"}, []string{"serve", "--addr", "127.0.0.1:0"}},
		{"bad blobs url", map[string]string{envBlobs: "s3://KEYID:" + s3Secret + "@/no-bucket"}, []string{"serve", "--addr", "127.0.0.1:0"}},
		{"blobs url in a flag", nil, []string{"serve", "--addr", "127.0.0.1:0", "--blobs", "s3://KEYID:" + s3Secret + "@evidence?unknown=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc := newCLI(t)
			for k, v := range c.env {
				cc.env[k] = v
			}
			cc.env[envData] = cc.data
			for k, v := range tt.env {
				cc.env[k] = v
			}
			o := cc.run(nil, tt.args...)
			for _, secret := range []string{smtpSecret, s3Secret} {
				if strings.Contains(o.stdout, secret) || strings.Contains(o.stderr, secret) {
					t.Errorf("evident %s shows a secret:\nstdout %s\nstderr %s", strings.Join(tt.args, " "), o.stdout, o.stderr)
				}
			}
			if strings.HasPrefix(tt.name, "bad") || strings.HasPrefix(tt.name, "blobs") {
				if o.code == 0 {
					t.Errorf("evident %s: exit 0; want the bad URL refused", strings.Join(tt.args, " "))
				}
			}
		})
	}

	// A server that starts, with both secrets configured, does not log them either.
	var logs syncBuffer
	m := NewMain()
	m.Stdout, m.Stderr, m.Getenv = &bytes.Buffer{}, &logs, c.getenv
	if err := m.ParseFlags(context.Background(), []string{"serve", "--addr", "127.0.0.1:0", "--log-level", "debug"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		t.Fatalf("Run: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, secret := range []string{smtpSecret, s3Secret} {
		if strings.Contains(out, secret) {
			t.Errorf("the server's log shows a secret:\n%s", out)
		}
	}
	if !strings.Contains(out, "blobs=s3://evidence/acme") || !strings.Contains(out, "mail_server=") {
		t.Errorf("the log does not name the blob store and the mail server without their secrets:\n%s", out)
	}
}
