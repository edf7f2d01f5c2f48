package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/evidenthq/evident/internal/demo"
	"github.com/evidenthq/evident/internal/domain"
)

// startDemo starts the demonstration on a free port and returns it with what it printed.
func (c *cli) startDemo() (*Main, string) {
	c.tb.Helper()
	var stdout syncBuffer
	m := NewMain()
	m.Stdout, m.Stderr, m.Getenv = &stdout, io.Discard, c.getenv
	if err := m.ParseFlags(context.Background(), []string{"demo", "--addr", "127.0.0.1:0"}); err != nil {
		c.tb.Fatalf("ParseFlags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		m.Close()
		c.tb.Fatalf("Run: %v", err)
	}
	c.tb.Cleanup(func() { m.Close() })
	return m, stdout.String()
}

func TestDemo(t *testing.T) {
	c := newCLI(t)
	m, banner := c.startDemo()
	if m.Demo == nil || m.Demo.OrgSlug != demo.Slug || m.Demo.Email != demo.Lead().Email || m.Demo.Password == "" {
		t.Fatalf("Demo = %+v; want the lead's sign-in to %s", m.Demo, demo.Slug)
	}
	for _, w := range []string{m.URL(), m.Demo.Email, m.Demo.Password, demo.Name, c.data} {
		if !strings.Contains(banner, w) {
			t.Errorf("the banner lacks %q:\n%s", w, banner)
		}
	}
	fi, err := os.Stat(filepath.Join(c.data, demoPasswordFile))
	if err != nil {
		t.Fatalf("the password file: %v", err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("the password file's mode = %v; want 0600", perm)
	}

	client := signIn(t, m.URL(), m.Demo.Email, m.Demo.Password)
	if status, body := get(t, client, m.URL()+"/"); status != http.StatusOK || !strings.Contains(body, demo.Name) {
		t.Errorf("GET / signed in = %d; want 200 with the organization's name", status)
	}
	// Everyone in the demonstration shares the password.
	signIn(t, m.URL(), demo.People[len(demo.People)-1].Email, m.Demo.Password)
	counts := c.demoCounts(m)
	first := *m.Demo
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	t.Run("second start", func(t *testing.T) {
		m, banner := c.startDemo()
		if *m.Demo != first {
			t.Errorf("second start: Demo = %+v; want %+v", *m.Demo, first)
		}
		if !strings.Contains(banner, first.Password) {
			t.Errorf("second start: the banner lacks the password:\n%s", banner)
		}
		if got := c.demoCounts(m); got != counts {
			t.Errorf("second start: %+v; want %+v as after the first", got, counts)
		}
		signIn(t, m.URL(), first.Email, first.Password)
		if err := m.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})

	t.Run("lost password", func(t *testing.T) {
		if err := os.Remove(filepath.Join(c.data, demoPasswordFile)); err != nil {
			t.Fatal(err)
		}
		m, banner := c.startDemo()
		if m.Demo.Password == first.Password || !strings.Contains(banner, m.Demo.Password) {
			t.Fatalf("after losing the password file: password %q; want a new one, printed", m.Demo.Password)
		}
		signIn(t, m.URL(), m.Demo.Email, m.Demo.Password)
		if got := c.demoCounts(m); got != counts {
			t.Errorf("after losing the password file: %+v; want %+v", got, counts)
		}
	})
}

// demoCounts is how much of everything the demonstration has.
type demoCounts struct {
	Orgs, Members, Systems, Controls int
	LastEvent                        int64
}

func (c *cli) demoCounts(m *Main) demoCounts {
	c.tb.Helper()
	ctx := context.Background()
	var n demoCounts
	orgs, err := m.Store.Organizations(ctx)
	if err != nil {
		c.tb.Fatal(err)
	}
	n.Orgs = len(orgs)
	org, err := m.Store.OrganizationBySlug(ctx, demo.Slug)
	if err != nil {
		c.tb.Fatal(err)
	}
	members, err := m.Store.Members(ctx, org.ID)
	if err != nil {
		c.tb.Fatal(err)
	}
	n.Members = len(members)
	syss, err := m.Store.Systems(ctx, org.ID)
	if err != nil {
		c.tb.Fatal(err)
	}
	n.Systems = len(syss)
	cs, err := m.Store.Controls(ctx, org.ID, domain.ControlFilter{IncludeRetired: true})
	if err != nil {
		c.tb.Fatal(err)
	}
	n.Controls = len(cs)
	ev, err := m.Store.Events(ctx, org.ID, domain.EventFilter{Limit: 1})
	if err != nil || len(ev) != 1 {
		c.tb.Fatalf("Events = %v, %v", ev, err)
	}
	n.LastEvent = ev[0].Index
	return n
}
