-- The Selling Partner API connection of a team: its credentials, the sync watermark and how
-- the last sync went; and which shipments Amazon refused to confirm. (Twin of ../0004_amazon.sql.)

CREATE TABLE amazon_accounts (
    team_id         BIGINT PRIMARY KEY REFERENCES teams(team_id) ON DELETE CASCADE DEFERRABLE,
    source          ctext NOT NULL,             -- 'chat': set with /amazon; 'env': DINGDAN_SPAPI_* (no secrets here)
    marketplace_id  ctext NOT NULL,
    endpoint        ctext NOT NULL,
    -- Login with Amazon credentials, in clear like the rest of this file; NULL for 'env'.
    client_id       ctext,
    client_secret   ctext,
    refresh_token   ctext,
    configured_by   BIGINT,
    configured_at   ctext NOT NULL,             -- connected to this marketplace since: shipments from then on are confirmed
    secrets_at      ctext NOT NULL,             -- the credentials last set
    last_sync       ctext,                      -- LastUpdatedAfter of the next getOrders
    synced_at       ctext,                      -- when a sync last finished
    sync_status     ctext NOT NULL DEFAULT 'new', -- new | ok | error
    sync_error      ctext
);

-- 1: Amazon refused the confirmation (a 4xx): not sent again until the shipment changes
-- (a tracking correction supersedes these rows with new ones).
ALTER TABLE shipments ADD COLUMN confirm_final BIGINT NOT NULL DEFAULT 0;
CREATE INDEX shipments_to_confirm ON shipments (team_id, confirmed_at, superseded);
