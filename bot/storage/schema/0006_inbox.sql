-- The durable inbox and the reply outbox (issue 7): an update is stored before Telegram's
-- offset moves past it, and marked done in the same transaction as its effect and its replies.

CREATE TABLE inbox (
    update_id    INTEGER PRIMARY KEY,          -- Telegram's update_id: storing it twice is harmless
    payload      TEXT NOT NULL,                -- the update as JSON, to process it again after a crash
    received_at  TEXT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'new',  -- new | done | failed (gave up after repeated crashes)
    attempts     INTEGER NOT NULL DEFAULT 0,   -- starts that found it unfinished
    done_at      TEXT
);
CREATE INDEX inbox_open ON inbox (status, update_id);

-- "Edits are not commands" is said once per edited message.
CREATE TABLE edit_notices (
    chat_id     INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    at          TEXT NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);

-- The outbox now also carries replies (a private chat may have no team) and files.
CREATE TABLE outbox_new (
    outbox_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER REFERENCES teams(team_id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL,
    kind        TEXT NOT NULL DEFAULT 'alert', -- alert | reply | file
    update_id   INTEGER,                       -- the update a reply answers
    payload     TEXT NOT NULL,                 -- {"text", "buttons" | "markup", "reply_to", "filename", "caption"}
    document    BLOB,                          -- a file's bytes (kind 'file')
    created_at  TEXT NOT NULL,
    not_before  TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    status      TEXT NOT NULL DEFAULT 'pending', -- pending | sent | held | failed
    sent_at     TEXT,
    message_id  INTEGER
);
INSERT INTO outbox_new (outbox_id, team_id, chat_id, kind, payload, created_at, not_before, attempts, last_error,
                        status, sent_at, message_id)
    SELECT outbox_id, team_id, chat_id, 'alert', payload, created_at, not_before, attempts, last_error, status,
           sent_at, message_id FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (status, not_before);
CREATE INDEX outbox_by_chat ON outbox (status, chat_id, outbox_id);
