package monitor

import (
	"context"
	"fmt"
	"iter"
	"runtime"
	"strings"
	"sync"
	"time"

	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/interpreter"
)

// Status is the outcome of a test, for one resource or overall. It is a byte in memory,
// because a run holds one per verdict, and its name in JSON and text.
type Status uint8

// The statuses.
const (
	// StatusNone is the zero value: no verdict.
	StatusNone Status = iota
	StatusPass
	StatusFail
	StatusError // the test could not judge the resource (or could not run)
	// StatusNoData is a test that selected no resource: nothing to judge, which is not a pass.
	StatusNoData
)

var statusNames = [...]string{StatusNone: "", StatusPass: "pass", StatusFail: "fail", StatusError: "error", StatusNoData: "no_data"}

// String returns the status's name: "pass", "fail", "error" or "no_data".
func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Status) MarshalText() ([]byte, error) {
	if s == StatusNone || int(s) >= len(statusNames) {
		return nil, fmt.Errorf("monitor: invalid status %d", uint8(s))
	}
	return []byte(statusNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Status) UnmarshalText(text []byte) error {
	for i, name := range statusNames {
		if i != int(StatusNone) && name == string(text) {
			*s = Status(i)
			return nil
		}
	}
	return fmt.Errorf("monitor: unknown status %q", text)
}

// ResourceResult is a test's verdict on one resource, named by its external ID within the
// test's type (join with the inventory for the rest). A run holds one per judged resource,
// so it is kept small.
type ResourceResult struct {
	ExternalID string `json:"id"`
	// Message explains a failure (from the test's message expression; empty without one)
	// or an error.
	Message string `json:"message,omitempty"`
	Status  Status `json:"status"`
}

// TestResult is one test's outcome in a run.
type TestResult struct {
	TestID string `json:"test_id"`
	Type   string `json:"type"`
	// Status is fail when any resource failed, else error when any could not be judged or
	// the test could not run, else pass when any passed, else no_data.
	Status Status `json:"status"`
	Passed int    `json:"passed"`
	Failed int    `json:"failed"`
	Errors int    `json:"errors"`
	// Resources are the selected resources' verdicts, in inventory order.
	Resources []ResourceResult `json:"resources"`
	// Err says why the test could not run at all, such as the inventory failing to read
	// its type; empty otherwise.
	Err string `json:"error,omitempty"`
}

// Results is the outcome of a run.
type Results struct {
	At    time.Time    `json:"at"`
	Tests []TestResult `json:"tests"` // in the order of the programs evaluated
}

// Test returns the result of the test with the given ID.
func (r *Results) Test(id string) (*TestResult, bool) {
	for i := range r.Tests {
		if r.Tests[i].TestID == id {
			return &r.Tests[i], true
		}
	}
	return nil, false
}

// batchSize is how many resources a worker judges at a time.
const batchSize = 512

// Evaluate judges every program against the inventory at time now. Each type is read once
// for the programs that select it and judged by one worker per CPU; the indexes behind
// related() are built once per run, before the first type whose programs call them. An
// evaluation error is that resource's error, and an inventory error that test's error; the
// returned error is only the context's.
func Evaluate(ctx context.Context, programs []*Program, inv Inventory, now time.Time) (Results, error) {
	res := Results{At: now, Tests: make([]TestResult, len(programs))}
	r := &run{
		ctx:     ctx,
		inv:     inv,
		now:     types.Timestamp{Time: now},
		indexes: map[relatedKey]*relatedIndex{},
		workers: max(1, runtime.GOMAXPROCS(0)),
		free:    make(chan []ResourceResult, 256),
		batches: make(chan []entry, 64),
	}
	r.relatedOp = r.related
	var order []string
	byType := map[string][]int{}
	for i, p := range programs {
		res.Tests[i] = TestResult{TestID: p.test.ID, Type: p.test.Type}
		if _, ok := byType[p.test.Type]; !ok {
			order = append(order, p.test.Type)
		}
		byType[p.test.Type] = append(byType[p.test.Type], i)
	}
	for _, typ := range order {
		if err := ctx.Err(); err != nil {
			return Results{}, err
		}
		var group []int
		for _, i := range byType[typ] {
			if err := r.buildIndexes(programs[i].related); err != nil {
				if ctx.Err() != nil {
					return Results{}, ctx.Err()
				}
				res.Tests[i].Err = err.Error()
				continue
			}
			group = append(group, i)
		}
		if len(group) == 0 {
			continue
		}
		progs := make([]*Program, len(group))
		out := make([]*TestResult, len(group))
		for k, i := range group {
			progs[k] = programs[i]
			out[k] = &res.Tests[i]
		}
		if err := r.judgeType(typ, progs, out); err != nil {
			if ctx.Err() != nil {
				return Results{}, ctx.Err()
			}
			for _, tr := range out {
				tr.Err = fmt.Sprintf("read %s: %v", typ, err)
			}
		}
	}
	for i := range res.Tests {
		res.Tests[i].Status = overall(&res.Tests[i])
	}
	return res, nil
}

func overall(tr *TestResult) Status {
	switch {
	case tr.Failed > 0:
		return StatusFail
	case tr.Errors > 0 || tr.Err != "":
		return StatusError
	case tr.Passed > 0:
		return StatusPass
	}
	return StatusNoData
}

// run is the state of one evaluation.
type run struct {
	ctx       context.Context
	inv       Inventory
	now       ref.Val
	indexes   map[relatedKey]*relatedIndex // written between type passes only
	relatedOp functions.LateBoundOp
	workers   int
	// free holds verdict buffers: a worker fills one per program per batch, the collector
	// copies it to the test's verdicts in inventory order and hands it back, so a run
	// allocates buffers only for the few batches in flight.
	free chan []ResourceResult
	// batches holds the resource lists of collected batches, for the next ones to reuse.
	batches chan []entry
}

// entryBuffer returns an empty resource list for one batch.
func (r *run) entryBuffer() []entry {
	select {
	case b := <-r.batches:
		return b
	default:
		return make([]entry, 0, batchSize)
	}
}

// putEntries returns a batch's resource list once its verdicts are collected.
func (r *run) putEntries(b []entry) {
	clear(b)
	select {
	case r.batches <- b[:0]:
	default:
	}
}

// buffer returns an empty verdict buffer for one batch.
func (r *run) buffer() []ResourceResult {
	select {
	case b := <-r.free:
		return b
	default:
		return make([]ResourceResult, 0, batchSize)
	}
}

// putBuffer returns a verdict buffer once its verdicts are copied.
func (r *run) putBuffer(b []ResourceResult) {
	if cap(b) != batchSize {
		return
	}
	clear(b)
	select {
	case r.free <- b[:0]:
	default:
	}
}

type batch struct {
	seq int
	rs  []entry
	out [][]ResourceResult // per program; buffers recycled once collected
}

// entries yields the resources of a type as the engine reads them: a MemoryInventory's in
// the compact form it keeps them in, any other inventory's as it yields them.
func (r *run) entries(ctx context.Context, typ string) iter.Seq2[entry, error] {
	if m, ok := r.inv.(*MemoryInventory); ok {
		return m.entries(ctx, typ)
	}
	return func(yield func(entry, error) bool) {
		for res, err := range r.inv.Resources(ctx, typ) {
			if err != nil {
				yield(entry{}, err)
				return
			}
			if res == nil {
				continue
			}
			if !yield(entry{res: res}, nil) {
				return
			}
		}
	}
}

// judgeType streams the resources of one type through the workers and collects the verdicts
// of its programs in inventory order.
func (r *run) judgeType(typ string, progs []*Program, out []*TestResult) error {
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	in := make(chan *batch, r.workers*2)
	done := make(chan *batch, r.workers*2)
	var readErr error
	go func() {
		defer close(in)
		b := &batch{rs: r.entryBuffer()}
		for e, err := range r.entries(ctx, typ) {
			if err != nil {
				readErr = err
				return
			}
			b.rs = append(b.rs, e)
			if len(b.rs) == batchSize {
				select {
				case in <- b:
				case <-ctx.Done():
					readErr = ctx.Err()
					return
				}
				b = &batch{seq: b.seq + 1, rs: r.entryBuffer()}
			}
		}
		if len(b.rs) > 0 {
			select {
			case in <- b:
			case <-ctx.Done():
				readErr = ctx.Err()
			}
		}
	}()
	var wg sync.WaitGroup
	for range r.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(r, progs[0].typ)
			for b := range in {
				w.judge(b, progs)
				done <- b
			}
		}()
	}
	go func() {
		wg.Wait()
		close(done)
	}()
	// With a count of the type's resources, each test's verdicts are allocated once: for every
	// resource, or for a test with a where, for the share the first batch selected.
	count := -1
	if c, ok := r.inv.(Counter); ok {
		if n, err := c.Count(ctx, typ); err == nil {
			count = n
		}
	}
	pending := map[int]*batch{}
	next := 0
	for b := range done {
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			for k, rr := range nb.out {
				tr := out[k]
				if nb.seq == 0 && count >= 0 {
					n := count
					if progs[k].where != nil && len(nb.rs) > 0 {
						n = min(count, count*len(rr)/len(nb.rs)+count/10+batchSize)
					}
					tr.Resources = make([]ResourceResult, 0, n)
				}
				for _, v := range rr {
					switch v.Status {
					case StatusPass:
						tr.Passed++
					case StatusFail:
						tr.Failed++
					default:
						tr.Errors++
					}
				}
				tr.Resources = append(tr.Resources, rr...)
				r.putBuffer(rr)
			}
			r.putEntries(nb.rs)
			nb.rs = nil
		}
	}
	for _, tr := range out {
		if tr.Resources == nil {
			tr.Resources = []ResourceResult{}
		} else if cap(tr.Resources) > len(tr.Resources)+len(tr.Resources)/4+batchSize {
			// A selective where left much of the preallocation unused: give it back.
			tr.Resources = append([]ResourceResult(nil), tr.Resources...)
		}
	}
	// The producer has finished: the workers only stop once it closes in.
	return readErr
}

// worker judges batches; each has its own activation, reused for every resource.
type worker struct {
	run *run
	act activation
	obj object
}

func newWorker(r *run, typ *objectType) *worker {
	w := &worker{run: r, obj: object{typ: typ}}
	w.act = activation{now: r.now, related: r.relatedOp, resource: &w.obj}
	return w
}

// judge judges a batch for every program, leaving the verdicts in b.out.
func (w *worker) judge(b *batch, progs []*Program) {
	out := make([][]ResourceResult, len(progs))
	for _, e := range b.rs {
		w.obj.set(e)
		for k, p := range progs {
			w.act.params = p.params
			status, msg, selected := p.judge(&w.act)
			if !selected {
				continue
			}
			if out[k] == nil {
				out[k] = w.run.buffer()
			}
			out[k] = append(out[k], ResourceResult{ExternalID: e.res.ExternalID, Status: status, Message: msg})
		}
	}
	b.out = out
	w.obj.set(entry{})
}

// judge evaluates the program for the resource in act: whether the resource is selected,
// and if so its status and message.
func (p *Program) judge(act *activation) (Status, string, bool) {
	if p.where != nil {
		v, _, err := p.where.Eval(act)
		if err != nil {
			return StatusError, "where: " + err.Error(), true
		}
		b, ok := v.(types.Bool)
		if !ok {
			return StatusError, fmt.Sprintf("where: evaluated to %s, not a bool", typeName(v)), true
		}
		if !b {
			return StatusNone, "", false
		}
	}
	v, _, err := p.expr.Eval(act)
	if err != nil {
		return StatusError, err.Error(), true
	}
	b, ok := v.(types.Bool)
	if !ok {
		return StatusError, fmt.Sprintf("evaluated to %s, not a bool", typeName(v)), true
	}
	if b {
		return StatusPass, "", true
	}
	if p.message == nil {
		return StatusFail, "", true
	}
	m, _, err := p.message.Eval(act)
	if err != nil {
		return StatusFail, "(message: " + err.Error() + ")", true
	}
	if s, ok := m.(types.String); ok {
		return StatusFail, string(s), true
	}
	return StatusFail, fmt.Sprintf("(message: evaluated to %s, not a string)", typeName(m)), true
}

func typeName(v ref.Val) string {
	if v == nil {
		return "nothing"
	}
	return v.Type().TypeName()
}

// activation is the variables and late-bound functions of one evaluation.
type activation struct {
	resource ref.Val
	now      ref.Val
	params   ref.Val
	related  functions.LateBoundOp
}

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "resource":
		return a.resource, true
	case "now":
		return a.now, true
	case "params":
		return a.params, true
	}
	return nil, false
}

// Parent implements interpreter.Activation: there is none.
func (a *activation) Parent() interpreter.Activation { return nil }

// ResolveFunction implements interpreter.FunctionActivation: related() is bound to the
// run's indexes.
func (a *activation) ResolveFunction(name string) (functions.LateBoundOp, bool) {
	if name == "related" && a.related != nil {
		return a.related, true
	}
	return nil, false
}

// relatedIndex maps the normalized values of one field of one type to its resources. Most
// values belong to one resource, so the map holds the first and more lists the others.
type relatedIndex struct {
	typ   *objectType
	first map[string]entry
	more  map[string][]entry
}

func (idx *relatedIndex) add(key string, r entry) {
	if key == "" {
		return
	}
	if _, ok := idx.first[key]; !ok {
		idx.first[key] = r
		return
	}
	idx.more[key] = append(idx.more[key], r)
}

// normalizeKey is how related() compares values: emails differ in case between systems.
func normalizeKey(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// buildIndexes builds the indexes a program needs that this run has not built yet.
func (r *run) buildIndexes(keys []relatedKey) error {
	for _, k := range keys {
		if _, ok := r.indexes[k]; ok {
			continue
		}
		_, prov, _ := environment()
		ot, ok := prov.resourceType(k.typ)
		if !ok {
			return fmt.Errorf("related: unknown resource type %q", k.typ)
		}
		fi, ok := ot.field(k.field)
		if !ok {
			return fmt.Errorf("related: %s has no field %q", k.typ, k.field)
		}
		idx := &relatedIndex{typ: ot, first: map[string]entry{}, more: map[string][]entry{}}
		var obj object
		obj.typ = ot
		for res, err := range r.entries(r.ctx, k.typ) {
			if err != nil {
				return fmt.Errorf("read %s for related(): %w", k.typ, err)
			}
			obj.set(res)
			if !fi.isSet(&obj) {
				continue
			}
			switch v := fi.get(&obj).(type) {
			case types.String:
				idx.add(normalizeKey(string(v)), res)
			case traits.Lister:
				for it := v.Iterator(); it.HasNext() == types.True; {
					if s, ok := it.Next().(types.String); ok {
						idx.add(normalizeKey(string(s)), res)
					}
				}
			}
		}
		r.indexes[k] = idx
	}
	return nil
}

// related implements related(type, field, value) from the run's indexes.
func (r *run) related(_ string, args ...ref.Val) ref.Val {
	if len(args) != 3 {
		return types.NewErr("related: want 3 arguments, got %d", len(args))
	}
	typ, ok1 := args[0].(types.String)
	field, ok2 := args[1].(types.String)
	if !ok1 || !ok2 {
		return types.NewErr("related: the type and field must be strings")
	}
	idx, ok := r.indexes[relatedKey{typ: string(typ), field: string(field)}]
	if !ok {
		return types.NewErr("related(%q, %q): no index; name the type and field as quoted literals", string(typ), string(field))
	}
	value, ok := args[2].(types.String)
	if !ok {
		return types.NewErr("related: the value must be a string, not %s", typeName(args[2]))
	}
	key := normalizeKey(string(value))
	first, ok := idx.first[key]
	if !ok {
		return emptyList
	}
	more := idx.more[key]
	vals := make([]ref.Val, 1+len(more))
	vals[0] = newResourceObject(idx.typ, first)
	for i, res := range more {
		vals[i+1] = newResourceObject(idx.typ, res)
	}
	return types.NewRefValList(registryAdapter, vals)
}

var emptyList = types.NewRefValList(registryAdapter, nil)
