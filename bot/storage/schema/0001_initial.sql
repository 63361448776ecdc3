-- dingdan schema, version 1. Times are ISO 8601 in UTC; money is decimal text.

CREATE TABLE teams (
    team_id     INTEGER PRIMARY KEY,          -- the team's Telegram group chat id
    title       TEXT NOT NULL DEFAULT '',
    timezone    TEXT NOT NULL,
    started_by  INTEGER,
    started_at  TEXT NOT NULL
);

CREATE TABLE chats (
    chat_id     INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,                -- private | group | supergroup | channel
    title       TEXT NOT NULL DEFAULT '',
    language    TEXT,                         -- the chat's default language, set by an admin
    updated_at  TEXT NOT NULL
);

CREATE TABLE users (
    user_id            INTEGER PRIMARY KEY,
    name               TEXT NOT NULL DEFAULT '',
    username           TEXT,
    telegram_language  TEXT,                  -- what their Telegram app says
    language           TEXT,                  -- what they chose with /lang
    active_team        INTEGER REFERENCES teams(team_id) ON DELETE SET NULL,
    updated_at         TEXT NOT NULL
);

CREATE TABLE members (
    team_id     INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    status      TEXT NOT NULL,                -- Telegram's chat member status
    checked_at  TEXT NOT NULL,
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX members_by_user ON members (user_id);

CREATE TABLE orders (
    team_id           INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    order_id          TEXT NOT NULL,
    digits_rev        TEXT NOT NULL,          -- the id's digits reversed: tail look-ups use the index
    goods             TEXT NOT NULL,
    money             TEXT NOT NULL DEFAULT 'none',
    channel           TEXT NOT NULL DEFAULT 'MFN',
    currency          TEXT NOT NULL DEFAULT '',
    total             TEXT,
    refunded          TEXT NOT NULL DEFAULT '0',
    purchased_at      TEXT,
    ship_by           TEXT,
    deliver_by        TEXT,
    service_level     TEXT NOT NULL DEFAULT '',
    buyer_name        TEXT NOT NULL DEFAULT '',
    ship_city         TEXT NOT NULL DEFAULT '',
    ship_state        TEXT NOT NULL DEFAULT '',
    ship_postal_code  TEXT NOT NULL DEFAULT '',
    ship_country      TEXT NOT NULL DEFAULT '',
    ship_address      TEXT NOT NULL DEFAULT '',
    carrier           TEXT NOT NULL DEFAULT '',
    carrier_name      TEXT NOT NULL DEFAULT '',
    tracking          TEXT NOT NULL DEFAULT '',
    shipped_at        TEXT,
    return_reason     TEXT NOT NULL DEFAULT '',
    disposition       TEXT NOT NULL DEFAULT '',
    version           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (team_id, order_id)
);
-- Lists and ship-by alerts: "unshipped orders of this team by ship-by time".
CREATE INDEX orders_by_state ON orders (team_id, goods, ship_by);
CREATE INDEX orders_by_tail ON orders (team_id, digits_rev);

CREATE TABLE order_items (
    team_id           INTEGER NOT NULL,
    order_id          TEXT NOT NULL,
    item_id           TEXT NOT NULL,
    sku               TEXT NOT NULL DEFAULT '',
    title             TEXT NOT NULL DEFAULT '',
    quantity          INTEGER NOT NULL,
    quantity_shipped  INTEGER NOT NULL DEFAULT 0,
    price             TEXT,
    PRIMARY KEY (team_id, order_id, item_id),
    FOREIGN KEY (team_id, order_id) REFERENCES orders (team_id, order_id) ON DELETE CASCADE
);

CREATE TABLE events (
    event_id    INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER NOT NULL,
    order_id    TEXT NOT NULL,
    at          TEXT NOT NULL,
    actor_kind  TEXT NOT NULL,                -- user | import | bot
    actor_id    INTEGER,
    actor_name  TEXT NOT NULL DEFAULT '',
    chat_id     INTEGER,
    action      TEXT NOT NULL,
    from_goods  TEXT,
    to_goods    TEXT,
    from_money  TEXT,
    to_money    TEXT,
    details     TEXT NOT NULL DEFAULT '{}',
    FOREIGN KEY (team_id, order_id) REFERENCES orders (team_id, order_id) ON DELETE CASCADE
);
CREATE INDEX events_by_order ON events (team_id, order_id, event_id);
CREATE INDEX events_by_time ON events (team_id, at);

CREATE TABLE imports (
    import_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    sha256      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    filename    TEXT NOT NULL DEFAULT '',
    at          TEXT NOT NULL,
    actor_id    INTEGER,
    chat_id     INTEGER,
    rows        INTEGER NOT NULL,
    new         INTEGER NOT NULL,
    updated     INTEGER NOT NULL,
    unchanged   INTEGER NOT NULL,
    refused     INTEGER NOT NULL
);
CREATE INDEX imports_by_file ON imports (team_id, sha256);

-- A question the bot asked ("refund while the return is on its way?"), answered by a button.
CREATE TABLE confirmations (
    token       TEXT PRIMARY KEY,
    team_id     INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL,
    chat_id     INTEGER NOT NULL,
    order_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    details     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
