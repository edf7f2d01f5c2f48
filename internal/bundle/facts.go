package bundle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/evidenthq/evident/internal/bundle/extsort"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// The writer gives each item the correction and retraction the ledger records of it. They
// come later in the ledger than the item's addition, and items are written in ledger
// order, so the writer reads the whole ledger first; to keep memory flat it does not hold
// what it finds in a map by item ID, but sorts it on disk. factCollector sorts the
// additions, corrections and retractions by item ID; byIndex joins them into the facts of
// each item's addition, sorted by its ledger index, which factCursor then reads alongside
// the items.

// Tags of factCollector's records, in the order a group of one item's records needs.
const (
	tagFact     = iota // the item is corrected or retracted: an itemFacts
	tagAddition        // the item is added at this index
)

// factCollector collects the ledger's evidence entries, keyed by the item they concern.
// Each record is the item ID, a tag and the entry's index, then what the tag carries.
type factCollector struct {
	s     *extsort.Sorter
	dir   string
	facts int64
	buf   []byte
}

func newFactCollector(dir string) *factCollector {
	return &factCollector{s: extsort.New(dir, sortMemory), dir: dir}
}

func (c *factCollector) close() { c.s.Close() }

func (c *factCollector) record(id int64, tag byte, index int64) []byte {
	b := binary.BigEndian.AppendUint64(c.buf[:0], uint64(id))
	b = append(b, tag)
	return binary.BigEndian.AppendUint64(b, uint64(index))
}

// add records what e says about evidence, if anything. An entry that cannot be read as
// what its type says is left to the item it concerns: writing that item fails.
func (c *factCollector) add(e *ledger.Entry) error {
	switch {
	case isAddition(e.Type):
		id, ok := evidenceID(e)
		if !ok {
			return nil
		}
		if err := c.s.Add(c.record(id, tagAddition, e.Index)); err != nil {
			return err
		}
		if e.Type == domain.EventEvidenceSuperseded {
			rec, err := parseAdded(e)
			if err != nil {
				return nil
			}
			return c.fact(rec.Supersedes, e.Index, itemFacts{sup: &supersedeFact{ID: rec.ID, Index: e.Index}})
		}
	case e.Type == domain.EventEvidenceRetracted:
		id, f, err := parseRetracted(e)
		if err != nil {
			return nil
		}
		return c.fact(id, e.Index, itemFacts{ret: &f})
	}
	return nil
}

func (c *factCollector) fact(id, index int64, f itemFacts) error {
	c.facts++
	c.buf = f.appendTo(c.record(id, tagFact, index))
	return c.s.Add(c.buf)
}

// byIndex returns the facts of each item that has some, sorted by the ledger index of
// its addition: each record is that index, the item's ID and its itemFacts. It returns
// nil when the ledger records no correction or retraction.
func (c *factCollector) byIndex() (*extsort.Sorter, error) {
	if c.facts == 0 {
		return nil, nil
	}
	if err := c.s.Sort(); err != nil {
		return nil, err
	}
	it, err := c.s.Iter()
	if err != nil {
		return nil, err
	}
	out := extsort.New(c.dir, sortMemory)
	var (
		group int64 = -1
		f     itemFacts
	)
	for it.Next() {
		rec := it.Record()
		if len(rec) < 17 {
			return nil, errShortFacts
		}
		id, tag, index, rest := int64(binary.BigEndian.Uint64(rec)), rec[8], int64(binary.BigEndian.Uint64(rec[9:])), rec[17:]
		if id != group {
			group, f = id, itemFacts{id: id}
		}
		switch tag {
		case tagFact:
			var g itemFacts
			if err := g.read(rest); err != nil {
				return nil, err
			}
			f.merge(&g)
		case tagAddition:
			if f.sup != nil || f.ret != nil {
				b := binary.BigEndian.AppendUint64(c.buf[:0], uint64(index))
				c.buf = f.appendTo(binary.BigEndian.AppendUint64(b, uint64(f.id)))
				if err := out.Add(c.buf); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := it.Err(); err != nil {
		return nil, err
	}
	c.s.Close()
	if err := out.Sort(); err != nil {
		out.Close()
		return nil, err
	}
	return out, nil
}

// itemFacts is the correction and retraction of item id, either nil: those the ledger
// records, or those an item of items.jsonl claims.
type itemFacts struct {
	id  int64
	sup *supersedeFact
	ret *retractFact
}

// supersededBy returns the correction of item id, if f has one.
func (f *itemFacts) supersededBy(id int64) *supersedeFact {
	if f == nil || f.id != id {
		return nil
	}
	return f.sup
}

// retraction returns the retraction of item id, if f has one.
func (f *itemFacts) retraction(id int64) *retractFact {
	if f == nil || f.id != id {
		return nil
	}
	return f.ret
}

// merge takes from g what f does not have yet: of several corrections or retractions of
// an item, the first the ledger records is the one that counts.
func (f *itemFacts) merge(g *itemFacts) {
	if f.sup == nil {
		f.sup = g.sup
	}
	if f.ret == nil {
		f.ret = g.ret
	}
}

// Flags of an encoded itemFacts.
const (
	hasSup = 1 << iota
	hasRet
)

// appendTo appends the correction and the retraction, not the item's ID; read reads them
// back from the rest of a record.
func (f *itemFacts) appendTo(b []byte) []byte {
	var flags byte
	if f.sup != nil {
		flags |= hasSup
	}
	if f.ret != nil {
		flags |= hasRet
	}
	b = append(b, flags)
	if f.sup != nil {
		b = binary.BigEndian.AppendUint64(b, uint64(f.sup.ID))
		b = binary.BigEndian.AppendUint64(b, uint64(f.sup.Index))
	}
	if f.ret != nil {
		b = binary.BigEndian.AppendUint64(b, uint64(f.ret.Index))
		b = appendRetraction(b, f.ret.At, f.ret.Reason)
	}
	return b
}

var errShortFacts = errors.New("a sorted record of corrections and retractions is cut short")

func (f *itemFacts) read(b []byte) error {
	if len(b) < 1 {
		return errShortFacts
	}
	f.sup, f.ret = nil, nil
	flags := b[0]
	b = b[1:]
	if flags&hasSup != 0 {
		if len(b) < 16 {
			return errShortFacts
		}
		f.sup = &supersedeFact{ID: int64(binary.BigEndian.Uint64(b)), Index: int64(binary.BigEndian.Uint64(b[8:]))}
		b = b[16:]
	}
	if flags&hasRet != 0 {
		if len(b) < 8 {
			return errShortFacts
		}
		at, reason, err := readRetraction(b[8:])
		if err != nil {
			return err
		}
		f.ret = &retractFact{Index: int64(binary.BigEndian.Uint64(b)), At: at, Reason: reason}
	}
	return nil
}

// appendRetraction appends a retraction's time and reason; readRetraction reads them back
// from the end of a record.
func appendRetraction(b []byte, at time.Time, reason string) []byte {
	t, _ := at.MarshalBinary()
	b = append(b, byte(len(t)))
	b = append(b, t...)
	return append(b, reason...)
}

func readRetraction(b []byte) (time.Time, string, error) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return time.Time{}, "", errShortFacts
	}
	var at time.Time
	if err := at.UnmarshalBinary(b[1 : 1+int(b[0])]); err != nil {
		return time.Time{}, "", fmt.Errorf("a sorted retraction: %w", err)
	}
	return at, string(b[1+int(b[0]):]), nil
}

// factCursor reads the facts by index alongside items in ledger order.
type factCursor struct {
	it    *extsort.Iter
	cur   itemFacts
	index int64
	have  bool
	done  bool
}

func newFactCursor(s *extsort.Sorter) (*factCursor, error) {
	if s == nil {
		return &factCursor{done: true}, nil
	}
	it, err := s.Iter()
	if err != nil {
		return nil, err
	}
	return &factCursor{it: it}, nil
}

// at returns the facts of the item added at index, or nil. Indexes must not decrease from
// one call to the next.
func (c *factCursor) at(index int64) (*itemFacts, error) {
	for !c.done && (!c.have || c.index < index) {
		if !c.it.Next() {
			if err := c.it.Err(); err != nil {
				return nil, err
			}
			c.done = true
			break
		}
		rec := c.it.Record()
		if len(rec) < 16 {
			return nil, errShortFacts
		}
		c.index = int64(binary.BigEndian.Uint64(rec))
		c.cur.id = int64(binary.BigEndian.Uint64(rec[8:]))
		if err := c.cur.read(rec[16:]); err != nil {
			return nil, err
		}
		c.have = true
	}
	if c.have && c.index == index {
		return &c.cur, nil
	}
	return nil, nil
}

// bitset is a set of small non-negative integers, a bit each.
type bitset []uint64

func newBitset(n int64) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int64) {
	if i >= 0 && i/64 < int64(len(b)) {
		b[i/64] |= 1 << (i % 64)
	}
}

func (b bitset) has(i int64) bool {
	return i >= 0 && i/64 < int64(len(b)) && b[i/64]&(1<<(i%64)) != 0
}
