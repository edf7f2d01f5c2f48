package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/evidenthq/evident/internal/domain"
)

// CreateOrganization creates the organization, its scope (security only, Type II, no
// dates when scope is nil) and one control for each library control, not started and
// without owner, with a single organization.created event; all in one transaction. On
// success o and scope hold what was stored.
func (s *Store) CreateOrganization(ctx context.Context, actor domain.Actor, o *domain.Organization, scope *domain.Scope, library []domain.LibraryControl) error {
	if err := domain.ValidateOrganization(o); err != nil {
		return err
	}
	if scope == nil {
		scope = &domain.Scope{Categories: []domain.Category{domain.CategorySecurity}, ReportType: domain.ReportTypeII}
	}
	sc := *scope
	sc.Categories = append([]domain.Category(nil), scope.Categories...)
	if err := domain.ValidateScope(&sc); err != nil {
		return err
	}
	controls, err := adoptable(library)
	if err != nil {
		return err
	}

	tx, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer s.rollback(tx)
	now := s.now()
	var id int64
	err = tx.QueryRowContext(ctx, `INSERT INTO organizations (slug, name, created_at) VALUES ($1, $2, $3) RETURNING id`,
		o.Slug, o.Name, s.t(now)).Scan(&id)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "the organization slug %q is already taken", o.Slug)
	}
	if err != nil {
		return fmt.Errorf("create organization %s: %w", o.Slug, err)
	}
	if err := s.lockOrg(ctx, tx, id); err != nil {
		return err
	}
	sc.OrgID = id
	sc.UpdatedAt = now
	if err := s.insertScope(ctx, tx, &sc); err != nil {
		return err
	}
	refs := make([]string, 0, len(controls))
	for i := range controls {
		c := &controls[i]
		c.OrgID = id
		if err := s.insertControl(ctx, tx, c, now); err != nil {
			return err
		}
		refs = append(refs, c.Ref)
	}
	err = s.appendEvent(ctx, tx, actor, id, domain.EventOrgCreated, orgSubject(id), map[string]any{
		"slug":     o.Slug,
		"name":     o.Name,
		"scope":    scopeEventData(&sc),
		"controls": refs,
	})
	if err != nil {
		return err
	}
	if err := s.commit(tx, "create organization "+o.Slug); err != nil {
		return err
	}
	o.ID, o.CreatedAt = id, now
	*scope = sc
	return nil
}

// adoptable turns library controls into new controls, validated, refusing a ref given twice.
func adoptable(library []domain.LibraryControl) ([]domain.Control, error) {
	out := make([]domain.Control, 0, len(library))
	seen := map[string]bool{}
	for _, lc := range library {
		c := domain.Control{
			Ref:              lc.Ref,
			Title:            lc.Title,
			Description:      lc.Description,
			Domain:           lc.Domain,
			Frequency:        lc.Frequency,
			EvidenceExpected: lc.EvidenceExpected,
			Criteria:         append([]string(nil), lc.Criteria...),
			Status:           domain.StatusNotStarted,
			FromLibrary:      true,
		}
		if err := validateNewControl(&c); err != nil {
			return nil, libraryError(lc.Ref, err)
		}
		if seen[c.Ref] {
			return nil, domain.Invalid("library", "control %s appears twice", c.Ref)
		}
		seen[c.Ref] = true
		out = append(out, c)
	}
	return out, nil
}

// libraryError says which library control an invalid-input error is about.
func libraryError(ref string, err error) error {
	var e *domain.Error
	if errors.As(err, &e) && e.Kind == domain.KindInvalid {
		return domain.Invalid(e.Field, "library control %q: %s", ref, e.Message)
	}
	return err
}

func orgSubject(id int64) string { return fmt.Sprintf("organization:%d", id) }

const orgColumns = `id, slug, name, created_at`

func scanOrg(row interface{ Scan(...any) error }) (*domain.Organization, error) {
	var o domain.Organization
	var created dbTime
	if err := row.Scan(&o.ID, &o.Slug, &o.Name, &created); err != nil {
		return nil, err
	}
	o.CreatedAt = created.t
	return &o, nil
}

// Organization returns the organization with the given ID.
func (s *Store) Organization(ctx context.Context, id int64) (*domain.Organization, error) {
	o, err := scanOrg(s.rdb.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("organization")
	}
	if err != nil {
		return nil, fmt.Errorf("load organization %d: %w", id, err)
	}
	return o, nil
}

// OrganizationBySlug returns the organization with the given slug.
func (s *Store) OrganizationBySlug(ctx context.Context, slug string) (*domain.Organization, error) {
	o, err := scanOrg(s.rdb.QueryRowContext(ctx, `SELECT `+orgColumns+` FROM organizations WHERE slug = $1`, slug))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("organization")
	}
	if err != nil {
		return nil, fmt.Errorf("load organization %q: %w", slug, err)
	}
	return o, nil
}

// Organizations lists every organization by name.
func (s *Store) Organizations(ctx context.Context) ([]domain.Organization, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+orgColumns+` FROM organizations`)
	if err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	defer rows.Close()
	out := []domain.Organization{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, fmt.Errorf("list organizations: %w", err)
		}
		out = append(out, *o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list organizations: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return orgLess(&out[i], &out[j]) })
	return out, nil
}

// orgLess orders organizations by name, ignoring case, then by slug. Lists are sorted in
// Go so that both engines order them the same way whatever the database's collation.
func orgLess(a, b *domain.Organization) bool {
	x, y := strings.ToLower(a.Name), strings.ToLower(b.Name)
	if x != y {
		return x < y
	}
	return a.Slug < b.Slug
}
