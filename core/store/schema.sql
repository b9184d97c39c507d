-- Midstream store, version 1. Migrations only add: a new version appends a
-- file of statements; an applied version is never edited.

-- The directory: every object of every source, keyed by (source, kind,
-- external id), with a stable hub id.
CREATE TABLE objects (
	hub_id       TEXT PRIMARY KEY,
	source       TEXT NOT NULL,
	kind         TEXT NOT NULL CHECK (kind IN ('user', 'org')),
	external_id  TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('active', 'disabled', 'deleted')),
	-- An org's parent org, or a user's primary org, by external id in the
	-- same source: resolving through the directory keeps the stored tree
	-- independent of the order a source yields records in.
	parent_ext   TEXT NOT NULL DEFAULT '',
	-- A user's org memberships by external id (JSON array), primary first.
	orgs         TEXT NOT NULL DEFAULT '[]',
	-- Attributes in the canonical encoding (see codec.go): equal values
	-- encode to equal bytes, so an unchanged record is found by comparing
	-- bytes.
	attributes   TEXT NOT NULL DEFAULT '{}',
	display_name TEXT NOT NULL DEFAULT '',
	-- The last full run of the source that saw the object.
	seen_run     INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL,
	UNIQUE (source, kind, external_id)
);
CREATE INDEX objects_parent ON objects (source, parent_ext);
CREATE INDEX objects_seen ON objects (source, seen_run);
-- Users by their manager (a reference attribute), to update them once
-- their manager is linked in a target.
CREATE INDEX objects_manager ON objects (source, json_extract(attributes, '$.manager')) WHERE kind = 'user';

-- Where incremental reading of each source resumes.
CREATE TABLE cursors (
	source     TEXT PRIMARY KEY,
	cursor     TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);

-- The change log (outbox): one row per change of the directory, written in
-- the same transaction as the change.
CREATE TABLE changes (
	seq       INTEGER PRIMARY KEY AUTOINCREMENT,
	-- Commit time in microseconds since the Unix epoch.
	at_us     INTEGER NOT NULL,
	source    TEXT NOT NULL,
	hub_id    TEXT NOT NULL,
	kind      TEXT NOT NULL,
	op        TEXT NOT NULL CHECK (op IN ('create', 'update', 'delete', 'disable', 'enable', 'move')),
	-- Names of the attributes that changed (JSON array), for updates.
	changed   TEXT NOT NULL DEFAULT '[]',
	run_id    INTEGER NOT NULL
);

-- Each target's position in the change log.
CREATE TABLE target_positions (
	target TEXT PRIMARY KEY,
	seq    INTEGER NOT NULL
);

-- Links: what each application holds for each hub object.
CREATE TABLE links (
	target      TEXT NOT NULL,
	hub_id      TEXT NOT NULL,
	-- The application's id; '' while the object is not linked.
	target_id   TEXT NOT NULL DEFAULT '',
	-- The mapped values last applied (canonical encoding); NULL when
	-- unknown, so the next update sends every mapped attribute.
	synced      TEXT,
	-- Generated unique values reserved on the first attempt (JSON object).
	reserved    TEXT NOT NULL DEFAULT '{}',
	-- Set once a create has been sent, before its answer: a later delete
	-- must then be sent even if the answer was lost.
	create_sent INTEGER NOT NULL DEFAULT 0,
	-- 'linked', or 'orphan' when the hub object is gone (or left scope)
	-- but the target's policy kept (or only disabled) the account.
	state       TEXT NOT NULL DEFAULT 'linked',
	-- The state and parent (hub id) the application last received, so a
	-- target full sync can send the disable, enable or move it lacks.
	synced_state  TEXT NOT NULL DEFAULT '',
	synced_parent TEXT NOT NULL DEFAULT '',
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (target, hub_id)
);
CREATE INDEX links_target_id ON links (target, target_id);

-- Values of unique target attributes (an account name, an e-mail
-- address) held by objects: reserved on the first attempt of a create and
-- kept, so a retry reuses the value and two objects never share one.
CREATE TABLE unique_values (
	target    TEXT NOT NULL,
	kind      TEXT NOT NULL,
	attribute TEXT NOT NULL,
	value     TEXT NOT NULL,
	hub_id    TEXT NOT NULL,
	PRIMARY KEY (target, kind, attribute, value)
);
CREATE INDEX unique_values_hub ON unique_values (target, hub_id);

-- Runs of sources and targets.
CREATE TABLE runs (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	kind        TEXT NOT NULL CHECK (kind IN ('source', 'target')),
	name        TEXT NOT NULL,
	mode        TEXT NOT NULL,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	outcome     TEXT NOT NULL DEFAULT 'running',
	counts      TEXT NOT NULL DEFAULT '{}',
	error       TEXT NOT NULL DEFAULT ''
);

-- Losses a full source run found, held until the snapshot is complete.
CREATE TABLE run_losses (
	run_id INTEGER NOT NULL,
	hub_id TEXT NOT NULL,
	state  TEXT NOT NULL,
	PRIMARY KEY (run_id, hub_id)
);

-- Sync events: one change of one object to apply to one target.
CREATE TABLE events (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	target           TEXT NOT NULL,
	hub_id           TEXT NOT NULL,
	kind             TEXT NOT NULL,
	display_name     TEXT NOT NULL DEFAULT '',
	op               TEXT NOT NULL,
	trigger          TEXT NOT NULL CHECK (trigger IN ('incremental', 'full', 'retry', 'manual', 'api')),
	status           TEXT NOT NULL CHECK (status IN ('PENDING', 'QUEUING', 'RUNNING', 'SUCCESS', 'FAILURE', 'IGNORED', 'SKIPPED', 'WAITING')),
	-- Attribute names that changed when the event was recorded (JSON).
	changed          TEXT NOT NULL DEFAULT '[]',
	-- The change-log sequence numbers the event carries (JSON).
	seqs             TEXT NOT NULL DEFAULT '[]',
	attempts         INTEGER NOT NULL DEFAULT 0,
	next_attempt_at  INTEGER NOT NULL DEFAULT 0,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	started_at       INTEGER,
	finished_at      INTEGER,
	-- What was sent, sensitive values masked (JSON).
	request          TEXT NOT NULL DEFAULT '',
	response_status  INTEGER NOT NULL DEFAULT 0,
	response_id      TEXT NOT NULL DEFAULT '',
	response_excerpt TEXT NOT NULL DEFAULT '',
	outcome          TEXT NOT NULL DEFAULT '',
	error_category   TEXT NOT NULL DEFAULT '',
	error_code       TEXT NOT NULL DEFAULT '',
	error_message    TEXT NOT NULL DEFAULT '',
	reason           TEXT NOT NULL DEFAULT '',
	run_id           INTEGER NOT NULL DEFAULT 0,
	waits_on         INTEGER NOT NULL DEFAULT 0,
	-- The FAILURE event this event retries (a manual retry).
	retry_of         INTEGER NOT NULL DEFAULT 0,
	-- The lease owner that marked the event RUNNING.
	owner            TEXT NOT NULL DEFAULT ''
);
CREATE INDEX events_lane ON events (target, hub_id, id);
-- The queue is taken in id order; the few events not yet due are skipped.
CREATE INDEX events_ready ON events (target, status, id);
CREATE INDEX events_status ON events (status, id);
CREATE INDEX events_created ON events (created_at);
CREATE INDEX events_hub ON events (hub_id, id);
CREATE INDEX events_waits ON events (waits_on) WHERE waits_on != 0;
CREATE INDEX events_retry ON events (retry_of) WHERE retry_of != 0;

-- The single-executor lease (SPEC §14).
CREATE TABLE lease (
	id         INTEGER PRIMARY KEY CHECK (id = 1),
	owner      TEXT NOT NULL,
	expires_at INTEGER NOT NULL
);
