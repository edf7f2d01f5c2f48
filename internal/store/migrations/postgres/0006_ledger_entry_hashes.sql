-- Evident schema, version 6: each ledger entry's stored hashes in one row. Appending
-- entry n adds the hashes at tlog positions AppendIndex(n) onward (its leaf hash, then the
-- hash of every subtree it completes); ledger_entry_hashes keeps them together, in that
-- order, as one value of 32-byte hashes, in place of ledger_hashes' one row per hash:
-- batched ingest then writes one row per entry instead of about two. The migration's code
-- moves the hashes already stored, then drops ledger_hashes.
CREATE TABLE ledger_entry_hashes (
    org_id BIGINT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    idx    BIGINT NOT NULL CHECK (idx >= 0),
    hashes BYTEA NOT NULL CHECK (octet_length(hashes) >= 32 AND octet_length(hashes) % 32 = 0),
    PRIMARY KEY (org_id, idx)
);
