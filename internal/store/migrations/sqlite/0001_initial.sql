-- Evident schema, version 1: organizations, people, sign-in, controls, scope and the audit trail.
-- Times are TEXT in the fixed-width UTC form 2006-01-02T15:04:05.000000Z, so they sort as strings.

CREATE TABLE organizations (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL DEFAULT '',
    password_hash TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL
);

CREATE TABLE memberships (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer', 'auditor')),
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE sessions (
    token_hash   BLOB PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    org_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ip           TEXT NOT NULL DEFAULT '',
    user_agent   TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_org ON sessions (org_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE login_failures (
    id  INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    at  TEXT NOT NULL
);
CREATE INDEX login_failures_key_at ON login_failures (key, at);
CREATE INDEX login_failures_at ON login_failures (at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    hash         BLOB NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at   TEXT
);
CREATE INDEX api_tokens_org ON api_tokens (org_id);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE scopes (
    org_id       INTEGER PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    categories   TEXT NOT NULL,
    report_type  TEXT NOT NULL CHECK (report_type IN ('type1', 'type2')),
    target_date  TEXT,
    period_start TEXT,
    period_end   TEXT,
    out_of_scope TEXT NOT NULL DEFAULT '',
    updated_at   TEXT NOT NULL
);

CREATE TABLE systems (
    id             INTEGER PRIMARY KEY,
    org_id         INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    kind           TEXT NOT NULL CHECK (kind IN ('application', 'infrastructure', 'database', 'saas', 'network', 'endpoint', 'other')),
    classification TEXT NOT NULL CHECK (classification IN ('public', 'internal', 'confidential', 'restricted')),
    owner_id       INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX systems_owner ON systems (owner_id);

CREATE TABLE controls (
    id                INTEGER PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    ref               TEXT NOT NULL,
    title             TEXT NOT NULL,
    description       TEXT NOT NULL DEFAULT '',
    domain            TEXT NOT NULL DEFAULT '',
    frequency         TEXT NOT NULL CHECK (frequency IN ('continuous', 'daily', 'weekly', 'monthly', 'quarterly', 'semi_annual', 'annual', 'per_event')),
    evidence_expected TEXT NOT NULL DEFAULT '',
    owner_id          INTEGER REFERENCES users (id) ON DELETE SET NULL,
    status            TEXT NOT NULL CHECK (status IN ('not_started', 'in_progress', 'implemented', 'not_applicable')),
    justification     TEXT NOT NULL DEFAULT '',
    from_library      INTEGER NOT NULL DEFAULT 0 CHECK (from_library IN (0, 1)),
    retired_at        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (org_id, ref)
);
CREATE INDEX controls_org_owner ON controls (org_id, owner_id);
CREATE INDEX controls_org_status ON controls (org_id, status);
CREATE INDEX controls_owner ON controls (owner_id);

CREATE TABLE control_criteria (
    org_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    control_id   INTEGER NOT NULL REFERENCES controls (id) ON DELETE CASCADE,
    criterion_id TEXT NOT NULL,
    PRIMARY KEY (control_id, criterion_id)
) WITHOUT ROWID;
CREATE INDEX control_criteria_org_criterion ON control_criteria (org_id, criterion_id);

CREATE TABLE events (
    org_id   INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL CHECK (idx >= 0),
    at       TEXT NOT NULL,
    actor_id INTEGER NOT NULL DEFAULT 0,
    actor    TEXT NOT NULL,
    type     TEXT NOT NULL,
    subject  TEXT NOT NULL DEFAULT '',
    data     TEXT NOT NULL,
    PRIMARY KEY (org_id, idx)
) WITHOUT ROWID;
CREATE INDEX events_org_type ON events (org_id, type, idx);
CREATE INDEX events_org_subject ON events (org_id, subject, idx);
CREATE INDEX events_org_actor ON events (org_id, actor_id, idx);
