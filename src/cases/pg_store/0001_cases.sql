-- Schema 1 of the shared store. Tickets, appointments and outcomes are kept whole as JSON
-- (`body`, json: kept and given back as written, never searched), with the columns the engine
-- searches or constrains by beside it.

CREATE TABLE tickets (
    number  text PRIMARY KEY,
    region  text NOT NULL,
    status  text NOT NULL,
    opened  timestamptz NOT NULL,
    body    json NOT NULL
);
-- A region's tickets in a status, oldest first, without reading the others.
CREATE INDEX tickets_by_status ON tickets (status, region, opened, number);

CREATE SEQUENCE appointment_numbers;
CREATE TABLE appointments (
    id      text PRIMARY KEY,
    agency  text NOT NULL,
    start   timestamp NOT NULL,
    status  text NOT NULL,
    call_id text,
    body    json NOT NULL
);
-- One booking per slot, however many nodes book it at the same instant.
CREATE UNIQUE INDEX one_booking_per_slot ON appointments (agency, start) WHERE status = 'booked';
CREATE INDEX appointments_by_call ON appointments (call_id) WHERE call_id IS NOT NULL;

CREATE TABLE call_outcomes (
    call_id text PRIMARY KEY,
    at      timestamptz NOT NULL,
    body    json NOT NULL
);
CREATE INDEX call_outcomes_by_time ON call_outcomes (at);

-- Each operator's latest screen-pop.
CREATE TABLE operator_calls (
    operator text PRIMARY KEY,
    body     json NOT NULL
);

-- The pages' sessions, by the SHA-256 of their token.
CREATE TABLE sessions (
    key       text PRIMARY KEY,
    username  text NOT NULL,
    started   timestamptz NOT NULL,
    last_seen timestamptz NOT NULL
);

-- What the pages of every node are told, in the order of (tx, id): `tx` is the writing
-- transaction's id, so that a reader that stops below the oldest transaction still running
-- never skips an event committed after it read (see pg_store.rs).
CREATE TABLE events (
    id   bigserial PRIMARY KEY,
    tx   xid8 NOT NULL DEFAULT pg_current_xact_id(),
    at   timestamptz NOT NULL DEFAULT now(),
    kind text NOT NULL,
    body json NOT NULL
);
CREATE INDEX events_in_order ON events (tx, id);
CREATE INDEX events_by_time ON events (at);
