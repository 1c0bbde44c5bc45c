//! Linea INPS tickets through the running engine: opened over the HTTP API with clear refusals,
//! durable across SIGKILL, and heard by a citizen who types the number into the voice portal.

mod common;

use common::*;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const MROSSI: Option<(&str, &str)> = Some(("mrossi", "demo-mrossi"));
const LATINA: &str = "0773691001";

fn ticket_body() -> Value {
    json!({
        "call_id": "abc@127.0.0.1",
        "caller": "+393331234567",
        "codice_fiscale": "rssmra85t10a562s",
        "question": "When will my pension be paid?",
        "ccm_section": "pensions",
        "number": "+390773691001",
    })
}

fn tickets_are_opened_with_defaults_and_wrong_input_is_explained(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let (status, t) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    assert_eq!(status, 201, "{t}");
    let number = t["number"].as_str().unwrap().to_string();
    assert!(centralino::cases::ticket_number::is_valid(&number), "{number}");
    // Latina is in Lazio; the pensions section's centre section is pensions.
    assert_eq!((t["region"].as_str(), t["section"].as_str()), (Some("lazio"), Some("pensions")), "{t}");
    assert_eq!(t["codice_fiscale"], "RSSMRA85T10A562S", "normalised");
    assert_eq!((t["status"].as_str(), t["opened_by"].as_str()), (Some("open"), Some("mrossi")));
    assert_eq!(t["history"][0]["change"], "opened");

    let (status, back) = http(&engine, "GET", &format!("/api/tickets/{number}"), MROSSI, None);
    assert_eq!((status, &back), (200, &t));
    let (_, lazio) = http(&engine, "GET", "/api/tickets?region=lazio&status=open", MROSSI, None);
    assert_eq!(lazio.as_array().map(Vec::len), Some(1));
    let (_, lombardia) = http(&engine, "GET", "/api/tickets?region=lombardia", MROSSI, None);
    assert_eq!(lombardia, json!([]));

    let refused = |patch: Value| {
        let mut body = ticket_body();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        http(&engine, "POST", "/api/tickets", MROSSI, Some(&body))
    };
    let (status, e) = refused(json!({"codice_fiscale": "RSSMRA85T10A562T"}));
    assert_eq!(status, 422);
    assert!(e["error"].as_str().unwrap().contains("check character"), "{e}");
    let (status, e) = refused(json!({"region": "atlantide"}));
    assert_eq!(status, 422);
    assert!(e["error"].as_str().unwrap().contains("atlantide"), "{e}");
    let (status, e) = refused(json!({"ccm_section": "weather"}));
    assert_eq!((status, e["error"].as_str().map(|m| m.contains("weather"))), (422, Some(true)), "{e}");
    let (status, _) = refused(json!({"question": "   "}));
    assert_eq!(status, 422);
    let (status, e) = refused(json!({"surprise": 1}));
    assert_eq!(status, 422, "unknown fields are refused: {e}");
    let (status, e) = raw_post(&engine, "/api/tickets", "{\"caller\": ");
    assert_eq!(status, 400, "{e}");
    assert!(e.contains("malformed JSON"), "{e}");
    let (status, _) = raw_post(&engine, "/api/tickets", &format!("{{\"question\": \"{}\"}}", "x".repeat(100_000)));
    assert_eq!(status, 413);
    let (status, _) = http(&engine, "POST", "/api/tickets", Some(("mrossi", "wrong")), Some(&ticket_body()));
    assert_eq!(status, 401);
    let (status, _) = http(&engine, "GET", "/api/tickets/123456782", MROSSI, None);
    assert_eq!(status, 404);
    // The pages ask for their errors in Italian; the API's clients get English unless they do.
    let italian = |lang: &str, method: &str, path: &str, body: &str| {
        let headers = [
            ("Authorization", "Basic bXJvc3NpOmRlbW8tbXJvc3Np".to_string()),
            ("Content-Type", "application/json".to_string()),
            ("Accept-Language", lang.to_string()),
        ];
        let (status, _, body) = http_raw(&engine, method, path, &headers, body);
        (status, serde_json::from_str::<Value>(&body).unwrap()["error"].as_str().unwrap().to_string())
    };
    let mut bad_cf = ticket_body();
    bad_cf["codice_fiscale"] = json!("RSSMRA85T10A562T");
    let (status, e) = italian("it-IT,it;q=0.9,en;q=0.8", "POST", "/api/tickets", &bad_cf.to_string());
    assert_eq!((status, e.as_str()), (422, "il carattere di controllo non corrisponde: un carattere è sbagliato"));
    let (_, e) = italian("en-GB,it;q=0.5", "POST", "/api/tickets", &bad_cf.to_string());
    assert!(e.contains("check character"), "{e}");
    assert_eq!(italian("it", "GET", "/api/tickets/123456782", "").1, "la pratica n. 123456782 non esiste");
    assert_eq!(
        italian("it", "POST", "/api/operator/transfer", r#"{"section": "pensions"}"#).1,
        "non ha una chiamata in corso da trasferire"
    );
    // Nothing refused was stored.
    let (_, all) = http(&engine, "GET", "/api/tickets", MROSSI, None);
    assert_eq!(all.as_array().map(Vec::len), Some(1));
}

/// A POST with a raw body (malformed or oversized JSON), as mrossi: the status and the whole
/// answer.
fn raw_post(engine: &Engine, path: &str, body: &str) -> (u16, String) {
    let headers = [
        ("Authorization", "Basic bXJvc3NpOmRlbW8tbXJvc3Np".to_string()),
        ("Content-Type", "application/json".to_string()),
    ];
    let (status, head, body) = http_raw(engine, "POST", path, &headers, body);
    (status, format!("{head}\r\n\r\n{body}"))
}

fn an_acknowledged_ticket_survives_sigkill(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let (status, t) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    assert_eq!(status, 201, "{t}");
    // Killed the instant the answer arrived: no shutdown, no flush.
    let data = engine.crash();
    let engine = Engine::start_in_on(store, data, &[]);
    let (status, back) = http(&engine, "GET", &format!("/api/tickets/{}", t["number"].as_str().unwrap()), MROSSI, None);
    assert_eq!((status, &back), (200, &t), "the ticket after the crash");
    let (status, next) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    assert_eq!(status, 201);
    assert_ne!(next["number"], t["number"], "numbering goes on after the crash");
}

/// A sipp scenario that calls, sends `keys` by SIP INFO (one every 400 ms), waits `wait_ms` and
/// hangs up; written next to the test's data.
fn info_keys_scenario(dir: &std::path::Path, keys: &str, wait_ms: u64) -> PathBuf {
    let template = std::fs::read_to_string(std::path::Path::new(ROOT).join("tests/sipp/queue_caller.xml")).unwrap();
    let head_end = template.find("  <pause milliseconds=\"700\"/>").expect("the ACK ends the call set-up");
    let head = &template[..head_end];
    let info = |cseq: usize, key: char| {
        let signal = match key {
            '*' => "10".to_string(),
            '#' => "11".to_string(),
            k => k.to_string(),
        };
        format!(
            "  <pause milliseconds=\"400\"/>\n  <send retrans=\"500\">\n    <![CDATA[\n      INFO [next_url] SIP/2.0\n      \
             Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
             From: \"Test caller\" <sip:+393331234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n      \
             To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]\n      Call-ID: [call_id]\n      \
             CSeq: {cseq} INFO\n      Contact: <sip:+393331234567@[local_ip]:[local_port];transport=[transport]>\n      \
             Max-Forwards: 70\n      Content-Type: application/dtmf-relay\n      Content-Length: [len]\n\n      \
             Signal={signal}\n      Duration=160\n\n    ]]>\n  </send>\n  <recv response=\"200\"/>\n"
        )
    };
    let mut xml = head.to_string();
    for (i, k) in keys.chars().enumerate() {
        xml.push_str(&info(i + 2, k));
    }
    let bye = keys.len() + 2;
    xml.push_str(&format!(
        "  <pause milliseconds=\"{wait_ms}\"/>\n  <send retrans=\"500\">\n    <![CDATA[\n      BYE [next_url] SIP/2.0\n      \
         Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n      \
         From: \"Test caller\" <sip:+393331234567@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]\n      \
         To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]\n      Call-ID: [call_id]\n      \
         CSeq: {bye} BYE\n      Contact: <sip:+393331234567@[local_ip]:[local_port];transport=[transport]>\n      \
         Max-Forwards: 70\n      Content-Length: 0\n\n    ]]>\n  </send>\n  <recv response=\"200\" crlf=\"true\"/>\n</scenario>\n"
    ));
    let path = dir.join("ticket_status_caller.xml");
    std::fs::write(&path, xml).unwrap();
    path
}

fn a_citizen_hears_the_status_of_their_ticket(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let (status, t) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    assert_eq!(status, 201, "{t}");
    let number = t["number"].as_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 1 Italian, 7 "status of my request", the number, # to end it.
    let scenario = info_keys_scenario(dir.path(), &format!("17{number}#"), 3000);
    let keys = [("rtp_port", "6000"), ("codecs", "0 101"), ("dtmf_pt", "101")];
    let run = sipp(&engine, scenario.to_str().unwrap(), Transport::Udp, LATINA, &keys).expect_ok();
    let r = engine.record(&run.call_id());
    let ctx = || format!("record {r:#}\n{}", run.report());
    assert_eq!(r["keys"], format!("17{number}#"), "{}", ctx());
    let path: Vec<&str> = r["path"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(path.ends_with(&["ticket_number", "ticket_lookup", "ticket_status_open"]), "{}", ctx());
    assert_eq!(r["answers"], json!(["ticket_status_open"]), "{}", ctx());
}

/// A request with a cookie (or none) and a JSON body; the status, the Set-Cookie value and the
/// JSON answer.
fn with_cookie(
    engine: &Engine,
    method: &str,
    path: &str,
    cookie: Option<&str>,
    body: Option<&Value>,
) -> (u16, Option<String>, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    headers.extend(cookie.map(|c| ("Cookie", c.to_string())));
    let (status, head, rest) = http_raw(engine, method, path, &headers, &body);
    let set_cookie = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.trim()))
        .and_then(|v| v.split(';').next())
        .map(String::from);
    (status, set_cookie, serde_json::from_str(&rest).unwrap_or(Value::Null))
}

fn officers_work_only_their_regions_tickets(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let (_, t) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    let number = t["number"].as_str().unwrap().to_string();
    let lverdi = Some(("lverdi", "demo-lverdi")); // Lazio
    let pgallo = Some(("pgallo", "demo-pgallo")); // Lombardia
    let path = format!("/api/tickets/{number}");

    // Reading.
    assert_eq!(http(&engine, "GET", &path, lverdi, None).0, 200);
    let (status, e) = http(&engine, "GET", &path, pgallo, None);
    assert_eq!(status, 403, "{e}");
    assert!(e["error"].as_str().unwrap().contains("lazio"), "{e}");
    assert_eq!(http(&engine, "GET", "/api/tickets", pgallo, None).1, json!([]), "only Lombardia's, none");
    assert_eq!(http(&engine, "GET", "/api/tickets?region=lazio", pgallo, None).0, 403);
    assert_eq!(http(&engine, "GET", "/api/tickets", lverdi, None).1.as_array().map(Vec::len), Some(1));
    assert_eq!(http(&engine, "GET", &path, Some(("admin", "demo-admin")), None).0, 200, "administrators read all");

    // Working.
    let (status, e) = http(&engine, "POST", &format!("{path}/take"), pgallo, None);
    assert_eq!(status, 403, "another region's ticket: {e}");
    assert_eq!(http(&engine, "POST", &format!("{path}/take"), MROSSI, None).0, 403, "operators do not work tickets");
    let (status, taken) = http(&engine, "POST", &format!("{path}/take"), lverdi, None);
    assert_eq!((status, taken["status"].as_str(), taken["officer"].as_str()), (200, Some("taken"), Some("lverdi")));
    let (status, e) =
        http(&engine, "POST", &format!("{path}/answer"), lverdi, Some(&json!({"answer": "Paid on the 1st."})));
    assert_eq!(status, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("contact"), "{e}");
    let body = json!({"answer": "Paid on the 1st.", "contact": "phone"});
    let (status, answered) = http(&engine, "POST", &format!("{path}/answer"), lverdi, Some(&body));
    assert_eq!((status, answered["status"].as_str()), (200, Some("answered")), "{answered}");
    let (status, e) = http(&engine, "POST", &format!("{path}/take"), lverdi, None);
    assert_eq!(status, 409, "an answered ticket cannot be taken: {e}");
    assert_eq!(http(&engine, "POST", &format!("{path}/shred"), lverdi, None).0, 404);
    let (_, stored) = http(&engine, "GET", &path, lverdi, None);
    let changes: Vec<&str> =
        stored["history"].as_array().unwrap().iter().filter_map(|c| c["change"].as_str()).collect();
    assert_eq!(changes, ["opened", "taken", "answered"], "refused changes left no trace");

    // The back office's working set: open and taken tickets, not the answered ones.
    let (_, second) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    let (_, working) = http(&engine, "GET", "/api/tickets?status=open,taken", lverdi, None);
    let numbers: Vec<&str> = working.as_array().unwrap().iter().filter_map(|t| t["number"].as_str()).collect();
    assert_eq!(numbers, [second["number"].as_str().unwrap()], "{working}");
    let (status, e) = http(&engine, "GET", "/api/tickets?status=open,closed", lverdi, None);
    assert_eq!(status, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("\"closed\""), "{e}");
    let (_, summary) = http(&engine, "GET", "/api/tickets/summary", lverdi, None);
    assert_eq!(summary, json!({"lazio": {"open": 1, "answered": 1}}));
}

/// A signed-in session survives a crash of the engine; one signed out stays out after it.
fn sessions_survive_a_restart_and_so_does_a_sign_out(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let right = json!({"username": "lverdi", "password": "demo-lverdi"});
    let (_, kept, _) = with_cookie(&engine, "POST", "/api/session", None, Some(&right));
    let (_, ended, _) = with_cookie(&engine, "POST", "/api/session", None, Some(&right));
    let (kept, ended) = (kept.unwrap(), ended.unwrap());
    assert_eq!(with_cookie(&engine, "DELETE", "/api/session", Some(&ended), None).0, 204);
    let engine = Engine::start_in_on(store, engine.crash(), &[]);
    let (status, _, me) = with_cookie(&engine, "GET", "/api/session", Some(&kept), None);
    assert_eq!((status, me["user"].as_str()), (200, Some("lverdi")), "still signed in after SIGKILL");
    assert_eq!(with_cookie(&engine, "GET", "/api/session", Some(&ended), None).0, 401, "still signed out");
    let kept_bytes = store.stored_bytes(engine.data.path());
    let token = kept.split_once('=').unwrap().1;
    assert!(!kept_bytes.windows(token.len()).any(|w| w == token.as_bytes()), "the token itself is not stored");
}

fn sessions_sign_in_last_and_end(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let wrong = json!({"username": "lverdi", "password": "guess"});
    assert_eq!(with_cookie(&engine, "POST", "/api/session", None, Some(&wrong)).0, 401);
    let right = json!({"username": "lverdi", "password": "demo-lverdi"});
    let (status, cookie, me) = with_cookie(&engine, "POST", "/api/session", None, Some(&right));
    assert_eq!(status, 200, "{me}");
    assert_eq!((me["role"].as_str(), me["region"].as_str()), (Some("officer"), Some("lazio")), "{me}");
    let cookie = cookie.expect("a session cookie");
    let (status, _, me) = with_cookie(&engine, "GET", "/api/session", Some(&cookie), None);
    assert_eq!((status, me["user"].as_str()), (200, Some("lverdi")));
    assert_eq!(with_cookie(&engine, "GET", "/api/tickets", Some(&cookie), None).0, 200, "the cookie is enough");
    assert_eq!(with_cookie(&engine, "GET", "/api/session", Some("centralino_session=forged"), None).0, 401);
    assert_eq!(with_cookie(&engine, "DELETE", "/api/session", Some(&cookie), None).0, 204);
    assert_eq!(with_cookie(&engine, "GET", "/api/session", Some(&cookie), None).0, 401, "signed out");
    // A 401 asks for Basic credentials, except from the pages (their fetches and event streams),
    // where the browser's own password dialog would cover the page's sign-in form.
    let challenge = |headers: &[(&str, String)]| {
        let (status, head, _) = http_raw(&engine, "GET", "/api/events", headers, "");
        assert_eq!(status, 401);
        head.lines().any(|l| l.to_ascii_lowercase().starts_with("www-authenticate: basic"))
    };
    assert!(challenge(&[]), "a plain client is asked for credentials");
    assert!(!challenge(&[("X-Requested-With", "fetch".into())]), "a page's fetch is not");
    assert!(!challenge(&[("Accept", "text/event-stream".into())]), "a page's event stream is not");
}

fn officers_see_their_regions_tickets_arrive_live(store: Store) {
    let engine = Engine::start_on(store, &[]);
    // lverdi:demo-lverdi (Lazio) and admin:demo-admin.
    let lazio = EventStream::open(&engine, ("lverdi", "demo-lverdi"), None);
    let admin = EventStream::open(&engine, ("admin", "demo-admin"), None);
    std::thread::sleep(Duration::from_millis(300));
    let mut lombardia_body = ticket_body();
    lombardia_body["region"] = json!("lombardia");
    let (_, other) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&lombardia_body));
    let (_, ours) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    let (other, ours) = (other["number"].as_str().unwrap().to_string(), ours["number"].as_str().unwrap().to_string());
    // The officer takes it: the change is pushed too.
    http(&engine, "POST", &format!("/api/tickets/{ours}/take"), Some(("lverdi", "demo-lverdi")), None);
    lazio.wait_for(&format!("\"number\":\"{ours}\""), 2, Duration::from_secs(5));
    let text = lazio.text();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("text/event-stream"), "{text}");
    assert!(text.contains("event: ticket"), "{text}");
    assert_eq!(text.matches(&format!("\"number\":\"{ours}\"")).count(), 2, "opened, then taken: {text}");
    assert!(text.contains("\"status\":\"taken\""), "{text}");
    assert!(!text.contains(&other), "never another region's ticket: {text}");
    admin.wait_for(&format!("\"number\":\"{ours}\""), 2, Duration::from_secs(5));
    let all = admin.text();
    assert!(all.contains(&other) && all.contains(&ours), "administrators see every region: {all}");

    // The page reconnects with the last id it had: it gets what it missed, once.
    let last = lazio.ids().last().cloned().expect("events have ids");
    lazio.close();
    let (_, missed) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&ticket_body()));
    let missed = missed["number"].as_str().unwrap().to_string();
    let back = EventStream::open(&engine, ("lverdi", "demo-lverdi"), Some(&last));
    assert!(back.wait_for(&missed, 1, Duration::from_secs(3)), "{}", back.text());
    assert!(!back.text().contains(&ours), "nothing it had is sent again: {}", back.text());
    // An id from an earlier process (or too old) is answered with a reload, never silence.
    if store == Store::Redb {
        let stale = EventStream::open(&engine, ("lverdi", "demo-lverdi"), Some("1-1"));
        assert!(stale.wait_for("event: lagged", 1, Duration::from_secs(3)), "{}", stale.text());
    }
}

/// End to end: a sipp caller goes through the portal and waits; a sipp phone registered as
/// mrossi answers; the operator opens a ticket through the API from the call's screen-pop; a
/// second call types the ticket number and hears its status.
fn a_ticket_opened_during_a_call_is_heard_by_the_next_call(store: Store) {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_on(store, &["--config", config.to_str().unwrap()]);
    assert_eq!(http(&engine, "POST", "/api/operator/login", MROSSI, None).0, 200);
    let ticket = std::thread::scope(|s| {
        let engine = &engine;
        let phone = s.spawn(move || mrossi_answers(engine));
        std::thread::sleep(Duration::from_millis(1500));
        let caller = s.spawn(move || pensions_caller(engine, "6000", "0 101", 8_000, "5", 300));
        // The operator's side: who is calling, then the ticket from it.
        let pop = wait_for_pop(engine, MROSSI);
        let body = json!({
            "call_id": pop["call_id"], "caller": pop["caller"], "number": pop["number"],
            "ccm_section": pop["section"], "codice_fiscale": "RSSMRA85T10A562S",
            "question": "When will my pension be paid?",
        });
        let (status, t) = http(engine, "POST", "/api/tickets", MROSSI, Some(&body));
        assert_eq!(status, 201, "{t}");
        caller.join().unwrap().expect_ok();
        phone.join().unwrap().expect_ok();
        t
    });
    assert_eq!((ticket["region"].as_str(), ticket["section"].as_str()), (Some("lazio"), Some("pensions")), "{ticket}");
    let number = ticket["number"].as_str().unwrap();
    // The citizen calls again and asks.
    let dir = tempfile::tempdir().unwrap();
    let scenario = info_keys_scenario(dir.path(), &format!("17{number}#"), 3000);
    let keys = [("rtp_port", "6000"), ("codecs", "0 101"), ("dtmf_pt", "101")];
    let run = sipp(&engine, scenario.to_str().unwrap(), Transport::Udp, LATINA, &keys).expect_ok();
    let r = engine.record(&run.call_id());
    assert_eq!(r["answers"], json!(["ticket_status_open"]), "record {r:#}");
    assert_eq!(
        ticket["call_id"],
        engine
            .records()
            .unwrap()
            .iter()
            .find(|c| c["ending"]["kind"] == "answered")
            .map(|c| c["call_id"].clone())
            .unwrap_or_default(),
        "linked to the first call"
    );
}

on_both_stores!(
    tickets_are_opened_with_defaults_and_wrong_input_is_explained,
    an_acknowledged_ticket_survives_sigkill,
    a_citizen_hears_the_status_of_their_ticket,
    officers_work_only_their_regions_tickets,
    sessions_survive_a_restart_and_so_does_a_sign_out,
    sessions_sign_in_last_and_end,
    officers_see_their_regions_tickets_arrive_live,
    a_ticket_opened_during_a_call_is_heard_by_the_next_call,
);
