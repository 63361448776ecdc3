-- The alert check reads only the snoozes still running. (Twin of ../0005_snooze_index.sql.)
CREATE INDEX snoozes_running ON snoozes (team_id, until);
