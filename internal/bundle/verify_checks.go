package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"

	"github.com/evidenthq/evident/internal/bundle/extsort"
	"github.com/evidenthq/evident/internal/bundle/zipstream"
	"github.com/evidenthq/evident/internal/ledger"
)

// The verifier's memory does not grow with the number of items. What it checks in
// ledger order it checks as it reads; what must be matched out of order (an item's file
// against the members under files/, an item's claimed correction or retraction against
// the ledger entry that records it, later) it matches in lockstep when the bundle is laid
// out as Write lays it out, and otherwise writes to a sorter, which keeps a bounded
// amount in memory and the rest in a temporary file, to match at the end.

func (v *verifier) startChecks() {
	v.files = newFileChecker(v)
	v.claims = newClaimChecker(v)
}

// finishChecks matches what was left to match at the end.
func (v *verifier) finishChecks() error {
	if err := v.claims.finish(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if err := v.files.finish(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	return nil
}

// endChecks removes the temporary files.
func (v *verifier) endChecks() {
	v.files.s.Close()
	v.claims.s.Close()
}

// Tags of fileChecker's records, which start with the SHA-256 of a file and the tag, then
// a sequence number, then what the tag carries.
const (
	fileChecked   = iota // a member read in lockstep: its directory record, and what reading it found
	fileUnchecked        // a member not read in lockstep: its directory record
	fileRef              // an item whose file was not found in lockstep: its ID, size and title
)

// fileWindow is how many members under files/ fileChecker looks ahead for an item's file;
// Write puts them in the order of the items that first refer to them.
const fileWindow = 16

// recentFiles bounds how many checked files fileChecker remembers, for the items that
// share them. Tests lower it.
var recentFiles = 4096

// fileChecker checks the members under files/ against the items that refer to them. Each
// file is read once however many items share it; each member is either read when an item
// first refers to it or listed to be matched at the end.
type fileChecker struct {
	v *verifier
	// it walks the central directory a second time, alongside the items, and window
	// holds the next members under files/.
	it     *zipstream.Iterator
	window []fileMember
	walked bool
	recent map[[sha256.Size]byte]fileResult
	s      *extsort.Sorter
	seq    uint64
	h      hash.Hash
	buf    []byte
	rec    []byte
}

type fileMember struct {
	sha [sha256.Size]byte
	e   *zipstream.Entry
}

// fileResult is what reading a file found: its size (as far as it was read) and, if it is
// not the content its name promises, why.
type fileResult struct {
	size   int64
	reason string
}

func newFileChecker(v *verifier) *fileChecker {
	return &fileChecker{
		v:      v,
		it:     v.zr.Entries(),
		recent: make(map[[sha256.Size]byte]fileResult),
		s:      extsort.New(v.tempDir, sortMemory),
		h:      sha256.New(),
		buf:    make([]byte, 32<<10),
	}
}

// fill reads ahead in the directory until the window is full.
func (c *fileChecker) fill() {
	for !c.walked && len(c.window) < fileWindow {
		e, err := c.it.Next()
		if err != nil {
			if err != io.EOF {
				c.v.fileProblem("bundle", 0, "cannot be read: %s", zipDetail(err))
			}
			c.walked = true
			return
		}
		if !isFileMember(e.Name) {
			continue
		}
		m := fileMember{e: e}
		hex.Decode(m.sha[:], []byte(e.Name[len(filesDir):]))
		c.window = append(c.window, m)
	}
}

func (c *fileChecker) add(sha *[sha256.Size]byte, tag byte, build func(b []byte) []byte) {
	b := append(c.rec[:0], sha[:]...)
	b = append(b, tag)
	b = binary.BigEndian.AppendUint64(b, c.seq)
	c.seq++
	c.rec = build(b)
	if err := c.s.Add(c.rec); err != nil && c.v.tempErr == nil {
		c.v.tempErr = err
	}
}

func (c *fileChecker) unchecked(m *fileMember) {
	c.add(&m.sha, fileUnchecked, func(b []byte) []byte { return binary.BigEndian.AppendUint64(b, uint64(m.e.Record())) })
}

// ref checks the file of an item, now when it is the next member under files/ (or one of
// the next few) or one read recently, otherwise at the end.
func (c *fileChecker) ref(it *itemRecord) {
	var sha [sha256.Size]byte
	hex.Decode(sha[:], []byte(it.SHA256))
	if r, ok := c.recent[sha]; ok {
		c.report(filesDir+it.SHA256, it.ID, it.Title, it.Size, &r)
		return
	}
	c.fill()
	for k := range c.window {
		if c.window[k].sha != sha {
			continue
		}
		for j := range k {
			c.unchecked(&c.window[j])
		}
		m := c.window[k]
		c.window = c.window[:copy(c.window, c.window[k+1:])]
		r := c.read(m.e, it.Size)
		c.add(&sha, fileChecked, func(b []byte) []byte {
			b = binary.BigEndian.AppendUint64(b, uint64(m.e.Record()))
			b = binary.BigEndian.AppendUint64(b, uint64(r.size))
			return append(b, r.reason...)
		})
		if len(c.recent) >= recentFiles {
			clear(c.recent)
		}
		c.recent[sha] = r
		c.report(filesDir+it.SHA256, it.ID, it.Title, it.Size, &r)
		return
	}
	// Not where Write puts it: matched at the end. A full window moves on, so that
	// members no item refers to do not hold it up.
	if len(c.window) == fileWindow {
		c.unchecked(&c.window[0])
		c.window = c.window[:copy(c.window, c.window[1:])]
	}
	c.add(&sha, fileRef, func(b []byte) []byte {
		b = binary.BigEndian.AppendUint64(b, uint64(it.ID))
		b = binary.BigEndian.AppendUint64(b, uint64(it.Size))
		return append(b, it.Title...)
	})
}

// read checks that the content of member e hashes to its name, reading at most one byte
// more than the size an item gives it.
func (c *fileChecker) read(e *zipstream.Entry, size int64) fileResult {
	rc, err := c.v.zr.Open(e)
	if err != nil {
		return fileResult{reason: "cannot be read: " + zipDetail(err)}
	}
	defer rc.Close()
	c.h.Reset()
	n, err := io.CopyBuffer(c.h, io.LimitReader(rc, size+1), c.buf)
	if err != nil {
		return fileResult{size: n, reason: "cannot be read: " + zipDetail(err)}
	}
	want := e.Name[len(filesDir):]
	if sum := hex.EncodeToString(c.h.Sum(nil)); sum != want {
		return fileResult{size: n, reason: fmt.Sprintf("has content with the SHA-256 %s, not %s: the file was changed", sum, want)}
	}
	return fileResult{size: n}
}

// report reports what is wrong with the file, member name, of an item, if anything.
func (c *fileChecker) report(name string, id int64, title string, size int64, r *fileResult) {
	it := &itemRecord{ID: id, Title: title}
	switch {
	case r.reason != "":
		c.v.itemProblem(it, nil, name, 0, "its file %s", r.reason)
	case r.size != size:
		c.v.itemProblem(it, nil, name, 0, "its file has %d bytes, but items.jsonl says %d", r.size, size)
	}
}

// finish matches the items whose file was not found in lockstep with the members not
// read in lockstep, reports duplicate and unreferenced members, and compares the count
// and size of the files with the manifest.
func (c *fileChecker) finish() error {
	for n := 0; !c.walked || len(c.window) > 0; n++ {
		if n%256 == 0 {
			if err := c.v.ctx.Err(); err != nil {
				return err
			}
		}
		c.fill()
		for k := range c.window {
			c.unchecked(&c.window[k])
		}
		c.window = c.window[:0]
	}
	if c.v.tempErr != nil {
		return c.v.tempErr
	}
	if err := c.s.Sort(); err != nil {
		return err
	}
	iter, err := c.s.Iter()
	if err != nil {
		return err
	}
	var (
		count, total int64
		cur          [sha256.Size]byte
		started      bool
		members      int
		result       *fileResult
		res          fileResult
		unchecked    int64 = -1
		refs         int
	)
	end := func() {
		if members == 0 {
			return
		}
		count++
		switch {
		case result != nil:
			total += result.size
		case refs == 0:
			c.v.fileProblem(filesDir+hex.EncodeToString(cur[:]), 0, "is not the file of any item in items.jsonl")
		}
	}
	for n := 0; iter.Next(); n++ {
		if n%4096 == 0 {
			if err := c.v.ctx.Err(); err != nil {
				return err
			}
		}
		rec := iter.Record()
		if len(rec) < sha256.Size+9 {
			return errors.New("a sorted record of files is cut short")
		}
		if !started || !bytes.Equal(rec[:sha256.Size], cur[:]) {
			if started {
				end()
			}
			copy(cur[:], rec)
			started, members, result, unchecked, refs = true, 0, nil, -1, 0
		}
		tag, rest := rec[sha256.Size], rec[sha256.Size+9:]
		name := filesDir + hex.EncodeToString(cur[:])
		switch tag {
		case fileChecked, fileUnchecked:
			if len(rest) < 8 {
				return errors.New("a sorted record of files is cut short")
			}
			members++
			if members == 2 {
				c.v.fileProblem(name, 0, "the bundle has more than one member of this name, so tools may show different content")
			}
			if tag == fileChecked && result == nil && len(rest) >= 16 {
				res = fileResult{size: int64(binary.BigEndian.Uint64(rest[8:])), reason: string(rest[16:])}
				result = &res
			}
			if tag == fileUnchecked && unchecked < 0 {
				unchecked = int64(binary.BigEndian.Uint64(rest))
			}
		case fileRef:
			if len(rest) < 16 {
				return errors.New("a sorted record of files is cut short")
			}
			refs++
			id, size, title := int64(binary.BigEndian.Uint64(rest)), int64(binary.BigEndian.Uint64(rest[8:])), string(rest[16:])
			if members == 0 {
				c.v.itemProblem(&itemRecord{ID: id, Title: title}, nil, name, 0, "its file is missing from the bundle")
				continue
			}
			if result == nil {
				e, err := c.v.zr.EntryAt(unchecked)
				if err != nil {
					res = fileResult{reason: "cannot be read: " + zipDetail(err)}
				} else {
					res = c.read(e, size)
				}
				result = &res
			}
			c.report(name, id, title, size, result)
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if started {
		end()
	}
	if count != c.v.m.Files.Count || total != c.v.m.Files.Bytes {
		c.v.fileProblem(manifestName, 0, "says the bundle has %d files of %d bytes, but it has %d of %d", c.v.m.Files.Count, c.v.m.Files.Bytes, count, total)
	}
	c.v.rep.Files = count
	return nil
}

// Tags of claimChecker's records, which start with an item ID and the tag, then a
// sequence number (the line of items.jsonl or ledger.jsonl), then what the tag carries.
const (
	claimItem   = iota // an item: its title and the correction and retraction it claims
	claimLedger        // the ledger corrects or retracts the item: an itemFacts
)

// claimChecker compares the corrections and retractions items.jsonl claims with those the
// ledger records, both ways, and finds items that appear more than once. The ledger
// records a correction or retraction after the item it concerns, so they are matched at
// the end, by item ID; when there are none and the items come in ascending order of ID,
// there is nothing to match.
type claimChecker struct {
	v          *verifier
	s          *extsort.Sorter
	rec        []byte
	lastID     int64
	increasing bool
	claims     int64
}

func newClaimChecker(v *verifier) *claimChecker {
	return &claimChecker{v: v, s: extsort.New(v.tempDir, sortMemory), increasing: true}
}

func (c *claimChecker) start(id int64, tag byte, seq int) []byte {
	b := binary.BigEndian.AppendUint64(c.rec[:0], uint64(id))
	b = append(b, tag)
	return binary.BigEndian.AppendUint64(b, uint64(seq))
}

func (c *claimChecker) add(b []byte) {
	c.rec = b
	if err := c.s.Add(b); err != nil && c.v.tempErr == nil {
		c.v.tempErr = err
	}
}

// item records an item of items.jsonl, at line.
func (c *claimChecker) item(it *itemRecord, line int) {
	if it.ID <= c.lastID {
		c.increasing = false
	}
	c.lastID = it.ID
	f := itemFacts{id: it.ID}
	if sc := it.SupersededBy; sc != nil {
		c.claims++
		f.sup = &supersedeFact{ID: sc.ID, Index: sc.LedgerIndex}
	}
	if r := it.Retraction; r != nil {
		c.claims++
		f.ret = &retractFact{Index: r.LedgerIndex, At: r.At, Reason: r.Reason}
	}
	b := c.start(it.ID, claimItem, line)
	b = binary.AppendUvarint(b, uint64(len(it.Title)))
	b = append(b, it.Title...)
	c.add(f.appendTo(b))
}

// retraction records the retraction e, at line of the ledger.
func (c *claimChecker) retraction(e *ledger.Entry, line int) {
	id, f, err := parseRetracted(e)
	if err != nil {
		return
	}
	c.ledger(id, line, itemFacts{ret: &f})
}

// correction records that e, at line of the ledger, adds rec to correct another item.
func (c *claimChecker) correction(e *ledger.Entry, rec *evidenceRecord, line int) {
	c.ledger(rec.Supersedes, line, itemFacts{sup: &supersedeFact{ID: rec.ID, Index: e.Index}})
}

func (c *claimChecker) ledger(id int64, line int, f itemFacts) {
	c.claims++
	c.add(f.appendTo(c.start(id, claimLedger, line)))
}

// claimedItem is what items.jsonl says of an item.
type claimedItem struct {
	title string
	itemFacts
}

var errShortClaim = errors.New("a sorted record of items is cut short")

func readItem(b []byte) (claimedItem, error) {
	var it claimedItem
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return it, errShortClaim
	}
	it.title = string(b[k : k+int(n)])
	return it, it.read(b[k+int(n):])
}

// finish matches the claims with the ledger, item by item.
func (c *claimChecker) finish() error {
	if c.v.tempErr != nil {
		return c.v.tempErr
	}
	if c.claims == 0 && c.increasing {
		return nil
	}
	if err := c.s.Sort(); err != nil {
		return err
	}
	iter, err := c.s.Iter()
	if err != nil {
		return err
	}
	var (
		id       int64
		started  bool
		items    int
		title    string
		claimed  claimedItem
		recorded itemFacts
	)
	for n := 0; iter.Next(); n++ {
		if n%4096 == 0 {
			if err := c.v.ctx.Err(); err != nil {
				return err
			}
		}
		rec := iter.Record()
		if len(rec) < 17 {
			return errShortClaim
		}
		rid, tag, rest := int64(binary.BigEndian.Uint64(rec)), rec[8], rec[17:]
		if !started || rid != id {
			if started {
				c.compare(id, items, title, &claimed, &recorded)
			}
			id, started, items, title, claimed, recorded = rid, true, 0, "", claimedItem{}, itemFacts{}
		}
		switch tag {
		case claimItem:
			it, err := readItem(rest)
			if err != nil {
				return err
			}
			items++
			if items > 1 {
				c.v.problem(Problem{Item: &ItemRef{ID: id}, File: itemsName, Reason: "appears more than once"})
			} else {
				title = it.title
			}
			if it.sup != nil || it.ret != nil {
				claimed = it
			}
		case claimLedger:
			var f itemFacts
			if err := f.read(rest); err != nil {
				return err
			}
			recorded.merge(&f)
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if started {
		c.compare(id, items, title, &claimed, &recorded)
	}
	return nil
}

// compare compares the correction and retraction items.jsonl claims of item id with the
// first of each the ledger records. items is how many times the item appears, title its
// first title, and claimed its claims (those of the last duplicate that claims any).
func (c *claimChecker) compare(id int64, items int, title string, claimed *claimedItem, recorded *itemFacts) {
	problem := func(title string, entry int64, format string, args ...any) {
		c.v.problem(Problem{Item: &ItemRef{ID: id, Title: title}, Entry: entryRef(entry), Reason: fmt.Sprintf(format, args...)})
	}
	f, s := recorded.ret, recorded.sup
	if r := claimed.ret; r != nil {
		switch {
		case f == nil:
			problem(claimed.title, r.Index, "items.jsonl says it was retracted by ledger entry %d, but the ledger records no retraction of it", r.Index)
		case f.Index != r.Index:
			problem(claimed.title, f.Index, "items.jsonl says ledger entry %d retracted it, but the ledger records its retraction at entry %d", r.Index, f.Index)
		default:
			if !f.At.Equal(r.At) {
				problem(claimed.title, f.Index, "items.jsonl says it was retracted at %s, but ledger entry %d records %s", r.At.UTC().Format(time.RFC3339Nano), f.Index, f.At.UTC().Format(time.RFC3339Nano))
			}
			if f.Reason != r.Reason {
				problem(claimed.title, f.Index, "items.jsonl gives the retraction reason %q, but ledger entry %d records %q", r.Reason, f.Index, f.Reason)
			}
		}
	}
	if sc := claimed.sup; sc != nil {
		switch {
		case s == nil:
			problem(claimed.title, sc.Index, "items.jsonl says item %d corrected it at ledger entry %d, but the ledger records no correction of it", sc.ID, sc.Index)
		case s.ID != sc.ID || s.Index != sc.Index:
			problem(claimed.title, s.Index, "items.jsonl says item %d corrected it at ledger entry %d, but the ledger records item %d at entry %d", sc.ID, sc.Index, s.ID, s.Index)
		}
	}
	if items == 0 {
		return
	}
	if f != nil && claimed.ret == nil {
		problem(title, f.Index, "ledger entry %d retracts it (%q), but items.jsonl does not say so", f.Index, f.Reason)
	}
	if s != nil && claimed.sup == nil {
		problem(title, s.Index, "ledger entry %d adds item %d to correct it, but items.jsonl does not say so", s.Index, s.ID)
	}
}
