-- wrk script for bench/bookings.sh: every request books a different free slot as operator
-- mrossi. The slots come from slots.lua (written by the bench before the run), split between
-- wrk's threads; each thread walks its share in order.
local slots = dofile(os.getenv("BENCH_SLOTS"))
local threads = {}
local counter = 0

function setup(thread)
    thread:set("id", counter)
    counter = counter + 1
    table.insert(threads, thread)
end

function init(args)
    nthreads = tonumber(os.getenv("BENCH_THREADS"))
    next_slot = id + 1
end

function request()
    local s = slots[next_slot]
    next_slot = next_slot + nthreads
    if s == nil then
        -- Out of slots: ask something harmless (counted apart as non-booking answers).
        return wrk.format("GET", "/api/session", { ["Authorization"] = "Basic bXJvc3NpOmRlbW8tbXJvc3Np" })
    end
    local body = '{"agency":"' .. s[1] .. '","start":"' .. s[2] .. '","codice_fiscale":"RSSMRA85T10A562S",' ..
        '"phone":"+393331234567","subject":"bench","mode":"counter"}'
    return wrk.format("POST", "/api/appointments", {
        ["Content-Type"] = "application/json",
        ["Authorization"] = "Basic bXJvc3NpOmRlbW8tbXJvc3Np",
    }, body)
end
