-- A team's default carrier (issue 9): ships a bare tracking number whose shape names no
-- carrier. Kept as Amazon's code or Other:NAME, as bot.team_settings checks it; '' for none.
-- (PostgreSQL's twin of ../0010_default_carrier.sql.)
ALTER TABLE teams ADD COLUMN default_carrier ctext NOT NULL DEFAULT '';
