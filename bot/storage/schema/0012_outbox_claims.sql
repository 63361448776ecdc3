-- Outbox row claims (issue 13): a replica claims the messages it is about to send, so that two
-- replicas never send one message, even while a chat's shard changes hands (bot/storage/outbox.py).
-- A claim runs until claimed_until (UTC ISO text, the replicas' wall clock); sent, retried or
-- given up, a message's claim is cleared; one whose claimed_until has passed is free again.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
