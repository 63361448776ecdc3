-- The Selling Partner API connection of a team: its credentials, the sync watermark and how
-- the last sync went; and which shipments Amazon refused to confirm.

CREATE TABLE amazon_accounts (
    team_id         INTEGER PRIMARY KEY REFERENCES teams(team_id) ON DELETE CASCADE,
    source          TEXT NOT NULL,              -- 'chat': set with /amazon; 'env': DINGDAN_SPAPI_* (no secrets here)
    marketplace_id  TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    -- Login with Amazon credentials, in clear like the rest of this file; NULL for 'env'.
    client_id       TEXT,
    client_secret   TEXT,
    refresh_token   TEXT,
    configured_by   INTEGER,
    configured_at   TEXT NOT NULL,              -- connected to this marketplace since: shipments from then on are confirmed
    secrets_at      TEXT NOT NULL,              -- the credentials last set
    last_sync       TEXT,                       -- LastUpdatedAfter of the next getOrders
    synced_at       TEXT,                       -- when a sync last finished
    sync_status     TEXT NOT NULL DEFAULT 'new', -- new | ok | error
    sync_error      TEXT
);

-- 1: Amazon refused the confirmation (a 4xx): not sent again until the shipment changes
-- (a tracking correction supersedes these rows with new ones).
ALTER TABLE shipments ADD COLUMN confirm_final INTEGER NOT NULL DEFAULT 0;
CREATE INDEX shipments_to_confirm ON shipments (team_id, confirmed_at, superseded);
