-- The account-health figures of the daily digest, kept per team and hour as orders change
-- (issue 11: the digest read every month's ship events joined to orders, 100x slower at 1M
-- orders than at 10k). Lateness and the tracking's validity are recorded when an order
-- ships, by the triggers below, in the transaction that ships it; the digest sums at most
-- 30 x 24 rows, whatever the size of the history.
--
-- hour: the UTC hour, 'YYYY-MM-DDTHH' (the first 13 characters of a stored time).
-- ordered / seller_cancelled: by the hour the order was placed (Amazon's pre-fulfilment
--   cancel rate: orders cancelled by the seller among the orders of the period);
-- shipped / shipped_late: by the hour the desk learned it shipped (shipped_at for /ship,
--   the moment Amazon's report or API said so otherwise); late when after its ship-by;
-- confirmed / tracking_valid: shipments confirmed through the desk, and those with a
--   recognised carrier: any Amazon carrier code (bot/carriers.py stores only those, or
--   'Other' with a name, which Amazon cannot track) and a tracking number.

CREATE TABLE team_hours (
    team_id           INTEGER NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE,
    hour              TEXT NOT NULL,
    ordered           INTEGER NOT NULL DEFAULT 0,
    seller_cancelled  INTEGER NOT NULL DEFAULT 0,
    shipped           INTEGER NOT NULL DEFAULT 0,
    shipped_late      INTEGER NOT NULL DEFAULT 0,
    confirmed         INTEGER NOT NULL DEFAULT 0,
    tracking_valid    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, hour)
) WITHOUT ROWID;

-- An order is placed.
CREATE TRIGGER team_hours_ordered AFTER INSERT ON orders WHEN NEW.purchased_at IS NOT NULL
BEGIN
    INSERT INTO team_hours (team_id, hour, ordered) VALUES (NEW.team_id, substr(NEW.purchased_at, 1, 13), 1)
    ON CONFLICT (team_id, hour) DO UPDATE SET ordered = ordered + 1;
END;

-- Its purchase date is corrected (a report that said otherwise before).
CREATE TRIGGER team_hours_reordered AFTER UPDATE OF purchased_at ON orders
WHEN OLD.purchased_at IS NOT NEW.purchased_at
BEGIN
    UPDATE team_hours SET ordered = ordered - 1
    WHERE OLD.purchased_at IS NOT NULL AND team_id = OLD.team_id AND hour = substr(OLD.purchased_at, 1, 13);
    INSERT INTO team_hours (team_id, hour, ordered)
    SELECT NEW.team_id, substr(NEW.purchased_at, 1, 13), 1 WHERE NEW.purchased_at IS NOT NULL
    ON CONFLICT (team_id, hour) DO UPDATE SET ordered = ordered + 1;
END;

-- Shipped through the desk (/ship, a batch, a button): shipped_at is set for the first time.
-- Confirmed all the same, but shipped (and late) only if Amazon had not said so first: an order
-- Amazon's report moved to partially_shipped (or shipped) was counted then, by the trigger below.
CREATE TRIGGER team_hours_shipped AFTER UPDATE OF shipped_at ON orders
WHEN OLD.shipped_at IS NULL AND NEW.shipped_at IS NOT NULL
BEGIN
    INSERT INTO team_hours (team_id, hour, shipped, shipped_late, confirmed, tracking_valid)
    VALUES (NEW.team_id, substr(NEW.shipped_at, 1, 13), OLD.goods IN ('pending', 'unshipped'),
            OLD.goods IN ('pending', 'unshipped') AND coalesce(NEW.shipped_at > NEW.ship_by, 0), 1,
            NEW.carrier NOT IN ('', 'Other') AND NEW.tracking <> '')
    ON CONFLICT (team_id, hour) DO UPDATE SET shipped = shipped + excluded.shipped,
        shipped_late = shipped_late + excluded.shipped_late,
        confirmed = confirmed + 1, tracking_valid = tracking_valid + excluded.tracking_valid;
END;

-- Shipped outside the desk (Amazon says so): counted when the desk learns it, with no tracking of ours.
CREATE TRIGGER team_hours_amazon_shipped AFTER UPDATE OF goods ON orders
WHEN NEW.shipped_at IS NULL AND OLD.goods IN ('pending', 'unshipped') AND NEW.goods IN ('partially_shipped', 'shipped')
BEGIN
    INSERT INTO team_hours (team_id, hour, shipped, shipped_late)
    VALUES (NEW.team_id, substr(NEW.updated_at, 1, 13), 1, coalesce(NEW.updated_at > NEW.ship_by, 0))
    ON CONFLICT (team_id, hour) DO UPDATE SET shipped = shipped + 1, shipped_late = shipped_late + excluded.shipped_late;
END;

-- A tracking correction after the shipment: the shipment's validity is what it says now.
CREATE TRIGGER team_hours_tracking_corrected AFTER UPDATE OF carrier, tracking ON orders
WHEN OLD.shipped_at IS NOT NULL AND OLD.shipped_at IS NEW.shipped_at
    AND (OLD.carrier IS NOT NEW.carrier OR OLD.tracking IS NOT NEW.tracking)
BEGIN
    UPDATE team_hours SET tracking_valid = tracking_valid
        - (OLD.carrier NOT IN ('', 'Other') AND OLD.tracking <> '') + (NEW.carrier NOT IN ('', 'Other') AND NEW.tracking <> '')
    WHERE team_id = NEW.team_id AND hour = substr(NEW.shipped_at, 1, 13);
END;

-- The seller cancels (any reason but the buyer's request): counted at the order's purchase hour.
CREATE TRIGGER team_hours_seller_cancelled AFTER INSERT ON events
WHEN NEW.action = 'cancel' AND json_extract(NEW.details, '$.reason') IS NOT 'BuyerCanceled'
BEGIN
    INSERT INTO team_hours (team_id, hour, seller_cancelled)
    SELECT team_id, substr(purchased_at, 1, 13), 1 FROM orders
    WHERE team_id = NEW.team_id AND order_id = NEW.order_id AND purchased_at IS NOT NULL
    ON CONFLICT (team_id, hour) DO UPDATE SET seller_cancelled = seller_cancelled + 1;
END;

-- Yesterday's work in the digest: what people did (not imports or the bot) in a day, read from
-- this index alone, however many events the day's imports and syncs wrote. Partial (people's
-- events only); actor_kind is in it all the same so that the planner, which has no statistics,
-- prefers it to events_by_time.
CREATE INDEX events_by_person ON events (team_id, actor_kind, at, actor_name, action) WHERE actor_kind = 'user';

-- What the desk already holds (one pass over each table: NOT INDEXED reads it in storage order
-- rather than through an index, row by row: 30 s less each at 1M orders).
INSERT INTO team_hours (team_id, hour, ordered)
SELECT team_id, substr(purchased_at, 1, 13), count(*) FROM orders WHERE purchased_at IS NOT NULL
GROUP BY team_id, substr(purchased_at, 1, 13);

-- Shipped through the desk: shipped there unless an Amazon event came first (counted below, as
-- the triggers do: the desk's shipment of an order Amazon had moved adds to confirmed alone).
INSERT INTO team_hours (team_id, hour, shipped, shipped_late, confirmed, tracking_valid)
SELECT team_id, substr(shipped_at, 1, 13), sum(NOT amazon_first),
       sum(NOT amazon_first AND coalesce(shipped_at > ship_by, 0)), count(*),
       sum(carrier NOT IN ('', 'Other') AND tracking <> '')
FROM (
    SELECT o.team_id, o.shipped_at, o.ship_by, o.carrier, o.tracking, EXISTS (
        SELECT 1 FROM events e WHERE e.team_id = o.team_id AND e.order_id = o.order_id
        AND e.action IN ('amazon_shipped', 'amazon_partially_shipped') AND e.at < o.shipped_at
    ) AS amazon_first
    FROM orders o NOT INDEXED WHERE o.shipped_at IS NOT NULL
) WHERE true GROUP BY team_id, substr(shipped_at, 1, 13) ORDER BY 1, 2
ON CONFLICT (team_id, hour) DO UPDATE SET shipped = excluded.shipped, shipped_late = excluded.shipped_late,
    confirmed = excluded.confirmed, tracking_valid = excluded.tracking_valid;

INSERT INTO team_hours (team_id, hour, shipped, shipped_late)
SELECT team_id, substr(at, 1, 13), count(*), sum(coalesce(at > ship_by, 0)) FROM (
    SELECT e.team_id, min(e.at) AS at, o.ship_by
    FROM events e NOT INDEXED JOIN orders o ON o.team_id = e.team_id AND o.order_id = e.order_id
    WHERE e.action IN ('amazon_shipped', 'amazon_partially_shipped') AND (o.shipped_at IS NULL OR e.at < o.shipped_at)
    GROUP BY e.team_id, e.order_id
) WHERE true GROUP BY team_id, substr(at, 1, 13) ORDER BY 1, 2
ON CONFLICT (team_id, hour) DO UPDATE SET shipped = shipped + excluded.shipped,
    shipped_late = shipped_late + excluded.shipped_late;

INSERT INTO team_hours (team_id, hour, seller_cancelled)
SELECT o.team_id, substr(o.purchased_at, 1, 13), count(*)
FROM events e JOIN orders o ON o.team_id = e.team_id AND o.order_id = e.order_id
WHERE e.action = 'cancel' AND json_extract(e.details, '$.reason') IS NOT 'BuyerCanceled' AND o.purchased_at IS NOT NULL
GROUP BY o.team_id, substr(o.purchased_at, 1, 13) ORDER BY 1, 2
ON CONFLICT (team_id, hour) DO UPDATE SET seller_cancelled = seller_cancelled + excluded.seller_cancelled;
