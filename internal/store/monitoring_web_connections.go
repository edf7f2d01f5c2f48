package store

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// What the inventory and connection pages read beyond the runner's needs: pages of the
// inventory in a stable order, counts per type, source and connection, where each version
// of a resource came from, and the tests' current verdicts on one resource.

// resourceWhere returns the conditions of a resource filter other than its type, paging
// and limit, over resources r joined with their connection c.
func (s *Store) resourceWhere(a *args, orgID int64, f domain.ResourceFilter) []string {
	where := []string{"r.org_id = " + a.add(orgID)}
	if f.ConnectionID != 0 {
		where = append(where, "r.connection_id = "+a.add(f.ConnectionID))
	}
	if f.Source != "" {
		where = append(where, "COALESCE(c.name, r.source) = "+a.add(f.Source))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		p := a.add("%" + escapeLike(q) + "%")
		where = append(where, "(r.external_id "+s.d.likeOp()+" "+p+` ESCAPE '\' OR r.name `+s.d.likeOp()+" "+p+` ESCAPE '\')`)
	}
	if !f.IncludeGone {
		where = append(where, "r.gone_at IS NULL")
	}
	return where
}

// BrowseResources lists the organization's resources matching the filter in the order of
// type, then ID, one page at a time: the page after the resource of type afterType and ID
// f.After, or the first page when afterType is empty. It is keyset paging over the index
// of type and ID, so every page costs the same however deep it is.
func (s *Store) BrowseResources(ctx context.Context, orgID int64, f domain.ResourceFilter, afterType string) ([]domain.Resource, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	if f.After < 0 {
		return nil, domain.Invalid("after", "must be a resource ID")
	}
	var a args
	where := s.resourceWhere(&a, orgID, f)
	if f.Type != "" {
		where = append(where, "r.type = "+a.add(f.Type))
	}
	if afterType != "" {
		t := a.add(afterType)
		where = append(where, "(r.type > "+t+" OR (r.type = "+t+" AND r.id > "+a.add(f.After)+"))")
	}
	rs, err := s.queryResources(ctx, resourceSelect+` WHERE `+strings.Join(where, " AND ")+
		` ORDER BY r.type, r.id LIMIT `+a.add(limit), a)
	if err != nil {
		return nil, fmt.Errorf("browse resources: %w", err)
	}
	return rs, nil
}

// ResourceCounts counts the organization's resources matching the filter per type, by
// type. The filter's type, paging and limit are ignored, so that the counts show every
// type a search finds.
func (s *Store) ResourceCounts(ctx context.Context, orgID int64, f domain.ResourceFilter) ([]domain.ResourceTypeCount, error) {
	var a args
	where := s.resourceWhere(&a, orgID, f)
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.type, count(*) FROM resources r LEFT JOIN connections c ON c.id = r.connection_id
		WHERE `+strings.Join(where, " AND ")+` GROUP BY r.type ORDER BY r.type`, a...)
	if err != nil {
		return nil, fmt.Errorf("count resources: %w", err)
	}
	defer rows.Close()
	out := []domain.ResourceTypeCount{}
	for rows.Next() {
		var c domain.ResourceTypeCount
		if err := rows.Scan(&c.Type, &c.Count); err != nil {
			return nil, fmt.Errorf("count resources: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count resources: %w", err)
	}
	return out, nil
}

// ResourceSources counts the organization's resources per source (a connection's name, or
// the push client's or import's), current ones only unless includeGone.
func (s *Store) ResourceSources(ctx context.Context, orgID int64, includeGone bool) (map[string]int, error) {
	var a args
	where := s.resourceWhere(&a, orgID, domain.ResourceFilter{IncludeGone: includeGone})
	rows, err := s.rdb.QueryContext(ctx, `SELECT COALESCE(c.name, r.source), count(*) FROM resources r LEFT JOIN connections c ON c.id = r.connection_id
		WHERE `+strings.Join(where, " AND ")+` GROUP BY COALESCE(c.name, r.source)`, a...)
	if err != nil {
		return nil, fmt.Errorf("count resources per source: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var src string
		var n int
		if err := rows.Scan(&src, &n); err != nil {
			return nil, fmt.Errorf("count resources per source: %w", err)
		}
		out[src] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count resources per source: %w", err)
	}
	return out, nil
}

// ConnectionResourceCounts counts the current resources of each of the organization's
// connections, by connection ID; connections without any are absent.
func (s *Store) ConnectionResourceCounts(ctx context.Context, orgID int64) (map[int64]int, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT connection_id, count(*) FROM resources
		WHERE org_id = $1 AND connection_id IS NOT NULL AND gone_at IS NULL GROUP BY connection_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("count resources per connection: %w", err)
	}
	defer rows.Close()
	out := map[int64]int{}
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("count resources per connection: %w", err)
		}
		out[id] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count resources per connection: %w", err)
	}
	return out, nil
}

// ResourceOrigins says where each version of one of the organization's resources came
// from: runs maps a version to the run of its connection that reported it (the run that
// finished when the version was observed), pushes maps a version to the ledger index of
// the push or import that sent it (the first resources.pushed entry of its source at or
// after the version was observed). A version of a deleted connection's resource is in
// neither.
func (s *Store) ResourceOrigins(ctx context.Context, orgID, resourceID int64) (runs, pushes map[int]int64, err error) {
	if _, err := s.Resource(ctx, orgID, resourceID); err != nil {
		return nil, nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT v.version,
			(SELECT MIN(cr.id) FROM connection_runs cr WHERE cr.org_id = v.org_id AND cr.connection_id = r.connection_id
				AND cr.finished_at = v.observed_at),
			(SELECT MIN(e.idx) FROM events e WHERE e.org_id = v.org_id AND e.type = $3
				AND e.subject = 'source:' || r.source AND e.at >= v.observed_at)
		FROM resource_versions v JOIN resources r ON r.id = v.resource_id
		WHERE v.org_id = $1 AND v.resource_id = $2`, orgID, resourceID, domain.EventResourcesPushed)
	if err != nil {
		return nil, nil, fmt.Errorf("find the origins of resource %d: %w", resourceID, err)
	}
	defer rows.Close()
	runs, pushes = map[int]int64{}, map[int]int64{}
	for rows.Next() {
		var v int
		var run, idx sql.NullInt64
		if err := rows.Scan(&v, &run, &idx); err != nil {
			return nil, nil, fmt.Errorf("find the origins of resource %d: %w", resourceID, err)
		}
		if run.Valid {
			runs[v] = run.Int64
		}
		if idx.Valid {
			pushes[v] = idx.Int64
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("find the origins of resource %d: %w", resourceID, err)
	}
	return runs, pushes, nil
}

// ResourceVerdicts returns the current verdicts of the organization's judged tests of a
// type on the resource with the given external ID, failures covered by an exception in
// force at now being excepted, in the order of TestVerdicts (failures first). Verdicts are
// kept per test and external ID, so resources of one type sharing an external ID in two
// sources share their verdicts.
func (s *Store) ResourceVerdicts(ctx context.Context, orgID int64, typ, externalID string, now time.Time) ([]domain.Verdict, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT st.test_id, st.name, st.status, st.message, st.since
		FROM test_state st JOIN test_status ts ON ts.org_id = st.org_id AND ts.test_id = st.test_id
		WHERE st.org_id = $1 AND ts.type = $2 AND st.external_id = $3`, orgID, typ, externalID)
	if err != nil {
		return nil, fmt.Errorf("load verdicts on %s %s: %w", typ, externalID, err)
	}
	defer rows.Close()
	out := []domain.Verdict{}
	for rows.Next() {
		v := domain.Verdict{ExternalID: externalID}
		var since dbTime
		if err := rows.Scan(&v.TestID, &v.Name, &v.Status, &v.Message, &since); err != nil {
			return nil, fmt.Errorf("load verdicts on %s %s: %w", typ, externalID, err)
		}
		v.Since = since.t
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load verdicts on %s %s: %w", typ, externalID, err)
	}
	rows.Close()
	if len(out) == 0 {
		return out, nil
	}
	exceptions, err := s.activeExceptions(ctx, s.rdb, orgID, "", now)
	if err != nil {
		return nil, err
	}
	for i := range out {
		except(&out[i], exceptions)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].TestID < out[j].TestID })
	verdictOrder(out)
	return out, nil
}
