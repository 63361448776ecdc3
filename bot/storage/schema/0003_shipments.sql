-- Shipments confirmed through the bot, item by item: what the Shipping Confirmation file
-- (and later the Selling Partner API) tells Amazon.

CREATE TABLE shipments (
    shipment_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id       INTEGER NOT NULL,
    order_id      TEXT NOT NULL,
    item_id       TEXT NOT NULL,
    quantity      INTEGER NOT NULL,
    shipped_at    TEXT NOT NULL,
    carrier       TEXT NOT NULL,             -- Amazon's carrier code, exact and case-sensitive
    carrier_name  TEXT NOT NULL DEFAULT '',  -- required by Amazon when carrier is 'Other'
    tracking      TEXT NOT NULL,
    ship_method   TEXT NOT NULL DEFAULT '',
    superseded    INTEGER NOT NULL DEFAULT 0, -- a tracking correction replaced it
    exported_at   TEXT,                       -- written into a Shipping Confirmation file
    export_id     TEXT,
    confirmed_at  TEXT,                       -- confirmed with Amazon through the API
    confirm_error TEXT,
    FOREIGN KEY (team_id, order_id) REFERENCES orders (team_id, order_id) ON DELETE CASCADE
);
CREATE INDEX shipments_to_export ON shipments (team_id, superseded, exported_at);
CREATE INDEX shipments_by_order ON shipments (team_id, order_id);
