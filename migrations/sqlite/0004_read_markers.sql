-- Read markers (issue 12): the sequence number of the newest message each member has read in
-- the room (0: none). It only moves forward.
ALTER TABLE memberships ADD COLUMN last_read_seq INTEGER NOT NULL DEFAULT 0;
