-- Reads that stay flat as history grows (issue 11): a list page, the counts, an export and
-- its undo read what they show, never the year behind it.

-- An order's place in a list: the earliest ship-by first (none last), then the purchase (none
-- first), then the id. Ship-by and purchase times are stored UTC ISO text, so text order is
-- time order. A page is the next rows of the index after the last order shown (keyset paging).
ALTER TABLE orders ADD COLUMN list_key TEXT
    GENERATED ALWAYS AS (coalesce(ship_by, '~') || '|' || coalesce(purchased_at, '0') || '|' || order_id) VIRTUAL;
CREATE INDEX orders_list ON orders (team_id, goods, list_key);
-- Tails ("the order ending in 6689"): a 4-digit tail matches ~100 orders of a million; they
-- are ranked (open first, then the latest bought) from the index alone.
DROP INDEX orders_by_tail;
CREATE INDEX orders_by_tail ON orders (team_id, digits_rev, goods, purchased_at, order_id);
-- Orders by purchase time across states (the digest, reports of a period).
CREATE INDEX orders_by_purchased ON orders (team_id, purchased_at);

-- /export DAY: the shipments of one day.
CREATE INDEX shipments_by_day ON shipments (team_id, shipped_at);
-- An export that could not be delivered is taken back by its id.
CREATE INDEX shipments_by_export ON shipments (export_id) WHERE export_id IS NOT NULL;

-- How many orders each team has in each state, kept by the triggers below in the same
-- transaction as every write of orders (a save, an import, a sync, a deletion), so the
-- counts never need a GROUP BY over the history.
CREATE TABLE order_counts (
    team_id  INTEGER NOT NULL,
    goods    TEXT NOT NULL,
    n        INTEGER NOT NULL,
    PRIMARY KEY (team_id, goods)
) WITHOUT ROWID;
INSERT INTO order_counts (team_id, goods, n) SELECT team_id, goods, count(*) FROM orders GROUP BY team_id, goods;

CREATE TRIGGER order_counts_insert AFTER INSERT ON orders BEGIN
    INSERT INTO order_counts (team_id, goods, n) VALUES (new.team_id, new.goods, 1)
        ON CONFLICT (team_id, goods) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER order_counts_delete AFTER DELETE ON orders BEGIN
    UPDATE order_counts SET n = n - 1 WHERE team_id = old.team_id AND goods = old.goods;
END;
CREATE TRIGGER order_counts_update AFTER UPDATE OF team_id, goods ON orders
    WHEN old.team_id IS NOT new.team_id OR old.goods IS NOT new.goods BEGIN
    UPDATE order_counts SET n = n - 1 WHERE team_id = old.team_id AND goods = old.goods;
    INSERT INTO order_counts (team_id, goods, n) VALUES (new.team_id, new.goods, 1)
        ON CONFLICT (team_id, goods) DO UPDATE SET n = n + 1;
END;
