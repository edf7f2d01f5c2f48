package store_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/store"
	"github.com/evidenthq/evident/internal/store/storetest"
)

func TestOpenSQLitePaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name    string
		dsn     string
		wantErr bool
	}{
		{"plain path", filepath.Join(dir, "a.db"), false},
		{"sqlite prefix", "sqlite:" + filepath.Join(dir, "b.db"), false},
		{"file prefix", "file:" + filepath.Join(dir, "c.db"), false},
		{"path with spaces", filepath.Join(dir, "with space.db"), false},
		{"in memory", ":memory:", true},
		{"empty", "", true},
		{"options", filepath.Join(dir, "d.db") + "?mode=ro", true},
		{"missing directory", filepath.Join(dir, "nope", "e.db"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := store.Open(ctx, tt.dsn)
			if tt.wantErr {
				if err == nil {
					s.Close()
					t.Fatalf("Open(%q) = nil error; want an error", tt.dsn)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%q) = %v", tt.dsn, err)
			}
			defer s.Close()
			if got := s.Engine(); got != "sqlite" {
				t.Errorf("Engine() = %q; want sqlite", got)
			}
			must(t, "Ping", s.Ping(ctx))
			must(t, "Migrate", s.Migrate(ctx))
			must(t, "CheckSchema", s.CheckSchema(ctx))
		})
	}
}

func TestEngine(t *testing.T) {
	t.Parallel()
	if got := storetest.SQLite(t).Engine(); got != "sqlite" {
		t.Errorf("SQLite store Engine() = %q; want sqlite", got)
	}
	t.Run("postgres", func(t *testing.T) {
		if got := storetest.Postgres(t).Engine(); got != "postgres" {
			t.Errorf("PostgreSQL store Engine() = %q; want postgres", got)
		}
	})
}

func TestCheckSchemaBeforeMigrate(t *testing.T) {
	t.Parallel()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.CheckSchema(ctx)
	if err == nil || !strings.Contains(err.Error(), "evident migrate") {
		t.Fatalf("CheckSchema on a fresh database = %v; want an error telling to run evident migrate", err)
	}
	must(t, "Migrate", s.Migrate(ctx))
	must(t, "CheckSchema after Migrate", s.CheckSchema(ctx))
}

func TestMigrations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		t.Run("idempotent", func(t *testing.T) {
			o := newOrg(t, s, "acme")
			must(t, "Migrate again", s.Migrate(ctx))
			must(t, "Migrate a third time", s.Migrate(ctx))
			must(t, "CheckSchema", s.CheckSchema(ctx))
			if _, err := s.Organization(ctx, o.ID); err != nil {
				t.Fatalf("Organization after re-migrating = %v", err)
			}
			if v := s.SchemaVersion(); v < 1 {
				t.Errorf("SchemaVersion() = %d; want at least 1", v)
			}
		})
		t.Run("newer schema refused", func(t *testing.T) {
			newer := s.SchemaVersion() + 1
			must(t, "record a newer version", s.ExecForTest(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 'x')`, newer))
			want := "database schema is newer than this binary"
			for name, err := range map[string]error{"Migrate": s.Migrate(ctx), "CheckSchema": s.CheckSchema(ctx)} {
				if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "upgrade evident") {
					t.Errorf("%s with schema version %d = %v; want %q … upgrade evident", name, newer, err, want)
				}
			}
			must(t, "forget the newer version", s.ExecForTest(ctx, `DELETE FROM schema_migrations WHERE version = $1`, newer))
			must(t, "CheckSchema", s.CheckSchema(ctx))
		})
		t.Run("pending reported", func(t *testing.T) {
			must(t, "forget version 1", s.ExecForTest(ctx, `DELETE FROM schema_migrations WHERE version = 1`))
			err := s.CheckSchema(ctx)
			if err == nil || !strings.Contains(err.Error(), "pending") {
				t.Fatalf("CheckSchema with migration 1 unrecorded = %v; want a pending-migrations error", err)
			}
		})
	})
}

func TestOrganizations(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := &domain.Organization{Slug: "acme", Name: "  Acme Corp  "}
		var sc *domain.Scope
		must(t, "CreateOrganization", s.CreateOrganization(ctx, admin, o, sc, testLibrary()))
		if o.ID == 0 || o.CreatedAt.IsZero() || o.Name != "Acme Corp" {
			t.Fatalf("CreateOrganization left %+v; want an ID, a creation time and a trimmed name", o)
		}

		got, err := s.Organization(ctx, o.ID)
		must(t, "Organization", err)
		if diff := cmp.Diff(o, got); diff != "" {
			t.Errorf("Organization mismatch (-want +got):\n%s", diff)
		}
		got, err = s.OrganizationBySlug(ctx, "acme")
		must(t, "OrganizationBySlug", err)
		if diff := cmp.Diff(o, got); diff != "" {
			t.Errorf("OrganizationBySlug mismatch (-want +got):\n%s", diff)
		}

		scope, err := s.Scope(ctx, o.ID)
		must(t, "Scope", err)
		wantScope := &domain.Scope{OrgID: o.ID, Categories: []domain.Category{domain.CategorySecurity}, ReportType: domain.ReportTypeII, UpdatedAt: o.CreatedAt}
		if diff := cmp.Diff(wantScope, scope); diff != "" {
			t.Errorf("default scope mismatch (-want +got):\n%s", diff)
		}

		controls, err := s.Controls(ctx, o.ID, domain.ControlFilter{})
		must(t, "Controls", err)
		var refs []string
		for _, c := range controls {
			refs = append(refs, c.Ref)
			if !c.FromLibrary || c.Status != domain.StatusNotStarted || c.OwnerID != nil || c.Retired() {
				t.Errorf("adopted control %s = from library %v, status %s, owner %v, retired %v; want from library, not started, no owner, active",
					c.Ref, c.FromLibrary, c.Status, c.OwnerID, c.Retired())
			}
		}
		if diff := cmp.Diff([]string{"AC-01", "CM-01", "HR-01"}, refs); diff != "" {
			t.Errorf("adopted controls mismatch (-want +got):\n%s", diff)
		}
		ac := controlByRef(t, s, o.ID, "AC-01")
		want := testLibrary()[0]
		if ac.Title != want.Title || ac.Description != want.Description || ac.Domain != want.Domain ||
			ac.Frequency != want.Frequency || ac.EvidenceExpected != want.EvidenceExpected {
			t.Errorf("adopted AC-01 = %+v; want the library's fields %+v", ac, want)
		}
		if diff := cmp.Diff([]string{"CC6.1", "CC6.2"}, ac.Criteria); diff != "" {
			t.Errorf("adopted AC-01 criteria mismatch (-want +got):\n%s", diff)
		}

		es := trail(t, s, o.ID)
		if len(es) != 1 {
			t.Fatalf("events after CreateOrganization = %d; want exactly 1 (one event for the adoption)", len(es))
		}
		wantEvent(t, es[0], domain.EventOrgCreated, subject("organization", o.ID), map[string]any{
			"slug": "acme", "name": "Acme Corp", "controls": []any{"AC-01", "CM-01", "HR-01"},
			"scope": map[string]any{
				"categories": []any{"security"}, "report_type": "type2", "target_date": nil,
				"period_start": nil, "period_end": nil, "out_of_scope": "",
			},
		})

		other := &domain.Organization{Slug: "beta", Name: "Beta"}
		start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		end := start.AddDate(0, 6, 0)
		custom := &domain.Scope{Categories: []domain.Category{domain.CategoryPrivacy, domain.CategoryAvailability}, ReportType: domain.ReportTypeII, PeriodStart: &start, PeriodEnd: &end}
		must(t, "CreateOrganization with scope", s.CreateOrganization(ctx, admin, other, custom, nil))
		scope, err = s.Scope(ctx, other.ID)
		must(t, "Scope", err)
		if diff := cmp.Diff([]domain.Category{domain.CategorySecurity, domain.CategoryAvailability, domain.CategoryPrivacy}, scope.Categories); diff != "" {
			t.Errorf("given scope categories mismatch (-want +got):\n%s", diff)
		}
		if !scope.PeriodStart.Equal(start) || !scope.PeriodEnd.Equal(end) {
			t.Errorf("given scope period = %v … %v; want %v … %v", scope.PeriodStart, scope.PeriodEnd, start, end)
		}
		if cs, err := s.Controls(ctx, other.ID, domain.ControlFilter{}); err != nil || len(cs) != 0 {
			t.Errorf("Controls of an organization created without a library = %d, %v; want none", len(cs), err)
		}

		all, err := s.Organizations(ctx)
		must(t, "Organizations", err)
		var slugs []string
		for _, o := range all {
			slugs = append(slugs, o.Slug)
		}
		if diff := cmp.Diff([]string{"acme", "beta"}, slugs); diff != "" {
			t.Errorf("Organizations mismatch (-want +got):\n%s", diff)
		}

		err = s.CreateOrganization(ctx, admin, &domain.Organization{Slug: "acme", Name: "Another"}, nil, nil)
		wantKind(t, "CreateOrganization with a taken slug", err, domain.KindConflict)
		if !strings.Contains(err.Error(), "acme") {
			t.Errorf("conflict message %q does not name the slug", err)
		}

		_, err = s.Organization(ctx, o.ID+1000)
		wantKind(t, "Organization(unknown)", err, domain.KindNotFound)
		_, err = s.OrganizationBySlug(ctx, "nope")
		wantKind(t, "OrganizationBySlug(unknown)", err, domain.KindNotFound)
	})
}

func TestCreateOrganizationInvalid(t *testing.T) {
	t.Parallel()
	badFrequency := testLibrary()
	badFrequency[2].Frequency = "hourly"
	badCriterion := testLibrary()
	badCriterion[1].Criteria = []string{"CC8.1", "CC99.9"}
	duplicate := append(testLibrary(), testLibrary()[0])
	noTitle := testLibrary()
	noTitle[0].Title = "  "
	tests := []struct {
		name    string
		org     domain.Organization
		scope   *domain.Scope
		library []domain.LibraryControl
		field   string
	}{
		{"bad slug", domain.Organization{Slug: "Acme!", Name: "Acme"}, nil, testLibrary(), "slug"},
		{"no name", domain.Organization{Slug: "acme", Name: " "}, nil, testLibrary(), "name"},
		{"bad report type", domain.Organization{Slug: "acme", Name: "Acme"}, &domain.Scope{ReportType: "type3"}, testLibrary(), "report_type"},
		{"bad category", domain.Organization{Slug: "acme", Name: "Acme"}, &domain.Scope{ReportType: domain.ReportTypeI, Categories: []domain.Category{"safety"}}, testLibrary(), "categories"},
		{"library control with bad frequency", domain.Organization{Slug: "acme", Name: "Acme"}, nil, badFrequency, "frequency"},
		{"library control with unknown criterion", domain.Organization{Slug: "acme", Name: "Acme"}, nil, badCriterion, "criteria"},
		{"library control without title", domain.Organization{Slug: "acme", Name: "Acme"}, nil, noTitle, "title"},
		{"library control twice", domain.Organization{Slug: "acme", Name: "Acme"}, nil, duplicate, "library"},
	}
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				o := tt.org
				err := s.CreateOrganization(ctx, admin, &o, tt.scope, tt.library)
				wantInvalid(t, "CreateOrganization", err, tt.field)
				if o.ID != 0 {
					t.Errorf("CreateOrganization failed but set ID %d", o.ID)
				}
				all, err := s.Organizations(ctx)
				must(t, "Organizations", err)
				if len(all) != 0 {
					t.Fatalf("a failed CreateOrganization left %d organizations; want none", len(all))
				}
			})
		}
	})
}

func TestUsers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		u := &domain.User{Email: "  Ann@Example.COM ", Name: " Ann Lee ", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}
		must(t, "CreateUser", s.CreateUser(ctx, u))
		if u.ID == 0 || u.Email != "ann@example.com" || u.Name != "Ann Lee" || u.CreatedAt.IsZero() {
			t.Fatalf("CreateUser left %+v; want an ID, a normalized email, a trimmed name and a creation time", u)
		}
		got, err := s.User(ctx, u.ID)
		must(t, "User", err)
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("User mismatch (-want +got):\n%s", diff)
		}
		got, err = s.UserByEmail(ctx, "ANN@example.com ")
		must(t, "UserByEmail", err)
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("UserByEmail mismatch (-want +got):\n%s", diff)
		}

		err = s.CreateUser(ctx, &domain.User{Email: "ann@EXAMPLE.com"})
		wantKind(t, "CreateUser with a taken email", err, domain.KindConflict)
		if !strings.Contains(err.Error(), "ann@example.com") {
			t.Errorf("conflict message %q does not name the email", err)
		}
		wantInvalid(t, "CreateUser with a bad email", s.CreateUser(ctx, &domain.User{Email: "not-an-email"}), "email")
		wantInvalid(t, "CreateUser with a long name", s.CreateUser(ctx, &domain.User{Email: "b@example.com", Name: strings.Repeat("x", 201)}), "name")

		must(t, "SetPasswordHash", s.SetPasswordHash(ctx, u.ID, "new-hash"))
		got, err = s.User(ctx, u.ID)
		must(t, "User", err)
		if got.PasswordHash != "new-hash" {
			t.Errorf("PasswordHash after SetPasswordHash = %q; want new-hash", got.PasswordHash)
		}
		wantKind(t, "SetPasswordHash(unknown)", s.SetPasswordHash(ctx, u.ID+1000, "x"), domain.KindNotFound)

		_, err = s.User(ctx, u.ID+1000)
		wantKind(t, "User(unknown)", err, domain.KindNotFound)
		_, err = s.UserByEmail(ctx, "nobody@example.com")
		wantKind(t, "UserByEmail(unknown)", err, domain.KindNotFound)
		_, err = s.UserByEmail(ctx, "garbage")
		wantKind(t, "UserByEmail(garbage)", err, domain.KindNotFound)
	})
}

func TestMembers(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		o := newOrg(t, s, "acme")
		other := newOrg(t, s, "beta")
		owner := newMember(t, s, o.ID, "owner@example.com", domain.RoleOwner)
		eng := newMember(t, s, o.ID, "eng@example.com", domain.RoleMember)
		es := trail(t, s, o.ID)
		wantEvent(t, es[len(es)-1], domain.EventMemberAdded, subject("user", eng.ID), map[string]any{"email": "eng@example.com", "role": "member"})

		m, err := s.Member(ctx, o.ID, eng.ID)
		must(t, "Member", err)
		if diff := cmp.Diff(&domain.Member{User: *eng, OrgID: o.ID, Role: domain.RoleMember}, m); diff != "" {
			t.Errorf("Member mismatch (-want +got):\n%s", diff)
		}
		ms, err := s.Members(ctx, o.ID)
		must(t, "Members", err)
		var emails []string
		for _, m := range ms {
			emails = append(emails, m.Email+"="+string(m.Role))
		}
		if diff := cmp.Diff([]string{"eng@example.com=member", "owner@example.com=owner"}, emails); diff != "" {
			t.Errorf("Members mismatch (-want +got):\n%s", diff)
		}

		must(t, "AddMember to a second organization", s.AddMember(ctx, admin, other.ID, eng.ID, domain.RoleViewer))
		mships, err := s.Memberships(ctx, eng.ID)
		must(t, "Memberships", err)
		var got []string
		for _, m := range mships {
			got = append(got, m.Organization.Slug+"="+string(m.Role))
		}
		if diff := cmp.Diff([]string{"acme=member", "beta=viewer"}, got); diff != "" {
			t.Errorf("Memberships mismatch (-want +got):\n%s", diff)
		}

		wantKind(t, "AddMember twice", s.AddMember(ctx, admin, o.ID, eng.ID, domain.RoleAdmin), domain.KindConflict)
		wantKind(t, "AddMember(unknown user)", s.AddMember(ctx, admin, o.ID, eng.ID+1000, domain.RoleAdmin), domain.KindNotFound)
		wantKind(t, "AddMember(unknown organization)", s.AddMember(ctx, admin, o.ID+1000, eng.ID, domain.RoleAdmin), domain.KindNotFound)
		wantInvalid(t, "AddMember(bad role)", s.AddMember(ctx, admin, o.ID, owner.ID, "boss"), "role")
		_, err = s.Member(ctx, o.ID, eng.ID+1000)
		wantKind(t, "Member(unknown)", err, domain.KindNotFound)

		// Roles.
		must(t, "SetRole", s.SetRole(ctx, admin, o.ID, eng.ID, domain.RoleAdmin))
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventMemberRoleChanged, subject("user", eng.ID),
			map[string]any{"email": "eng@example.com", "role": "admin", "previous_role": "member"})
		n := len(trail(t, s, o.ID))
		must(t, "SetRole to the same role", s.SetRole(ctx, admin, o.ID, eng.ID, domain.RoleAdmin))
		if got := len(trail(t, s, o.ID)); got != n {
			t.Errorf("SetRole to the same role wrote %d events; want none", got-n)
		}
		wantKind(t, "SetRole demoting the last owner", s.SetRole(ctx, admin, o.ID, owner.ID, domain.RoleAdmin), domain.KindConflict)
		wantKind(t, "RemoveMember of the last owner", s.RemoveMember(ctx, admin, o.ID, owner.ID), domain.KindConflict)
		if m, _ := s.Member(ctx, o.ID, owner.ID); m == nil || m.Role != domain.RoleOwner {
			t.Fatalf("last owner after refused changes = %+v; want still owner", m)
		}
		wantInvalid(t, "SetRole(bad role)", s.SetRole(ctx, admin, o.ID, eng.ID, "boss"), "role")
		wantKind(t, "SetRole(non-member)", s.SetRole(ctx, admin, o.ID, eng.ID+1000, domain.RoleAdmin), domain.KindNotFound)
		must(t, "SetRole to a second owner", s.SetRole(ctx, admin, o.ID, eng.ID, domain.RoleOwner))
		must(t, "SetRole demoting one of two owners", s.SetRole(ctx, admin, o.ID, owner.ID, domain.RoleMember))
		must(t, "SetRole back to owner", s.SetRole(ctx, admin, o.ID, owner.ID, domain.RoleOwner))

		// Removing a member unassigns their controls and systems in this organization only,
		// ends their sessions in it and revokes their tokens for it.
		ac := controlByRef(t, s, o.ID, "AC-01")
		_, err = s.UpdateControl(ctx, admin, o.ID, ac.ID, domain.ControlChange{OwnerID: ptr(&eng.ID)})
		must(t, "UpdateControl owner", err)
		sys := &domain.System{OrgID: o.ID, Name: "API", Kind: "application", Classification: domain.DataConfidential, OwnerID: &eng.ID}
		must(t, "CreateSystem", s.CreateSystem(ctx, admin, sys))
		betaAC := controlByRef(t, s, other.ID, "AC-01")
		must(t, "SetRole(beta)", s.SetRole(ctx, admin, other.ID, eng.ID, domain.RoleMember))
		_, err = s.UpdateControl(ctx, admin, other.ID, betaAC.ID, domain.ControlChange{OwnerID: ptr(&eng.ID)})
		must(t, "UpdateControl owner in beta", err)
		now := time.Now()
		must(t, "CreateSession", s.CreateSession(ctx, &domain.Session{TokenHash: []byte("acme-session"), UserID: eng.ID, OrgID: o.ID, ExpiresAt: now.Add(time.Hour)}))
		must(t, "CreateSession", s.CreateSession(ctx, &domain.Session{TokenHash: []byte("beta-session"), UserID: eng.ID, OrgID: other.ID, ExpiresAt: now.Add(time.Hour)}))
		tok := &domain.APIToken{OrgID: o.ID, UserID: eng.ID, Name: "ci", Prefix: "evt_ab", Hash: []byte("acme-token")}
		must(t, "CreateAPIToken", s.CreateAPIToken(ctx, admin, tok))

		must(t, "RemoveMember", s.RemoveMember(ctx, admin, o.ID, eng.ID))
		wantEvent(t, lastEvent(t, s, o.ID), domain.EventMemberRemoved, subject("user", eng.ID), map[string]any{
			"email": "eng@example.com", "role": "owner",
			"controls_unassigned": num(1), "systems_unassigned": num(1), "tokens_revoked": num(1),
		})
		_, err = s.Member(ctx, o.ID, eng.ID)
		wantKind(t, "Member after RemoveMember", err, domain.KindNotFound)
		if c := controlByRef(t, s, o.ID, "AC-01"); c.OwnerID != nil || c.OwnerName != "" {
			t.Errorf("control owner after RemoveMember = %v %q; want none", c.OwnerID, c.OwnerName)
		}
		if got, err := s.System(ctx, o.ID, sys.ID); err != nil || got.OwnerID != nil {
			t.Errorf("system owner after RemoveMember = %+v, %v; want none", got, err)
		}
		if c := controlByRef(t, s, other.ID, "AC-01"); c.OwnerID == nil || *c.OwnerID != eng.ID {
			t.Errorf("control owner in another organization after RemoveMember = %v; want unchanged %d", c.OwnerID, eng.ID)
		}
		_, err = s.Session(ctx, []byte("acme-session"))
		wantKind(t, "Session in the organization left", err, domain.KindNotFound)
		if _, err := s.Session(ctx, []byte("beta-session")); err != nil {
			t.Errorf("Session in another organization after RemoveMember = %v; want kept", err)
		}
		_, err = s.APITokenByHash(ctx, []byte("acme-token"))
		wantKind(t, "APITokenByHash of a removed member's token", err, domain.KindNotFound)
		wantKind(t, "RemoveMember twice", s.RemoveMember(ctx, admin, o.ID, eng.ID), domain.KindNotFound)
	})
}

func TestTimeRoundTrip(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		zone := time.FixedZone("UTC+5:30", 5*3600+1800)
		at := time.Date(2026, 3, 14, 15, 9, 26, 535897932, zone)
		s.Now = func() time.Time { return at }
		want := at.UTC().Truncate(time.Microsecond)

		o := newOrg(t, s, "acme")
		got, err := s.Organization(ctx, o.ID)
		must(t, "Organization", err)
		if !got.CreatedAt.Equal(want) || got.CreatedAt.Location() != time.UTC || !o.CreatedAt.Equal(want) {
			t.Errorf("CreatedAt = %v (returned %v); want %v in UTC", got.CreatedAt, o.CreatedAt, want)
		}
		if c := controlByRef(t, s, o.ID, "AC-01"); !c.CreatedAt.Equal(want) || !c.UpdatedAt.Equal(want) {
			t.Errorf("control times = %v, %v; want %v", c.CreatedAt, c.UpdatedAt, want)
		}
		if e := lastEvent(t, s, o.ID); !e.At.Equal(want) || e.At.Location() != time.UTC {
			t.Errorf("event time = %v; want %v in UTC", e.At, want)
		}

		u := newMember(t, s, o.ID, "ann@example.com", domain.RoleOwner)
		old := time.Date(1999, 12, 31, 23, 59, 59, 999999999, time.UTC)
		far := time.Date(2100, 1, 1, 0, 0, 0, 1000, zone)
		sess := &domain.Session{TokenHash: []byte("h"), UserID: u.ID, OrgID: o.ID, CreatedAt: old, LastSeenAt: old, ExpiresAt: far}
		must(t, "CreateSession", s.CreateSession(ctx, sess))
		gotSess, err := s.Session(ctx, []byte("h"))
		must(t, "Session", err)
		if diff := cmp.Diff(sess, gotSess); diff != "" {
			t.Errorf("Session mismatch (-want +got):\n%s", diff)
		}
		if !gotSess.CreatedAt.Equal(old.Truncate(time.Microsecond)) || !gotSess.ExpiresAt.Equal(far) {
			t.Errorf("session times = %v, %v; want %v, %v", gotSess.CreatedAt, gotSess.ExpiresAt, old.Truncate(time.Microsecond), far)
		}

		target := time.Date(2026, 9, 30, 0, 0, 0, 0, zone)
		sc := &domain.Scope{OrgID: o.ID, ReportType: domain.ReportTypeI, TargetDate: &target}
		must(t, "UpdateScope", s.UpdateScope(ctx, admin, sc))
		gotScope, err := s.Scope(ctx, o.ID)
		must(t, "Scope", err)
		if gotScope.TargetDate == nil || !gotScope.TargetDate.Equal(target) || gotScope.TargetDate.Location() != time.UTC {
			t.Errorf("scope target date = %v; want %v in UTC", gotScope.TargetDate, target)
		}
	})
}

func TestSQLiteFileIsPrivate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "private.db")
	s, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must(t, "Migrate", s.Migrate(ctx))
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat %s: %v", p, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s permissions = %o; want 600", filepath.Base(p), perm)
		}
	}
}
