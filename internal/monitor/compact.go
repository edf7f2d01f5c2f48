package monitor

// The compact form of attributes, in which a MemoryInventory keeps resources. A map of
// attributes costs a hash table per resource and per nested object (about 600 bytes for a
// dozen attributes); the same values in the order of the type's schema fields cost 16
// bytes each, and reading one is an index rather than a hash lookup. The values themselves
// are the map's, not copies. Only what the schema declares fits: a resource with another
// attribute, or a null one, keeps its map, so that nothing it holds is lost.

// fieldValues are the attributes of one object in the order of its type's fields (see
// objectType.attrs), nil where absent. Nested objects are *fieldValues; lists of objects
// are []any of *fieldValues. Objects refer to them by pointer, which keeps the engine's
// objects small.
type fieldValues []any

// compact returns the attributes in compact form, or false when they do not fit: an
// attribute the type does not declare, a null value, or an object or list of objects in
// another form than map[string]any and []any of them.
func (ot *objectType) compact(attrs map[string]any) (fieldValues, bool) {
	if ot.open || len(ot.attrs) == 0 {
		return nil, false
	}
	vals := make(fieldValues, len(ot.attrs))
	n := 0
	for _, fi := range ot.attrs {
		v, ok := attrs[fi.name]
		if !ok {
			continue
		}
		if v == nil {
			return nil, false
		}
		n++
		switch fi.kind {
		case KindObject:
			m, ok := v.(map[string]any)
			if !ok {
				return nil, false
			}
			nested, ok := fi.elem.compact(m)
			if !ok {
				return nil, false
			}
			v = &nested
		case KindObjectList:
			var ok bool
			if v, ok = fi.elem.compactList(v); !ok {
				return nil, false
			}
		}
		vals[fi.index] = v
	}
	if n != len(attrs) {
		return nil, false
	}
	return vals, true
}

// compactList returns a list of objects with each element in compact form. A
// []map[string]any does not fit: expanded, it would come back as a []any.
func (ot *objectType) compactList(v any) ([]any, bool) {
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]any, len(l))
	for i, e := range l {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		nested, ok := ot.compact(m)
		if !ok {
			return nil, false
		}
		out[i] = &nested
	}
	return out, true
}

// expand returns compact attributes as a map again.
func (ot *objectType) expand(vals *fieldValues) map[string]any {
	m := make(map[string]any, len(*vals))
	for _, fi := range ot.attrs {
		v := (*vals)[fi.index]
		if v == nil {
			continue
		}
		switch x := v.(type) {
		case *fieldValues:
			v = fi.elem.expand(x)
		case []any:
			if fi.kind == KindObjectList {
				l := make([]any, len(x))
				for i, e := range x {
					l[i] = fi.elem.expand(e.(*fieldValues))
				}
				v = l
			}
		}
		m[fi.name] = v
	}
	return m
}

// entry is a resource as the engine reads it: with vals set, its attributes are those and
// not res.Attributes.
type entry struct {
	res  *Resource
	vals *fieldValues
}

// memResource is a resource as a MemoryInventory keeps it: with vals set, its attributes
// are kept compact and res.Attributes is nil.
type memResource struct {
	res  Resource
	vals fieldValues
}

// keep returns the resource as a MemoryInventory keeps it.
func keep(r *Resource) memResource {
	if _, prov, err := environment(); err == nil {
		if ot, ok := prov.resourceType(r.Type); ok {
			if vals, ok := ot.compact(r.Attributes); ok {
				m := memResource{res: *r, vals: vals}
				m.res.Attributes = nil
				return m
			}
		}
	}
	return memResource{res: *r}
}

// resource returns the resource with its attributes as a map: the kept resource itself,
// or a copy when they are kept compact.
func (m *memResource) resource() *Resource {
	if m.vals == nil {
		return &m.res
	}
	r := m.res
	if _, prov, err := environment(); err == nil {
		if ot, ok := prov.resourceType(r.Type); ok {
			r.Attributes = ot.expand(&m.vals)
		}
	}
	return &r
}
