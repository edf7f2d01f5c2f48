package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/demo"
)

// demoPasswordFile holds the demonstration's password in the data directory, readable by
// the owner only, so that every start can print it.
const demoPasswordFile = "demo-password"

// DemoLogin is how to sign in to the demonstration.
type DemoLogin struct {
	OrgSlug  string
	Email    string
	Password string
}

func (m *Main) demoCommand() *command {
	c := newCommand("demo", "", "run the server with the Acme Cloud demonstration",
		`Runs the server like 'serve', first seeding the demonstration organization "acme"
(Acme Cloud, Inc.) when the database does not have it yet: scope, systems, people, and
the control library part way through readiness, with gaps to close, evidence, and
continuous monitoring: paused connections to AWS, GitHub, Okta and Google Workspace
with the resources they report, the HR roster, and two runs of the test library with
their failures, alerts and an exception. The demonstration's connections never run on
their own and reach nothing outside this machine. Prints the address and the sign-in
on every start. The password is generated on the first start and kept in the data
directory; every demonstration person signs in with it.`)
	m.Config.bindStorage(c.flags)
	m.Config.bindServer(c.flags)
	m.Config.bindEvidenceServer(c.flags)
	c.run = func(ctx context.Context, _ []string) error {
		if err := m.openStore(ctx, true); err != nil {
			return err
		}
		if err := m.openEvidence(ctx); err != nil {
			return err
		}
		login, err := m.seedDemo(ctx)
		if err != nil {
			return err
		}
		m.Demo = login
		if err := m.startServer(ctx); err != nil {
			return err
		}
		m.printDemoBanner()
		return nil
	}
	return c
}

// seedDemo seeds the demonstration organization unless it is complete already, and
// returns its sign-in. The password is read from the data directory, or generated and
// kept there, and then given to every demonstration person.
func (m *Main) seedDemo(ctx context.Context) (*DemoLogin, error) {
	path := filepath.Join(m.Config.DataDir, demoPasswordFile)
	password, fresh, err := demoPassword(path)
	if err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return nil, fmt.Errorf("demo password: %w", err)
	}
	res, err := demo.Seed(ctx, m.Store, catalog.Default(), demo.Options{
		Now: m.Now(), PasswordHash: hash, Evidence: m.Evidence, Monitoring: m.Collect,
	})
	if err != nil {
		return nil, fmt.Errorf("seed the demonstration: %w", err)
	}
	if fresh && !res.Created {
		// The organization outlived its password file: give its people the new password.
		if err := demo.SetPasswords(ctx, m.Store, hash); err != nil {
			return nil, fmt.Errorf("seed the demonstration: %w", err)
		}
	}
	if res.Created {
		m.Logger.Info("demonstration organization seeded", "org", res.Org.Slug)
	} else {
		m.Logger.Info("demonstration organization already present", "org", res.Org.Slug)
	}
	return &DemoLogin{OrgSlug: res.Org.Slug, Email: demo.Lead().Email, Password: password}, nil
}

// demoPassword reads the demonstration password from path, or generates one and writes it
// there with mode 0600. fresh reports a generated password.
func demoPassword(path string) (password string, fresh bool, err error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if pw := strings.TrimSpace(string(b)); auth.CheckPassword(pw) == nil {
			return pw, false, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", false, fmt.Errorf("read the demo password: %w", err)
	}
	pw := auth.GeneratePassword()
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("keep the demo password: %w", err)
	}
	return pw, true, nil
}

// printDemoBanner tells the person who started the demonstration how to sign in.
func (m *Main) printDemoBanner() {
	where := "in " + m.Config.DataDir + "; delete that directory to start over"
	if m.Config.IsPostgres() {
		where = "in the PostgreSQL database"
	}
	fmt.Fprintf(m.Stdout, `
Evident demo: %s is ready.

  Open      %s
  Email     %s
  Password  %s

Everyone in the demonstration (see People) signs in with this password.
The data is kept %s.
Stop with Ctrl-C.

`, demo.Name, m.URL(), m.Demo.Email, m.Demo.Password, where)
}
