package monitor

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"

	"github.com/evidenthq/evident/internal/domain"
)

// The CEL environment of every test:
//
//	resource   the resource judged, an object of the test's type: its schema's fields plus
//	           id, name, type and connection
//	now        the run's time (timestamp)
//	params     the test's params (map(string, dyn))
//	related(type, field, value)
//	           the resources of another type whose field (a string, or a list of strings
//	           containing it) equals value, compared without regard to case or surrounding
//	           space; type and field are quoted literals
//	days(n)    a duration of n days
//
// plus CEL's standard library, optional values (resource.?field), and the strings, lists,
// sets, bindings (cel.bind) and two-variable comprehension (all(k, v, …), transformList…)
// extensions.

// baseRegistry holds CEL's standard and protobuf types; resource types live in the provider.
var baseRegistry = func() *types.Registry {
	r, err := types.NewRegistry()
	if err != nil {
		panic("monitor: cel registry: " + err.Error())
	}
	return r
}()

// registryAdapter converts Go values to CEL values; it is immutable after start-up.
var registryAdapter types.Adapter = baseRegistry

const relatedOverload = "related_string_string_string"

// MaxCost bounds the work of one evaluation of a user's expression, in CEL cost units
// (roughly one per operation and per comprehension step). Reaching it is an error for that
// resource, so an expression that would run for hours, such as nested comprehensions over
// lists.range(), cannot stall a run. The shipped library is vetted and runs without the
// limit, which saves the cost of tracking.
const MaxCost = 1_000_000

var (
	envOnce  sync.Once
	baseEnv  *cel.Env
	celTypes *provider
	envErr   error
	typeEnvs sync.Map // registered resource type → *cel.Env with resource declared
)

func environment() (*cel.Env, *provider, error) {
	envOnce.Do(func() {
		celTypes = newProvider(baseRegistry)
		baseEnv, envErr = cel.NewEnv(
			cel.CustomTypeAdapter(baseRegistry),
			cel.CustomTypeProvider(celTypes),
			cel.Variable("now", cel.TimestampType),
			cel.Variable("params", cel.MapType(cel.StringType, cel.DynType)),
			cel.Function("related",
				cel.Overload(relatedOverload,
					[]*cel.Type{cel.StringType, cel.StringType, cel.StringType},
					cel.ListType(cel.DynType),
					cel.LateFunctionBinding())),
			cel.Function("days",
				cel.Overload("days_int", []*cel.Type{cel.IntType}, cel.DurationType,
					cel.UnaryBinding(days))),
			cel.OptionalTypes(),
			cel.CrossTypeNumericComparisons(true),
			cel.ParserExpressionSizeLimit(maxExpressionLength),
			cel.ParserRecursionLimit(100),
			ext.Strings(),
			ext.Lists(),
			ext.Sets(),
			ext.Bindings(),
			ext.TwoVarComprehensions(),
		)
	})
	return baseEnv, celTypes, envErr
}

func days(v ref.Val) ref.Val {
	n, ok := v.(types.Int)
	if !ok {
		return types.NewErr("days: want an int, got %s", v.Type().TypeName())
	}
	const maxDays = int64(100 * 365)
	if n < types.Int(-maxDays) || n > types.Int(maxDays) {
		return types.NewErr("days(%d) is out of range", int64(n))
	}
	return types.Duration{Duration: time.Duration(n) * 24 * time.Hour}
}

// envFor returns the environment for tests of a type, with resource declared. Custom type
// names come from users, so only registered types' environments are kept.
func envFor(typ string) (*cel.Env, *objectType, error) {
	env, prov, err := environment()
	if err != nil {
		return nil, nil, err
	}
	ot, ok := prov.resourceType(typ)
	if !ok {
		return nil, nil, domain.Invalid("type", "unknown resource type %q", typ)
	}
	if e, ok := typeEnvs.Load(typ); ok {
		return e.(*cel.Env), ot, nil
	}
	e, err := env.Extend(cel.Variable("resource", ot.celType))
	if err != nil {
		return nil, nil, err
	}
	if !ot.open {
		typeEnvs.Store(typ, e)
	}
	return e, ot, nil
}

// CompileError is a test whose CEL does not compile. It names the field and the position
// in that field's text, and is an invalid-input error for the domain's error kinds.
type CompileError struct {
	TestID string
	Field  string // "where", "expression" or "message"
	Line   int    // 1-based line in the field's text; 0 when the error has no position
	Column int    // 1-based column, counted in characters
	Msg    string
	// More counts further errors in the same field.
	More int
}

// Error returns "FIELD: LINE:COLUMN: message".
func (e *CompileError) Error() string {
	var b strings.Builder
	b.WriteString(e.Field)
	b.WriteString(": ")
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Column)
	}
	b.WriteString(e.Msg)
	if e.More == 1 {
		b.WriteString(" (and 1 more error)")
	} else if e.More > 1 {
		fmt.Fprintf(&b, " (and %d more errors)", e.More)
	}
	return b.String()
}

// Unwrap makes the error an invalid-input error naming the field.
func (e *CompileError) Unwrap() error {
	msg := strings.TrimPrefix(e.Error(), e.Field+": ")
	return &domain.Error{Kind: domain.KindInvalid, Field: e.Field, Message: msg}
}

// Program is a compiled test, ready to evaluate. It is safe for concurrent use.
type Program struct {
	test    Test
	typ     *objectType
	where   cel.Program // nil: every resource of the type
	expr    cel.Program
	message cel.Program // nil: no message
	params  ref.Val
	related []relatedKey
}

// Test returns the test the program was compiled from.
func (p *Program) Test() Test { return p.test }

// relatedKey is one related(type, field, …) a program calls.
type relatedKey struct{ typ, field string }

// Compile checks a test and compiles its CEL: a known type, well-formed fields, where and
// expression of type bool, message of type string, related() naming known types and fields,
// params.NAME naming a declared parameter. A CEL error is a *CompileError with the field and
// position; other errors are invalid-input errors naming the field. It never panics. Each
// evaluation of the program is limited to MaxCost.
func Compile(t Test) (*Program, error) { return compile(t, false) }

// compile compiles a test; trusted tests (the shipped library) run without a cost limit.
func compile(t Test, trusted bool) (p *Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			p, err = nil, &CompileError{TestID: t.ID, Field: "expression", Msg: fmt.Sprintf("cannot be compiled: %v", r)}
		}
	}()
	t.Controls = slices.Clone(t.Controls)
	if err := t.validate(); err != nil {
		return nil, err
	}
	env, ot, err := envFor(t.Type)
	if err != nil {
		return nil, err
	}
	params := t.Params
	if params == nil {
		params = map[string]any{}
	}
	p = &Program{test: t, typ: ot, params: registryAdapter.NativeToValue(params)}
	c := compiler{env: env, test: &t, related: map[relatedKey]bool{}, trusted: trusted}
	if strings.TrimSpace(t.Where) != "" {
		if p.where, err = c.compile("where", t.Where, types.BoolType); err != nil {
			return nil, err
		}
	}
	if p.expr, err = c.compile("expression", t.Expression, types.BoolType); err != nil {
		return nil, err
	}
	if strings.TrimSpace(t.Message) != "" {
		if p.message, err = c.compile("message", t.Message, types.StringType); err != nil {
			return nil, err
		}
	}
	for k := range c.related {
		p.related = append(p.related, k)
	}
	sort.Slice(p.related, func(i, j int) bool {
		a, b := p.related[i], p.related[j]
		return a.typ < b.typ || (a.typ == b.typ && a.field < b.field)
	})
	return p, nil
}

type compiler struct {
	trusted bool
	env     *cel.Env
	test    *Test
	related map[relatedKey]bool
}

func (c *compiler) compile(field, src string, want *types.Type) (cel.Program, error) {
	ast, iss := c.env.Compile(src)
	if iss != nil && iss.Err() != nil {
		errs := iss.Errors()
		if len(errs) == 0 {
			return nil, &CompileError{TestID: c.test.ID, Field: field, Msg: iss.Err().Error()}
		}
		return nil, c.errorAt(field, src, errs[0].Location, errs[0].Message, len(errs)-1)
	}
	native := ast.NativeRep()
	if out := ast.OutputType(); !out.IsExactType(want) && out.Kind() != types.DynKind {
		return nil, c.errorAt(field, src, c.location(native, native.Expr().ID()),
			fmt.Sprintf("the expression is of type %s; it must be a %s", out, want), 0)
	}
	if err := c.checkCalls(field, src, native); err != nil {
		return nil, err
	}
	opts := []cel.ProgramOption{cel.EvalOptions(cel.OptOptimize)}
	if !c.trusted {
		opts = append(opts, cel.CostLimit(MaxCost))
	}
	prg, err := c.env.Program(ast, opts...)
	if err != nil {
		return nil, &CompileError{TestID: c.test.ID, Field: field, Msg: err.Error()}
	}
	return prg, nil
}

func (c *compiler) location(a *celast.AST, id int64) common.Location {
	return a.SourceInfo().GetStartLocation(id)
}

func (c *compiler) errorAt(field, src string, loc common.Location, msg string, more int) *CompileError {
	e := &CompileError{TestID: c.test.ID, Field: field, Msg: msg, More: more}
	if loc != nil && loc.Line() > 0 {
		e.Line = loc.Line()
		e.Column = loc.Column() + 1
	}
	return e
}

// checkCalls checks what the type checker cannot: that related() names a known type and
// field, and that params.NAME is declared by the test.
func (c *compiler) checkCalls(field, src string, a *celast.AST) error {
	var first error
	celast.PreOrderVisit(a.Expr(), celast.NewExprVisitor(func(e celast.Expr) {
		if first != nil {
			return
		}
		switch e.Kind() {
		case celast.CallKind:
			call := e.AsCall()
			switch {
			case call.FunctionName() == "related" && len(call.Args()) == 3:
				first = c.checkRelated(field, src, a, call.Args())
			case call.FunctionName() == operators.Index && len(call.Args()) == 2:
				if name, ok := stringLiteral(call.Args()[1]); ok && isParams(call.Args()[0]) {
					first = c.checkParam(field, src, a, e.ID(), name)
				}
			}
		case celast.SelectKind:
			sel := e.AsSelect()
			if !sel.IsTestOnly() && isParams(sel.Operand()) {
				first = c.checkParam(field, src, a, e.ID(), sel.FieldName())
			}
		}
	}))
	return first
}

func isParams(e celast.Expr) bool {
	return e.Kind() == celast.IdentKind && e.AsIdent() == "params"
}

func stringLiteral(e celast.Expr) (string, bool) {
	if e.Kind() != celast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

func (c *compiler) checkParam(field, src string, a *celast.AST, id int64, name string) error {
	if _, ok := c.test.Params[name]; ok {
		return nil
	}
	declared := make([]string, 0, len(c.test.Params))
	for k := range c.test.Params {
		declared = append(declared, k)
	}
	sort.Strings(declared)
	msg := fmt.Sprintf("params.%s is not declared; the test declares no params", name)
	if len(declared) > 0 {
		msg = fmt.Sprintf("params.%s is not declared; the test declares %s", name, strings.Join(declared, ", "))
	}
	return c.errorAt(field, src, c.location(a, id), msg, 0)
}

func (c *compiler) checkRelated(field, src string, a *celast.AST, args []celast.Expr) error {
	_, prov, _ := environment()
	typ, ok := stringLiteral(args[0])
	if !ok {
		return c.errorAt(field, src, c.location(a, args[0].ID()), "related: the type must be a quoted resource type, such as \"okta.user\"", 0)
	}
	ot, ok := prov.resourceType(typ)
	if !ok {
		return c.errorAt(field, src, c.location(a, args[0].ID()), fmt.Sprintf("related: unknown resource type %q", typ), 0)
	}
	name, ok := stringLiteral(args[1])
	if !ok {
		return c.errorAt(field, src, c.location(a, args[1].ID()), "related: the field must be a quoted field name, such as \"email\"", 0)
	}
	fi, ok := ot.field(name)
	if !ok {
		return c.errorAt(field, src, c.location(a, args[1].ID()), fmt.Sprintf("related: %s has no field %q", typ, name), 0)
	}
	if fi.kind != "" && fi.kind != KindString && fi.kind != KindStringList {
		return c.errorAt(field, src, c.location(a, args[1].ID()), fmt.Sprintf("related: %s.%s is a %s; related() matches string fields and lists of strings", typ, name, fi.kind), 0)
	}
	c.related[relatedKey{typ: typ, field: name}] = true
	return nil
}
