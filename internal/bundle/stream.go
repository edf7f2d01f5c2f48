package bundle

import (
	"fmt"
	"io"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/ledger"
)

// The verifier reads ledger.jsonl and items.jsonl each in a goroutine of its own, which
// parses the lines, while its main goroutine checks them in order and reports; parsing
// is most of the work, so on two cores this nearly halves the time.

// ledgerLine is one line of ledger.jsonl, parsed.
type ledgerLine struct {
	line  int
	leaf  tlog.Hash
	entry ledger.Entry
	// err says why the line is not a canonical ledger entry.
	err error
	// rec is the evidence record of an evidence.added entry, or recErr why it is not one.
	rec    *evidenceRecord
	recErr error
	// readErr ends the stream: the rest of the member could not be read.
	readErr error
	noLF    bool
}

// itemLine is one line of items.jsonl, parsed.
type itemLine struct {
	line    int
	item    itemRecord
	err     error
	readErr error
	noLF    bool
}

// batchSize is how many parsed lines go to the checking goroutine at once.
const batchSize = 128

// produce runs read in a new goroutine and returns what it emits, in batches. The
// goroutine ends when read returns or, at its next emit, when stop is closed.
func produce[T any](stop <-chan struct{}, read func(emit func(T) bool)) *stream[T] {
	ch := make(chan []T, 2)
	s := &stream[T]{ch: ch}
	go func() {
		defer close(ch)
		// A panic here would end the process, which may be a server; it ends the stream
		// with an error instead, which the checking goroutine returns.
		defer func() {
			if r := recover(); r != nil {
				s.err = fmt.Errorf("internal error while reading the bundle: %v", r)
			}
		}()
		batch := make([]T, 0, batchSize)
		emit := func(t T) bool {
			batch = append(batch, t)
			if len(batch) < batchSize {
				return true
			}
			select {
			case ch <- batch:
			case <-stop:
				return false
			}
			batch = make([]T, 0, batchSize)
			return true
		}
		read(emit)
		if len(batch) > 0 {
			select {
			case ch <- batch:
			case <-stop:
			}
		}
	}()
	return s
}

// stream hands out what a producer emitted, one at a time.
type stream[T any] struct {
	ch    <-chan []T
	batch []T
	i     int
	// err is set, before ch is closed, when the producer failed.
	err error
}

// next returns the next value, or false at the end of the stream; s.err then says
// whether the stream failed.
func (s *stream[T]) next() (*T, bool) {
	for s.i >= len(s.batch) {
		b, ok := <-s.ch
		if !ok {
			return nil, false
		}
		s.batch, s.i = b, 0
	}
	s.i++
	return &s.batch[s.i-1], true
}

// readLedgerLines parses the lines of ledger.jsonl.
func readLedgerLines(r io.Reader, emit func(ledgerLine) bool) {
	lr := newLineReader(r)
	for {
		line, err := lr.next()
		if err == io.EOF {
			return
		}
		if err != nil && err != errNoLineFeed {
			emit(ledgerLine{line: lr.line, readErr: err})
			return
		}
		l := ledgerLine{line: lr.line, noLF: err == errNoLineFeed, leaf: tlog.RecordHash(line)}
		l.entry, l.err = ledger.ParseEntry(line)
		if l.err == nil && isAddition(l.entry.Type) {
			if rec, err := parseAdded(&l.entry); err != nil {
				l.recErr = err
			} else {
				l.rec = &rec
			}
		}
		if !emit(l) {
			return
		}
	}
}

// readItemLines parses the lines of items.jsonl.
func readItemLines(r io.Reader, emit func(itemLine) bool) {
	lr := newLineReader(r)
	for {
		line, err := lr.next()
		if err == io.EOF {
			return
		}
		if err != nil && err != errNoLineFeed {
			emit(itemLine{line: lr.line, readErr: err})
			return
		}
		l := itemLine{line: lr.line, noLF: err == errNoLineFeed}
		l.item, l.err = parseItemLine(line)
		if !emit(l) {
			return
		}
	}
}
