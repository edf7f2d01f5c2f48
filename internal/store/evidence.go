package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/evidenthq/evident/internal/domain"
	"github.com/evidenthq/evident/internal/ledger"
)

func evidenceSubject(id int64) string { return fmt.Sprintf("evidence:%d", id) }

// defaultMediaType is the media type of content nobody described.
const defaultMediaType = "application/octet-stream"

// evidenceEntry is the data of an evidence.added or evidence.superseded ledger entry:
// everything an auditor needs to match the item, and its content by hash, to the entry.
type evidenceEntry struct {
	EvidenceID  int64          `json:"evidence_id"`
	Kind        string         `json:"kind"`
	Title       string         `json:"title"`
	Description string         `json:"description"`
	SHA256      string         `json:"sha256"`
	Size        int64          `json:"size"`
	MediaType   string         `json:"media_type"`
	FileName    string         `json:"file_name,omitempty"`
	URL         string         `json:"url,omitempty"`
	PeriodStart string         `json:"period_start"` // YYYY-MM-DD
	PeriodEnd   string         `json:"period_end"`   // YYYY-MM-DD, inclusive
	CollectedAt string         `json:"collected_at"` // ledger.TimeLayout
	Source      string         `json:"source"`
	Controls    []entryControl `json:"controls"`
	Supersedes  *int64         `json:"supersedes"`
}

// entryControl names a control in a ledger entry by ID and by the ref people use.
type entryControl struct {
	ID  int64  `json:"id"`
	Ref string `json:"ref"`
}

// evidenceRetraction is the data of an evidence.retracted ledger entry.
type evidenceRetraction struct {
	EvidenceID int64  `json:"evidence_id"`
	Title      string `json:"title"`
	SHA256     string `json:"sha256"`
	Reason     string `json:"reason"`
}

// itemError says which item of a batch an invalid-input error is about, by naming the
// field "items[3].title". A batch of one is a single item, whose errors need no position.
func itemError(i, n int, err error) error {
	var e *domain.Error
	if n > 1 && errors.As(err, &e) && e.Kind == domain.KindInvalid {
		return domain.Invalid(fmt.Sprintf("items[%d].%s", i, e.Field), "%s", e.Message)
	}
	return err
}

// prepareEvidence checks new items and completes the fields the store sets: the hash and
// size of inline content, dates as UTC midnights, the collection time (now if unset), the
// control IDs sorted without repeats. It returns the items and their inline contents.
func prepareEvidence(actor domain.Actor, orgID int64, items []domain.NewEvidence, now time.Time) ([]domain.Evidence, [][]byte, error) {
	if len(items) == 0 {
		return nil, nil, domain.Invalid("items", "at least one item is required")
	}
	out := make([]domain.Evidence, len(items))
	contents := make([][]byte, len(items))
	for i := range items {
		e, err := prepareItem(actor, orgID, &items[i], now)
		if err != nil {
			return nil, nil, itemError(i, len(items), err)
		}
		out[i] = e
		contents[i] = items[i].Content
	}
	return out, contents, nil
}

func prepareItem(actor domain.Actor, orgID int64, item *domain.NewEvidence, now time.Time) (domain.Evidence, error) {
	e := item.Evidence
	if e.Supersedes != nil {
		return e, domain.Invalid("supersedes", "is set by SupersedeEvidence only")
	}
	if item.Content != nil {
		if len(item.Content) > domain.MaxInlineContent {
			return e, domain.Invalid("content", "is %d bytes; content over %d bytes belongs in the blob store", len(item.Content), domain.MaxInlineContent)
		}
		sum := sha256.Sum256(item.Content)
		got := hex.EncodeToString(sum[:])
		if e.SHA256 == "" {
			e.SHA256 = got
		} else if e.SHA256 != got {
			return e, domain.Invalid("sha256", "does not match the content")
		}
		e.Size = int64(len(item.Content))
	}
	if e.MediaType == "" {
		e.MediaType = defaultMediaType
	}
	if !e.PeriodStart.IsZero() {
		e.PeriodStart = domain.DateOf(e.PeriodStart)
	}
	if !e.PeriodEnd.IsZero() {
		e.PeriodEnd = domain.DateOf(e.PeriodEnd)
	}
	if e.CollectedAt.IsZero() {
		e.CollectedAt = now
	}
	e.CollectedAt = trunc(e.CollectedAt)
	if err := domain.ValidateEvidence(&e); err != nil {
		return e, err
	}
	ids := slices.Clone(e.ControlIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) > 0 && ids[0] <= 0 {
		return e, domain.Invalid("controls", "%d is not a control ID", ids[0])
	}
	if ids == nil {
		ids = []int64{}
	}
	e.ControlIDs = ids
	e.ID, e.OrgID = 0, orgID
	e.AddedBy, e.AddedByName, e.AddedAt = actor.UserID, "", now
	e.SupersededBy, e.RetractedAt, e.RetractReason, e.LedgerIndex = nil, nil, "", 0
	return e, nil
}

// AddEvidence adds items to the organization's evidence, all or nothing in one
// transaction, each with an evidence.added ledger entry, and returns them as stored, in
// order. Each item is checked with domain.ValidateEvidence; its controls must be the
// organization's (else KindInvalid for "controls"). An item with Content keeps it inline;
// one without must name content already in the blob store. Errors about one item of a
// batch name the item in the field, such as "items[3].title".
func (s *Store) AddEvidence(ctx context.Context, actor domain.Actor, orgID int64, items []domain.NewEvidence) ([]domain.Evidence, error) {
	now := s.now()
	evs, contents, err := prepareEvidence(actor, orgID, items, now)
	if err != nil {
		return nil, err
	}
	s.prepareEvidenceInserts(ctx)
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if err := s.insertEvidence(ctx, tx, actor, orgID, evs, contents, domain.EventEvidenceAdded); err != nil {
		return nil, err
	}
	if err := s.commit(tx, "add evidence"); err != nil {
		return nil, err
	}
	return evs, nil
}

// SupersedeEvidence adds item as the correction of the organization's current item
// oldID, with an evidence.superseded ledger entry, and returns it. An old item already
// superseded or retracted is KindConflict.
func (s *Store) SupersedeEvidence(ctx context.Context, actor domain.Actor, orgID, oldID int64, item domain.NewEvidence) (*domain.Evidence, error) {
	if item.Supersedes != nil && *item.Supersedes != oldID {
		return nil, domain.Invalid("supersedes", "names another item than the one superseded")
	}
	item.Supersedes = nil
	now := s.now()
	evs, contents, err := prepareEvidence(actor, orgID, []domain.NewEvidence{item}, now)
	if err != nil {
		return nil, err
	}
	s.prepareEvidenceInserts(ctx)
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if _, err := s.ledgerFor(ctx, tx, orgID); err != nil {
		return nil, evidenceNotFound(err)
	}
	old, err := s.loadEvidence(ctx, tx, orgID, oldID)
	if err != nil {
		return nil, err
	}
	if err := requireCurrent(old, "superseded"); err != nil {
		return nil, err
	}
	evs[0].Supersedes = &old.ID
	if err := s.insertEvidence(ctx, tx, actor, orgID, evs, contents, domain.EventEvidenceSuperseded); err != nil {
		return nil, err
	}
	if err := s.commit(tx, fmt.Sprintf("supersede evidence %d", oldID)); err != nil {
		return nil, err
	}
	return &evs[0], nil
}

// requireCurrent refuses to change an item that no longer stands.
func requireCurrent(e *domain.Evidence, verb string) error {
	switch {
	case e.RetractedAt != nil:
		return domain.Errorf(domain.KindConflict, "evidence %d was retracted and cannot be %s", e.ID, verb)
	case e.SupersededBy != nil:
		return domain.Errorf(domain.KindConflict, "evidence %d was superseded by evidence %d and cannot be %s", e.ID, *e.SupersededBy, verb)
	}
	return nil
}

// evidenceNotFound turns an unknown organization into unknown evidence, so that a caller
// probing organizations learns nothing.
func evidenceNotFound(err error) error {
	if domain.IsNotFound(err) {
		return domain.NotFound("evidence")
	}
	return err
}

// RetractEvidence withdraws the organization's current item id for the reason given
// (required), with an evidence.retracted ledger entry, and returns it. An item already
// retracted or superseded is KindConflict.
func (s *Store) RetractEvidence(ctx context.Context, actor domain.Actor, orgID, id int64, reason string) (*domain.Evidence, error) {
	reason, err := domain.ValidateRetractReason(reason)
	if err != nil {
		return nil, err
	}
	tx, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer s.rollback(tx)
	if _, err := s.ledgerFor(ctx, tx, orgID); err != nil {
		return nil, evidenceNotFound(err)
	}
	e, err := s.loadEvidence(ctx, tx, orgID, id)
	if err != nil {
		return nil, err
	}
	if err := requireCurrent(e, "retracted"); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE evidence SET retracted_at = $1, retract_reason = $2 WHERE org_id = $3 AND id = $4`,
		s.t(s.now()), reason, orgID, id); err != nil {
		return nil, fmt.Errorf("retract evidence %d: %w", id, err)
	}
	err = s.appendEvent(ctx, tx, actor, orgID, domain.EventEvidenceRetracted, evidenceSubject(id), evidenceRetraction{
		EvidenceID: id, Title: e.Title, SHA256: e.SHA256, Reason: reason,
	})
	if err != nil {
		return nil, err
	}
	e, err = s.loadEvidence(ctx, tx, orgID, id)
	if err != nil {
		return nil, err
	}
	if err := s.commit(tx, fmt.Sprintf("retract evidence %d", id)); err != nil {
		return nil, err
	}
	return e, nil
}

// insertEvidence stores prepared items with their inline contents, control links and one
// ledger entry each of type typ, setting their IDs, ledger indexes and adder's name.
func (s *Store) insertEvidence(ctx context.Context, tx *sql.Tx, actor domain.Actor, orgID int64, evs []domain.Evidence, contents [][]byte, typ string) error {
	l, err := s.ledgerFor(ctx, tx, orgID)
	if err != nil {
		return err
	}
	refs, err := s.controlRefs(ctx, tx, orgID, evs)
	if err != nil {
		return err
	}
	first := l.next
	for i := range evs {
		evs[i].LedgerIndex = first + int64(i)
	}
	if err := s.insertEvidenceRows(ctx, tx, actor, orgID, evs); err != nil {
		return err
	}
	// The items have their IDs: encode their ledger entries while their contents and
	// control links go in. A batch's entries take about as long to encode as those rows
	// take to insert, and a machine with two cores does both at once.
	type encoded struct {
		enc encodedEvents
		err error
	}
	done := make(chan encoded, 1)
	at := s.now()
	go func() {
		entries, err := evidenceEvents(evs, refs, typ)
		if err != nil {
			done <- encoded{err: err}
			return
		}
		enc, err := encodeEvents(actor, orgID, first, at, entries)
		done <- encoded{enc, err}
	}()
	err = s.insertContents(ctx, tx, orgID, evs, contents)
	if err == nil {
		err = s.insertEvidenceControls(ctx, tx, orgID, evs)
	}
	r := <-done
	if err != nil {
		return err
	}
	if r.err != nil {
		return r.err
	}
	if _, err := s.appendEncoded(ctx, tx, l, r.enc); err != nil {
		return err
	}
	name, err := s.actorName(ctx, tx, actor)
	if err != nil {
		return err
	}
	for i := range evs {
		evs[i].AddedByName = name
	}
	return nil
}

// evidenceEvents returns the ledger entries of type typ that record the items, which
// have their IDs; refs gives their controls' refs. Their data is encoded here, all in one
// buffer.
func evidenceEvents(evs []domain.Evidence, refs map[int64]string, typ string) ([]newEvent, error) {
	entries := make([]newEvent, len(evs))
	buf := make([]byte, 0, len(evs)*evidenceEntrySize(evs))
	ends := make([]int, len(evs))
	for i := range evs {
		e := &evs[i]
		var ok bool
		if buf, ok = appendEvidenceEntry(buf, e, refs); !ok {
			raw, err := json.Marshal(newEvidenceEntry(e, refs))
			if err != nil {
				return nil, fmt.Errorf("event %s: encode data: %w", typ, err)
			}
			buf = append(buf, raw...)
		}
		ends[i] = len(buf)
		entries[i] = newEvent{typ: typ, subject: evidenceSubject(e.ID)}
	}
	start := 0
	for i, end := range ends {
		entries[i].raw = buf[start:end:end]
		start = end
	}
	return entries, nil
}

// evidenceEntrySize estimates the encoded size of the items' ledger data from the first.
func evidenceEntrySize(evs []domain.Evidence) int {
	if len(evs) == 0 {
		return 0
	}
	e := &evs[0]
	return 320 + len(e.Title) + len(e.Description) + len(e.Source) + len(e.MediaType) + len(e.FileName) +
		len(e.URL) + 40*len(e.ControlIDs)
}

// newEvidenceEntry returns the data of the ledger entry recording e.
func newEvidenceEntry(e *domain.Evidence, refs map[int64]string) evidenceEntry {
	data := evidenceEntry{
		EvidenceID: e.ID, Kind: string(e.Kind), Title: e.Title, Description: e.Description,
		SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType, FileName: e.FileName, URL: e.URL,
		PeriodStart: e.PeriodStart.Format(time.DateOnly), PeriodEnd: e.PeriodEnd.Format(time.DateOnly),
		CollectedAt: e.CollectedAt.Format(ledger.TimeLayout), Source: e.Source,
		Controls: make([]entryControl, len(e.ControlIDs)), Supersedes: e.Supersedes,
	}
	for j, id := range e.ControlIDs {
		data.Controls[j] = entryControl{ID: id, Ref: refs[id]}
	}
	return data
}

// appendEvidenceEntry appends the data of the ledger entry recording e in canonical form:
// the bytes ledger.CanonicalJSON makes of json.Marshal(newEvidenceEntry(e, refs)), written
// directly, members in code point order. It appends nothing and returns false when one of
// the strings is not valid UTF-8, which json.Marshal alone knows how to replace.
func appendEvidenceEntry(b []byte, e *domain.Evidence, refs map[int64]string) ([]byte, bool) {
	if !utf8.ValidString(string(e.Kind)) || !utf8.ValidString(e.Title) || !utf8.ValidString(e.Description) ||
		!utf8.ValidString(e.SHA256) || !utf8.ValidString(e.MediaType) || !utf8.ValidString(e.FileName) ||
		!utf8.ValidString(e.URL) || !utf8.ValidString(e.Source) {
		return b, false
	}
	for _, id := range e.ControlIDs {
		if !utf8.ValidString(refs[id]) {
			return b, false
		}
	}
	b = append(b, `{"collected_at":"`...)
	b = e.CollectedAt.AppendFormat(b, ledger.TimeLayout)
	b = append(b, `","controls":[`...)
	for j, id := range e.ControlIDs {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, id, 10)
		b = append(b, `,"ref":`...)
		b = ledger.AppendString(b, refs[id])
		b = append(b, '}')
	}
	b = append(b, `],"description":`...)
	b = ledger.AppendString(b, e.Description)
	b = append(b, `,"evidence_id":`...)
	b = strconv.AppendInt(b, e.ID, 10)
	if e.FileName != "" {
		b = append(b, `,"file_name":`...)
		b = ledger.AppendString(b, e.FileName)
	}
	b = append(b, `,"kind":`...)
	b = ledger.AppendString(b, string(e.Kind))
	b = append(b, `,"media_type":`...)
	b = ledger.AppendString(b, e.MediaType)
	b = append(b, `,"period_end":"`...)
	b = e.PeriodEnd.AppendFormat(b, time.DateOnly)
	b = append(b, `","period_start":"`...)
	b = e.PeriodStart.AppendFormat(b, time.DateOnly)
	b = append(b, `","sha256":`...)
	b = ledger.AppendString(b, e.SHA256)
	b = append(b, `,"size":`...)
	b = strconv.AppendInt(b, e.Size, 10)
	b = append(b, `,"source":`...)
	b = ledger.AppendString(b, e.Source)
	b = append(b, `,"supersedes":`...)
	if e.Supersedes == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *e.Supersedes, 10)
	}
	b = append(b, `,"title":`...)
	b = ledger.AppendString(b, e.Title)
	if e.URL != "" {
		b = append(b, `,"url":`...)
		b = ledger.AppendString(b, e.URL)
	}
	return append(b, '}'), true
}

// controlRefs checks that every control the items name is the organization's and
// returns the controls' refs by ID.
func (s *Store) controlRefs(ctx context.Context, tx *sql.Tx, orgID int64, evs []domain.Evidence) (map[int64]string, error) {
	var ids []int64
	for _, e := range evs {
		ids = append(ids, e.ControlIDs...)
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	refs := make(map[int64]string, len(ids))
	for rest := ids; len(rest) > 0; {
		chunk := rest[:min(len(rest), hashesPerRead)]
		rest = rest[len(chunk):]
		var a args
		org := a.seq(s.d, orgID)
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			ph[i] = a.seq(s.d, id)
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, ref FROM controls WHERE org_id = `+org+` AND id IN (`+strings.Join(ph, ", ")+`)`, a...)
		if err != nil {
			return nil, fmt.Errorf("add evidence: controls: %w", err)
		}
		for rows.Next() {
			var id int64
			var ref string
			if err := rows.Scan(&id, &ref); err != nil {
				rows.Close()
				return nil, fmt.Errorf("add evidence: controls: %w", err)
			}
			refs[id] = ref
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("add evidence: controls: %w", err)
		}
	}
	for i, e := range evs {
		for _, id := range e.ControlIDs {
			if _, ok := refs[id]; !ok {
				return nil, itemError(i, len(evs), domain.Invalid("controls", "control %d is not one of this organization's controls", id))
			}
		}
	}
	return refs, nil
}

// The statements that add evidence, many rows each.
var (
	insertContentRows = bulk{
		table: `evidence_contents (evidence_id, org_id, data)`,
		cols:  3, chunk: 50, // at most 3.2 MiB of content per statement
	}
	insertEvidenceRows = bulk{
		table: `evidence (id, org_id, kind, title, description, period_start, period_end, collected_at,
			source, sha256, size, media_type, file_name, url, added_by, added_by_email, added_at, supersedes, ledger_idx)`,
		cols: 19, chunk: 50,
	}
	insertEvidenceControlRows = bulk{table: `evidence_controls (org_id, evidence_id, control_id)`, cols: 3, chunk: 250}
)

// prepareEvidenceInserts keeps the statements that add evidence prepared from one
// transaction to the next (see bulkStmts). It must be called before the transaction
// begins.
func (s *Store) prepareEvidenceInserts(ctx context.Context) {
	s.prepareBulk(ctx, insertEvidenceRows, insertContentRows, insertEvidenceControlRows, insertEventRows, insertEntryHashRows)
}

// insertContents stores the inline contents of the items, which have their IDs.
func (s *Store) insertContents(ctx context.Context, tx *sql.Tx, orgID int64, evs []domain.Evidence, contents [][]byte) error {
	var todo []int
	for i, c := range contents {
		if c != nil {
			todo = append(todo, i)
		}
	}
	err := s.run(ctx, tx, insertContentRows, len(todo), func(a args, i int) args {
		j := todo[i]
		return append(a, evs[j].ID, orgID, contents[j])
	}, nil)
	if err != nil {
		return fmt.Errorf("add evidence: store content: %w", err)
	}
	return nil
}

// insertEvidenceRows inserts the items, setting their IDs.
func (s *Store) insertEvidenceRows(ctx context.Context, tx *sql.Tx, actor domain.Actor, orgID int64, evs []domain.Evidence) error {
	email := actor.Email
	if email == "" {
		email = domain.SystemActor.Email
	}
	ids, err := s.d.newIDs(ctx, tx, "evidence", len(evs))
	if err != nil {
		return err
	}
	var times timeValues
	err = s.run(ctx, tx, insertEvidenceRows, len(evs), func(a args, i int) args {
		e := &evs[i]
		return append(a, ids[i], orgID, string(e.Kind), e.Title, e.Description, times.of(s, e.PeriodStart),
			times.of(s, e.PeriodEnd), times.of(s, e.CollectedAt), e.Source, e.SHA256, e.Size, e.MediaType, e.FileName,
			e.URL, e.AddedBy, email, times.of(s, e.AddedAt), nullID(e.Supersedes), e.LedgerIndex)
	}, nil)
	if s.d.isUnique(err) {
		return domain.Errorf(domain.KindConflict, "the evidence superseded has been superseded already")
	}
	if err != nil {
		return fmt.Errorf("add evidence: %w", err)
	}
	for i := range evs {
		evs[i].ID = ids[i]
	}
	return nil
}

// timeValues converts times into column values, remembering the last few: the items of a
// batch mostly share their periods and times, and formatting a time is not free.
type timeValues struct {
	keys [4]time.Time
	vals [4]any
	next int
}

func (tv *timeValues) of(s *Store, t time.Time) any {
	for i, k := range tv.keys {
		if tv.vals[i] != nil && k.Equal(t) {
			return tv.vals[i]
		}
	}
	v := s.t(t)
	tv.keys[tv.next], tv.vals[tv.next] = t, v
	tv.next = (tv.next + 1) % len(tv.keys)
	return v
}

// insertEvidenceControls links the items to their controls.
func (s *Store) insertEvidenceControls(ctx context.Context, tx *sql.Tx, orgID int64, evs []domain.Evidence) error {
	type link struct{ evidence, control int64 }
	var links []link
	for _, e := range evs {
		for _, c := range e.ControlIDs {
			links = append(links, link{e.ID, c})
		}
	}
	err := s.run(ctx, tx, insertEvidenceControlRows, len(links), func(a args, i int) args {
		return append(a, orgID, links[i].evidence, links[i].control)
	}, nil)
	if err != nil {
		return fmt.Errorf("add evidence: link controls: %w", err)
	}
	return nil
}

// actorName is the name an item's adder is shown by: the user's name or email, or the
// actor's email for the system.
func (s *Store) actorName(ctx context.Context, q querier, actor domain.Actor) (string, error) {
	name := actor.Email
	if name == "" {
		name = domain.SystemActor.Email
	}
	if actor.UserID == 0 {
		return name, nil
	}
	var n string
	err := q.QueryRowContext(ctx, `SELECT COALESCE(NULLIF(name, ''), email) FROM users WHERE id = $1`, actor.UserID).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return name, nil
	}
	if err != nil {
		return "", fmt.Errorf("name of user %d: %w", actor.UserID, err)
	}
	return n, nil
}

// evidenceSelect reads evidence with the name of who added it and the item superseding it.
const evidenceSelect = `SELECT e.id, e.org_id, e.kind, e.title, e.description, e.period_start, e.period_end,
	e.collected_at, e.source, e.sha256, e.size, e.media_type, e.file_name, e.url, e.added_by,
	COALESCE(NULLIF(u.name, ''), u.email, e.added_by_email), e.added_at, e.supersedes, n.id, e.retracted_at,
	e.retract_reason, e.ledger_idx
	FROM evidence e LEFT JOIN users u ON u.id = e.added_by LEFT JOIN evidence n ON n.supersedes = e.id`

func scanEvidence(row interface{ Scan(...any) error }, e *domain.Evidence) error {
	var start, end, collected, added dbTime
	var retracted nullTime
	var supersedes, supersededBy sql.NullInt64
	err := row.Scan(&e.ID, &e.OrgID, &e.Kind, &e.Title, &e.Description, &start, &end, &collected, &e.Source,
		&e.SHA256, &e.Size, &e.MediaType, &e.FileName, &e.URL, &e.AddedBy, &e.AddedByName, &added,
		&supersedes, &supersededBy, &retracted, &e.RetractReason, &e.LedgerIndex)
	if err != nil {
		return err
	}
	e.PeriodStart, e.PeriodEnd, e.CollectedAt, e.AddedAt = start.t, end.t, collected.t, added.t
	e.Supersedes, e.SupersededBy = nil, nil
	if supersedes.Valid {
		id := supersedes.Int64
		e.Supersedes = &id
	}
	if supersededBy.Valid {
		id := supersededBy.Int64
		e.SupersededBy = &id
	}
	e.RetractedAt = retracted.t
	e.ControlIDs = []int64{}
	return nil
}

// loadEvidence reads one of the organization's items with its controls.
func (s *Store) loadEvidence(ctx context.Context, q querier, orgID, id int64) (*domain.Evidence, error) {
	var e domain.Evidence
	err := scanEvidence(q.QueryRowContext(ctx, evidenceSelect+` WHERE e.org_id = $1 AND e.id = $2`, orgID, id), &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("evidence")
	}
	if err != nil {
		return nil, fmt.Errorf("load evidence %d: %w", id, err)
	}
	items := []domain.Evidence{e}
	if err := attachControls(ctx, s.d, q, orgID, items); err != nil {
		return nil, err
	}
	return &items[0], nil
}

// attachControls fills in the items' control IDs, in ascending order.
func attachControls(ctx context.Context, d dialect, q querier, orgID int64, items []domain.Evidence) error {
	byID := make(map[int64]int, len(items))
	ids := make([]int64, len(items))
	for i, e := range items {
		byID[e.ID] = i
		ids[i] = e.ID
	}
	for rest := ids; len(rest) > 0; {
		chunk := rest[:min(len(rest), hashesPerRead)]
		rest = rest[len(chunk):]
		var a args
		org := a.seq(d, orgID)
		ph := make([]string, len(chunk))
		for i, id := range chunk {
			ph[i] = a.seq(d, id)
		}
		rows, err := q.QueryContext(ctx, `SELECT evidence_id, control_id FROM evidence_controls WHERE org_id = `+org+
			` AND evidence_id IN (`+strings.Join(ph, ", ")+`) ORDER BY evidence_id, control_id`, a...)
		if err != nil {
			return fmt.Errorf("controls of evidence: %w", err)
		}
		for rows.Next() {
			var eid, cid int64
			if err := rows.Scan(&eid, &cid); err != nil {
				rows.Close()
				return fmt.Errorf("controls of evidence: %w", err)
			}
			if i, ok := byID[eid]; ok {
				items[i].ControlIDs = append(items[i].ControlIDs, cid)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("controls of evidence: %w", err)
		}
	}
	return nil
}

// Evidence returns one of the organization's items.
func (s *Store) Evidence(ctx context.Context, orgID, id int64) (*domain.Evidence, error) {
	return s.loadEvidence(ctx, s.rdb, orgID, id)
}

const (
	defaultEvidenceLimit = 100
	maxEvidenceLimit     = 1000
)

// EvidenceList lists the organization's evidence matching the filter, newest first.
func (s *Store) EvidenceList(ctx context.Context, orgID int64, f domain.EvidenceFilter) ([]domain.Evidence, error) {
	if f.Limit < 0 {
		return nil, domain.Invalid("limit", "must not be negative")
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, domain.Invalid("kind", "must be one of file, link, note, snapshot")
	}
	limit := f.Limit
	if limit == 0 {
		limit = defaultEvidenceLimit
	}
	limit = min(limit, maxEvidenceLimit)
	var a args
	org := a.add(orgID)
	where := []string{"e.org_id = " + org}
	if f.ControlID != 0 {
		where = append(where, "e.id IN (SELECT ec.evidence_id FROM evidence_controls ec WHERE ec.org_id = "+org+
			" AND ec.control_id = "+a.add(f.ControlID)+")")
	}
	if f.Kind != "" {
		where = append(where, "e.kind = "+a.add(string(f.Kind)))
	}
	if f.Since != nil {
		where = append(where, "e.period_end >= "+a.add(s.t(domain.DateOf(*f.Since))))
	}
	if f.Until != nil {
		where = append(where, "e.period_start <= "+a.add(s.t(domain.DateOf(*f.Until))))
	}
	if !f.IncludeSuperseded {
		where = append(where, "n.id IS NULL")
	}
	if !f.IncludeRetracted {
		where = append(where, "e.retracted_at IS NULL")
	}
	if f.Before > 0 {
		where = append(where, "e.id < "+a.add(f.Before))
	}
	rows, err := s.rdb.QueryContext(ctx, evidenceSelect+` WHERE `+strings.Join(where, " AND ")+
		` ORDER BY e.id DESC LIMIT `+a.add(limit), a...)
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	defer rows.Close()
	out := []domain.Evidence{}
	for rows.Next() {
		var e domain.Evidence
		if err := scanEvidence(rows, &e); err != nil {
			return nil, fmt.Errorf("list evidence: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	rows.Close()
	if err := attachControls(ctx, s.d, s.rdb, orgID, out); err != nil {
		return nil, err
	}
	return out, nil
}

// EvidenceContent returns the content kept inline for one of the organization's items,
// after checking it against the item's SHA-256; KindNotFound when there is no such item
// or its content is in the blob store.
func (s *Store) EvidenceContent(ctx context.Context, orgID, evidenceID int64) ([]byte, error) {
	var data []byte
	var sum string
	err := s.rdb.QueryRowContext(ctx, `SELECT c.data, e.sha256 FROM evidence_contents c JOIN evidence e ON e.id = c.evidence_id
		WHERE c.evidence_id = $1 AND c.org_id = $2 AND e.org_id = $2`, evidenceID, orgID).Scan(&data, &sum)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.NotFound("inline content")
	}
	if err != nil {
		return nil, fmt.Errorf("content of evidence %d: %w", evidenceID, err)
	}
	if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("content of evidence %d: %w", evidenceID, ErrContentCorrupt)
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// ErrContentCorrupt reports inline content that no longer matches its item's SHA-256.
var ErrContentCorrupt = errors.New("stored content does not match its SHA-256")

// LatestEvidence returns, for each of the organization's controls with current evidence
// (neither superseded nor retracted), the latest end of those items' effective periods.
func (s *Store) LatestEvidence(ctx context.Context, orgID int64) (map[int64]time.Time, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT ec.control_id, MAX(e.period_end) FROM evidence_controls ec
		JOIN evidence e ON e.id = ec.evidence_id
		WHERE ec.org_id = $1 AND e.retracted_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM evidence n WHERE n.supersedes = e.id)
		GROUP BY ec.control_id`, orgID)
	if err != nil {
		return nil, fmt.Errorf("latest evidence: %w", err)
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var id int64
		var end dbTime
		if err := rows.Scan(&id, &end); err != nil {
			return nil, fmt.Errorf("latest evidence: %w", err)
		}
		out[id] = end.t
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("latest evidence: %w", err)
	}
	return out, nil
}
