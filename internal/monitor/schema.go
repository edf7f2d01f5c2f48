package monitor

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/domain"
)

// Kind is the type of a resource attribute.
type Kind string

// The attribute kinds. Tests see them as the CEL types in the comments.
const (
	KindString     Kind = "string"             // string
	KindBool       Kind = "bool"               // bool
	KindInt        Kind = "int"                // int
	KindTimestamp  Kind = "timestamp"          // google.protobuf.Timestamp; RFC 3339 in JSON
	KindStringList Kind = "list<string>"       // list(string)
	KindStringMap  Kind = "map<string,string>" // map(string, string)
	KindObject     Kind = "object"             // an object with the field's own Fields
	KindObjectList Kind = "list<object>"       // list of objects with the field's own Fields
)

// Field is one attribute of a resource type.
type Field struct {
	Name        string `json:"name"`
	Kind        Kind   `json:"kind"`
	Description string `json:"description"`
	// Optional fields may be absent; tests check them with has(resource.field) or
	// resource.?field. A required field missing from a resource is a connector bug, and a
	// test reading it reports an error for that resource.
	Optional bool `json:"optional,omitempty"`
	// Fields are the fields of an object or of each element of a list of objects.
	Fields []Field `json:"fields,omitempty"`
}

// TypeSchema documents one resource type: what produces it, what its external ID is, and
// its attributes. Every resource also has id, name, type and connection (see Resource).
type TypeSchema struct {
	Type        string `json:"type"`
	Source      string `json:"source"` // aws, github, okta, google, hr, scanner, push
	Description string `json:"description"`
	// ID says what the resource's external ID is.
	ID     string  `json:"id"`
	Fields []Field `json:"fields"`
	// Open types accept any attributes, judged dynamically: the custom.NAME types pushed
	// through the API.
	Open bool `json:"open,omitempty"`
}

// Field returns the schema's field with the given name.
func (s *TypeSchema) Field(name string) (Field, bool) {
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// builtinFields are the fields every resource has, besides its attributes.
var builtinFields = []Field{
	{Name: "id", Kind: KindString, Description: "The external ID at the source; the type says what it is."},
	{Name: "name", Kind: KindString, Description: "What people call the resource."},
	{Name: "type", Kind: KindString, Description: "The resource type."},
	{Name: "connection", Kind: KindString, Description: "The connection, import or push client that reported the resource."},
}

// CustomPrefix starts the name of every custom type, such as "custom.vendor_review".
const CustomPrefix = "custom."

var customTypePattern = regexp.MustCompile(`^custom\.[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// IsCustomType reports whether typ is a well-formed custom type name.
func IsCustomType(typ string) bool {
	return len(typ) <= 64 && customTypePattern.MatchString(typ)
}

var schemaIndex = func() map[string]int {
	m := make(map[string]int, len(registry))
	for i, s := range registry {
		m[s.Type] = i
	}
	return m
}()

// Schemas returns the registered resource types, sorted by type, followed by the open
// custom type.
func Schemas() []TypeSchema {
	out := make([]TypeSchema, 0, len(registry)+1)
	out = append(out, registry...)
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return append(out, customSchema("custom.NAME"))
}

// SchemaFor returns the schema of a type: a registered type, or an open schema for a
// well-formed custom type.
func SchemaFor(typ string) (TypeSchema, bool) {
	if i, ok := schemaIndex[typ]; ok {
		return registry[i], true
	}
	if IsCustomType(typ) {
		return customSchema(typ), true
	}
	return TypeSchema{}, false
}

func customSchema(typ string) TypeSchema {
	return TypeSchema{
		Type:   typ,
		Source: "push",
		Description: "A resource of a system Evident has no connector for, sent to POST /api/v1/resources. " +
			"Its attributes are whatever JSON the client sends; tests read them as dynamic values " +
			"(numbers are doubles, timestamps stay strings unless converted with timestamp()).",
		ID:   "Chosen by the client; unique within the type.",
		Open: true,
	}
}

// ValidateResource checks a resource against its type's schema: a known type, an external
// ID, a name, every required attribute present, every attribute of its declared kind and no
// attribute the schema does not declare. It accepts attributes in Go or JSON form.
func ValidateResource(r *Resource) error {
	s, ok := SchemaFor(r.Type)
	if !ok {
		return domain.Invalid("type", "unknown resource type %q", r.Type)
	}
	if strings.TrimSpace(r.ExternalID) == "" {
		return domain.Invalid("id", "is required")
	}
	if strings.TrimSpace(r.Name) == "" {
		return domain.Invalid("name", "is required")
	}
	if s.Open {
		return nil
	}
	_, err := normalizeObject("attributes", s.Fields, r.Attributes, true)
	return err
}

// Normalize converts a resource's attributes to their Go forms in place: RFC 3339 strings
// to time.Time, JSON numbers to int64, []any to []string or []any of objects, and drops
// null values. The store calls it after decoding attributes from JSON, so tests do not
// convert the same value on every evaluation. Unknown attributes are kept as they are.
func Normalize(r *Resource) error {
	s, ok := SchemaFor(r.Type)
	if !ok {
		return domain.Invalid("type", "unknown resource type %q", r.Type)
	}
	if s.Open {
		for k, v := range r.Attributes {
			if v == nil {
				delete(r.Attributes, k)
			}
		}
		return nil
	}
	m, err := normalizeObject("attributes", s.Fields, r.Attributes, false)
	if err != nil {
		return err
	}
	r.Attributes = m
	return nil
}

// normalizeObject checks and converts the attributes of one object. Strict mode also
// rejects missing required fields and unknown fields.
func normalizeObject(path string, fields []Field, attrs map[string]any, strict bool) (map[string]any, error) {
	if attrs == nil {
		attrs = map[string]any{}
	}
	for _, f := range fields {
		v, present := attrs[f.Name]
		if !present || v == nil {
			delete(attrs, f.Name)
			if strict && !f.Optional {
				return nil, domain.Invalid(path+"."+f.Name, "is required")
			}
			continue
		}
		nv, err := normalizeValue(path+"."+f.Name, f, v, strict)
		if err != nil {
			return nil, err
		}
		attrs[f.Name] = nv
	}
	if strict && len(attrs) > 0 {
		known := make(map[string]bool, len(fields))
		for _, f := range fields {
			known[f.Name] = true
		}
		var unknown []string
		for k := range attrs {
			if !known[k] {
				unknown = append(unknown, k)
			}
		}
		if len(unknown) > 0 {
			sort.Strings(unknown)
			return nil, domain.Invalid(path+"."+unknown[0], "is not a field of this type")
		}
	}
	return attrs, nil
}

func normalizeValue(path string, f Field, v any, strict bool) (any, error) {
	switch f.Kind {
	case KindString:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return nil, kindError(path, "a string", v)
	case KindBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, kindError(path, "a boolean", v)
	case KindInt:
		if i, ok := toInt(v); ok {
			return i, nil
		}
		return nil, kindError(path, "an integer", v)
	case KindTimestamp:
		if t, ok := toTime(v); ok {
			return t, nil
		}
		return nil, kindError(path, "an RFC 3339 timestamp", v)
	case KindStringList:
		switch l := v.(type) {
		case []string:
			return l, nil
		case []any:
			out := make([]string, len(l))
			for i, e := range l {
				s, ok := e.(string)
				if !ok {
					return nil, kindError(fmt.Sprintf("%s[%d]", path, i), "a string", e)
				}
				out[i] = s
			}
			return out, nil
		}
		return nil, kindError(path, "a list of strings", v)
	case KindStringMap:
		switch m := v.(type) {
		case map[string]string:
			return m, nil
		case map[string]any:
			out := make(map[string]string, len(m))
			for k, e := range m {
				s, ok := e.(string)
				if !ok {
					return nil, kindError(path+"."+k, "a string", e)
				}
				out[k] = s
			}
			return out, nil
		}
		return nil, kindError(path, "a map of strings", v)
	case KindObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, kindError(path, "an object", v)
		}
		return normalizeObject(path, f.Fields, m, strict)
	case KindObjectList:
		var elems []any
		switch l := v.(type) {
		case []any:
			elems = l
		case []map[string]any:
			elems = make([]any, len(l))
			for i, m := range l {
				elems[i] = m
			}
		default:
			return nil, kindError(path, "a list of objects", v)
		}
		for i, e := range elems {
			ep := fmt.Sprintf("%s[%d]", path, i)
			m, ok := e.(map[string]any)
			if !ok {
				return nil, kindError(ep, "an object", e)
			}
			nm, err := normalizeObject(ep, f.Fields, m, strict)
			if err != nil {
				return nil, err
			}
			elems[i] = nm
		}
		return elems, nil
	}
	return nil, domain.Invalid(path, "has unknown kind %q", f.Kind)
}

func kindError(path, want string, got any) error {
	return domain.Invalid(path, "must be %s, not %s", want, describe(got))
}

// describe names a value's JSON kind for error messages.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case float64, float32, int, int64, int32, json.Number:
		return "a number"
	case []any, []string, []map[string]any:
		return "a list"
	case map[string]any, map[string]string:
		return "an object"
	case time.Time:
		return "a timestamp"
	}
	return fmt.Sprintf("a %T", v)
}

// toInt accepts the integer forms an attribute may take in Go or after a JSON round trip.
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) <= 1<<53 {
			return int64(n), true
		}
	case json.Number:
		i, err := strconv.ParseInt(string(n), 10, 64)
		return i, err == nil
	}
	return 0, false
}

// toTime accepts a time.Time or an RFC 3339 string.
func toTime(v any) (time.Time, bool) {
	switch t := v.(type) {
	case time.Time:
		return t, true
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		return p, err == nil
	}
	return time.Time{}, false
}
