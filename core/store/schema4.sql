-- Version 4: the hub ids of each source's objects that are not deleted,
-- so that finding what a full snapshot left out (and counting a source's
-- objects for the deletion guard) reads this index, not every row.
CREATE INDEX IF NOT EXISTS objects_active ON objects (source, hub_id) WHERE state != 'deleted';
