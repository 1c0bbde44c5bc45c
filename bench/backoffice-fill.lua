-- wrk script for bench/backoffice.sh: fills the store with tickets opened by operator mrossi,
-- all for Lazio (the region of the number called) except one in every 500, which the operator
-- sends to Lombardia: a region with a long history elsewhere and a short list of its own.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic bXJvc3NpOmRlbW8tbXJvc3Np"
local n = 0

function request()
    n = n + 1
    local region = (n % 500 == 0) and ',"region":"lombardia"' or ""
    return wrk.format(nil, nil, nil, '{"caller":"+393331234567","codice_fiscale":"RSSMRA85T10A562S",' ..
        '"question":"When will my pension be paid? (bench)","ccm_section":"pensions","number":"+390773691001"' ..
        region .. '}')
end
