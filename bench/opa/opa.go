// Package opa evaluates the checks of Evident's shipped test library, written in Rego, with
// Open Policy Agent, to compare OPA with Evident's CEL engine on the same synthetic
// inventory (issue 4 §6). It is a module of its own so that OPA never enters the product's
// dependencies.
package opa

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/evidenthq/evident/internal/monitor"
)

//go:embed policies/*.rego
var policyFS embed.FS

// Package returns the Rego package of a resource type's checks.
func Package(typ string) string { return "evident." + strings.ReplaceAll(typ, ".", "_") }

// Compile parses and compiles the policies.
func Compile() (*ast.Compiler, error) {
	names, err := fs.Glob(policyFS, "policies/*.rego")
	if err != nil {
		return nil, err
	}
	modules := map[string]*ast.Module{}
	for _, name := range names {
		src, err := policyFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		m, err := ast.ParseModuleWithOpts(name, string(src), ast.ParserOptions{RegoVersion: ast.RegoV1})
		if err != nil {
			return nil, err
		}
		modules[name] = m
	}
	c := ast.NewCompiler()
	c.Compile(modules)
	if c.Failed() {
		return nil, c.Errors
	}
	return c, nil
}

// Inventory is resources converted for OPA: each an AST object with id, name, type and its
// attributes, timestamps as nanoseconds since the epoch (Rego's time representation).
type Inventory struct {
	byType map[string][]ast.Value
	types  []string
}

// Convert converts resources for OPA. The conversion plays the part of building the CEL
// engine's resident inventory, so benchmarks leave it out of the timing.
func Convert(rs []*monitor.Resource) *Inventory {
	inv := &Inventory{byType: map[string][]ast.Value{}}
	for _, r := range rs {
		if _, ok := inv.byType[r.Type]; !ok {
			inv.types = append(inv.types, r.Type)
		}
		obj := ast.NewObject(
			ast.Item(ast.StringTerm("id"), ast.StringTerm(r.ExternalID)),
			ast.Item(ast.StringTerm("name"), ast.StringTerm(r.Name)),
			ast.Item(ast.StringTerm("type"), ast.StringTerm(r.Type)),
		)
		for k, v := range r.Attributes {
			if v == nil {
				continue
			}
			obj.Insert(ast.StringTerm(k), ast.NewTerm(value(v)))
		}
		inv.byType[r.Type] = append(inv.byType[r.Type], obj)
	}
	return inv
}

// Len returns the number of resources.
func (inv *Inventory) Len() int {
	n := 0
	for _, vs := range inv.byType {
		n += len(vs)
	}
	return n
}

func value(v any) ast.Value {
	switch x := v.(type) {
	case string:
		return ast.String(x)
	case bool:
		return ast.Boolean(x)
	case int:
		return ast.Number(fmt.Sprint(x))
	case int64:
		return ast.Number(fmt.Sprint(x))
	case float64:
		return ast.Number(fmt.Sprint(x))
	case time.Time:
		return ast.Number(fmt.Sprint(x.UnixNano()))
	case []string:
		terms := make([]*ast.Term, len(x))
		for i, e := range x {
			terms[i] = ast.StringTerm(e)
		}
		return ast.NewArray(terms...)
	case []any:
		terms := make([]*ast.Term, len(x))
		for i, e := range x {
			terms[i] = ast.NewTerm(value(e))
		}
		return ast.NewArray(terms...)
	case []map[string]any:
		terms := make([]*ast.Term, len(x))
		for i, e := range x {
			terms[i] = ast.NewTerm(value(e))
		}
		return ast.NewArray(terms...)
	case map[string]string:
		obj := ast.NewObject()
		for k, e := range x {
			obj.Insert(ast.StringTerm(k), ast.StringTerm(e))
		}
		return obj
	case map[string]any:
		obj := ast.NewObject()
		for k, e := range x {
			if e != nil {
				obj.Insert(ast.StringTerm(k), ast.NewTerm(value(e)))
			}
		}
		return obj
	}
	panic(fmt.Sprintf("opa: no conversion for %T", v))
}

// relatedKeys are the related() lookups the policies make, as the CEL library does.
var relatedKeys = []struct{ typ, field string }{
	{"aws.cloudtrail.trail", "account_id"},
	{"hr.person", "email"},
	{"okta.user", "email"},
	{"google.user", "email"},
	{"github.member", "email"},
	{"aws.iam.user", "email"},
}

// Counts are a test's verdicts.
type Counts struct{ Pass, Fail int }

// Evaluate judges every resource with its type's checks, as the CEL engine does: it builds
// the related() indexes into OPA's data, prepares one query per type, and evaluates it once
// per resource on the given number of goroutines. It returns the verdicts per test.
func Evaluate(ctx context.Context, compiler *ast.Compiler, inv *Inventory, now time.Time, workers int) (map[string]*Counts, error) {
	index := ast.NewObject()
	for _, k := range relatedKeys {
		by := map[string][]*ast.Term{}
		for _, v := range inv.byType[k.typ] {
			obj := v.(ast.Object)
			t := obj.Get(ast.StringTerm(k.field))
			if t == nil {
				continue
			}
			s, ok := t.Value.(ast.String)
			if !ok {
				continue
			}
			key := strings.ToLower(strings.TrimSpace(string(s)))
			if key != "" {
				by[key] = append(by[key], ast.NewTerm(v))
			}
		}
		keys := ast.NewObject()
		for key, terms := range by {
			keys.Insert(ast.StringTerm(key), ast.ArrayTerm(terms...))
		}
		typeObj := index.Get(ast.StringTerm(k.typ))
		if typeObj == nil {
			typeObj = ast.ObjectTerm()
			index.Insert(ast.StringTerm(k.typ), typeObj)
		}
		typeObj.Value.(ast.Object).Insert(ast.StringTerm(k.field), ast.NewTerm(keys))
	}
	data := ast.NewObject(
		ast.Item(ast.StringTerm("now_ns"), ast.IntNumberTerm(int(now.UnixNano()))),
		ast.Item(ast.StringTerm("index"), ast.NewTerm(index)),
	)
	store := inmem.NewFromASTObject(data)

	results := map[string]*Counts{}
	var mu sync.Mutex
	types := append([]string(nil), inv.types...)
	sort.Strings(types)
	for _, typ := range types {
		pq, err := rego.New(
			rego.Query("data."+Package(typ)+".results"),
			rego.Compiler(compiler),
			rego.Store(store),
		).PrepareForEval(ctx)
		if err != nil {
			return nil, fmt.Errorf("prepare %s: %w", typ, err)
		}
		values := inv.byType[typ]
		var wg sync.WaitGroup
		errs := make([]error, workers)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				local := map[string]*Counts{}
				for i := w; i < len(values); i += workers {
					rs, err := pq.Eval(ctx, rego.EvalParsedInput(values[i]))
					if err != nil {
						errs[w] = fmt.Errorf("%s: %w", typ, err)
						return
					}
					if len(rs) != 1 || len(rs[0].Expressions) != 1 {
						continue // the type has no checks
					}
					verdicts, _ := rs[0].Expressions[0].Value.(map[string]any)
					for id, v := range verdicts {
						c := local[id]
						if c == nil {
							c = &Counts{}
							local[id] = c
						}
						if v == "pass" {
							c.Pass++
						} else {
							c.Fail++
						}
					}
				}
				mu.Lock()
				defer mu.Unlock()
				for id, c := range local {
					if results[id] == nil {
						results[id] = &Counts{}
					}
					results[id].Pass += c.Pass
					results[id].Fail += c.Fail
				}
			}()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}
