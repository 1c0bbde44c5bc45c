-- Schema 4: several engine nodes behind a SIP load balancer. The distribution of calls to
-- operators runs on one node at a time, the holder of a lease; operators' sign-ins and phones
-- are kept here so that the node that takes it over knows them.

CREATE TABLE leases (
    name    text PRIMARY KEY,
    -- The node holding it, and where the other nodes reach it.
    owner   text NOT NULL,
    address text NOT NULL,
    -- Drawn by the holder: a node presents it to prove it reads this database.
    secret  text NOT NULL,
    -- One more at every change of holder: the fencing token.
    epoch   bigint NOT NULL,
    -- The database's clock decides when it lapses.
    until   timestamptz NOT NULL
);

-- Each operator's sign-in as the distribution left it: the sections they serve (empty: logged
-- out) and their pause. Written only by the lease's holder at its epoch.
CREATE TABLE operator_presence (
    operator text PRIMARY KEY,
    serving  json NOT NULL,
    paused   text,
    updated  timestamptz NOT NULL DEFAULT now()
);

-- Each operator's phone (one binding per operator, the latest REGISTER wins), whichever node
-- took the registration; the node that rings it sends the INVITE to `source`.
CREATE TABLE phone_bindings (
    operator  text PRIMARY KEY,
    contact   text NOT NULL,
    source    text NOT NULL,
    transport text NOT NULL,
    expires   timestamptz NOT NULL,
    node      text NOT NULL
);

-- The nodes of the center, as each last said it is alive (every second): the node taking the
-- distribution over waits for those alive to link before it offers a call.
CREATE TABLE cluster_nodes (
    name text PRIMARY KEY,
    link text NOT NULL,
    seen timestamptz NOT NULL
);
