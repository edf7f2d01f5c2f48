package bundle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"slices"
	"sort"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/evidenthq/evident/internal/blob"
	"github.com/evidenthq/evident/internal/bundle/zipstream"
	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

// VerifyOptions holds what the auditor brings to a verification.
type VerifyOptions struct {
	// Key is the public key the auditor trusts for the organization's checkpoints, in the
	// signed-note encoding (as Evident shows it). When empty, the bundle's own key.txt is
	// used, which shows the bundle is intact but not who made it.
	Key string
	// Saved is the text of a checkpoint of the same ledger that the auditor saved earlier.
	// When set, Verify checks that the bundle's ledger holds exactly the entries that
	// checkpoint signed.
	Saved string
	// TempDir is where Verify keeps, in temporary files it removes before it returns,
	// what it must cross-check out of order, so that its memory does not grow with the
	// number of items. os.TempDir() when empty. A bundle of a few thousand items needs no
	// temporary file.
	TempDir string
}

// Limits on the members a verifier reads whole or line by line; bundles are outside data.
const (
	maxManifest   = 1 << 20
	maxKey        = 8 << 10
	maxCheckpoint = 128 << 10
	maxLine       = 8 << 20
)

// Verify checks a bundle with no database and no network, as the package documentation
// describes, and reports every problem it finds. It returns an error only when it cannot
// do its work: the context ends, opts.Key is not a public key, or a temporary file in
// opts.TempDir cannot be written. A bundle that is not a zip file, or not a bundle, gives
// a report with problems.
func Verify(ctx context.Context, r io.ReaderAt, size int64, opts VerifyOptions) (*Report, error) {
	v := &verifier{ctx: ctx, rep: &Report{}, tempDir: opts.TempDir}
	if k := strings.TrimSpace(opts.Key); k != "" {
		if _, err := note.NewVerifier(k); err != nil {
			return nil, fmt.Errorf("key: %q is not a public checkpoint key: %v", k, err)
		}
		v.givenKey = k
	}
	if err := v.run(r, size, opts); err != nil {
		return nil, err
	}
	v.summarize()
	return v.rep, nil
}

type verifier struct {
	ctx     context.Context
	rep     *Report
	tempDir string
	zr      *zipstream.Reader
	// fixed holds the first member of each name other than files/<sha256>.
	fixed      map[string]*zipstream.Entry
	m          manifest
	filter     Filter
	givenKey   string
	bundleKey  string
	trustedKey string
	cp         ledger.Checkpoint
	saved      *ledger.Checkpoint
	// files checks the members under files/ against the items that refer to them, and
	// claims the corrections and retractions items.jsonl claims against the ledger's.
	files  *fileChecker
	claims *claimChecker
	// tempErr is the first error writing to the checks' temporary files.
	tempErr error
	// itemsBroken is set when a line of items.jsonl could not be used, which makes the
	// comparison of index.html meaningless.
	itemsBroken bool
	page        *pageWriter
	pageHash    hash.Hash
}

func entryRef(i int64) *int64 { return &i }

func (v *verifier) problem(p Problem) {
	if len(v.rep.Problems) >= MaxProblems {
		v.rep.MoreProblems++
		return
	}
	v.rep.Problems = append(v.rep.Problems, p)
}

func (v *verifier) fileProblem(file string, line int, format string, args ...any) {
	v.problem(Problem{File: file, Line: line, Reason: fmt.Sprintf(format, args...)})
}

func (v *verifier) run(r io.ReaderAt, size int64, opts VerifyOptions) error {
	zr, err := zipstream.NewReader(r, size)
	if err != nil {
		v.fileProblem("bundle", 0, "not a zip file: %s", zipDetail(err))
		return nil
	}
	v.zr = zr
	if ok, err := v.indexMembers(); !ok || err != nil {
		return err
	}
	if !v.readManifest() {
		return nil
	}
	v.readCheckpoint(opts.Saved)
	v.startChecks()
	defer v.endChecks()
	if err := v.streamLedgerAndItems(); err != nil {
		return err
	}
	if err := v.finishChecks(); err != nil {
		return err
	}
	v.checkReadme()
	return nil
}

// zipDetail is what a zip error says, without the prefixes that would repeat "zip".
func zipDetail(err error) string {
	s := err.Error()
	for _, p := range []string{zipstream.ErrFormat.Error() + ": ", "zip: "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}

// memberNames are the names of the members other than the files, in the order Write
// writes them.
var memberNames = []string{checkpointName, keyName, ledgerName, itemsName, indexName, readmeName, manifestName}

// indexMembers walks the zip's central directory once: it notes where the members of
// fixed names are and reports duplicates, unknown members and missing ones. It reports
// false when the directory is malformed, which ends the verification.
func (v *verifier) indexMembers() (bool, error) {
	v.fixed = make(map[string]*zipstream.Entry, len(memberNames)+1)
	it := v.zr.Entries()
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := v.ctx.Err(); err != nil {
				return false, err
			}
		}
		e, err := it.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			v.fileProblem("bundle", 0, "not a zip file: %s", zipDetail(err))
			return false, nil
		}
		name := e.Name
		switch {
		case slices.Contains(memberNames, name), name == filesDir:
			if v.fixed[name] != nil {
				v.fileProblem(name, 0, "the bundle has more than one member of this name, so tools may show different content")
				continue
			}
			v.fixed[name] = e
		case isFileMember(name):
			// Checked with the items, by fileChecker.
		default:
			v.fileProblem(name, 0, "not part of an evidence bundle, which has only %s, %s, %s, %s, %s, %s, %s and files/<sha256>",
				manifestName, itemsName, ledgerName, checkpointName, keyName, indexName, readmeName)
		}
	}
	for _, name := range []string{manifestName, itemsName, ledgerName, checkpointName, keyName, indexName, readmeName} {
		if v.fixed[name] == nil {
			v.fileProblem(name, 0, "missing from the bundle")
		}
	}
	return true, nil
}

// isFileMember reports whether name is that of an item's file, files/<sha256>.
func isFileMember(name string) bool {
	return strings.HasPrefix(name, filesDir) && blob.ValidSHA256(name[len(filesDir):])
}

// open opens the member called name, or returns nil when it is missing (which
// indexMembers has reported).
func (v *verifier) open(name string) (io.ReadCloser, error) {
	e := v.fixed[name]
	if e == nil {
		return nil, nil
	}
	rc, err := v.zr.Open(e)
	if err != nil {
		return nil, errors.New(zipDetail(err))
	}
	return zipErrors{rc}, nil
}

// zipErrors reports the errors of reading a member without the prefixes of zip errors.
type zipErrors struct{ io.ReadCloser }

func (z zipErrors) Read(p []byte) (int, error) {
	n, err := z.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = errors.New(zipDetail(err))
	}
	return n, err
}

// readSmall reads a member whole, up to limit bytes; it reports a problem and returns nil
// when it cannot.
func (v *verifier) readSmall(name string, limit int64) []byte {
	rc, err := v.open(name)
	if rc == nil && err == nil {
		return nil
	}
	if err != nil {
		v.fileProblem(name, 0, "cannot be read: %v", err)
		return nil
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	switch {
	case err != nil:
		v.fileProblem(name, 0, "cannot be read: %v", err)
		return nil
	case int64(len(b)) > limit:
		v.fileProblem(name, 0, "is larger than the %d bytes it may have", limit)
		return nil
	}
	return b
}

// readManifest reads manifest.json; without it nothing else can be checked.
func (v *verifier) readManifest() bool {
	b := v.readSmall(manifestName, maxManifest)
	if b == nil {
		return false
	}
	m, err := parseManifest(b)
	if err != nil {
		v.fileProblem(manifestName, 0, "%v", err)
		return false
	}
	v.m = m
	v.rep.Organization = m.Organization.Slug
	if m.Filters.Control != nil {
		v.filter.ControlID = m.Filters.Control.ID
	}
	if m.Filters.From != nil {
		v.filter.From = m.Filters.From.Time
	}
	if m.Filters.To != nil {
		v.filter.To = m.Filters.To.Time
	}
	return true
}

// parseManifest reads manifest.json strictly. Errors name the member at fault.
func parseManifest(b []byte) (manifest, error) {
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return manifest{}, fmt.Errorf("not JSON: %v", err)
	}
	if head.Format != Format {
		return manifest{}, fmt.Errorf("format is %q, not %q: this is not an Evident evidence bundle", head.Format, Format)
	}
	if head.Version != Version {
		return manifest{}, fmt.Errorf("version %d is not supported; this verifier reads version %d", head.Version, Version)
	}
	var m manifest
	if err := decodeStrict(b, &m); err != nil {
		return manifest{}, err
	}
	for _, f := range []struct{ member, got, want string }{
		{"checkpoint.file", m.Checkpoint.File, checkpointName},
		{"checkpoint.key_file", m.Checkpoint.KeyFile, keyName},
		{"ledger.file", m.Ledger.File, ledgerName},
		{"items.file", m.Items.File, itemsName},
		{"files.dir", m.Files.Dir, filesDir},
		{"index.file", m.Index.File, indexName},
		{"readme", m.README, readmeName},
	} {
		if f.got != f.want {
			return manifest{}, fmt.Errorf("%s is %q; version %d bundles name it %q", f.member, f.got, Version, f.want)
		}
	}
	switch {
	case m.Organization.ID <= 0:
		return manifest{}, fmt.Errorf("organization.id %d is not an ID", m.Organization.ID)
	case m.Checkpoint.Size < 0:
		return manifest{}, fmt.Errorf("checkpoint.size %d is negative", m.Checkpoint.Size)
	case m.Ledger.Entries != m.Checkpoint.Size:
		return manifest{}, fmt.Errorf("ledger.entries %d differs from checkpoint.size %d", m.Ledger.Entries, m.Checkpoint.Size)
	case m.Filters.Control != nil && m.Filters.Control.ID <= 0:
		return manifest{}, fmt.Errorf("filters.control.id %d is not an ID", m.Filters.Control.ID)
	}
	return m, nil
}

// readCheckpoint checks key.txt and checkpoint.txt against the key the auditor trusts,
// and the saved checkpoint if any. The checks that follow use the checkpoint when it
// verifies with some key, and otherwise what the manifest claims of it.
func (v *verifier) readCheckpoint(saved string) {
	v.cp = ledger.Checkpoint{Origin: v.m.Checkpoint.Origin, Size: v.m.Checkpoint.Size, Root: tlog.Hash(v.m.Checkpoint.Root), Time: v.m.Checkpoint.Time}
	v.rep.Checkpoint = v.cp
	if b := v.readSmall(keyName, maxKey); b != nil {
		v.bundleKey = strings.TrimSpace(string(b))
		if _, err := note.NewVerifier(v.bundleKey); err != nil {
			v.fileProblem(keyName, 0, "not a public checkpoint key: %v", err)
			v.bundleKey = ""
		}
	}
	v.trustedKey = v.givenKey
	if v.givenKey == "" {
		v.trustedKey = v.bundleKey
		v.rep.KeyFromBundle = true
		v.rep.Notes = append(v.rep.Notes, "the checkpoint was checked with the bundle's own key.txt; pass the organization's public key (--key) to check who signed it")
	}
	differs := v.givenKey != "" && v.bundleKey != "" && v.bundleKey != v.givenKey
	if differs {
		v.fileProblem(keyName, 0, "checkpoint signed by another key: the bundle's key is %s, but the key given is %s", describeKey(v.bundleKey), describeKey(v.givenKey))
	}
	if v.trustedKey != "" {
		v.rep.KeyName = describeKey(v.trustedKey)
	}
	text := v.readSmall(checkpointName, maxCheckpoint)
	if text == nil || v.trustedKey == "" {
		return
	}
	cpKey := v.trustedKey
	cp, err := ledger.ParseCheckpoint(text, v.trustedKey)
	if err != nil {
		if !differs || !errors.Is(err, ledger.ErrUnknownKey) {
			v.fileProblem(checkpointName, 0, "%v", err)
		}
		// Go on with the bundle's own key, if that verifies, so the report can still say
		// what else is wrong.
		if !differs {
			return
		}
		if cp, err = ledger.ParseCheckpoint(text, v.bundleKey); err != nil {
			return
		}
		cpKey = v.bundleKey
	}
	v.cp = cp
	v.rep.Checkpoint = cp
	mc := &v.m.Checkpoint
	if mc.Origin != cp.Origin || mc.Size != cp.Size || tlog.Hash(mc.Root) != cp.Root || !mc.Time.Equal(cp.Time) {
		v.fileProblem(manifestName, 0, "describes the checkpoint as log %q, size %d, root %s, time %s, but checkpoint.txt has log %q, size %d, root %s, time %s",
			mc.Origin, mc.Size, tlog.Hash(mc.Root), formatTime(mc.Time), cp.Origin, cp.Size, cp.Root, formatTime(cp.Time))
	}
	if v.m.Checkpoint.KeyName != keyNameOf(cpKey) {
		v.fileProblem(manifestName, 0, "names the signing key %q, but the key is %q", v.m.Checkpoint.KeyName, keyNameOf(cpKey))
	}

	if strings.TrimSpace(saved) == "" {
		return
	}
	sc, err := ledger.ParseCheckpoint([]byte(saved), v.trustedKey)
	if err != nil {
		v.fileProblem(SavedCheckpoint, 0, "%v", err)
		return
	}
	v.rep.Saved = &sc
	switch {
	case sc.Origin != cp.Origin:
		v.fileProblem(SavedCheckpoint, 0, "is of the log %q, but the bundle's checkpoint is of %q", sc.Origin, cp.Origin)
	case sc.Size > cp.Size:
		v.fileProblem(SavedCheckpoint, 0, "has %d entries, more than the bundle's checkpoint's %d: the ledger lost entries since it was saved, or the bundle is older than it", sc.Size, cp.Size)
	case sc.Size == cp.Size && sc.Root != cp.Root:
		v.fileProblem(SavedCheckpoint, 0, "has the same size %d as the bundle's checkpoint but the root %s, not %s: the ledger was rewritten", sc.Size, sc.Root, cp.Root)
	default:
		v.saved = &sc
	}
}

// describeKey names a public key by its name and key hash, as signatures show them.
func describeKey(vkey string) string {
	nv, err := note.NewVerifier(vkey)
	if err != nil {
		return strings.TrimSpace(vkey)
	}
	return fmt.Sprintf("%s+%08x", nv.Name(), nv.KeyHash())
}

func keyNameOf(vkey string) string {
	name, _, _ := strings.Cut(vkey, "+")
	return name
}

// lineReader reads a member line by line, each line at most maxLine bytes.
type lineReader struct {
	r    *bufio.Reader
	line int
	buf  []byte
}

var (
	errLineTooLong = fmt.Errorf("longer than %d bytes", maxLine)
	errNoLineFeed  = errors.New("the last line does not end with a line feed")
)

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next line without its line feed, valid until the next call, or
// io.EOF. A last line without a line feed comes with errNoLineFeed.
func (l *lineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		l.buf = append(l.buf, chunk...)
		if len(l.buf) > maxLine {
			l.line++
			return nil, errLineTooLong
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(l.buf) == 0:
			return nil, io.EOF
		case err == io.EOF:
			l.line++
			return l.buf, errNoLineFeed
		case err != nil:
			return nil, err
		}
		l.line++
		return l.buf[:len(l.buf)-1], nil
	}
}

// sequence follows the indexes of the ledger's lines, which must be 0, 1, 2… up to the
// checkpoint's size minus one, and tells what is wrong with those that are not.
type sequence struct {
	size int64
	next int64 // one more than the highest index below size seen
	// gaps are the ranges [lo, hi) skipped so far, in order; capped so that hostile input
	// cannot make the search through them quadratic.
	gaps      [][2]int64
	overflow  bool
	beyond    int64
	beyondMin int64
	broken    bool
}

// see records index x and returns why it is out of place, or "".
func (s *sequence) see(x int64) string {
	switch {
	case x >= s.size:
		if s.beyond == 0 || x < s.beyondMin {
			s.beyondMin = x
		}
		s.beyond++
		s.broken = true
		return ""
	case x == s.next:
		s.next++
		return ""
	case x > s.next:
		if len(s.gaps) < MaxProblems {
			s.gaps = append(s.gaps, [2]int64{s.next, x})
		} else {
			s.overflow = true
		}
		s.next = x + 1
		s.broken = true
		return ""
	}
	s.broken = true
	k := sort.Search(len(s.gaps), func(k int) bool { return s.gaps[k][1] > x })
	if k < len(s.gaps) && s.gaps[k][0] <= x {
		g := s.gaps[k]
		switch {
		case g[0] == x && g[1] == x+1:
			s.gaps = slices.Delete(s.gaps, k, k+1)
		case g[0] == x:
			s.gaps[k][0] = x + 1
		case g[1] == x+1:
			s.gaps[k][1] = x
		default:
			s.gaps[k][1] = x
			s.gaps = slices.Insert(s.gaps, k+1, [2]int64{x + 1, g[1]})
		}
		return fmt.Sprintf("is out of order: it comes after entry %d", s.next-1)
	}
	if s.overflow {
		return fmt.Sprintf("is out of order or appears more than once: it comes after entry %d", s.next-1)
	}
	return "appears more than once"
}

// streamLedgerAndItems reads ledger.jsonl and items.jsonl side by side, both in ledger
// order: it checks every entry and recomputes the tree, checks each item against its
// entry, and renders index.html as it goes.
func (v *verifier) streamLedgerAndItems() error {
	lrc, err := v.open(ledgerName)
	if err != nil {
		v.fileProblem(ledgerName, 0, "cannot be read: %v", err)
	}
	if lrc != nil {
		defer lrc.Close()
	}
	irc, err := v.open(itemsName)
	if err != nil {
		v.fileProblem(itemsName, 0, "cannot be read: %v", err)
	}
	if irc != nil {
		defer irc.Close()
	}
	v.startPage()
	return v.checkStreams(lrc, irc)
}

// checkStreams is the body of streamLedgerAndItems, on any readers (nil for a missing
// member).
func (v *verifier) checkStreams(lrc, irc io.Reader) error {
	stop := make(chan struct{})
	defer close(stop)
	items := &itemCursor{v: v}
	if irc != nil {
		items.in = produce(stop, func(emit func(itemLine) bool) { readItemLines(irc, emit) })
	}
	items.advance()

	seq := &sequence{size: v.cp.Size}
	tree := newTreeHasher()
	lines := int64(0)
	unreadable := false
	lastIndex := int64(-1)
	if v.saved != nil && v.saved.Size == 0 {
		v.checkSavedRoot(tree)
	}
	if lrc != nil {
		in := produce(stop, func(emit func(ledgerLine) bool) { readLedgerLines(lrc, emit) })
		for {
			if lines%1024 == 0 {
				if err := v.ctx.Err(); err != nil {
					return err
				}
			}
			l, ok := in.next()
			if !ok {
				if in.err != nil {
					return in.err
				}
				break
			}
			if l.readErr != nil {
				if l.readErr == errLineTooLong {
					v.fileProblem(ledgerName, l.line, "%v; the rest of the ledger was not read", l.readErr)
				} else {
					v.fileProblem(ledgerName, l.line, "cannot be read: %v; the rest of the ledger was not read", l.readErr)
				}
				unreadable = true
				break
			}
			if l.noLF {
				v.fileProblem(ledgerName, l.line, "%v", errNoLineFeed)
			}
			lines++
			if err := tree.append(l.leaf); err != nil {
				return fmt.Errorf("ledger tree: %w", err)
			}
			if v.saved != nil && tree.size() == v.saved.Size {
				v.checkSavedRoot(tree)
			}
			if l.err != nil {
				v.problem(Problem{File: ledgerName, Line: l.line, Reason: fmt.Sprintf("not a canonical ledger entry: %v", l.err)})
				unreadable = true
				continue
			}
			v.checkEntry(&l.entry, l.line, seq)
			lastIndex = max(lastIndex, l.entry.Index)
			v.mergeItems(l, items)
		}
	}

	for ; items.cur != nil; items.advance() {
		it := items.cur
		reason := fmt.Sprintf("its ledger entry %d is not in ledger.jsonl", it.LedgerIndex)
		if it.LedgerIndex >= v.cp.Size {
			reason = fmt.Sprintf("its ledger entry %d is beyond the checkpoint's tree size %d, so the checkpoint does not prove it", it.LedgerIndex, v.cp.Size)
		} else if it.LedgerIndex <= lastIndex {
			reason = fmt.Sprintf("its ledger entry %d is not in ledger.jsonl where ledger order puts it", it.LedgerIndex)
		}
		v.itemProblem(it, &it.LedgerIndex, "", 0, "%s", reason)
	}
	if items.in != nil && items.in.err != nil {
		return items.in.err
	}
	v.rep.Items = items.count
	if items.count != v.m.Items.Count && items.in != nil {
		v.fileProblem(itemsName, 0, "has %d items, but manifest.json says %d", items.count, v.m.Items.Count)
	}
	v.finishPage()

	v.rep.Entries = lines
	if lrc == nil {
		return nil
	}
	if seq.next < seq.size && !unreadable {
		if len(seq.gaps) < MaxProblems {
			seq.gaps = append(seq.gaps, [2]int64{seq.next, seq.size})
		}
		seq.broken = true
	}
	for _, g := range seq.gaps {
		if g[1]-g[0] == 1 {
			v.problem(Problem{Entry: entryRef(g[0]), File: ledgerName, Reason: "is missing"})
		} else {
			v.problem(Problem{Entry: entryRef(g[0]), File: ledgerName, Reason: fmt.Sprintf("is missing, and so are the entries up to %d", g[1]-1)})
		}
	}
	switch {
	case seq.beyond == 1:
		v.problem(Problem{Entry: entryRef(seq.beyondMin), File: ledgerName, Reason: fmt.Sprintf("is beyond the checkpoint's tree size %d", seq.size)})
	case seq.beyond > 1:
		v.problem(Problem{Entry: entryRef(seq.beyondMin), File: ledgerName, Reason: fmt.Sprintf("is beyond the checkpoint's tree size %d, and so are %d more entries", seq.size, seq.beyond-1)})
	}
	if v.saved != nil && tree.size() < v.saved.Size {
		v.fileProblem(SavedCheckpoint, 0, "has %d entries, but ledger.jsonl has only %d, so its root cannot be recomputed", v.saved.Size, tree.size())
	}
	if seq.broken || unreadable || lines != v.cp.Size {
		return nil
	}
	root, err := tree.root()
	if err != nil {
		return fmt.Errorf("ledger tree: %w", err)
	}
	if root != v.cp.Root {
		v.fileProblem(ledgerName, 0, "the root hash of entries 0 to %d is %s, but the checkpoint's is %s: an entry was changed", v.cp.Size-1, root, v.cp.Root)
	}
	return nil
}

// checkSavedRoot compares the root of the entries read so far with the saved checkpoint's.
func (v *verifier) checkSavedRoot(tree *treeHasher) {
	root, err := tree.root()
	if err != nil {
		v.fileProblem(SavedCheckpoint, 0, "cannot compute the root at its size: %v", err)
		return
	}
	if root != v.saved.Root {
		when := ""
		if !v.saved.Time.IsZero() {
			when = ", signed " + formatTime(v.saved.Time)
		}
		v.fileProblem(SavedCheckpoint, 0, "the ledger's first %d entries have the root %s, but the saved checkpoint (size %d%s) says %s: the ledger was rewritten since it was saved",
			v.saved.Size, root, v.saved.Size, when, v.saved.Root)
	}
}

// checkEntry checks an entry's place and organization, and collects what it says about
// evidence.
func (v *verifier) checkEntry(e *ledger.Entry, line int, seq *sequence) {
	if reason := seq.see(e.Index); reason != "" {
		v.problem(Problem{Entry: entryRef(e.Index), File: ledgerName, Line: line, Reason: reason})
	}
	if e.OrgID != v.m.Organization.ID {
		v.problem(Problem{Entry: entryRef(e.Index), File: ledgerName, Line: line,
			Reason: fmt.Sprintf("belongs to organization %d, but the bundle is organization %d's", e.OrgID, v.m.Organization.ID)})
	}
	switch e.Type {
	case domain.EventOrgCreated:
		var d struct {
			Slug string `json:"slug"`
		}
		if json.Unmarshal(e.Data, &d) == nil && d.Slug != v.m.Organization.Slug {
			v.problem(Problem{Entry: entryRef(e.Index), File: manifestName,
				Reason: fmt.Sprintf("names the organization %q, but ledger entry %d created it as %q", v.m.Organization.Slug, e.Index, d.Slug)})
		}
	case domain.EventEvidenceRetracted:
		if _, _, err := parseRetracted(e); err != nil {
			v.problem(Problem{Entry: entryRef(e.Index), File: ledgerName, Line: line, Reason: "cannot be read as a retraction: " + err.Error()})
		} else {
			v.claims.retraction(e, line)
		}
	}
}

// mergeItems checks the items whose entry is the line's, and reports an evidence entry
// that the bundle's filters select but that no item carries.
func (v *verifier) mergeItems(l *ledgerLine, items *itemCursor) {
	e := &l.entry
	for items.cur != nil && items.cur.LedgerIndex < e.Index {
		it := items.cur
		v.itemProblem(it, &it.LedgerIndex, "", 0, "its ledger entry %d is not in ledger.jsonl where ledger order puts it", it.LedgerIndex)
		items.advance()
	}
	rec := l.rec
	switch {
	case l.recErr != nil:
		v.problem(Problem{Entry: entryRef(e.Index), File: ledgerName, Line: l.line, Reason: "cannot be read as an evidence record: " + l.recErr.Error()})
	case rec != nil && rec.Supersedes != 0:
		v.claims.correction(e, rec, l.line)
	}
	if items.cur != nil && items.cur.LedgerIndex == e.Index {
		v.checkItem(items.cur, e, rec, l.leaf)
		items.advance()
		return
	}
	if rec != nil && e.Index < v.cp.Size && v.filter.Matches(rec.Controls, rec.PeriodStart, rec.PeriodEnd) {
		v.problem(Problem{Item: &ItemRef{ID: rec.ID, Title: rec.Title}, Entry: entryRef(e.Index),
			Reason: "matches the bundle's filters (" + v.m.Filters.String() + ") but is not in items.jsonl"})
	}
}

func (v *verifier) itemProblem(it *itemRecord, entry *int64, file string, line int, format string, args ...any) {
	p := Problem{Item: &ItemRef{ID: it.ID, Title: it.Title}, File: file, Line: line, Reason: fmt.Sprintf(format, args...)}
	if entry != nil {
		p.Entry = entryRef(*entry)
	}
	v.problem(p)
}

// checkItem checks an item against the ledger entry at its index, its inclusion proof,
// the filters and its file.
func (v *verifier) checkItem(it *itemRecord, e *ledger.Entry, rec *evidenceRecord, leaf tlog.Hash) {
	idx := &e.Index
	switch {
	case !isAddition(e.Type):
		v.itemProblem(it, idx, "", 0, "its ledger entry %d is a %s entry, not the addition of an item", e.Index, e.Type)
	case rec == nil:
		v.itemProblem(it, idx, "", 0, "its ledger entry %d cannot be read as an evidence record", e.Index)
	default:
		for _, d := range compareItem(it, rec, e.Index) {
			v.itemProblem(it, idx, "", 0, "%s", d)
		}
	}
	if err := ledger.CheckInclusion(tlog.RecordProof(it.Proof), v.cp.Size, v.cp.Root, leaf, e.Index); err != nil {
		v.itemProblem(it, idx, "", 0, "its inclusion proof does not lead from entry %d to the checkpoint's root", e.Index)
	}
	ids := make([]int64, len(it.Controls))
	for i, c := range it.Controls {
		ids[i] = c.ID
	}
	if !v.filter.Matches(ids, it.Period.Start.Time, it.Period.End.Time) {
		v.itemProblem(it, nil, "", 0, "does not match the bundle's filters (%s)", v.m.Filters.String())
	}
	v.files.ref(it)
}

// startPage begins rendering index.html as the manifest and items produce it, when the
// bundle was made with this verifier's page.
func (v *verifier) startPage() {
	if v.m.Index.Template != indexTemplateVersion {
		v.rep.Notes = append(v.rep.Notes, fmt.Sprintf("index.html was made with page template %d and this verifier renders template %d, so it was not compared with the manifest; rely on this report and items.jsonl", v.m.Index.Template, indexTemplateVersion))
		return
	}
	v.pageHash = sha256.New()
	v.page = &pageWriter{}
	v.page.start(v.pageHash, newPageHeader(&v.m, v.bundleKey))
}

func (v *verifier) finishPage() {
	if v.page == nil {
		return
	}
	if v.itemsBroken {
		v.rep.Notes = append(v.rep.Notes, "index.html was not compared with the manifest, because some lines of items.jsonl could not be read")
		return
	}
	v.page.finish()
	v.compareRendered(indexName, v.pageHash.Sum(nil), "does not show what manifest.json and items.jsonl say: it was changed")
}

// checkReadme compares README.txt with what the manifest produces.
func (v *verifier) checkReadme() {
	h := sha256.New()
	writeReadme(h, newPageHeader(&v.m, v.bundleKey))
	v.compareRendered(readmeName, h.Sum(nil), "is not what manifest.json produces: it was changed")
}

func (v *verifier) compareRendered(name string, want []byte, reason string) {
	rc, err := v.open(name)
	if rc == nil {
		if err != nil {
			v.fileProblem(name, 0, "cannot be read: %v", err)
		}
		return
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := io.Copy(h, rc); err != nil {
		v.fileProblem(name, 0, "cannot be read: %v", err)
		return
	}
	if !bytes.Equal(h.Sum(nil), want) {
		v.fileProblem(name, 0, "%s", reason)
	}
}

// itemCursor reads items.jsonl one valid item at a time, reporting the lines it cannot
// use and checking that items come in ledger order.
type itemCursor struct {
	v     *verifier
	in    *stream[itemLine]
	cur   *itemRecord
	prev  int64
	count int64
	done  bool
}

func (c *itemCursor) advance() {
	c.cur = nil
	if c.in == nil || c.done {
		return
	}
	v := c.v
	for {
		l, ok := c.in.next()
		switch {
		case !ok:
			c.done = true
			return
		case l.readErr != nil:
			v.fileProblem(itemsName, l.line, "cannot be read: %v; the rest of the items were not read", l.readErr)
			v.itemsBroken = true
			c.done = true
			return
		case l.noLF:
			v.fileProblem(itemsName, l.line, "%v", errNoLineFeed)
		}
		c.count++
		if l.err != nil {
			v.fileProblem(itemsName, l.line, "%v", l.err)
			v.itemsBroken = true
			continue
		}
		it := &l.item
		if c.count > 1 && it.LedgerIndex <= c.prev {
			v.itemProblem(it, &it.LedgerIndex, itemsName, l.line, "its ledger index %d does not come after the previous item's %d; items must be in ledger order", it.LedgerIndex, c.prev)
			v.itemsBroken = true
			continue
		}
		c.prev = it.LedgerIndex
		v.claims.item(it, l.line)
		if v.page != nil {
			v.page.row(it)
		}
		c.cur = it
		return
	}
}

// maxProof bounds an inclusion proof's length: a tree of 2⁶³ entries needs 63 hashes.
const maxProof = 63

// parseItemLine reads one line of items.jsonl strictly. Errors name the member at fault.
func parseItemLine(line []byte) (itemRecord, error) {
	var it itemRecord
	if err := decodeStrict(line, &it); err != nil {
		return itemRecord{}, err
	}
	switch {
	case it.ID <= 0:
		return itemRecord{}, fmt.Errorf("id %d is not an item ID", it.ID)
	case !domain.EvidenceKind(it.Kind).Valid():
		return itemRecord{}, fmt.Errorf("item %d: kind %q is not one of file, link, note, snapshot", it.ID, it.Kind)
	case !blob.ValidSHA256(it.SHA256):
		return itemRecord{}, fmt.Errorf("item %d: sha256 %q is not a lower-case hex SHA-256", it.ID, it.SHA256)
	case it.Size < 0:
		return itemRecord{}, fmt.Errorf("item %d: size %d is negative", it.ID, it.Size)
	case it.LedgerIndex < 0:
		return itemRecord{}, fmt.Errorf("item %d: ledger_index %d is negative", it.ID, it.LedgerIndex)
	case len(it.Proof) > maxProof:
		return itemRecord{}, fmt.Errorf("item %d: inclusion_proof has %d hashes, more than any tree needs", it.ID, len(it.Proof))
	case it.Retraction != nil && it.Retraction.LedgerIndex <= it.LedgerIndex:
		return itemRecord{}, fmt.Errorf("item %d: retraction.ledger_index %d does not come after the item's %d", it.ID, it.Retraction.LedgerIndex, it.LedgerIndex)
	case it.SupersededBy != nil && it.SupersededBy.LedgerIndex <= it.LedgerIndex:
		return itemRecord{}, fmt.Errorf("item %d: superseded_by.ledger_index %d does not come after the item's %d", it.ID, it.SupersededBy.LedgerIndex, it.LedgerIndex)
	}
	for _, c := range it.Controls {
		if c.ID <= 0 {
			return itemRecord{}, fmt.Errorf("item %d: control id %d is not an ID", it.ID, c.ID)
		}
	}
	return it, nil
}

// summarize sets OK and the one-line summary.
func (v *verifier) summarize() {
	rep := v.rep
	rep.OK = len(rep.Problems) == 0 && rep.MoreProblems == 0
	signer := rep.KeyName
	if signer == "" {
		signer = "an unknown key"
	}
	what := fmt.Sprintf("%s items, %s ledger entries, checkpoint size %d signed by %s",
		formatCount(rep.Items), formatCount(rep.Entries), rep.Checkpoint.Size, signer)
	if rep.OK {
		if rep.Saved != nil {
			what += fmt.Sprintf(", consistent with the saved checkpoint of size %d", rep.Saved.Size)
		}
		rep.Summary = "verified " + what + ": OK"
		return
	}
	n := len(rep.Problems) + rep.MoreProblems
	plural := "s"
	if n == 1 {
		plural = ""
	}
	rep.Summary = fmt.Sprintf("checked %s: FAILED, %s problem%s", what, formatCount(int64(n)), plural)
}
