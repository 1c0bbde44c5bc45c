-- wrk script for bench/tickets.sh: every request opens a Linea INPS ticket as operator mrossi.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Basic bXJvc3NpOmRlbW8tbXJvc3Np"
wrk.body = '{"caller":"+393331234567","codice_fiscale":"RSSMRA85T10A562S",' ..
    '"question":"When will my pension be paid? (bench)","ccm_section":"pensions","number":"+390773691001"}'
