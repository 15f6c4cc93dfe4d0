-- A version 1 database (the schema of the first release) with one incident.
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS incidents (
    id               TEXT PRIMARY KEY,
    client           TEXT,
    category         TEXT NOT NULL,
    severity         TEXT NOT NULL,
    severity_rank    INTEGER NOT NULL,
    first_seen       TEXT NOT NULL,
    first_seen_unix  INTEGER NOT NULL,
    last_seen        TEXT NOT NULL,
    last_seen_unix   INTEGER NOT NULL,
    count            INTEGER NOT NULL,
    max_score        REAL NOT NULL,
    samples          TEXT NOT NULL,
    explanation      TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    feedback         TEXT CHECK (feedback IS NULL OR feedback IN ('fp', 'confirmed'))
);
CREATE INDEX IF NOT EXISTS incidents_last_seen ON incidents (last_seen_unix DESC, id DESC);
CREATE INDEX IF NOT EXISTS incidents_client ON incidents (client);
CREATE INDEX IF NOT EXISTS incidents_category ON incidents (category);
CREATE TABLE IF NOT EXISTS anomalies (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id  TEXT,
    seen         INTEGER NOT NULL,
    ts           TEXT,
    source       TEXT NOT NULL,
    line         INTEGER NOT NULL,
    client       TEXT,
    request      TEXT NOT NULL,
    status       INTEGER,
    score        REAL NOT NULL,
    explanation  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS anomalies_incident ON anomalies (incident_id);
CREATE INDEX IF NOT EXISTS anomalies_seen ON anomalies (seen);
CREATE TABLE IF NOT EXISTS series (
    minute      INTEGER PRIMARY KEY,
    requests    INTEGER NOT NULL,
    errors_4xx  INTEGER NOT NULL,
    errors_5xx  INTEGER NOT NULL,
    anomalies   INTEGER NOT NULL,
    mean_score  REAL NOT NULL,
    max_score   REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('schema_version', '1');
INSERT INTO incidents (id, client, category, severity, severity_rank, first_seen, first_seen_unix,
    last_seen, last_seen_unix, count, max_score, samples, explanation, status, feedback)
VALUES ('old', '192.0.2.9', 'scan', 'high', 2, '2023-11-14T22:13:20Z', 1700000000,
    '2023-11-14T22:14:20Z', 1700000060, 3, 0.99, '[]', '[]', 'closed', NULL);
