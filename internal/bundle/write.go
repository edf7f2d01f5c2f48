package bundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"slices"
	"strings"
	"time"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/bundle/extsort"
	"github.com/evidenthq/evident/internal/bundle/zipstream"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// Write writes a bundle of the Source's evidence to w as a zip file, streaming: it keeps
// no content and no list of items, entries or files in memory; what it must remember per
// item (the zip's directory, the hashes of the files written, the ledger's corrections
// and retractions) goes to temporary files in opts.TempDir, removed before it returns,
// and to a bit per item. It reads the checkpoint first and exports the state of the
// ledger at that checkpoint: items recorded after it are left out (counted in
// Summary.Skipped), and corrections and retractions recorded after it are not shown.
//
// It fails, having written an incomplete zip, when the Source's ledger does not produce the
// checkpoint's root; when an item's metadata, correction or retraction differs from what
// the ledger records (the database was changed behind the ledger's back: the error names
// the item and the difference); when a file's content does not match its SHA-256; or when
// the items change while it reads them.
func Write(ctx context.Context, w io.Writer, src Source, opts WriteOptions) (Summary, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	bw := &bundleWriter{src: src, generated: now().UTC().Truncate(time.Second)}
	if err := bw.prepare(ctx, opts); err != nil {
		return Summary{}, err
	}
	bw.tempDir = opts.TempDir
	bw.zw = zipstream.NewWriter(w, zipstream.Options{TempDir: opts.TempDir})
	defer bw.release()
	for _, step := range []func(context.Context) error{
		bw.writeCheckpoint,
		bw.writeLedger,
		bw.writeItems,
		bw.writeFiles,
		bw.writeIndex,
		bw.writeReadme,
		bw.writeManifest,
	} {
		if err := step(ctx); err != nil {
			return Summary{}, err
		}
	}
	if err := bw.zw.Close(); err != nil {
		return Summary{}, fmt.Errorf("write bundle: %w", err)
	}
	m := &bw.m
	return Summary{
		Organization: m.Organization.Slug,
		Items:        m.Items.Count,
		Skipped:      m.Items.Skipped,
		Files:        m.Files.Count,
		FileBytes:    m.Files.Bytes,
		Entries:      m.Ledger.Entries,
		Checkpoint:   bw.cp,
	}, nil
}

type bundleWriter struct {
	src       Source
	zw        *zipstream.Writer
	tempDir   string
	generated time.Time
	filter    Filter
	cp        ledger.Checkpoint
	note      []byte
	key       string
	m         manifest
	// facts holds the corrections and retractions the ledger records, by the ledger
	// index of the item they concern (see factCollector.byIndex); nil when there are none.
	facts *extsort.Sorter
	// hashes holds the SHA-256 and place of every item written to items.jsonl, and
	// repeats marks the places of the items whose file an earlier item already has.
	hashes  *extsort.Sorter
	repeats bitset
	// digest is a hash of the items of the first pass, which every later pass must match.
	digest []byte
}

// sortMemory is how many bytes of records each of the writer's and the verifier's
// sorters keeps in memory before it writes them to a temporary file. Tests lower it.
var sortMemory = 256 << 10

// release frees what a failed write leaves: the zip's spooled directory and the sorters'
// temporary files.
func (bw *bundleWriter) release() {
	bw.zw.Abort()
	for _, s := range []*extsort.Sorter{bw.facts, bw.hashes} {
		if s != nil {
			s.Close()
		}
	}
}

// prepare reads the organization, the checkpoint and the filter, and fills the manifest's
// header.
func (bw *bundleWriter) prepare(ctx context.Context, opts WriteOptions) error {
	org, err := bw.src.Organization(ctx)
	if err != nil {
		return fmt.Errorf("write bundle: organization: %w", err)
	}
	note, key, err := bw.src.Checkpoint(ctx)
	if err != nil {
		return fmt.Errorf("write bundle: checkpoint: %w", err)
	}
	key = strings.TrimSpace(key)
	cp, err := ledger.ParseCheckpoint(note, key)
	if err != nil {
		return fmt.Errorf("write bundle: checkpoint: %w", err)
	}
	bw.cp, bw.note, bw.key = cp, note, key
	signerName, _, _ := strings.Cut(key, "+")

	var f filters
	if opts.Control != "" {
		c, err := bw.src.Control(ctx, opts.Control)
		if err != nil {
			return fmt.Errorf("write bundle: control %q: %w", opts.Control, err)
		}
		bw.filter.ControlID = c.ID
		f.Control = &controlRef{ID: c.ID, Ref: c.Ref, Title: c.Title}
	}
	if !opts.From.IsZero() {
		bw.filter.From = day(opts.From)
		f.From = &date{bw.filter.From}
	}
	if !opts.To.IsZero() {
		bw.filter.To = day(opts.To)
		f.To = &date{bw.filter.To}
	}
	if f.From != nil && f.To != nil && bw.filter.To.Before(bw.filter.From) {
		return domain.Invalid("to", "must not be before from")
	}
	bw.m = manifest{
		Format:       Format,
		Version:      Version,
		Organization: organization{ID: org.ID, Slug: org.Slug, Name: org.Name},
		GeneratedAt:  bw.generated,
		Filters:      f,
		Checkpoint: checkpointInfo{
			File:    checkpointName,
			KeyFile: keyName,
			Origin:  cp.Origin,
			Size:    cp.Size,
			Root:    b64Hash(cp.Root),
			Time:    cp.Time,
			KeyName: signerName,
		},
		Ledger: ledgerInfo{File: ledgerName, Entries: cp.Size, Encoding: "canonical ledger entries, one per line, in index order"},
		Items:  itemsInfo{File: itemsName},
		Files:  filesInfo{Dir: filesDir},
		Index:  indexInfo{File: indexName, Template: indexTemplateVersion},
		README: readmeName,
	}
	return nil
}

// day returns the UTC midnight of t's date.
func day(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// create starts a member of the zip. A large member is one whose size is not known
// beforehand and may pass 4 GiB.
func (bw *bundleWriter) create(name string, method uint16, large bool) (io.Writer, error) {
	w, err := bw.zw.Create(zipstream.Header{Name: name, Method: method, Modified: bw.generated, Large: large})
	if err != nil {
		return nil, fmt.Errorf("write bundle: %s: %w", name, err)
	}
	return w, nil
}

func (bw *bundleWriter) writeCheckpoint(context.Context) error {
	w, err := bw.create(checkpointName, zipstream.Deflate, false)
	if err != nil {
		return err
	}
	if _, err := w.Write(bw.note); err != nil {
		return fmt.Errorf("write bundle: %s: %w", checkpointName, err)
	}
	if w, err = bw.create(keyName, zipstream.Deflate, false); err != nil {
		return err
	}
	if _, err := io.WriteString(w, bw.key+"\n"); err != nil {
		return fmt.Errorf("write bundle: %s: %w", keyName, err)
	}
	return nil
}

// writeLedger writes the entries 0 to the checkpoint's size minus one, checks that they
// produce the checkpoint's root, and collects their corrections and retractions.
func (bw *bundleWriter) writeLedger(ctx context.Context) error {
	zw, err := bw.create(ledgerName, zipstream.Deflate, true)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(zw, 64<<10)
	facts := newFactCollector(bw.tempDir)
	defer facts.close()
	tree := newTreeHasher()
	var next int64
	var line []byte
	for e, err := range bw.src.Entries(ctx, bw.cp.Size) {
		if err != nil {
			return fmt.Errorf("write bundle: ledger entry %d: %w", next, err)
		}
		if next%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if e.Index != next {
			return fmt.Errorf("write bundle: ledger entry %d came where entry %d was due", e.Index, next)
		}
		if next >= bw.cp.Size {
			return fmt.Errorf("write bundle: the ledger yielded entry %d, beyond the checkpoint's size %d", e.Index, bw.cp.Size)
		}
		if e.OrgID != bw.m.Organization.ID {
			return fmt.Errorf("write bundle: ledger entry %d belongs to organization %d, not %d", e.Index, e.OrgID, bw.m.Organization.ID)
		}
		if line, err = e.Canonical(); err != nil {
			return fmt.Errorf("write bundle: ledger entry %d: %w", e.Index, err)
		}
		if err := tree.append(tlog.RecordHash(line)); err != nil {
			return fmt.Errorf("write bundle: ledger entry %d: %w", e.Index, err)
		}
		// Only additions, corrections and retractions matter here; every item's own entry
		// is read again when the item is.
		if err := facts.add(&e); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		line = append(line, '\n')
		if _, err := w.Write(line); err != nil {
			return fmt.Errorf("write bundle: %s: %w", ledgerName, err)
		}
		next++
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write bundle: %s: %w", ledgerName, err)
	}
	if next != bw.cp.Size {
		return fmt.Errorf("write bundle: the ledger has %d entries, fewer than the checkpoint's %d", next, bw.cp.Size)
	}
	root, err := tree.root()
	if err != nil {
		return fmt.Errorf("write bundle: ledger root: %w", err)
	}
	if root != bw.cp.Root {
		return fmt.Errorf("write bundle: the ledger's entries 0 to %d have the root %s, but the checkpoint says %s: the stored ledger does not match its checkpoint", bw.cp.Size-1, root, bw.cp.Root)
	}
	if bw.facts, err = facts.byIndex(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// pass is one of the three passes over the items.
type pass int

const (
	passItems pass = iota // items.jsonl: records checked against the ledger, with proofs
	passFiles             // files/: the content only
	passIndex             // index.html: records as items.jsonl has them
)

// items yields the Source's items recorded up to the checkpoint, in ledger order, with
// their place among them (0, 1, 2…) and their records for items.jsonl (without proofs,
// and none in passFiles); passItems counts the items recorded after the checkpoint.
// Except in passFiles it reads the ledger alongside, to take each item's time of addition
// from its entry and, in passItems, to refuse an item whose metadata the ledger
// contradicts, and the corrections and retractions the ledger records, in step. On its
// last item it checks the pass against the first one.
func (bw *bundleWriter) items(ctx context.Context, p pass, fn func(seq int64, it *Item, rec *itemRecord) error) error {
	var skipped *int64
	if p == passItems {
		skipped = &bw.m.Items.Skipped
	}
	next, stop := func() (ledger.Entry, error, bool) { return ledger.Entry{}, nil, false }, func() {}
	if p != passFiles {
		next, stop = iter.Pull2(bw.src.Entries(ctx, bw.cp.Size))
	}
	defer stop()
	var entry ledger.Entry
	have := false
	entryAt := func(index int64) (*ledger.Entry, error) {
		for !have || entry.Index < index {
			e, err, ok := next()
			switch {
			case !ok:
				return nil, fmt.Errorf("the ledger ended before entry %d", index)
			case err != nil:
				return nil, fmt.Errorf("reading the ledger up to entry %d: %w", index, err)
			}
			entry, have = e, true
		}
		if entry.Index != index {
			return nil, fmt.Errorf("the ledger has no entry %d", index)
		}
		return &entry, nil
	}

	var facts *factCursor
	if p != passFiles {
		var err error
		if facts, err = newFactCursor(bw.facts); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}

	d := sha256.New()
	prev := int64(-1)
	seq := int64(0)
	var buf [8]byte
	for it, err := range bw.src.Items(ctx, bw.filter) {
		if err != nil {
			return fmt.Errorf("write bundle: items: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		e := &it.Evidence
		if e.LedgerIndex <= prev {
			return fmt.Errorf("write bundle: items are not in ledger order: item %d (entry %d) came after entry %d", e.ID, e.LedgerIndex, prev)
		}
		prev = e.LedgerIndex
		if e.LedgerIndex >= bw.cp.Size {
			if skipped != nil {
				*skipped++
			}
			continue
		}
		if !blob.ValidSHA256(e.SHA256) {
			return fmt.Errorf("write bundle: item %d: sha256 %q is not a lower-case hex SHA-256", e.ID, e.SHA256)
		}
		d.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(e.ID)))
		d.Write(binary.BigEndian.AppendUint64(buf[:0], uint64(e.LedgerIndex)))
		d.Write([]byte(e.SHA256))
		seq++
		if p == passFiles {
			if err := fn(seq-1, &it, nil); err != nil {
				return err
			}
			continue
		}
		le, err := entryAt(e.LedgerIndex)
		if err != nil {
			return fmt.Errorf("write bundle: item %d: %w", e.ID, err)
		}
		f, err := facts.at(e.LedgerIndex)
		if err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		rec, err := bw.record(&it, le, f, p == passItems)
		if err != nil {
			return fmt.Errorf("write bundle: item %d %q: %w", e.ID, e.Title, err)
		}
		if err := fn(seq-1, &it, &rec); err != nil {
			return err
		}
	}
	sum := d.Sum(nil)
	if bw.digest == nil {
		bw.digest = sum
	} else if !bytes.Equal(sum, bw.digest) {
		return errors.New("write bundle: the evidence changed while the bundle was written; try again")
	}
	return nil
}

// record returns an item's line of items.jsonl, without its proof. Its time of addition
// is its ledger entry's, and its correction and retraction are those the ledger records
// up to the checkpoint: one recorded later is not part of the state the checkpoint
// proves. When check is set, it fails when the ledger contradicts the item, which means
// the database was changed behind the ledger's back.
func (bw *bundleWriter) record(it *Item, entry *ledger.Entry, facts *itemFacts, check bool) (itemRecord, error) {
	e := &it.Evidence
	rec := itemRecord{
		ID:          e.ID,
		Kind:        string(e.Kind),
		Title:       e.Title,
		Description: e.Description,
		Controls:    make([]controlRef, 0, len(it.Controls)),
		Period:      period{Start: date{day(e.PeriodStart)}, End: date{day(e.PeriodEnd)}},
		CollectedAt: e.CollectedAt.UTC(),
		Source:      e.Source,
		SHA256:      e.SHA256,
		Size:        e.Size,
		MediaType:   e.MediaType,
		FileName:    e.FileName,
		URL:         e.URL,
		AddedBy:     actor{ID: e.AddedBy, Name: e.AddedByName},
		AddedAt:     entry.At.UTC(),
		Supersedes:  e.Supersedes,
		LedgerIndex: e.LedgerIndex,
	}
	for _, id := range e.ControlIDs {
		i := slices.IndexFunc(it.Controls, func(c Control) bool { return c.ID == id })
		if i < 0 {
			return itemRecord{}, fmt.Errorf("the source gave no ref for its control %d", id)
		}
		rec.Controls = append(rec.Controls, controlRef(it.Controls[i]))
	}
	slices.SortFunc(rec.Controls, func(a, b controlRef) int { return strings.Compare(a.Ref, b.Ref) })
	if check {
		if !isAddition(entry.Type) {
			return itemRecord{}, fmt.Errorf("its ledger entry %d is a %s entry, not its addition", entry.Index, entry.Type)
		}
		lrec, err := parseAdded(entry)
		if err != nil {
			return itemRecord{}, fmt.Errorf("its ledger entry %d: %w", entry.Index, err)
		}
		if diffs := compareItem(&rec, &lrec, entry.Index); len(diffs) > 0 {
			return itemRecord{}, fmt.Errorf("the database disagrees with the ledger: %s", strings.Join(diffs, "; "))
		}
	}
	if f := facts.supersededBy(e.ID); f != nil {
		if e.SupersededBy == nil || *e.SupersededBy != f.ID {
			return itemRecord{}, fmt.Errorf("the database disagrees with the ledger: ledger entry %d adds item %d to correct it", f.Index, f.ID)
		}
		rec.SupersededBy = &supersedure{ID: f.ID, LedgerIndex: f.Index}
	}
	if f := facts.retraction(e.ID); f != nil {
		if e.RetractedAt == nil || e.RetractReason != f.Reason {
			return itemRecord{}, fmt.Errorf("the database disagrees with the ledger: ledger entry %d retracts it (%q)", f.Index, f.Reason)
		}
		rec.Retraction = &retraction{At: f.At.UTC(), Reason: f.Reason, LedgerIndex: f.Index}
	}
	return rec, nil
}

func (bw *bundleWriter) writeItems(ctx context.Context) error {
	hashes, err := bw.src.Hashes(ctx)
	if err != nil {
		return fmt.Errorf("write bundle: ledger hashes: %w", err)
	}
	zw, err := bw.create(itemsName, zipstream.Deflate, true)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(zw, 64<<10)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	bw.hashes = extsort.New(bw.tempDir, sortMemory)
	var key [sha256.Size + 8]byte
	err = bw.items(ctx, passItems, func(seq int64, _ *Item, rec *itemRecord) error {
		hex.Decode(key[:sha256.Size], []byte(rec.SHA256))
		binary.BigEndian.PutUint64(key[sha256.Size:], uint64(seq))
		if err := bw.hashes.Add(key[:]); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
		proof, err := ledger.InclusionProof(rec.LedgerIndex, bw.cp.Size, hashes)
		if err != nil {
			return fmt.Errorf("write bundle: item %d: %w", rec.ID, err)
		}
		rec.Proof = proofHashes(proof)
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("write bundle: %s: item %d: %w", itemsName, rec.ID, err)
		}
		bw.m.Items.Count++
		return nil
	})
	if err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write bundle: %s: %w", itemsName, err)
	}
	return nil
}

// findRepeats marks the items whose file an item before them already has, from the hashes
// of the items in order that writeItems collected.
func (bw *bundleWriter) findRepeats() error {
	bw.repeats = newBitset(bw.hashes.Len())
	if err := bw.hashes.Sort(); err != nil {
		return err
	}
	it, err := bw.hashes.Iter()
	if err != nil {
		return err
	}
	var prev [sha256.Size]byte
	first := true
	for it.Next() {
		rec := it.Record()
		if !first && bytes.Equal(rec[:sha256.Size], prev[:]) {
			bw.repeats.set(int64(binary.BigEndian.Uint64(rec[sha256.Size:])))
		}
		copy(prev[:], rec)
		first = false
	}
	if err := it.Err(); err != nil {
		return err
	}
	return bw.hashes.Close()
}

// writeFiles writes each distinct content once, where the first item that has it comes,
// checking it against its hash and size.
func (bw *bundleWriter) writeFiles(ctx context.Context) error {
	if err := bw.findRepeats(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	h := sha256.New()
	buf := make([]byte, 32<<10)
	return bw.items(ctx, passFiles, func(seq int64, it *Item, _ *itemRecord) error {
		e := &it.Evidence
		if bw.repeats.has(seq) {
			return nil
		}
		name := filesDir + e.SHA256
		zw, err := bw.create(name, methodFor(e.MediaType, e.Size), e.Size >= 1<<31)
		if err != nil {
			return err
		}
		rc, err := bw.src.Open(ctx, e)
		if err != nil {
			return fmt.Errorf("write bundle: item %d: open content: %w", e.ID, err)
		}
		n, err := copyHashing(zw, rc, h, buf)
		rc.Close()
		if err != nil {
			return fmt.Errorf("write bundle: item %d: copy content: %w", e.ID, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 || n != e.Size {
			return fmt.Errorf("write bundle: item %d: its content has SHA-256 %s and %d bytes, but the item records %s and %d bytes", e.ID, got, n, e.SHA256, e.Size)
		}
		bw.m.Files.Count++
		bw.m.Files.Bytes += n
		return nil
	})
}

// copyHashing copies r to w through h, which it resets first, and returns the bytes copied.
func copyHashing(w io.Writer, r io.Reader, h hash.Hash, buf []byte) (int64, error) {
	h.Reset()
	return io.CopyBuffer(io.MultiWriter(w, h), r, buf)
}

// smallFile is the size under which a file is stored as it is: deflating it would save a
// few hundred bytes at most, for a fixed cost (building its Huffman codes) that dominates
// writing and reading bundles of many small files.
const smallFile = 4 << 10

// methodFor chooses how a file is kept in the zip: stored as it is when it is small or
// its media type is already compressed, deflated otherwise.
func methodFor(mediaType string, size int64) uint16 {
	if size < smallFile {
		return zipstream.Store
	}
	mt, _, _ := strings.Cut(mediaType, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	switch {
	case strings.HasPrefix(mt, "image/") && mt != "image/svg+xml" && mt != "image/bmp",
		strings.HasPrefix(mt, "video/"), strings.HasPrefix(mt, "audio/"):
		return zipstream.Store
	}
	switch mt {
	case "application/zip", "application/gzip", "application/x-gzip", "application/pdf",
		"application/x-7z-compressed", "application/x-xz", "application/zstd", "application/x-bzip2",
		"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
		"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
		"application/vnd.openxmlformats-officedocument.presentationml.presentation":
		return zipstream.Store
	}
	return zipstream.Deflate
}

// writeIndex renders index.html from the items as items.jsonl has them: each record makes
// a round trip through JSON first, so that the page is exactly what the verifier renders
// from the bundle.
func (bw *bundleWriter) writeIndex(ctx context.Context) error {
	zw, err := bw.create(indexName, zipstream.Deflate, true)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(zw, 64<<10)
	var page pageWriter
	if err := page.start(w, newPageHeader(&bw.m, bw.key)); err != nil {
		return fmt.Errorf("write bundle: %s: %w", indexName, err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err = bw.items(ctx, passIndex, func(_ int64, _ *Item, rec *itemRecord) error {
		buf.Reset()
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("write bundle: item %d: %w", rec.ID, err)
		}
		var back itemRecord
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
			return fmt.Errorf("write bundle: item %d: %w", rec.ID, err)
		}
		if err := page.row(&back); err != nil {
			return fmt.Errorf("write bundle: %s: %w", indexName, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := page.finish(); err != nil {
		return fmt.Errorf("write bundle: %s: %w", indexName, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write bundle: %s: %w", indexName, err)
	}
	return nil
}

func (bw *bundleWriter) writeReadme(context.Context) error {
	w, err := bw.create(readmeName, zipstream.Deflate, false)
	if err != nil {
		return err
	}
	if err := writeReadme(w, newPageHeader(&bw.m, bw.key)); err != nil {
		return fmt.Errorf("write bundle: %s: %w", readmeName, err)
	}
	return nil
}

func (bw *bundleWriter) writeManifest(context.Context) error {
	w, err := bw.create(manifestName, zipstream.Deflate, false)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(&bw.m, "", "  ")
	if err != nil {
		return fmt.Errorf("write bundle: %s: %w", manifestName, err)
	}
	if _, err := w.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write bundle: %s: %w", manifestName, err)
	}
	return nil
}

// treeHasher computes an RFC 6962 tree root from leaf hashes appended in order, keeping
// only the O(log n) hashes of a compact range.
type treeHasher struct {
	rng *compact.Range
}

var rangeFactory = &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}

func newTreeHasher() *treeHasher {
	return &treeHasher{rng: rangeFactory.NewEmptyRange(0)}
}

func (t *treeHasher) append(leaf tlog.Hash) error {
	return t.rng.Append(leaf[:], nil)
}

func (t *treeHasher) size() int64 { return int64(t.rng.End()) }

func (t *treeHasher) root() (tlog.Hash, error) {
	if t.rng.End() == 0 {
		return ledger.TreeRoot(0, nil)
	}
	r, err := t.rng.GetRootHash(nil)
	if err != nil {
		return tlog.Hash{}, err
	}
	return tlog.Hash(r), nil
}
