-- Schema 3: every node's journals (call records, queue events, operators' states) in the shared
-- store, so that the whole center's calls and figures are read in one place.

CREATE TABLE journal (
    id   bigserial PRIMARY KEY,
    -- 'calls', 'queue' or 'operators'
    kind text NOT NULL,
    -- A call's end, an event's instant: what retention goes by.
    at   timestamptz NOT NULL,
    body json NOT NULL
);
CREATE INDEX journal_in_order ON journal (kind, id);
CREATE INDEX journal_by_time ON journal (at);
