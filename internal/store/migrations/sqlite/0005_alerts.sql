-- Evident schema, version 5: where alerts go and how their delivery went. alert_targets
-- keep a Slack or webhook target's URL and signing secret only sealed (AES-GCM ciphertext
-- and nonce, as connections keep credentials), with destination, the URL's scheme and
-- host, to show. recipients is a JSON list of an email target's addresses.
CREATE TABLE alert_targets (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('email', 'slack', 'webhook')),
    name          TEXT NOT NULL,
    recipients    TEXT NOT NULL DEFAULT '[]',
    destination   TEXT NOT NULL DEFAULT '',
    secret_key_id TEXT NOT NULL DEFAULT '',
    secret_nonce  BLOB,
    secret        BLOB,
    on_failing    INTEGER NOT NULL CHECK (on_failing IN (0, 1)),
    on_recovered  INTEGER NOT NULL CHECK (on_recovered IN (0, 1)),
    min_severity  TEXT NOT NULL CHECK (min_severity IN ('low', 'medium', 'high', 'critical')),
    enabled       INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    created_by    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    UNIQUE (org_id, name)
);

-- alert_deliveries: one row per alert and target, written by the notifier that holds the
-- alert's claim. A deleted target's rows stay, with its name, for the alert's history.
CREATE TABLE alert_deliveries (
    id              INTEGER PRIMARY KEY,
    org_id          INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    alert_id        INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    target_id       INTEGER REFERENCES alert_targets (id) ON DELETE SET NULL,
    target_name     TEXT NOT NULL,
    target_kind     TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('delivered', 'retrying', 'failed')),
    attempts        INTEGER NOT NULL,
    rounds          INTEGER NOT NULL,
    last_error      TEXT NOT NULL DEFAULT '',
    delivery_id     TEXT NOT NULL DEFAULT '',
    next_attempt_at TEXT,
    delivered_at    TEXT,
    updated_at      TEXT NOT NULL,
    UNIQUE (alert_id, target_id)
);
CREATE INDEX alert_deliveries_org ON alert_deliveries (org_id, alert_id);
CREATE INDEX alert_deliveries_target ON alert_deliveries (target_id);

-- resources: the first failing resources when the alert was raised, a JSON list of
-- {type, id, name}.
ALTER TABLE alerts ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
