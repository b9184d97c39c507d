-- Version 5: users a target received without their manager's id (the
-- manager was not linked there yet, or not in the directory), by manager.
-- When the manager is created there, these users get an update carrying
-- its id; a user's create looks its reports up here, where before it
-- searched every user naming it (most users manage no one).
CREATE TABLE manager_waits (
	target      TEXT NOT NULL,
	source      TEXT NOT NULL,
	-- The manager, by external id in the report's source: it may not be
	-- in the directory yet.
	manager_ext TEXT NOT NULL,
	hub_id      TEXT NOT NULL,
	PRIMARY KEY (target, source, manager_ext, hub_id)
) WITHOUT ROWID;
-- What stores migrated from version 4 hold already: linked users whose
-- manager is not linked in the same target.
INSERT OR IGNORE INTO manager_waits (target, source, manager_ext, hub_id)
	SELECT l.target, u.source, json_extract(u.attributes, '$.manager'), u.hub_id
	FROM objects u JOIN links l ON l.hub_id = u.hub_id AND l.target_id != ''
	WHERE u.kind = 'user' AND json_type(u.attributes, '$.manager') = 'text' AND json_extract(u.attributes, '$.manager') != ''
		AND NOT EXISTS (SELECT 1 FROM objects m JOIN links ml ON ml.target = l.target AND ml.hub_id = m.hub_id AND ml.target_id != ''
			WHERE m.source = u.source AND m.kind = 'user' AND m.external_id = json_extract(u.attributes, '$.manager'));
