-- Outbox row claims (issue 13): a replica claims the messages it is about to send, so that two
-- replicas never send one message, even while a chat's shard changes hands (bot/storage/outbox.py).
-- A claim runs until claimed_until (UTC ISO text, the replicas' wall clock); sent, retried or
-- given up, a message's claim is cleared; one whose claimed_until has passed is free again.
-- (PostgreSQL's twin of ../0012_outbox_claims.sql.)
ALTER TABLE outbox ADD COLUMN claimed_by ctext;
ALTER TABLE outbox ADD COLUMN claimed_until ctext;
