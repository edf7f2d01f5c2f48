// Package monitor judges a company's systems continuously: it defines the resource types that
// connectors, importers and the push API produce, compiles tests written in CEL against them,
// and evaluates those tests over an inventory of resources.
package monitor

import (
	"context"
	"iter"
	"sort"
)

// Resource is one thing a source reported: an IAM user, a bucket, a repository, a person on
// the HR roster. Its attributes follow the schema of its type (see Schemas); the store keeps
// them as JSON, and Normalize restores their Go types after a round trip.
type Resource struct {
	// Type is a registered resource type such as "aws.iam.user", or "custom.NAME" for a
	// type pushed through the API without a registered schema.
	Type string `json:"type"`
	// ExternalID identifies the resource at its source; the schema of each type says what it
	// is (an ARN, "org/login", an email address…). It is unique within a type and connection.
	ExternalID string `json:"id"`
	// Name is what people call the resource: a user name, a bucket name, a person's name.
	Name string `json:"name"`
	// Connection names the connection, import or push client that reported the resource.
	Connection string `json:"connection,omitempty"`
	// Attributes are the type's fields. Values are strings, bools, integers, time.Time,
	// []string, map[string]string, nested map[string]any objects and lists of them, or their
	// JSON forms (float64 numbers, RFC 3339 strings, []any).
	Attributes map[string]any `json:"attributes"`
}

// Inventory is the set of resources a run judges. The engine reads each type it needs once
// per run for the tests that select it, and once more per related() index it builds.
type Inventory interface {
	// Resources yields every resource of the type, each with a nil error, or a non-nil error
	// once if the resources cannot be read; a type with no resources yields nothing. The
	// engine does not keep a yielded resource beyond the run, and never changes it.
	Resources(ctx context.Context, typ string) iter.Seq2[*Resource, error]
}

// Counter is an optional interface of an Inventory that knows how many resources of a type
// it holds. The engine then allocates each test's verdicts once, at their final size.
type Counter interface {
	Count(ctx context.Context, typ string) (int, error)
}

// MemoryInventory is an Inventory held in memory: for the push API, previews of a test
// being written, and benchmarks. It keeps a copy of each resource, with its attributes in
// a compact form when they are exactly those its type's schema declares: about half the
// memory of a map, and faster for the engine to read. Resources yields such resources
// with their attributes as a map again; the engine reads the compact form directly. The
// attribute values themselves are shared with the resources given, which must not change
// them while the inventory is in use.
type MemoryInventory struct {
	byType map[string][]memResource
}

// NewMemoryInventory returns an inventory of the given resources, kept in the order given.
func NewMemoryInventory(resources []*Resource) *MemoryInventory {
	counts := map[string]int{}
	for _, r := range resources {
		counts[r.Type]++
	}
	m := &MemoryInventory{byType: make(map[string][]memResource, len(counts))}
	for typ, n := range counts {
		m.byType[typ] = make([]memResource, 0, n)
	}
	m.Add(resources...)
	return m
}

// Add appends resources to the inventory.
func (m *MemoryInventory) Add(resources ...*Resource) {
	for _, r := range resources {
		m.byType[r.Type] = append(m.byType[r.Type], keep(r))
	}
}

// Types lists the types present in the inventory, sorted.
func (m *MemoryInventory) Types() []string {
	out := make([]string, 0, len(m.byType))
	for t := range m.byType {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Count implements Counter.
func (m *MemoryInventory) Count(_ context.Context, typ string) (int, error) {
	return len(m.byType[typ]), nil
}

// Resources implements Inventory.
func (m *MemoryInventory) Resources(ctx context.Context, typ string) iter.Seq2[*Resource, error] {
	return func(yield func(*Resource, error) bool) {
		rs := m.byType[typ]
		for i := range rs {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(nil, err)
					return
				}
			}
			if !yield(rs[i].resource(), nil) {
				return
			}
		}
	}
}

// entries yields the resources of a type as kept, for the engine.
func (m *MemoryInventory) entries(ctx context.Context, typ string) iter.Seq2[entry, error] {
	return func(yield func(entry, error) bool) {
		rs := m.byType[typ]
		for i := range rs {
			if i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					yield(entry{}, err)
					return
				}
			}
			e := entry{res: &rs[i].res}
			if rs[i].vals != nil {
				e.vals = &rs[i].vals
			}
			if !yield(e, nil) {
				return
			}
		}
	}
}
