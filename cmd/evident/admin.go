package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/evidenthq/evident/internal/auth"
	"github.com/evidenthq/evident/internal/catalog"
	"github.com/evidenthq/evident/internal/domain"
)

func (m *Main) orgCreateCommand() *command {
	c := newCommand("org create", "SLUG", "create an organization with the control library adopted",
		`Creates an organization (a tenant) with the given slug, its scope (Security, Type II)
and the whole control library adopted, every control not started and without owner.
The slug is 1 to 40 lower-case letters, digits or inner hyphens. Add its first owner
with 'evident user create --org SLUG --email EMAIL --role owner --name NAME'.`)
	m.Config.bindStorage(c.flags)
	name := c.flags.String("name", "", "the organization's name, such as \"Acme Cloud, Inc.\" (required)")
	c.run = func(ctx context.Context, args []string) error {
		if strings.TrimSpace(*name) == "" {
			return usageError{cmd: c.name, msg: "--name is required"}
		}
		o := &domain.Organization{Slug: args[0], Name: *name}
		if err := domain.ValidateOrganization(o); err != nil {
			var de *domain.Error
			if errors.As(err, &de) && de.Field == "slug" {
				return usageError{cmd: c.name, msg: fmt.Sprintf("SLUG %q %s", args[0], de.Message)}
			}
			return err
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		lib := catalog.Default().Library
		if err := m.Store.CreateOrganization(ctx, domain.SystemActor, o, nil, lib); err != nil {
			if domain.KindOf(err) == domain.KindConflict {
				return fmt.Errorf("an organization with slug %q already exists; list them with 'evident org list'", o.Slug)
			}
			return err
		}
		fmt.Fprintf(m.Stdout, "Created organization %s (%s) with %s from the library.\n", o.Slug, o.Name, plural(len(lib), "control", "controls"))
		fmt.Fprintf(m.Stdout, "Add its first owner with: evident user create --org %s --email EMAIL --role owner --name NAME\n", o.Slug)
		return nil
	}
	return c
}

func (m *Main) orgListCommand() *command {
	c := newCommand("org list", "", "list the organizations",
		`Lists every organization: its slug, its name and when it was created.`)
	m.Config.bindStorage(c.flags)
	c.run = func(ctx context.Context, _ []string) error {
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		orgs, err := m.Store.Organizations(ctx)
		if err != nil {
			return err
		}
		if len(orgs) == 0 {
			fmt.Fprintln(m.Stdout, "No organizations yet. Create one with: evident org create SLUG --name NAME")
			return nil
		}
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "SLUG\tNAME\tCREATED")
		for _, o := range orgs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", o.Slug, o.Name, o.CreatedAt.UTC().Format("2006-01-02"))
		}
		return tw.Flush()
	}
	return c
}

func (m *Main) userCreateCommand() *command {
	c := newCommand("user create", "", "add a person to an organization",
		`Adds a person to an organization with a role: owner, admin, member (can edit and own
controls) or viewer (read-only). A new user needs --name. The password is read from the
first line of standard input when it is piped; otherwise one is generated and printed
once. A person who already has an account keeps their password.`)
	m.Config.bindStorage(c.flags)
	org := c.flags.String("org", "", "the organization's slug (required)")
	email := c.flags.String("email", "", "the person's email address (required)")
	role := c.flags.String("role", "", "owner, admin, member or viewer (required)")
	name := c.flags.String("name", "", "the person's full name (required for a new user)")
	c.run = func(ctx context.Context, _ []string) error {
		for _, f := range []struct{ flag, value string }{{"org", *org}, {"email", *email}, {"role", *role}} {
			if strings.TrimSpace(f.value) == "" {
				return usageError{cmd: c.name, msg: "--" + f.flag + " is required"}
			}
		}
		r := domain.Role(*role)
		if !r.Valid() || r == domain.RoleAuditor {
			return usageError{cmd: c.name, msg: fmt.Sprintf("--role: %q is not a role; use owner, admin, member or viewer", *role)}
		}
		password := ""
		if stdinPiped(m.Stdin) {
			pw, err := readPassword(m.Stdin)
			if err != nil {
				return err
			}
			password = pw
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		o, err := m.orgBySlug(ctx, *org)
		if err != nil {
			return err
		}
		existing, err := m.Store.UserByEmail(ctx, strings.ToLower(strings.TrimSpace(*email)))
		if err != nil && !domain.IsNotFound(err) {
			return err
		}
		mem, generated, err := m.newAuth().AddMember(ctx, domain.SystemActor, o.ID, auth.NewMember{
			Email: *email, Name: *name, Role: r, Password: password,
		})
		if err != nil {
			if domain.KindOf(err) == domain.KindConflict {
				return fmt.Errorf("%s is already a member of %s; change their role in the web interface under People", *email, o.Slug)
			}
			return err
		}
		switch {
		case existing != nil:
			fmt.Fprintf(m.Stdout, "Added %s (%s) to %s as %s. They already had an account and keep their password.\n", mem.Email, mem.Name, o.Slug, mem.Role)
			if password != "" {
				fmt.Fprintln(m.Stderr, "evident: the password on standard input was not used")
			}
		case generated != "":
			fmt.Fprintf(m.Stdout, "Created %s (%s) in %s as %s.\nPassword: %s\nIt is shown only this once.\n", mem.Email, mem.Name, o.Slug, mem.Role, generated)
		default:
			fmt.Fprintf(m.Stdout, "Created %s (%s) in %s as %s with the password from standard input.\n", mem.Email, mem.Name, o.Slug, mem.Role)
		}
		return nil
	}
	return c
}

// stdinPiped reports whether standard input is a pipe or a file rather than a terminal
// or /dev/null. Readers other than files, as tests give, count as piped.
func stdinPiped(r io.Reader) bool {
	if r == nil {
		return false
	}
	f, ok := r.(*os.File)
	if !ok {
		return true
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	return fi.Mode()&(os.ModeCharDevice|os.ModeDevice) == 0
}

// readPassword reads the first line of r as a password and checks it.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReaderSize(io.LimitReader(r, 4096), 4096).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", errors.New("standard input is piped but holds no password; pipe the password as its first line, or run without piped input to have one generated")
	}
	if err := auth.CheckPassword(pw); err != nil {
		var de *domain.Error
		if errors.As(err, &de) {
			return "", fmt.Errorf("the password on standard input %s", de.Message)
		}
		return "", err
	}
	return pw, nil
}

func (m *Main) tokenCreateCommand() *command {
	c := newCommand("token create", "", "create an API token and print it once",
		`Creates an API token for a person and prints it, once, on standard output: only its
hash is kept. Clients send it as "Authorization: Bearer TOKEN" to /api/v1, acting as that
person in that organization with their role. --org is needed only for a person in
several organizations.`)
	m.Config.bindStorage(c.flags)
	email := c.flags.String("email", "", "the person the token acts as (required)")
	org := c.flags.String("org", "", "the organization's slug (default: the person's only organization)")
	name := c.flags.String("name", "command line", "a name to tell the token apart, such as \"CI uploader\"")
	c.run = func(ctx context.Context, _ []string) error {
		if strings.TrimSpace(*email) == "" {
			return usageError{cmd: c.name, msg: "--email is required"}
		}
		addr, err := domain.NormalizeEmail(*email)
		if err != nil {
			return err
		}
		if err := m.openStore(ctx, false); err != nil {
			return err
		}
		u, err := m.Store.UserByEmail(ctx, addr)
		if domain.IsNotFound(err) {
			return fmt.Errorf("no user with email %s; add one with 'evident user create --org SLUG --email %s --role ROLE --name NAME'", addr, addr)
		}
		if err != nil {
			return err
		}
		o, err := m.tokenOrg(ctx, u, *org)
		if err != nil {
			return err
		}
		secret, t, err := m.newAuth().CreateAPIToken(ctx, domain.SystemActor, o.ID, u.ID, *name)
		if err != nil {
			return err
		}
		fmt.Fprintln(m.Stdout, secret)
		fmt.Fprintf(m.Stderr, "Created API token %q (%s…) for %s in %s. It is shown only this once; send it as \"Authorization: Bearer TOKEN\".\n",
			t.Name, t.Prefix, u.Email, o.Slug)
		return nil
	}
	return c
}

// tokenOrg picks the organization a token is for: the named one, which the user must
// belong to, or the user's only one.
func (m *Main) tokenOrg(ctx context.Context, u *domain.User, slug string) (*domain.Organization, error) {
	ms, err := m.Store.Memberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if slug != "" {
		o, err := m.orgBySlug(ctx, slug)
		if err != nil {
			return nil, err
		}
		for _, mb := range ms {
			if mb.Organization.ID == o.ID {
				return o, nil
			}
		}
		return nil, fmt.Errorf("%s is not a member of %s; add them with 'evident user create --org %s --email %s --role ROLE'", u.Email, o.Slug, o.Slug, u.Email)
	}
	switch len(ms) {
	case 0:
		return nil, fmt.Errorf("%s belongs to no organization; add them to one with 'evident user create --org SLUG --email %s --role ROLE'", u.Email, u.Email)
	case 1:
		o := ms[0].Organization
		return &o, nil
	}
	slugs := make([]string, len(ms))
	for i, mb := range ms {
		slugs[i] = mb.Organization.Slug
	}
	return nil, fmt.Errorf("%s belongs to several organizations (%s); choose one with --org", u.Email, strings.Join(slugs, ", "))
}

// orgBySlug finds an organization, saying how to list them when there is none.
func (m *Main) orgBySlug(ctx context.Context, slug string) (*domain.Organization, error) {
	o, err := m.Store.OrganizationBySlug(ctx, slug)
	if domain.IsNotFound(err) {
		return nil, fmt.Errorf("no organization with slug %q; list them with 'evident org list'", slug)
	}
	if err != nil {
		return nil, err
	}
	return o, nil
}
