package monitor

import (
	"fmt"
	"reflect"
	"sort"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The CEL view of the schemas. Each resource type is a CEL object type whose fields are the
// schema's fields plus id, name, type and connection, so the checker rejects a misspelt field
// and a non-boolean expression before a test is saved, and nested objects (access keys,
// reviews, rules) are typed too. Values are read from Resource.Attributes when a test touches
// them, converted by the field's kind; nothing is copied per resource.

// objectType is a schema, or a nested object of one, as a CEL object type.
type objectType struct {
	name     string
	celType  *types.Type
	listType *types.Type // list(celType)
	fields   map[string]*fieldInfo
	names    []string
	// attrs are the schema's fields in order; fieldValues hold their values in that order.
	attrs    []*fieldInfo
	open     bool // custom types: any field, typed dyn
	resource bool // a resource type: it has the builtin fields
}

// The builtin fields of a resource, read from Resource rather than its attributes.
const (
	attrField = iota
	idField
	nameField
	typeField
	connectionField
)

type fieldInfo struct {
	name    string
	kind    Kind // empty for the dynamic fields of open types
	builtin int
	index   int // in the object type's attrs; -1 for builtin and dynamic fields
	celType *types.Type
	elem    *objectType // for objects and lists of objects
	ft      *types.FieldType
}

func newObjectType(name string, fields []Field, resource bool) *objectType {
	ot := &objectType{
		name:     name,
		celType:  types.NewObjectType(name),
		listType: types.NewListType(types.NewObjectType(name)),
		fields:   map[string]*fieldInfo{},
		resource: resource,
	}
	if resource {
		for i, f := range builtinFields {
			ot.addField(&fieldInfo{name: f.Name, kind: KindString, builtin: i + 1, index: -1, celType: types.StringType})
		}
	}
	for _, f := range fields {
		fi := &fieldInfo{name: f.Name, kind: f.Kind, index: len(ot.attrs)}
		switch f.Kind {
		case KindString:
			fi.celType = types.StringType
		case KindBool:
			fi.celType = types.BoolType
		case KindInt:
			fi.celType = types.IntType
		case KindTimestamp:
			fi.celType = types.TimestampType
		case KindStringList:
			fi.celType = types.NewListType(types.StringType)
		case KindStringMap:
			fi.celType = types.NewMapType(types.StringType, types.StringType)
		case KindObject:
			fi.elem = newObjectType(name+"."+f.Name, f.Fields, false)
			fi.celType = fi.elem.celType
		case KindObjectList:
			fi.elem = newObjectType(name+"."+f.Name, f.Fields, false)
			fi.celType = types.NewListType(fi.elem.celType)
		default:
			panic(fmt.Sprintf("monitor: field %s.%s has unknown kind %q", name, f.Name, f.Kind))
		}
		ot.addField(fi)
		ot.attrs = append(ot.attrs, fi)
	}
	sort.Strings(ot.names)
	return ot
}

func (ot *objectType) addField(fi *fieldInfo) {
	fi.ft = &types.FieldType{
		Type:    fi.celType,
		IsSet:   func(target any) bool { return fi.isSet(target) },
		GetFrom: func(target any) (any, error) { return fi.getFrom(target) },
	}
	ot.fields[fi.name] = fi
	ot.names = append(ot.names, fi.name)
}

// field returns the field with the given name; open types have every field.
func (ot *objectType) field(name string) (*fieldInfo, bool) {
	if fi, ok := ot.fields[name]; ok {
		return fi, true
	}
	if !ot.open {
		return nil, false
	}
	fi := &fieldInfo{name: name, index: -1, celType: types.DynType}
	fi.ft = &types.FieldType{
		Type:    types.DynType,
		IsSet:   func(target any) bool { return fi.isSet(target) },
		GetFrom: func(target any) (any, error) { return fi.getFrom(target) },
	}
	return fi, true
}

// object is a resource, or a nested object of one, as a CEL value. Its attributes are
// vals when set (the compact form a MemoryInventory keeps), else attrs.
type object struct {
	typ   *objectType
	res   *Resource // nil for nested objects
	attrs map[string]any
	vals  *fieldValues
}

func newResourceObject(typ *objectType, e entry) *object {
	return &object{typ: typ, res: e.res, attrs: e.res.Attributes, vals: e.vals}
}

// newNestedObject returns a nested object from its value: a map or compact values.
func newNestedObject(typ *objectType, v any) (*object, bool) {
	switch x := v.(type) {
	case map[string]any:
		return &object{typ: typ, attrs: x}, true
	case *fieldValues:
		return &object{typ: typ, vals: x}, true
	}
	return nil, false
}

// set makes the object the resource of an entry.
func (o *object) set(e entry) {
	o.res, o.vals = e.res, e.vals
	o.attrs = nil
	if e.res != nil {
		o.attrs = e.res.Attributes
	}
}

// attr returns the value of an attribute field, and whether it is present.
func (o *object) attr(fi *fieldInfo) (any, bool) {
	if o.vals != nil && fi.index >= 0 {
		v := (*o.vals)[fi.index]
		return v, v != nil
	}
	v, ok := o.attrs[fi.name]
	return v, ok
}

// attributes returns the object's attributes as a map.
func (o *object) attributes() map[string]any {
	if o.vals != nil {
		return o.typ.expand(o.vals)
	}
	return o.attrs
}

func (fi *fieldInfo) isSet(target any) bool {
	o, ok := target.(*object)
	if !ok {
		return false
	}
	if fi.builtin != attrField {
		return o.res != nil
	}
	v, ok := o.attr(fi)
	return ok && v != nil
}

func (fi *fieldInfo) getFrom(target any) (any, error) {
	o, ok := target.(*object)
	if !ok {
		return nil, fmt.Errorf("field %s: not a resource (%T)", fi.name, target)
	}
	v := fi.get(o)
	if err, ok := v.(*types.Err); ok {
		return nil, err
	}
	return v, nil
}

// get reads the field from an object as a CEL value, or an error value.
func (fi *fieldInfo) get(o *object) ref.Val {
	if o.res != nil {
		switch fi.builtin {
		case idField:
			return types.String(o.res.ExternalID)
		case nameField:
			return types.String(o.res.Name)
		case typeField:
			return types.String(o.res.Type)
		case connectionField:
			return types.String(o.res.Connection)
		}
	}
	v, ok := o.attr(fi)
	if !ok || v == nil {
		return types.NewErr("%s has no attribute %q (test optional fields with has())", o.typ.name, fi.name)
	}
	if fi.kind == "" {
		return registryAdapter.NativeToValue(v)
	}
	switch fi.kind {
	case KindString:
		if s, ok := v.(string); ok {
			return types.String(s)
		}
	case KindBool:
		if b, ok := v.(bool); ok {
			return types.Bool(b)
		}
	case KindInt:
		if i, ok := toInt(v); ok {
			return types.Int(i)
		}
	case KindTimestamp:
		if t, ok := toTime(v); ok {
			return types.Timestamp{Time: t}
		}
	case KindStringList:
		switch l := v.(type) {
		case []string:
			return types.NewStringList(registryAdapter, l)
		case []any:
			return types.NewDynamicList(registryAdapter, l)
		}
	case KindStringMap:
		switch m := v.(type) {
		case map[string]string:
			return types.NewStringStringMap(registryAdapter, m)
		case map[string]any:
			return types.NewStringInterfaceMap(registryAdapter, m)
		}
	case KindObject:
		if obj, ok := newNestedObject(fi.elem, v); ok {
			return obj
		}
	case KindObjectList:
		switch l := v.(type) {
		case []any:
			for i, e := range l {
				switch e.(type) {
				case map[string]any, *fieldValues:
				default:
					return types.NewErr("%s.%s[%d] is %s, not an object", o.typ.name, fi.name, i, describe(e))
				}
			}
			return &objectList{elem: fi.elem, src: v, n: len(l)}
		case []map[string]any:
			return &objectList{elem: fi.elem, src: v, n: len(l)}
		}
	}
	return types.NewErr("%s.%s is %s, not %s", o.typ.name, fi.name, describe(v), fi.kind)
}

// ConvertToNative implements ref.Val.
func (o *object) ConvertToNative(typeDesc reflect.Type) (any, error) {
	switch typeDesc {
	case reflect.TypeFor[map[string]any]():
		return o.attributes(), nil
	case reflect.TypeFor[*Resource]():
		if o.res != nil && o.vals != nil {
			r := *o.res
			r.Attributes = o.attributes()
			return &r, nil
		}
		if o.res != nil {
			return o.res, nil
		}
	}
	return nil, fmt.Errorf("type conversion error from %s to %v", o.typ.name, typeDesc)
}

// ConvertToType implements ref.Val.
func (o *object) ConvertToType(typeVal ref.Type) ref.Val {
	if typeVal == types.TypeType {
		return o.typ.celType
	}
	if typeVal.TypeName() == o.typ.name {
		return o
	}
	return types.NewErr("type conversion error from %s to %s", o.typ.name, typeVal.TypeName())
}

// Equal implements ref.Val: two objects are equal when they are the same resource or the
// same nested object.
func (o *object) Equal(other ref.Val) ref.Val {
	p, ok := other.(*object)
	if !ok {
		return types.False
	}
	if o.res != nil || p.res != nil {
		return types.Bool(o.res == p.res)
	}
	if o.vals != nil || p.vals != nil {
		return types.Bool(o.vals == p.vals)
	}
	return types.Bool(reflect.ValueOf(o.attrs).UnsafePointer() == reflect.ValueOf(p.attrs).UnsafePointer())
}

// Type implements ref.Val.
func (o *object) Type() ref.Type { return o.typ.celType }

// Value implements ref.Val. Field getters receive the object itself.
func (o *object) Value() any { return o }

// Get implements traits.Indexer, for fields read where the type is only known at run time,
// such as the elements of related().
func (o *object) Get(index ref.Val) ref.Val {
	name, ok := index.(types.String)
	if !ok {
		return types.NewErr("no such key: %v", index)
	}
	fi, ok := o.typ.field(string(name))
	if !ok {
		return types.NewErr("%s has no field %q", o.typ.name, string(name))
	}
	return fi.get(o)
}

// IsSet implements traits.FieldTester.
func (o *object) IsSet(field ref.Val) ref.Val {
	name, ok := field.(types.String)
	if !ok {
		return types.NewErr("no such key: %v", field)
	}
	fi, ok := o.typ.field(string(name))
	if !ok {
		return types.NewErr("%s has no field %q", o.typ.name, string(name))
	}
	return types.Bool(fi.isSet(o))
}

// objectList is a list<object> attribute as a CEL list. It makes the element objects as
// they are read rather than all at once, since most tests stop at the first match.
type objectList struct {
	elem *objectType
	src  any // []any of map[string]any or fieldValues, or []map[string]any
	n    int
}

func (l *objectList) at(i int) ref.Val {
	if m, ok := l.src.([]map[string]any); ok {
		return &object{typ: l.elem, attrs: m[i]}
	}
	obj, _ := newNestedObject(l.elem, l.src.([]any)[i]) // checked when the list was made
	return obj
}

// materialize returns the list as a standard CEL list, for the operations tests rarely use.
func (l *objectList) materialize() traits.Lister {
	vals := make([]ref.Val, l.n)
	for i := range vals {
		vals[i] = l.at(i)
	}
	return types.NewRefValList(registryAdapter, vals)
}

// ConvertToNative implements ref.Val.
func (l *objectList) ConvertToNative(typeDesc reflect.Type) (any, error) {
	return l.materialize().ConvertToNative(typeDesc)
}

// ConvertToType implements ref.Val.
func (l *objectList) ConvertToType(typeVal ref.Type) ref.Val {
	switch typeVal {
	case types.TypeType:
		return l.elem.listType
	case types.ListType:
		return l
	}
	return types.NewErr("type conversion error from list to %s", typeVal.TypeName())
}

// Equal implements ref.Val.
func (l *objectList) Equal(other ref.Val) ref.Val { return l.materialize().Equal(other) }

// Type implements ref.Val.
func (l *objectList) Type() ref.Type { return l.elem.listType }

// Value implements ref.Val.
func (l *objectList) Value() any {
	src, ok := l.src.([]any)
	if !ok {
		return l.src
	}
	out := make([]any, len(src))
	for i, e := range src {
		if vals, ok := e.(*fieldValues); ok {
			e = l.elem.expand(vals)
		}
		out[i] = e
	}
	return out
}

// Add implements traits.Adder.
func (l *objectList) Add(other ref.Val) ref.Val { return l.materialize().Add(other) }

// Contains implements traits.Container.
func (l *objectList) Contains(value ref.Val) ref.Val { return l.materialize().Contains(value) }

// Get implements traits.Indexer.
func (l *objectList) Get(index ref.Val) ref.Val {
	i, ok := index.(types.Int)
	if !ok {
		return types.ValOrErr(index, "unsupported index type '%s' in list", index.Type())
	}
	if i < 0 || int64(i) >= int64(l.n) {
		return types.NewErr("index out of range: %d", int64(i))
	}
	return l.at(int(i))
}

// Size implements traits.Sizer.
func (l *objectList) Size() ref.Val { return types.Int(l.n) }

// Fold implements traits.Foldable, the interpreter's way through comprehensions.
func (l *objectList) Fold(f traits.Folder) {
	for i := range l.n {
		if !f.FoldEntry(types.Int(i), l.at(i)) {
			return
		}
	}
}

// Iterator implements traits.Iterable.
func (l *objectList) Iterator() traits.Iterator { return &objectListIterator{list: l} }

// objectListIterator walks an objectList for the interpreter's iterable folds; it
// implements traits.Iterator.
type objectListIterator struct {
	list *objectList
	i    int
}

func (it *objectListIterator) ConvertToNative(reflect.Type) (any, error) {
	return nil, fmt.Errorf("type conversion on iterators not supported")
}
func (it *objectListIterator) ConvertToType(ref.Type) ref.Val {
	return types.NewErr("no such overload")
}
func (it *objectListIterator) Equal(ref.Val) ref.Val { return types.NewErr("no such overload") }
func (it *objectListIterator) Type() ref.Type        { return types.IteratorType }
func (it *objectListIterator) Value() any            { return nil }
func (it *objectListIterator) HasNext() ref.Val      { return types.Bool(it.i < it.list.n) }

func (it *objectListIterator) Next() ref.Val {
	if it.i >= it.list.n {
		return types.NewErr("no more elements")
	}
	it.i++
	return it.list.at(it.i - 1)
}

var (
	_ traits.Lister      = (*objectList)(nil)
	_ traits.Foldable    = (*objectList)(nil)
	_ ref.Val            = (*object)(nil)
	_ traits.Indexer     = (*object)(nil)
	_ traits.FieldTester = (*object)(nil)
)

// provider answers the checker's and the planner's questions about resource types, and
// defers everything else (the standard and protobuf types) to a cel-go registry.
type provider struct {
	base  *types.Registry
	types map[string]*objectType // resource types and their nested objects, by CEL name
}

func newProvider(base *types.Registry) *provider {
	p := &provider{base: base, types: map[string]*objectType{}}
	for _, s := range registry {
		p.add(newObjectType(s.Type, s.Fields, true))
	}
	return p
}

func (p *provider) add(ot *objectType) {
	p.types[ot.name] = ot
	for _, fi := range ot.fields {
		if fi.elem != nil {
			p.add(fi.elem)
		}
	}
}

// lookup returns the object type with the given name; custom types are made on demand.
func (p *provider) lookup(name string) (*objectType, bool) {
	if ot, ok := p.types[name]; ok {
		return ot, true
	}
	if IsCustomType(name) {
		ot := newObjectType(name, nil, true)
		ot.open = true
		return ot, true
	}
	return nil, false
}

// resourceType returns the object type of a resource type (not of a nested object).
func (p *provider) resourceType(name string) (*objectType, bool) {
	ot, ok := p.lookup(name)
	if !ok || !ot.resource {
		return nil, false
	}
	return ot, true
}

// EnumValue implements types.Provider.
func (p *provider) EnumValue(enumName string) ref.Val { return p.base.EnumValue(enumName) }

// FindIdent implements types.Provider.
func (p *provider) FindIdent(identName string) (ref.Val, bool) { return p.base.FindIdent(identName) }

// FindStructType implements types.Provider.
func (p *provider) FindStructType(structType string) (*types.Type, bool) {
	if ot, ok := p.lookup(structType); ok {
		return types.NewTypeTypeWithParam(ot.celType), true
	}
	return p.base.FindStructType(structType)
}

// FindStructFieldNames implements types.Provider.
func (p *provider) FindStructFieldNames(structType string) ([]string, bool) {
	if ot, ok := p.lookup(structType); ok {
		return ot.names, true
	}
	return p.base.FindStructFieldNames(structType)
}

// FindStructFieldType implements types.Provider.
func (p *provider) FindStructFieldType(structType, fieldName string) (*types.FieldType, bool) {
	if ot, ok := p.lookup(structType); ok {
		fi, ok := ot.field(fieldName)
		if !ok {
			return nil, false
		}
		return fi.ft, true
	}
	return p.base.FindStructFieldType(structType, fieldName)
}

// RegisterType lets the environment's libraries (optional values) register their types.
func (p *provider) RegisterType(ts ...ref.Type) error { return p.base.RegisterType(ts...) }

// RegisterDescriptor lets the environment register protobuf types.
func (p *provider) RegisterDescriptor(fd protoreflect.FileDescriptor) error {
	return p.base.RegisterDescriptor(fd)
}

// NewValue implements types.Provider.
func (p *provider) NewValue(structType string, fields map[string]ref.Val) ref.Val {
	if _, ok := p.lookup(structType); ok {
		return types.NewErr("a test cannot create a %s", structType)
	}
	return p.base.NewValue(structType, fields)
}
