-- Schema 5: pending callback requests (a citizen who asked to be called back keeps their place
-- across a restart), by the id of the call that asked.

CREATE TABLE callbacks (
    call_id text PRIMARY KEY,
    body    json NOT NULL
);
