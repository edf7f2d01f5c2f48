-- Evident schema, version 4: continuous monitoring. Connections and their runs, the
-- versioned resource inventory, organizations' own tests and test settings, test runs with
-- their results, the current verdict per test and resource, exceptions, alerts and tasks.

-- connections keep only sealed credentials (AES-GCM ciphertext and nonce). A run claims
-- its connection by setting claim_run_id, claim_owner and claim_until (a lease the runner
-- renews): another replica claims it only once the lease has run out.
CREATE TABLE connections (
    id               INTEGER PRIMARY KEY,
    org_id           INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind             TEXT NOT NULL,
    name             TEXT NOT NULL,
    interval_seconds INTEGER NOT NULL CHECK (interval_seconds > 0),
    enabled          INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    secret_key_id    TEXT NOT NULL,
    secret_nonce     BLOB NOT NULL,
    secret           BLOB NOT NULL,
    next_run_at      TEXT NOT NULL,
    claim_run_id     INTEGER,
    claim_owner      TEXT NOT NULL DEFAULT '',
    claim_until      TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL,
    UNIQUE (org_id, name)
);
CREATE INDEX connections_due ON connections (enabled, next_run_at);

-- connection_runs: counts is a JSON object of resources per type, errors a JSON list of
-- {type, message}.
CREATE TABLE connection_runs (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connection_id INTEGER NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    triggered_by  TEXT NOT NULL CHECK (triggered_by IN ('schedule', 'manual')),
    due_at        TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'partial', 'failed')),
    counts        TEXT NOT NULL DEFAULT '{}',
    errors        TEXT NOT NULL DEFAULT '[]',
    message       TEXT NOT NULL DEFAULT '',
    added         INTEGER NOT NULL DEFAULT 0,
    changed       INTEGER NOT NULL DEFAULT 0,
    gone          INTEGER NOT NULL DEFAULT 0,
    evidence_id   INTEGER REFERENCES evidence (id)
);
CREATE INDEX connection_runs_org ON connection_runs (org_id, connection_id, id);

-- resources are keyed by their source: "connection:ID" for a connection's, the client's or
-- import's name for pushed ones. hash is the SHA-256 of the name and attributes (JSON);
-- every version of them is kept in resource_versions. A resource a successful run no
-- longer reports is marked gone, never deleted.
CREATE TABLE resources (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connection_id INTEGER REFERENCES connections (id) ON DELETE SET NULL,
    source        TEXT NOT NULL,
    type          TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    attributes    TEXT NOT NULL,
    hash          TEXT NOT NULL CHECK (length(hash) = 64),
    version       INTEGER NOT NULL CHECK (version > 0),
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    changed_at    TEXT NOT NULL,
    gone_at       TEXT,
    UNIQUE (org_id, source, type, external_id)
);
CREATE INDEX resources_org_type ON resources (org_id, type, id);
CREATE INDEX resources_connection ON resources (connection_id);

CREATE TABLE resource_versions (
    resource_id INTEGER NOT NULL REFERENCES resources (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL CHECK (version > 0),
    org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    attributes  TEXT NOT NULL,
    hash        TEXT NOT NULL CHECK (length(hash) = 64),
    observed_at TEXT NOT NULL,
    PRIMARY KEY (resource_id, version)
);

-- custom_tests keep an organization's own tests as written (YAML or JSON), with the fields
-- lists show read from them. test_settings enable or disable library and custom tests.
CREATE TABLE custom_tests (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    test_id    TEXT NOT NULL,
    title      TEXT NOT NULL,
    type       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    controls   TEXT NOT NULL,
    definition TEXT NOT NULL,
    created_by INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, test_id)
);

CREATE TABLE test_settings (
    org_id     INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    test_id    TEXT NOT NULL,
    enabled    INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, test_id)
) WITHOUT ROWID;

-- test_runs and test_results are the history: per run and test the counts and, compactly
-- (gzip of JSON lines), every resource's verdict.
CREATE TABLE test_runs (
    id                INTEGER PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    at                TEXT NOT NULL,
    finished_at       TEXT NOT NULL,
    triggered_by      TEXT NOT NULL CHECK (triggered_by IN ('schedule', 'manual', 'push')),
    connection_run_id INTEGER REFERENCES connection_runs (id) ON DELETE SET NULL,
    tests             INTEGER NOT NULL,
    passing           INTEGER NOT NULL,
    failing           INTEGER NOT NULL,
    erroring          INTEGER NOT NULL,
    no_data           INTEGER NOT NULL
);
CREATE INDEX test_runs_org ON test_runs (org_id, id);

CREATE TABLE test_results (
    run_id   INTEGER NOT NULL REFERENCES test_runs (id) ON DELETE CASCADE,
    org_id   INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    test_id  TEXT NOT NULL,
    status   TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error', 'no_data')),
    passed   INTEGER NOT NULL,
    failed   INTEGER NOT NULL,
    errors   INTEGER NOT NULL,
    excepted INTEGER NOT NULL,
    err      TEXT NOT NULL DEFAULT '',
    verdicts BLOB NOT NULL,
    PRIMARY KEY (run_id, test_id)
);
CREATE INDEX test_results_test ON test_results (org_id, test_id, run_id);

-- test_status is each judged test's latest outcome; alerting says whether its last alert
-- was a failing one. test_state is the current verdict per test and resource, with since.
CREATE TABLE test_status (
    org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    test_id     TEXT NOT NULL,
    title       TEXT NOT NULL,
    type        TEXT NOT NULL,
    severity    TEXT NOT NULL,
    remediation TEXT NOT NULL,
    controls    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error', 'no_data')),
    passed      INTEGER NOT NULL,
    failed      INTEGER NOT NULL,
    errors      INTEGER NOT NULL,
    err         TEXT NOT NULL DEFAULT '',
    since       TEXT NOT NULL,
    alerting    INTEGER NOT NULL CHECK (alerting IN (0, 1)),
    last_run_id INTEGER NOT NULL,
    last_run_at TEXT NOT NULL,
    PRIMARY KEY (org_id, test_id)
);

CREATE TABLE test_state (
    org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    test_id     TEXT NOT NULL,
    external_id TEXT NOT NULL,
    name        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pass', 'fail', 'error')),
    message     TEXT NOT NULL DEFAULT '',
    since       TEXT NOT NULL,
    PRIMARY KEY (org_id, test_id, external_id)
) WITHOUT ROWID;

CREATE TABLE exceptions (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    test_id       TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    justification TEXT NOT NULL,
    approver_id   INTEGER NOT NULL,
    expires_at    TEXT NOT NULL,
    created_by    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL,
    revoked_at    TEXT,
    revoked_by    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX exceptions_org_test ON exceptions (org_id, test_id, external_id);

-- alerts are delivered once: a notifier claims pending ones with a lease (claim_owner,
-- claim_until) and marks them delivered. control_ids and owner_ids are JSON lists.
CREATE TABLE alerts (
    id           INTEGER PRIMARY KEY,
    org_id       INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    test_id      TEXT NOT NULL,
    test_title   TEXT NOT NULL,
    severity     TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('failing', 'recovered')),
    failing      INTEGER NOT NULL,
    control_ids  TEXT NOT NULL,
    owner_ids    TEXT NOT NULL,
    test_run_id  INTEGER NOT NULL REFERENCES test_runs (id) ON DELETE CASCADE,
    created_at   TEXT NOT NULL,
    claim_owner  TEXT NOT NULL DEFAULT '',
    claim_until  TEXT,
    delivered_at TEXT
);
CREATE INDEX alerts_org ON alerts (org_id, id);
CREATE INDEX alerts_pending ON alerts (delivered_at, id);

CREATE TABLE tasks (
    id          INTEGER PRIMARY KEY,
    org_id      INTEGER NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    assignee_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('fix_failing_test')),
    test_id     TEXT NOT NULL,
    alert_id    INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    title       TEXT NOT NULL,
    detail      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    closed_at   TEXT,
    resolution  TEXT NOT NULL DEFAULT ''
);
CREATE INDEX tasks_org_assignee ON tasks (org_id, assignee_id, id);
CREATE INDEX tasks_org_test ON tasks (org_id, test_id);
