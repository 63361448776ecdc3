-- The account-health figures of the daily digest, kept per team and hour as orders change
-- (issue 11). PostgreSQL's twin of ../0008_team_hours.sql, which says what each figure counts.
--
-- hour: the UTC hour, 'YYYY-MM-DDTHH' (the first 13 characters of a stored time).
-- A condition counted into an integer is (cond)::int, as SQLite stores a comparison's 0 or 1.

CREATE TABLE team_hours (
    team_id           BIGINT NOT NULL REFERENCES teams(team_id) ON DELETE CASCADE DEFERRABLE,
    hour              ctext NOT NULL,
    ordered           BIGINT NOT NULL DEFAULT 0,
    seller_cancelled  BIGINT NOT NULL DEFAULT 0,
    shipped           BIGINT NOT NULL DEFAULT 0,
    shipped_late      BIGINT NOT NULL DEFAULT 0,
    confirmed         BIGINT NOT NULL DEFAULT 0,
    tracking_valid    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (team_id, hour)
);

-- An order is placed.
CREATE FUNCTION team_hours_ordered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_hours (team_id, hour, ordered) VALUES (NEW.team_id, substr(NEW.purchased_at, 1, 13), 1)
    ON CONFLICT (team_id, hour) DO UPDATE SET ordered = team_hours.ordered + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER team_hours_ordered AFTER INSERT ON orders
    FOR EACH ROW WHEN (NEW.purchased_at IS NOT NULL) EXECUTE FUNCTION team_hours_ordered();

-- Its purchase date is corrected (a report that said otherwise before).
CREATE FUNCTION team_hours_reordered() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE team_hours SET ordered = ordered - 1
    WHERE OLD.purchased_at IS NOT NULL AND team_id = OLD.team_id AND hour = substr(OLD.purchased_at, 1, 13);
    INSERT INTO team_hours (team_id, hour, ordered)
    SELECT NEW.team_id, substr(NEW.purchased_at, 1, 13), 1 WHERE NEW.purchased_at IS NOT NULL
    ON CONFLICT (team_id, hour) DO UPDATE SET ordered = team_hours.ordered + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER team_hours_reordered AFTER UPDATE OF purchased_at ON orders
    FOR EACH ROW WHEN (OLD.purchased_at IS DISTINCT FROM NEW.purchased_at) EXECUTE FUNCTION team_hours_reordered();

-- Shipped through the desk (/ship, a batch, a button): shipped_at is set for the first time.
-- Confirmed all the same, but shipped (and late) only if Amazon had not said so first: an order
-- Amazon's report moved to partially_shipped (or shipped) was counted then, by the trigger below.
CREATE FUNCTION team_hours_shipped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_hours (team_id, hour, shipped, shipped_late, confirmed, tracking_valid)
    VALUES (NEW.team_id, substr(NEW.shipped_at, 1, 13), (OLD.goods IN ('pending', 'unshipped'))::int,
            (OLD.goods IN ('pending', 'unshipped') AND coalesce(NEW.shipped_at > NEW.ship_by, false))::int, 1,
            (NEW.carrier NOT IN ('', 'Other') AND NEW.tracking <> '')::int)
    ON CONFLICT (team_id, hour) DO UPDATE SET shipped = team_hours.shipped + excluded.shipped,
        shipped_late = team_hours.shipped_late + excluded.shipped_late,
        confirmed = team_hours.confirmed + 1, tracking_valid = team_hours.tracking_valid + excluded.tracking_valid;
    RETURN NULL;
END
$$;
CREATE TRIGGER team_hours_shipped AFTER UPDATE OF shipped_at ON orders
    FOR EACH ROW WHEN (OLD.shipped_at IS NULL AND NEW.shipped_at IS NOT NULL) EXECUTE FUNCTION team_hours_shipped();

-- Shipped outside the desk (Amazon says so): counted when the desk learns it, with no tracking of ours.
CREATE FUNCTION team_hours_amazon_shipped() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_hours (team_id, hour, shipped, shipped_late)
    VALUES (NEW.team_id, substr(NEW.updated_at, 1, 13), 1, coalesce((NEW.updated_at > NEW.ship_by)::int, 0))
    ON CONFLICT (team_id, hour) DO UPDATE SET shipped = team_hours.shipped + 1,
        shipped_late = team_hours.shipped_late + excluded.shipped_late;
    RETURN NULL;
END
$$;
CREATE TRIGGER team_hours_amazon_shipped AFTER UPDATE OF goods ON orders
    FOR EACH ROW
    WHEN (NEW.shipped_at IS NULL AND OLD.goods IN ('pending', 'unshipped') AND NEW.goods IN ('partially_shipped', 'shipped'))
    EXECUTE FUNCTION team_hours_amazon_shipped();

-- A tracking correction after the shipment: the shipment's validity is what it says now.
CREATE FUNCTION team_hours_tracking_corrected() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE team_hours SET tracking_valid = tracking_valid
        - (OLD.carrier NOT IN ('', 'Other') AND OLD.tracking <> '')::int
        + (NEW.carrier NOT IN ('', 'Other') AND NEW.tracking <> '')::int
    WHERE team_id = NEW.team_id AND hour = substr(NEW.shipped_at, 1, 13);
    RETURN NULL;
END
$$;
CREATE TRIGGER team_hours_tracking_corrected AFTER UPDATE OF carrier, tracking ON orders
    FOR EACH ROW
    WHEN (OLD.shipped_at IS NOT NULL AND OLD.shipped_at IS NOT DISTINCT FROM NEW.shipped_at
          AND (OLD.carrier IS DISTINCT FROM NEW.carrier OR OLD.tracking IS DISTINCT FROM NEW.tracking))
    EXECUTE FUNCTION team_hours_tracking_corrected();

-- The seller cancels (any reason but the buyer's request): counted at the order's purchase hour.
CREATE FUNCTION team_hours_seller_cancelled() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO team_hours (team_id, hour, seller_cancelled)
    SELECT team_id, substr(purchased_at, 1, 13), 1 FROM orders
    WHERE team_id = NEW.team_id AND order_id = NEW.order_id AND purchased_at IS NOT NULL
    ON CONFLICT (team_id, hour) DO UPDATE SET seller_cancelled = team_hours.seller_cancelled + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER team_hours_seller_cancelled AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.action = 'cancel' AND (NEW.details::jsonb ->> 'reason') IS DISTINCT FROM 'BuyerCanceled')
    EXECUTE FUNCTION team_hours_seller_cancelled();

-- Yesterday's work in the digest: what people did (not imports or the bot) in a day, read from
-- this index alone, however many events the day's imports and syncs wrote. Partial (people's
-- events only), with actor_kind in it as in SQLite's.
CREATE INDEX events_by_person ON events (team_id, actor_kind, at, actor_name, action) WHERE actor_kind = 'user';

-- SQLite's script then fills team_hours from the orders and events already held: left out here,
-- where both are empty (0001 says why).
