-- Alerts: per-team settings, the ledger that makes each alert happen once, snoozes,
-- and the outbox that makes each message arrive.

ALTER TABLE teams ADD COLUMN lead_hours TEXT NOT NULL DEFAULT '24,4';   -- ship-by warnings, hours before
ALTER TABLE teams ADD COLUMN digest_at TEXT NOT NULL DEFAULT '09:00';   -- local time; '' = no digest
ALTER TABLE teams ADD COLUMN quiet_from TEXT NOT NULL DEFAULT '23:00';  -- local; equal from/until = none
ALTER TABLE teams ADD COLUMN quiet_until TEXT NOT NULL DEFAULT '08:00';
ALTER TABLE teams ADD COLUMN pending_days INTEGER NOT NULL DEFAULT 3;
ALTER TABLE teams ADD COLUMN kinds_off TEXT NOT NULL DEFAULT '';        -- comma-separated alert kinds
ALTER TABLE teams ADD COLUMN unreachable_since TEXT;                    -- the bot was removed or blocked

-- One row per alert that was decided to be sent: (order, kind, deadline) happens once.
CREATE TABLE alerts (
    team_id     INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    order_id    TEXT NOT NULL,              -- '*' for team-wide alerts (the digest)
    kind        TEXT NOT NULL,
    due_key     TEXT NOT NULL,              -- which deadline: a ship-by and lead, a day...
    created_at  TEXT NOT NULL,
    outbox_id   INTEGER,
    PRIMARY KEY (team_id, order_id, kind, due_key)
);

CREATE TABLE snoozes (
    team_id     INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    order_id    TEXT NOT NULL,
    until       TEXT NOT NULL,
    by_user     INTEGER,
    PRIMARY KEY (team_id, order_id)
);

-- Messages to send. A row leaves 'pending' only when Telegram accepted it ('sent') or
-- the chat cannot be reached ('held', sent again when the bot is back in the chat).
CREATE TABLE outbox (
    outbox_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL,
    payload     TEXT NOT NULL,              -- {"text": ..., "buttons": [[[label, data], ...], ...]}
    created_at  TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    status      TEXT NOT NULL DEFAULT 'pending',
    sent_at     TEXT,
    message_id  INTEGER
);
CREATE INDEX outbox_due ON outbox (status, not_before);

-- What the due-alert queries look up, by team and state.
CREATE INDEX orders_by_purchase ON orders (team_id, goods, purchased_at);
CREATE INDEX orders_by_delivery ON orders (team_id, goods, deliver_by);
