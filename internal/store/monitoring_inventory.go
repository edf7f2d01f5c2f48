package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/monitor"
)

// The limits on a resource as the inventory keeps it.
const (
	maxExternalID   = 1024
	maxResourceName = 1024
	maxSourceName   = 100
)

// incoming is a resource about to be stored, encoded.
type incoming struct {
	typ, externalID, name string
	attrs                 string // JSON
	hash                  string
}

// resourceKey identifies a resource within its source.
func resourceKey(typ, externalID string) string { return typ + "\x00" + externalID }

// encodeResource encodes a resource's attributes and hashes its name and attributes.
func encodeResource(r *monitor.Resource) (incoming, error) {
	attrs := r.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	raw, err := json.Marshal(attrs)
	if err != nil {
		return incoming{}, domain.Invalid("attributes", "cannot be encoded as JSON: %v", err)
	}
	h := sha256.New()
	h.Write([]byte(r.Name))
	h.Write([]byte{0})
	h.Write(raw)
	return incoming{typ: r.Type, externalID: r.ExternalID, name: r.Name, attrs: string(raw), hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// existingResource is a stored resource as an upsert compares it.
type existingResource struct {
	id      int64
	typ     string
	hash    string
	version int
	gone    bool
	seen    bool
}

var (
	insertResourceRows = bulk{
		table: `resources (org_id, connection_id, source, type, external_id, name, attributes, hash, version,
			first_seen, last_seen, changed_at)`,
		suffix: ` RETURNING id, type, external_id`,
		cols:   12, chunk: 80,
	}
	insertVersionRows = bulk{
		table: `resource_versions (resource_id, version, org_id, name, attributes, hash, observed_at)`,
		cols:  7, chunk: 140,
	}
)

// idChunk is how many IDs one UPDATE … WHERE id IN (…) names.
const idChunk = 500

// updateIDs runs "UPDATE resources SET <set> WHERE id IN (…)" for ids, with the one value
// the set clause names as its first placeholder.
func (s *Store) updateIDs(ctx context.Context, tx *sql.Tx, set string, value any, ids []int64) error {
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(len(ids), start+idChunk)]
		a := make(args, 0, len(chunk)+1)
		first := a.seq(s.d, value)
		marks := make([]string, len(chunk))
		for i, id := range chunk {
			marks[i] = a.seq(s.d, id)
		}
		q := `UPDATE resources SET ` + strings.ReplaceAll(set, "$v", first) + ` WHERE id IN (` + strings.Join(marks, ", ") + `)`
		if _, err := tx.ExecContext(ctx, q, a...); err != nil {
			return err
		}
	}
	return nil
}

// upsertResources stores resources reported by one source at time now: new ones are
// inserted, changed ones get a new version, unchanged ones are seen again, and resources
// the source reported before but not now are marked gone when sweep says their type was
// reported in full (sweep nil: none are). Only the stored resources of the types given
// are read when sweep is nil.
func (s *Store) upsertResources(ctx context.Context, tx *sql.Tx, orgID int64, connID *int64, source string,
	rs []monitor.Resource, sweep func(typ string) bool, now time.Time) (domain.UpsertSummary, error) {
	var sum domain.UpsertSummary
	in := make([]incoming, 0, len(rs))
	index := make(map[string]int, len(rs))
	types := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if r.Type == "" || r.ExternalID == "" {
			return sum, domain.Invalid(fmt.Sprintf("resources[%d]", i), "has no type or no external ID")
		}
		k := resourceKey(r.Type, r.ExternalID)
		if _, dup := index[k]; dup {
			continue
		}
		enc, err := encodeResource(r)
		if err != nil {
			return sum, err
		}
		index[k] = len(in)
		in = append(in, enc)
		types[r.Type] = true
	}

	var a args
	q := `SELECT id, type, external_id, hash, version, gone_at FROM resources WHERE org_id = ` + a.add(orgID) +
		` AND source = ` + a.add(source)
	if sweep == nil {
		if len(types) == 0 {
			return sum, nil
		}
		marks := make([]string, 0, len(types))
		for t := range types {
			marks = append(marks, a.add(t))
		}
		q += ` AND type IN (` + strings.Join(marks, ", ") + `)`
	}
	rows, err := tx.QueryContext(ctx, q, a...)
	if err != nil {
		return sum, fmt.Errorf("read inventory of %s: %w", source, err)
	}
	existing := map[string]*existingResource{}
	for rows.Next() {
		var e existingResource
		var ext string
		var gone nullTime
		if err := rows.Scan(&e.id, &e.typ, &ext, &e.hash, &e.version, &gone); err != nil {
			rows.Close()
			return sum, fmt.Errorf("read inventory of %s: %w", source, err)
		}
		e.gone = gone.t != nil
		existing[resourceKey(e.typ, ext)] = &e
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return sum, fmt.Errorf("read inventory of %s: %w", source, err)
	}

	var added []int   // indexes into in
	var changed []int // indexes into in, with their rows below
	var changedRows []*existingResource
	var seen, revived []int64
	for i := range in {
		e, ok := existing[resourceKey(in[i].typ, in[i].externalID)]
		switch {
		case !ok:
			added = append(added, i)
			sum.Added++
			continue
		case e.hash != in[i].hash:
			changed = append(changed, i)
			changedRows = append(changedRows, e)
			if e.gone {
				sum.Added++
			} else {
				sum.Changed++
			}
		case e.gone:
			revived = append(revived, e.id)
			sum.Added++
		default:
			seen = append(seen, e.id)
			sum.Unchanged++
		}
		e.seen = true
	}
	var gone []int64
	if sweep != nil {
		for _, e := range existing {
			if !e.seen && !e.gone && sweep(e.typ) {
				gone = append(gone, e.id)
			}
		}
		sum.Gone = len(gone)
	}

	at := s.t(now)
	ids := make(map[string]int64, len(added))
	err = s.run(ctx, tx, insertResourceRows, len(added), func(a args, i int) args {
		r := &in[added[i]]
		return append(a, orgID, nullID(connID), source, r.typ, r.externalID, r.name, r.attrs, r.hash, 1, at, at, at)
	}, func(rows *sql.Rows) error {
		var id int64
		var typ, ext string
		if err := rows.Scan(&id, &typ, &ext); err != nil {
			return err
		}
		ids[resourceKey(typ, ext)] = id
		return nil
	})
	if err != nil {
		return sum, fmt.Errorf("add resources of %s: %w", source, err)
	}
	if len(changed) > 0 {
		stmt, err := tx.PrepareContext(ctx, `UPDATE resources SET name = $1, attributes = $2, hash = $3, version = $4,
			last_seen = $5, changed_at = $5, gone_at = NULL WHERE id = $6`)
		if err != nil {
			return sum, fmt.Errorf("update resources of %s: %w", source, err)
		}
		defer stmt.Close()
		for k, i := range changed {
			r, e := &in[i], changedRows[k]
			e.version++
			if _, err := stmt.ExecContext(ctx, r.name, r.attrs, r.hash, e.version, at, e.id); err != nil {
				return sum, fmt.Errorf("update resource %s %s: %w", r.typ, r.externalID, err)
			}
		}
	}
	type version struct {
		id int64
		v  int
		r  *incoming
	}
	versions := make([]version, 0, len(added)+len(changed))
	for _, i := range added {
		versions = append(versions, version{id: ids[resourceKey(in[i].typ, in[i].externalID)], v: 1, r: &in[i]})
	}
	for k, i := range changed {
		versions = append(versions, version{id: changedRows[k].id, v: changedRows[k].version, r: &in[i]})
	}
	err = s.run(ctx, tx, insertVersionRows, len(versions), func(a args, i int) args {
		v := versions[i]
		return append(a, v.id, v.v, orgID, v.r.name, v.r.attrs, v.r.hash, at)
	}, nil)
	if err != nil {
		return sum, fmt.Errorf("keep resource versions of %s: %w", source, err)
	}
	if err := s.updateIDs(ctx, tx, `last_seen = $v`, at, seen); err != nil {
		return sum, fmt.Errorf("update resources of %s: %w", source, err)
	}
	if err := s.updateIDs(ctx, tx, `last_seen = $v, gone_at = NULL`, at, revived); err != nil {
		return sum, fmt.Errorf("update resources of %s: %w", source, err)
	}
	if err := s.updateIDs(ctx, tx, `gone_at = $v`, at, gone); err != nil {
		return sum, fmt.Errorf("mark resources of %s gone: %w", source, err)
	}
	return sum, nil
}

// validatePushSource checks the source of pushed or imported resources. Connections'
// resources have sources of their own, which a push may not use.
func validatePushSource(source string) (string, error) {
	source = strings.TrimSpace(source)
	switch {
	case source == "":
		return "", domain.Invalid("source", "is required: name the client or import sending the resources")
	case len(source) > maxSourceName:
		return "", domain.Invalid("source", "must be at most %d characters", maxSourceName)
	case !utf8.ValidString(source) || strings.ContainsFunc(source, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "", domain.Invalid("source", "must be printable text")
	case strings.HasPrefix(source, "connection:"):
		return "", domain.Invalid("source", "must not start with \"connection:\", which names connections' resources")
	}
	return source, nil
}

// validatePushed checks resources sent through the push API or an import against their
// types' schemas, naming the resource at fault, and that none is sent twice.
func validatePushed(rs []monitor.Resource) error {
	seen := make(map[string]int, len(rs))
	for i := range rs {
		r := &rs[i]
		if err := monitor.ValidateResource(r); err != nil {
			var e *domain.Error
			if errors.As(err, &e) && e.Kind == domain.KindInvalid {
				return domain.Invalid(fmt.Sprintf("resources[%d].%s", i, e.Field), "%s", e.Message)
			}
			return fmt.Errorf("resources[%d]: %w", i, err)
		}
		switch {
		case len(r.ExternalID) > maxExternalID:
			return domain.Invalid(fmt.Sprintf("resources[%d].id", i), "must be at most %d characters", maxExternalID)
		case len(r.Name) > maxResourceName:
			return domain.Invalid(fmt.Sprintf("resources[%d].name", i), "must be at most %d characters", maxResourceName)
		}
		k := resourceKey(r.Type, r.ExternalID)
		if j, dup := seen[k]; dup {
			return domain.Invalid(fmt.Sprintf("resources[%d].id", i), "%s %q is also resources[%d]", r.Type, r.ExternalID, j)
		}
		seen[k] = i
	}
	return nil
}

// UpsertResources stores resources sent through the push API or an import under the
// source given (the client's or import's name), all or nothing: each is checked against
// its type's schema (a KindInvalid error names it, such as "resources[3].attributes.x"),
// then added, or updated with a new version when its name or attributes changed.
// Resources of the source not sent are left as they are. A resources.pushed entry
// records the call in the ledger.
func (s *Store) UpsertResources(ctx context.Context, actor domain.Actor, orgID int64, source string, rs []monitor.Resource) (domain.UpsertSummary, error) {
	return s.pushResources(ctx, actor, orgID, source, rs, false)
}

// ReplaceResources is UpsertResources for a source that sends everything it knows each
// time, such as a scanner's full report: resources of the source that are not sent are
// marked gone.
func (s *Store) ReplaceResources(ctx context.Context, actor domain.Actor, orgID int64, source string, rs []monitor.Resource) (domain.UpsertSummary, error) {
	return s.pushResources(ctx, actor, orgID, source, rs, true)
}

func (s *Store) pushResources(ctx context.Context, actor domain.Actor, orgID int64, source string, rs []monitor.Resource, replace bool) (domain.UpsertSummary, error) {
	source, err := validatePushSource(source)
	if err != nil {
		return domain.UpsertSummary{}, err
	}
	if err := validatePushed(rs); err != nil {
		return domain.UpsertSummary{}, err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return domain.UpsertSummary{}, err
	}
	defer s.rollback(tx)
	if err := s.lockOrg(ctx, tx, orgID); err != nil {
		return domain.UpsertSummary{}, err
	}
	var sweep func(string) bool
	if replace {
		sweep = func(string) bool { return true }
	}
	sum, err := s.upsertResources(ctx, tx, orgID, nil, source, rs, sweep, s.now())
	if err != nil {
		return domain.UpsertSummary{}, err
	}
	counts := map[string]int{}
	for i := range rs {
		counts[rs[i].Type]++
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventResourcesPushed, "source:"+source, map[string]any{
		"source":    source,
		"replace":   replace,
		"counts":    counts,
		"added":     sum.Added,
		"changed":   sum.Changed,
		"unchanged": sum.Unchanged,
		"gone":      sum.Gone,
	})
	if err != nil {
		return domain.UpsertSummary{}, err
	}
	if err := s.commit(tx, "store resources of "+source); err != nil {
		return domain.UpsertSummary{}, err
	}
	return sum, nil
}

// Inventory returns the organization's current resources (not gone) as monitor.Evaluate
// reads them, streamed from the database one type at a time, with their attributes in
// their Go forms (see monitor.Normalize).
func (s *Store) Inventory(orgID int64) monitor.Inventory { return &inventory{s: s, orgID: orgID} }

// inventory implements monitor.Inventory and monitor.Counter over the store.
type inventory struct {
	s     *Store
	orgID int64
}

// Count implements monitor.Counter.
func (inv *inventory) Count(ctx context.Context, typ string) (int, error) {
	var n int
	err := inv.s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM resources WHERE org_id = $1 AND type = $2 AND gone_at IS NULL`,
		inv.orgID, typ).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count %s resources: %w", typ, err)
	}
	return n, nil
}

// Resources implements monitor.Inventory. A resource whose stored attributes no longer
// fit its type's schema is yielded as stored, so that the tests reading the fields at
// fault report an error for it rather than the whole type failing.
func (inv *inventory) Resources(ctx context.Context, typ string) iter.Seq2[*monitor.Resource, error] {
	return func(yield func(*monitor.Resource, error) bool) {
		rows, err := inv.s.rdb.QueryContext(ctx, `SELECT r.external_id, r.name, r.attributes, COALESCE(c.name, r.source)
			FROM resources r LEFT JOIN connections c ON c.id = r.connection_id
			WHERE r.org_id = $1 AND r.type = $2 AND r.gone_at IS NULL ORDER BY r.id`, inv.orgID, typ)
		if err != nil {
			yield(nil, fmt.Errorf("read %s resources: %w", typ, err))
			return
		}
		defer rows.Close()
		var attrs []byte
		for rows.Next() {
			r := &monitor.Resource{Type: typ}
			if err := rows.Scan(&r.ExternalID, &r.Name, &attrs, &r.Connection); err != nil {
				yield(nil, fmt.Errorf("read %s resources: %w", typ, err))
				return
			}
			if err := json.Unmarshal(attrs, &r.Attributes); err != nil {
				yield(nil, fmt.Errorf("read %s resource %s: attributes: %w", typ, r.ExternalID, err))
				return
			}
			monitor.Normalize(r) // on error the attributes stay as decoded
			if !yield(r, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, fmt.Errorf("read %s resources: %w", typ, err))
		}
	}
}

const resourceSelect = `SELECT r.id, r.org_id, r.connection_id, COALESCE(c.name, r.source), r.type, r.external_id, r.name,
	r.attributes, r.hash, r.version, r.first_seen, r.last_seen, r.changed_at, r.gone_at
	FROM resources r LEFT JOIN connections c ON c.id = r.connection_id`

func scanResource(row interface{ Scan(...any) error }, r *domain.Resource) error {
	var conn sql.NullInt64
	var attrs string
	var first, last, changed dbTime
	var gone nullTime
	err := row.Scan(&r.ID, &r.OrgID, &conn, &r.Source, &r.Type, &r.ExternalID, &r.Name, &attrs, &r.Hash, &r.Version,
		&first, &last, &changed, &gone)
	if err != nil {
		return err
	}
	r.ConnectionID = nil
	if conn.Valid {
		id := conn.Int64
		r.ConnectionID = &id
	}
	r.Attributes = json.RawMessage(attrs)
	r.FirstSeen, r.LastSeen, r.ChangedAt, r.GoneAt = first.t, last.t, changed.t, gone.t
	return nil
}

// Resources lists the organization's resources matching the filter, by type, then ID;
// with f.After, those with an ID above it, by ID.
func (s *Store) Resources(ctx context.Context, orgID int64, f domain.ResourceFilter) ([]domain.Resource, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	var a args
	where := s.resourceWhere(&a, orgID, f)
	if f.Type != "" {
		where = append(where, "r.type = "+a.add(f.Type))
	}
	order := " ORDER BY r.type, r.id"
	if f.After > 0 {
		where = append(where, "r.id > "+a.add(f.After))
		order = " ORDER BY r.id"
	}
	rs, err := s.queryResources(ctx, resourceSelect+` WHERE `+strings.Join(where, " AND ")+order+` LIMIT `+a.add(limit), a)
	if err != nil {
		return nil, fmt.Errorf("list resources: %w", err)
	}
	return rs, nil
}

// queryResources runs a query of resourceSelect's columns on the read pool.
func (s *Store) queryResources(ctx context.Context, query string, a args) ([]domain.Resource, error) {
	rows, err := s.rdb.QueryContext(ctx, query, a...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []domain.Resource{}
	for rows.Next() {
		var r domain.Resource
		if err := scanResource(rows, &r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Resource returns one of the organization's resources.
func (s *Store) Resource(ctx context.Context, orgID, id int64) (*domain.Resource, error) {
	var r domain.Resource
	err := scanResource(s.rdb.QueryRowContext(ctx, resourceSelect+` WHERE r.org_id = $1 AND r.id = $2`, orgID, id), &r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("resource")
	}
	if err != nil {
		return nil, fmt.Errorf("load resource %d: %w", id, err)
	}
	return &r, nil
}

// ResourceVersions lists the versions of one of the organization's resources, newest first.
func (s *Store) ResourceVersions(ctx context.Context, orgID, id int64) ([]domain.ResourceVersion, error) {
	if _, err := s.Resource(ctx, orgID, id); err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT resource_id, version, name, attributes, hash, observed_at FROM resource_versions
		WHERE org_id = $1 AND resource_id = $2 ORDER BY version DESC`, orgID, id)
	if err != nil {
		return nil, fmt.Errorf("list versions of resource %d: %w", id, err)
	}
	defer rows.Close()
	out := []domain.ResourceVersion{}
	for rows.Next() {
		var v domain.ResourceVersion
		var attrs string
		var at dbTime
		if err := rows.Scan(&v.ResourceID, &v.Version, &v.Name, &attrs, &v.Hash, &at); err != nil {
			return nil, fmt.Errorf("list versions of resource %d: %w", id, err)
		}
		v.Attributes, v.ObservedAt = json.RawMessage(attrs), at.t
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list versions of resource %d: %w", id, err)
	}
	return out, nil
}

// ResourceTypes counts the organization's current resources per type, by type.
func (s *Store) ResourceTypes(ctx context.Context, orgID int64) ([]domain.ResourceTypeCount, error) {
	return s.ResourceCounts(ctx, orgID, domain.ResourceFilter{})
}
