-- Leases (issue 13): several replicas on one database share the work by taking named leases
-- for a while: 'replica:<id>' is a replica's heartbeat, 'shard:<k>' gives it the teams and
-- chats whose id is k modulo 16 (bot/replicas.py). A lease whose until has passed is free.
-- Times are UTC ISO text, as everywhere (text order is time order).
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until TEXT NOT NULL
);
