-- Leases (issue 13): several replicas on one database share the work by taking named leases
-- for a while: 'replica:<id>' is a replica's heartbeat, 'shard:<k>' gives it the teams and
-- chats whose id is k modulo 16 (bot/replicas.py). A lease whose until has passed is free.
-- Times are UTC ISO text, as everywhere (text order is time order). (Twin of ../0011_leases.sql.)
CREATE TABLE leases (
    name ctext PRIMARY KEY,
    holder ctext NOT NULL,
    until ctext NOT NULL
);
