-- Reads that stay flat as history grows (issue 11): a list page, the counts, an export and
-- its undo read what they show, never the year behind it. (PostgreSQL's twin of ../0007_flat_reads.sql.)

-- An order's place in a list: the earliest ship-by first (none last), then the purchase (none
-- first), then the id. Ship-by and purchase times are stored UTC ISO text, so text order is
-- time order (ctext: byte order, '~' after digits). A page is the next rows of the index after the
-- last order shown (keyset paging). STORED: PostgreSQL has no virtual generated columns.
ALTER TABLE orders ADD COLUMN list_key ctext
    GENERATED ALWAYS AS (coalesce(ship_by, '~') || '|' || coalesce(purchased_at, '0') || '|' || order_id) STORED;
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
    team_id  BIGINT NOT NULL,
    goods    ctext NOT NULL,
    n        BIGINT NOT NULL,
    PRIMARY KEY (team_id, goods)
);
INSERT INTO order_counts (team_id, goods, n) SELECT team_id, goods, count(*) FROM orders GROUP BY team_id, goods;

CREATE FUNCTION order_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO order_counts (team_id, goods, n) VALUES (NEW.team_id, NEW.goods, 1)
        ON CONFLICT (team_id, goods) DO UPDATE SET n = order_counts.n + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER order_counts_insert AFTER INSERT ON orders
    FOR EACH ROW EXECUTE FUNCTION order_counts_insert();

CREATE FUNCTION order_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_counts SET n = n - 1 WHERE team_id = OLD.team_id AND goods = OLD.goods;
    RETURN NULL;
END
$$;
CREATE TRIGGER order_counts_delete AFTER DELETE ON orders
    FOR EACH ROW EXECUTE FUNCTION order_counts_delete();

CREATE FUNCTION order_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE order_counts SET n = n - 1 WHERE team_id = OLD.team_id AND goods = OLD.goods;
    INSERT INTO order_counts (team_id, goods, n) VALUES (NEW.team_id, NEW.goods, 1)
        ON CONFLICT (team_id, goods) DO UPDATE SET n = order_counts.n + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER order_counts_update AFTER UPDATE OF team_id, goods ON orders
    FOR EACH ROW WHEN (OLD.team_id IS DISTINCT FROM NEW.team_id OR OLD.goods IS DISTINCT FROM NEW.goods)
    EXECUTE FUNCTION order_counts_update();
