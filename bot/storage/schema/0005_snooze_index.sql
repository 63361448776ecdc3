-- The alert check reads only the snoozes still running.
CREATE INDEX snoozes_running ON snoozes (team_id, until);
