// Package bundle writes and verifies Evident's evidence bundles: self-describing zip files
// that carry evidence, its metadata and the ledger that proves it, for an auditor to check
// offline with no database and no network.
//
// # Layout
//
// A bundle is a zip file with these members:
//
//	manifest.json   the organization, when and with which filters the bundle was made, the
//	                checkpoint it proves against, and the names and counts of the others
//	items.jsonl     one JSON object per line for each evidence item, in ledger order: its
//	                metadata, the SHA-256 of its content, its ledger index and the inclusion
//	                proof of that entry in the checkpoint's tree, and its supersession and
//	                retraction as recorded in the ledger
//	ledger.jsonl    every entry of the organization's ledger from 0 to the checkpoint's size
//	                minus one, in index order, one canonical encoding (ledger.Entry.Canonical)
//	                per line
//	checkpoint.txt  the signed checkpoint, exactly as the server stored it
//	key.txt         the public key that signed it, in the signed-note encoding
//	files/<sha256>  the content of each item, once per distinct content
//	index.html      a page an auditor can open offline, which loads nothing from elsewhere
//	README.txt      what the bundle is and how to check it
//
// # Why the whole ledger
//
// The bundle carries the organization's whole ledger up to the checkpoint rather than only
// the entries its items rely on. The verifier recomputes the tree root from those entries
// itself, streaming them through a compact range (O(log n) hashes of memory), and compares
// it with the signed checkpoint; and given a checkpoint the auditor saved earlier, it
// recomputes the root at that checkpoint's size and compares it with the saved root. So
// consistency with an earlier checkpoint does not rest on a consistency proof that the
// exporter chose and could have prepared: a rewritten past entry changes the recomputed
// root at every later size, whatever the exporter ships. The inclusion proofs in
// items.jsonl are still checked, so that each item can also be checked on its own by any
// RFC 6962 implementation.
//
// The price is size and time: a ledger entry is about 300 to 600 bytes before
// compression and the verifier reads some 30,000 entries a second on one core, so an
// organization whose ledger has ten million entries gets bundles of several gigabytes,
// however few items they carry, that take about five minutes to verify. Such an
// organization would be better served by bundles that carry only the entries their items
// rely on, with consistency proofs, and trust those proofs; this format keeps the
// stronger check.
//
// # What is proved
//
// Verify checks every file's SHA-256 and size against items.jsonl; every ledger line's
// canonical form, organization and index (0 to n-1, no gaps, no duplicates, in order); the
// tree root of the entries against the checkpoint; the checkpoint's signature by the key
// the auditor gives (a bundle whose key.txt is another key fails); every item's inclusion
// proof; every item's metadata (kind, title, description, controls, effective period,
// collected-at, source, SHA-256, size, media type, file name, URL, supersedes, who added
// it and when) against the data of the ledger entry that added it, which is what shows
// that nothing was back-dated; every correction and retraction items.jsonl claims against
// the ledger, and every one in the ledger against the claims; that every item matches the
// bundle's filters and that every item the ledger records that matches them is in the
// bundle; that index.html and README.txt are what manifest.json and items.jsonl make; and,
// given a saved checkpoint, consistency with it. An item's added_at is the time of its
// ledger entry, not the database's record of it.
//
// # Memory
//
// Writing and verifying stream every file and every line, and neither keeps a record per
// item, per entry or per member in memory: memory does not grow with the size of the
// content, the length of the ledger or the number of items. The zip's central directory,
// which comes last, is spooled to a temporary file while the bundle is written and
// walked one record at a time when it is read (package zipstream). What must be matched
// out of order is sorted in bounded memory, spilling to temporary files (package
// extsort): which items share a file, which item a correction or retraction recorded
// later in the ledger concerns, and which member holds an item's file when the members
// are not in the order Write puts them. Write puts the files in the order of the items
// that first refer to them, so the verifier finds each in lockstep with items.jsonl and
// reads it once. The temporary files take some 60 bytes per item on each side;
// WriteOptions.TempDir and VerifyOptions.TempDir say where they go.
package bundle

import (
	"fmt"
	"strings"
	"time"

	"github.com/evidenthq/evident/internal/ledger"
)

// The bundle's format: Format names it and Version is the version of the layout that
// this package writes and reads.
const (
	Format  = "evident-evidence-bundle"
	Version = 1
)

// The names of the bundle's members.
const (
	manifestName   = "manifest.json"
	itemsName      = "items.jsonl"
	ledgerName     = "ledger.jsonl"
	checkpointName = "checkpoint.txt"
	keyName        = "key.txt"
	indexName      = "index.html"
	readmeName     = "README.txt"
	filesDir       = "files/"
)

// indexTemplateVersion is the version of index.html's template, recorded in the manifest.
// The verifier compares index.html with the page it renders itself only when the bundle was
// made with the same version; change it whenever the page's output changes.
const indexTemplateVersion = 1

// dateLayout is how calendar dates appear in a bundle.
const dateLayout = time.DateOnly

// manifest is manifest.json.
type manifest struct {
	Format       string         `json:"format"`
	Version      int            `json:"version"`
	Organization organization   `json:"organization"`
	GeneratedAt  time.Time      `json:"generated_at"`
	Filters      filters        `json:"filters"`
	Checkpoint   checkpointInfo `json:"checkpoint"`
	Ledger       ledgerInfo     `json:"ledger"`
	Items        itemsInfo      `json:"items"`
	Files        filesInfo      `json:"files"`
	Index        indexInfo      `json:"index"`
	README       string         `json:"readme"`
}

type organization struct {
	ID   int64  `json:"id"`
	Slug string `json:"slug"`
	Name string `json:"name"`
}

// filters records what the bundle was asked to include. Zero fields select everything.
type filters struct {
	Control *controlRef `json:"control"`
	From    *date       `json:"from"`
	To      *date       `json:"to"`
}

type checkpointInfo struct {
	File    string    `json:"file"`
	KeyFile string    `json:"key_file"`
	Origin  string    `json:"origin"`
	Size    int64     `json:"size"`
	Root    b64Hash   `json:"root_hash"`
	Time    time.Time `json:"time,omitzero"`
	KeyName string    `json:"key_name"`
}

type ledgerInfo struct {
	File     string `json:"file"`
	Entries  int64  `json:"entries"`
	Encoding string `json:"encoding"`
}

type itemsInfo struct {
	File  string `json:"file"`
	Count int64  `json:"count"`
	// Skipped counts the items that matched the filters but were recorded in the ledger
	// after the checkpoint, so cannot be proved by it.
	Skipped int64 `json:"skipped"`
}

type filesInfo struct {
	Dir   string `json:"dir"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
}

type indexInfo struct {
	File     string `json:"file"`
	Template int    `json:"template"`
}

// controlRef is a control as items.jsonl names it.
type controlRef struct {
	ID    int64  `json:"id"`
	Ref   string `json:"ref"`
	Title string `json:"title"`
}

// itemRecord is one line of items.jsonl.
type itemRecord struct {
	ID           int64        `json:"id"`
	Kind         string       `json:"kind"`
	Title        string       `json:"title"`
	Description  string       `json:"description"`
	Controls     []controlRef `json:"controls"`
	Period       period       `json:"period"`
	CollectedAt  time.Time    `json:"collected_at"`
	Source       string       `json:"source"`
	SHA256       string       `json:"sha256"`
	Size         int64        `json:"size"`
	MediaType    string       `json:"media_type"`
	FileName     string       `json:"file_name"`
	URL          string       `json:"url"`
	AddedBy      actor        `json:"added_by"`
	AddedAt      time.Time    `json:"added_at"`
	Supersedes   *int64       `json:"supersedes"`
	SupersededBy *supersedure `json:"superseded_by"`
	Retraction   *retraction  `json:"retraction"`
	LedgerIndex  int64        `json:"ledger_index"`
	Proof        proofHashes  `json:"inclusion_proof"`
}

type period struct {
	Start date `json:"start"`
	End   date `json:"end"`
}

type actor struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// supersedure names the item that corrects this one and the ledger entry that added it.
type supersedure struct {
	ID          int64 `json:"id"`
	LedgerIndex int64 `json:"ledger_index"`
}

// retraction is an item's withdrawal and the ledger entry that recorded it.
type retraction struct {
	At          time.Time `json:"at"`
	Reason      string    `json:"reason"`
	LedgerIndex int64     `json:"ledger_index"`
}

// date is a calendar date, written as YYYY-MM-DD.
type date struct{ time.Time }

func (d date) MarshalJSON() ([]byte, error) {
	return []byte(`"` + d.UTC().Format(dateLayout) + `"`), nil
}

func (d *date) UnmarshalJSON(b []byte) error {
	s, ok := unquoteSimple(b)
	if !ok {
		return fmt.Errorf("%s is not a date like 2025-03-31", b)
	}
	t, err := time.Parse(dateLayout, string(s))
	if err != nil {
		return fmt.Errorf("%q is not a date like 2025-03-31", s)
	}
	d.Time = t
	return nil
}

func (d date) String() string { return d.UTC().Format(dateLayout) }

// Problem is one thing wrong with a bundle, naming what it concerns: an item, a ledger
// entry, a member of the bundle (and a line of it), or several of these.
type Problem struct {
	// Item is the evidence item concerned, if any.
	Item *ItemRef `json:"item,omitempty"`
	// Entry is the ledger index concerned, if any.
	Entry *int64 `json:"entry,omitempty"`
	// File is the bundle member concerned, such as "items.jsonl" or "files/3a7b…", or
	// SavedCheckpoint for the checkpoint given in VerifyOptions.Saved, or "bundle" for the
	// zip file as a whole.
	File string `json:"file,omitempty"`
	// Line is the line of File, counting from 1, or 0.
	Line   int    `json:"line,omitempty"`
	Reason string `json:"reason"`
}

// SavedCheckpoint is the Problem.File of problems with the checkpoint given in
// VerifyOptions.Saved.
const SavedCheckpoint = "saved checkpoint"

// ItemRef names an evidence item in a problem.
type ItemRef struct {
	ID    int64  `json:"id"`
	Title string `json:"title"`
}

// String formats the problem on one line, what it concerns first.
func (p Problem) String() string {
	var where []string
	if p.Item != nil {
		if p.Item.Title != "" {
			where = append(where, fmt.Sprintf("item %d %q", p.Item.ID, p.Item.Title))
		} else {
			where = append(where, fmt.Sprintf("item %d", p.Item.ID))
		}
	}
	if p.Entry != nil {
		where = append(where, fmt.Sprintf("entry %d", *p.Entry))
	}
	if p.File != "" {
		if p.Line > 0 {
			where = append(where, fmt.Sprintf("%s line %d", p.File, p.Line))
		} else {
			where = append(where, p.File)
		}
	}
	if len(where) == 0 {
		return p.Reason
	}
	return strings.Join(where, ", ") + ": " + p.Reason
}

// Report is the outcome of Verify.
type Report struct {
	// OK is true when every check passed.
	OK bool `json:"ok"`
	// Summary is one line for people, ending in ": OK" or ": FAILED".
	Summary string `json:"summary"`
	// Problems lists what failed, at most MaxProblems of them, in the order found.
	Problems []Problem `json:"problems"`
	// MoreProblems counts the problems found beyond MaxProblems.
	MoreProblems int `json:"more_problems,omitempty"`
	// Notes says what was not checked and why, and which key was trusted.
	Notes []string `json:"notes,omitempty"`

	Organization string `json:"organization"` // slug
	Items        int64  `json:"items"`
	Entries      int64  `json:"entries"`
	Files        int64  `json:"files"`
	// Checkpoint is the bundle's checkpoint as verified, or as the manifest claims it when
	// its signature did not verify.
	Checkpoint ledger.Checkpoint `json:"checkpoint"`
	// KeyName is the name of the key the checkpoint was checked with.
	KeyName string `json:"key_name"`
	// KeyFromBundle is true when no key was given and the bundle's own key.txt was used.
	KeyFromBundle bool `json:"key_from_bundle"`
	// Saved is the saved checkpoint given in VerifyOptions, once verified.
	Saved *ledger.Checkpoint `json:"saved,omitempty"`
}

// MaxProblems bounds Report.Problems, so that a hostile bundle cannot make the report grow
// without limit.
const MaxProblems = 1000
