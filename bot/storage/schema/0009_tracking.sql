-- Carrier tracking (issue 12): one row per tracking number of an order, registered once with
-- the tracking provider (17TRACK), polled on a schedule that backs off with age, stopped when
-- delivered, corrected away or 60 days old.

CREATE TABLE tracking (
    tracking_id      INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id          INTEGER NOT NULL,
    order_id         TEXT NOT NULL,
    number           TEXT NOT NULL,               -- the carrier's tracking number, as shipped
    carrier          TEXT NOT NULL DEFAULT '',    -- Amazon's carrier code (UPS, China Post, Other…)
    provider_carrier INTEGER,                     -- the provider's carrier code, once it said
    shipped_at       TEXT NOT NULL,
    state            TEXT NOT NULL DEFAULT 'to_register',
        -- to_register | registered | rejected | to_stop | stopped
    registered_at    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,  -- registrations the provider could not do yet
    error            TEXT,                        -- the provider's code and message for a rejection
    status           TEXT,                        -- the provider's main status (NotFound, InTransit, Delivered…)
    sub_status       TEXT,
    event_at         TEXT,                        -- the carrier's last event: time, place, text
    event_place      TEXT,
    event_text       TEXT,
    moved_at         TEXT,                        -- the last time the carrier's last event changed
    delivered_at     TEXT,
    checked_at       TEXT,
    next_check_at    TEXT,                        -- set while registered: when to ask again
    stopped_at       TEXT,
    stop_reason      TEXT,                        -- delivered | corrected | expired | order_closed
    concern          TEXT,                        -- exception | no_scan | stuck: an alert candidate
    concern_since    TEXT,
    FOREIGN KEY (team_id, order_id) REFERENCES orders (team_id, order_id) ON DELETE CASCADE,
    UNIQUE (team_id, order_id, number)
);
-- The poll: the numbers due, oldest first. A partial index holds only the registered ones,
-- so the query reads as many index entries as it returns, however many orders were shipped.
CREATE INDEX tracking_due ON tracking (next_check_at) WHERE state = 'registered';
-- Work for the provider: numbers to register and numbers to stop, in the order they came.
CREATE INDEX tracking_work ON tracking (state, tracking_id) WHERE state IN ('to_register', 'to_stop');
CREATE INDEX tracking_by_order ON tracking (team_id, order_id);
-- The digest's valid tracking rate: a team's numbers shipped in the last 30 days.
CREATE INDEX tracking_by_shipped ON tracking (team_id, shipped_at);
-- Alert candidates of a team.
CREATE INDEX tracking_concerns ON tracking (team_id, concern) WHERE concern IS NOT NULL;

-- How far the registration has read the shipments table (one row).
CREATE TABLE tracking_cursor (
    id               INTEGER PRIMARY KEY CHECK (id = 1),
    last_shipment_id INTEGER NOT NULL
);

-- The provider's quota, as it last said (17TRACK: numbers a month; the free plan has 100).
CREATE TABLE tracking_quota (
    provider    TEXT PRIMARY KEY,
    checked_at  TEXT NOT NULL,
    total       INTEGER NOT NULL,
    used        INTEGER NOT NULL,
    remaining   INTEGER NOT NULL
);

-- A team's administrator switched carrier tracking off (no row: on, when the operator set a key).
CREATE TABLE tracking_off (
    team_id     INTEGER PRIMARY KEY REFERENCES teams(team_id) ON DELETE CASCADE,
    by          INTEGER,
    at          TEXT NOT NULL
);

-- A team's setting: a parcel in transit without movement this many days is stuck (an alert).
ALTER TABLE teams ADD COLUMN stuck_days INTEGER NOT NULL DEFAULT 7;
