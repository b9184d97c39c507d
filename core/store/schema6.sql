-- Version 6: when each target's events were last pruned, so a pass,
-- which reads every event it keeps, runs once a day rather than after
-- every delivery.
CREATE TABLE IF NOT EXISTS prune_runs (
	target TEXT PRIMARY KEY,
	at     INTEGER NOT NULL
);
