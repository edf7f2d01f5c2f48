-- Evident schema, version 3: the email digests sent. A digest is claimed by inserting its
-- row before it is sent, so that of several replicas exactly one sends each person's
-- digest of an organization on a given day (a UTC date, YYYY-MM-DD).
CREATE TABLE digests (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day        TEXT NOT NULL CHECK (length(day) = 10),
    claimed_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id, day)
) WITHOUT ROWID;
