// Package extsort sorts records of bytes in bounded memory: records are kept in memory up
// to a limit, then sorted and written to a temporary file as a run, and the runs are
// merged when read back.
//
// Records compare as byte strings (bytes.Compare), so a key is encoded big-endian at the
// start of the record. Records that compare equal keep the order they were added in.
package extsort

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
)

// MaxRecord is the longest record a Sorter takes.
const MaxRecord = 16 << 20

// mergeFanIn is how many runs are merged at once; more runs are first merged in groups.
const mergeFanIn = 16

// readBuffer is the buffer of each run being read.
const readBuffer = 8 << 10

// Sorter collects records and hands them back sorted. It is not safe for concurrent use.
type Sorter struct {
	dir   string
	limit int
	// arena holds the records in memory, each as a uvarint length and its bytes; recs
	// points at their bytes.
	arena  []byte
	recs   []span
	sorted bool // recs is sorted
	// file holds the runs written so far, one after another.
	file    *os.File
	removed bool
	fw      *bufio.Writer
	fileEnd int64
	runs    []run
	n       int64
	done    bool
	err     error
}

type span struct{ off, len uint32 }

type run struct{ off, len int64 }

// New returns a Sorter that keeps up to limit bytes of records in memory and writes its
// runs to a temporary file in dir (os.TempDir() when empty), created only if the records
// outgrow memory. Close removes it.
func New(dir string, limit int) *Sorter {
	limit = max(limit, 4<<10)
	return &Sorter{dir: dir, limit: limit}
}

// Add adds a copy of rec.
func (s *Sorter) Add(rec []byte) error {
	switch {
	case s.err != nil:
		return s.err
	case s.done:
		return errors.New("extsort: Add after Sort")
	case len(rec) > MaxRecord:
		return fmt.Errorf("extsort: a record of %d bytes is longer than %d", len(rec), MaxRecord)
	}
	if len(s.arena)+8*len(s.recs)+len(rec)+binary.MaxVarintLen32 > s.limit && len(s.recs) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	if s.arena == nil {
		// All at once, so that memory is the same however many records come.
		s.arena = make([]byte, 0, s.limit)
	}
	s.arena = binary.AppendUvarint(s.arena, uint64(len(rec)))
	s.recs = append(s.recs, span{off: uint32(len(s.arena)), len: uint32(len(rec))})
	s.arena = append(s.arena, rec...)
	s.n++
	return nil
}

// Len returns the number of records added.
func (s *Sorter) Len() int64 { return s.n }

func (s *Sorter) rec(sp span) []byte { return s.arena[sp.off : sp.off+sp.len] }

func (s *Sorter) sortMemory() {
	if s.sorted {
		return
	}
	cmp := func(a, b span) int { return bytes.Compare(s.rec(a), s.rec(b)) }
	if !slices.IsSortedFunc(s.recs, cmp) {
		slices.SortStableFunc(s.recs, cmp)
	}
	s.sorted = true
}

// spill writes the records in memory as a run.
func (s *Sorter) spill() error {
	s.sortMemory()
	if s.file == nil {
		f, err := os.CreateTemp(s.dir, "evident-sort-*")
		if err != nil {
			return s.fail(err)
		}
		s.removed = os.Remove(f.Name()) == nil
		s.file = f
		s.fw = bufio.NewWriterSize(f, 64<<10)
	}
	start := s.fileEnd
	var lenBuf [binary.MaxVarintLen32]byte
	for _, sp := range s.recs {
		n := binary.PutUvarint(lenBuf[:], uint64(sp.len))
		s.fw.Write(lenBuf[:n])
		s.fw.Write(s.rec(sp))
		s.fileEnd += int64(n) + int64(sp.len)
	}
	if err := s.fw.Flush(); err != nil {
		return s.fail(err)
	}
	s.runs = append(s.runs, run{off: start, len: s.fileEnd - start})
	s.arena, s.recs, s.sorted = s.arena[:0], s.recs[:0], false
	return nil
}

func (s *Sorter) fail(err error) error {
	if s.err == nil {
		s.err = fmt.Errorf("extsort: temporary file: %w", err)
	}
	return s.err
}

// Sort ends adding. The records still in memory stay there, sorted; the runs on disk are
// merged in groups until few enough remain to merge while reading.
func (s *Sorter) Sort() error {
	if s.err != nil {
		return s.err
	}
	if s.done {
		return nil
	}
	s.done = true
	s.sortMemory()
	for len(s.runs)+1 > mergeFanIn {
		group := s.runs[:mergeFanIn]
		start := s.fileEnd
		m, err := s.merge(group, false)
		if err != nil {
			return s.fail(err)
		}
		var lenBuf [binary.MaxVarintLen32]byte
		for m.Next() {
			rec := m.Record()
			n := binary.PutUvarint(lenBuf[:], uint64(len(rec)))
			s.fw.Write(lenBuf[:n])
			s.fw.Write(rec)
			s.fileEnd += int64(n) + int64(len(rec))
		}
		if err := m.Err(); err != nil {
			return s.fail(err)
		}
		if err := s.fw.Flush(); err != nil {
			return s.fail(err)
		}
		s.runs = append(slices.Clone(s.runs[mergeFanIn:]), run{off: start, len: s.fileEnd - start})
	}
	return nil
}

// Iter returns an iterator over the records in order. Sort must have been called; Iter may
// be called any number of times, and iterators may be used one after another but not
// after Close.
func (s *Sorter) Iter() (*Iter, error) {
	if s.err != nil {
		return nil, s.err
	}
	if !s.done {
		return nil, errors.New("extsort: Iter before Sort")
	}
	return s.merge(s.runs, true)
}

// merge returns an iterator over runs, and the records in memory if withMemory.
func (s *Sorter) merge(runs []run, withMemory bool) (*Iter, error) {
	it := &Iter{}
	for _, r := range runs {
		src := &runReader{r: bufio.NewReaderSize(io.NewSectionReader(s.file, r.off, r.len), readBuffer)}
		it.sources = append(it.sources, src)
	}
	if withMemory && len(s.recs) > 0 {
		it.sources = append(it.sources, &memReader{s: s})
	}
	for i, src := range it.sources {
		ok, err := src.next()
		if err != nil {
			return nil, err
		}
		if ok {
			it.heap = append(it.heap, heapItem{src: src, order: i})
		}
	}
	for i := len(it.heap)/2 - 1; i >= 0; i-- {
		it.down(i)
	}
	return it, nil
}

// Close removes the temporary file and frees the memory.
func (s *Sorter) Close() error {
	s.arena, s.recs = nil, nil
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	if !s.removed {
		if rerr := os.Remove(s.file.Name()); err == nil {
			err = rerr
		}
	}
	s.file, s.fw = nil, nil
	if s.err == nil {
		s.err = errors.New("extsort: closed")
	}
	return err
}

// source is a sorted sequence of records: a run on disk, or the records in memory.
type source interface {
	next() (bool, error)
	record() []byte
}

type runReader struct {
	r   *bufio.Reader
	buf []byte
}

func (r *runReader) next() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("extsort: reading a run: %w", err)
	}
	if n > MaxRecord {
		return false, fmt.Errorf("extsort: a run holds a record of %d bytes", n)
	}
	if uint64(cap(r.buf)) < n {
		r.buf = make([]byte, n)
	}
	r.buf = r.buf[:n]
	if _, err := io.ReadFull(r.r, r.buf); err != nil {
		return false, fmt.Errorf("extsort: reading a run: %w", err)
	}
	return true, nil
}

func (r *runReader) record() []byte { return r.buf }

type memReader struct {
	s *Sorter
	i int
}

func (m *memReader) next() (bool, error) {
	if m.i >= len(m.s.recs) {
		return false, nil
	}
	m.i++
	return true, nil
}

func (m *memReader) record() []byte { return m.s.rec(m.s.recs[m.i-1]) }

// Iter yields records in order.
type Iter struct {
	sources []source
	heap    []heapItem
	// cur is the source of the record last returned, advanced on the next call.
	cur source
	err error
}

type heapItem struct {
	src   source
	order int // earlier runs first among equal records
}

func (it *Iter) less(i, j int) bool {
	c := bytes.Compare(it.heap[i].src.record(), it.heap[j].src.record())
	return c < 0 || c == 0 && it.heap[i].order < it.heap[j].order
}

func (it *Iter) down(i int) {
	n := len(it.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && it.less(r, l) {
			m = r
		}
		if !it.less(m, i) {
			return
		}
		it.heap[i], it.heap[m] = it.heap[m], it.heap[i]
		i = m
	}
}

// Next advances to the next record and reports whether there is one.
func (it *Iter) Next() bool {
	if it.err != nil {
		return false
	}
	if it.cur != nil {
		ok, err := it.cur.next()
		if err != nil {
			it.err = err
			return false
		}
		if ok {
			it.down(0)
		} else {
			last := len(it.heap) - 1
			it.heap[0] = it.heap[last]
			it.heap = it.heap[:last]
			if last > 0 {
				it.down(0)
			}
		}
		it.cur = nil
	}
	if len(it.heap) == 0 {
		return false
	}
	it.cur = it.heap[0].src
	return true
}

// Record returns the current record, valid until the next call to Next.
func (it *Iter) Record() []byte { return it.cur.record() }

// Err returns the error that ended the iteration early, if any.
func (it *Iter) Err() error { return it.err }
