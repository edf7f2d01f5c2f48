-- Evident schema, version 2: the ledger (the audit trail as a Merkle log, with signed
-- checkpoints) and evidence. The migration's code then stores the ledger hashes of the
-- events recorded before it.

-- The foreign keys of the tables that batched ingest fills are checked at commit: SQLite
-- keeps a journal of every statement that inserts many rows while an immediate foreign key
-- might abort it, which would double the cost of ingest. Every change still checks them.

-- ledger_hashes holds each organization's Merkle tree as tlog stored hashes: the leaf
-- hash of every entry (event) and the hash of every complete subtree, at the positions
-- tlog.StoredHashIndex gives. They are written with their event, in its transaction.
CREATE TABLE ledger_hashes (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    hash_index INTEGER NOT NULL CHECK (hash_index >= 0),
    hash       BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (org_id, hash_index)
) WITHOUT ROWID;

-- checkpoints are signed statements of a ledger's size and root (C2SP tlog-checkpoint
-- signed notes), published while the ledger grows.
CREATE TABLE checkpoints (
    org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    size        INTEGER NOT NULL CHECK (size >= 0),
    root        BLOB NOT NULL CHECK (length(root) = 32),
    signed_note TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (org_id, size)
) WITHOUT ROWID;

-- evidence is never edited in place: a correction is a new row whose supersedes names the
-- old one, a withdrawal sets retracted_at with a reason. period_start and period_end are
-- the effective period, UTC midnights, inclusive. added_by is a user ID, 0 for the system;
-- added_by_email is the actor as the ledger entry records them.
CREATE TABLE evidence (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    kind           TEXT NOT NULL CHECK (kind IN ('file', 'link', 'note', 'snapshot')),
    title          TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    period_start   TEXT NOT NULL,
    period_end     TEXT NOT NULL,
    collected_at   TEXT NOT NULL,
    source         TEXT NOT NULL DEFAULT '',
    sha256         TEXT NOT NULL CHECK (length(sha256) = 64),
    size           INTEGER NOT NULL CHECK (size >= 0),
    media_type     TEXT NOT NULL,
    file_name      TEXT NOT NULL DEFAULT '',
    url            TEXT NOT NULL DEFAULT '',
    added_by       INTEGER NOT NULL DEFAULT 0,
    added_by_email TEXT NOT NULL,
    added_at       TEXT NOT NULL,
    supersedes     INTEGER REFERENCES evidence (id) DEFERRABLE INITIALLY DEFERRED,
    retracted_at   TEXT,
    retract_reason TEXT NOT NULL DEFAULT '',
    ledger_idx     INTEGER NOT NULL CHECK (ledger_idx >= 0),
    UNIQUE (org_id, ledger_idx)
);
CREATE INDEX evidence_org ON evidence (org_id, id);
-- An item is superseded at most once.
CREATE UNIQUE INDEX evidence_supersedes ON evidence (supersedes) WHERE supersedes IS NOT NULL;

CREATE TABLE evidence_controls (
    org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    evidence_id INTEGER NOT NULL REFERENCES evidence (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    control_id  INTEGER NOT NULL REFERENCES controls (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    PRIMARY KEY (evidence_id, control_id)
) WITHOUT ROWID;
CREATE INDEX evidence_controls_control ON evidence_controls (org_id, control_id, evidence_id);

-- evidence_contents keeps small content (up to 64 KiB) beside the item's metadata, so that
-- a batch of items is made durable by one commit; larger content is in the blob store.
-- Content is kept per item, in the order items are added: a table keyed by content hash
-- would take each batch's writes to random places of a growing index, which costs more
-- than the storage its de-duplication saves. (The blob store de-duplicates large content.)
CREATE TABLE evidence_contents (
    evidence_id INTEGER PRIMARY KEY REFERENCES evidence (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    data        BLOB NOT NULL
);
