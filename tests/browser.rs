//! The pages in a real browser: headless Chromium driven through WebDriver (chromedriver, from
//! Debian's chromium-driver). An officer signs in to /backoffice, a ticket opened by an operator
//! through the API appears without a reload, and the officer takes it with a click.

mod common;

use common::browser::Driver;
use common::*;
use serde_json::{Value, json};
use std::thread;
use std::time::{Duration, Instant};

/// Operator mrossi opens a pensions ticket for a caller of Latina (Lazio); its number.
fn open_ticket(engine: &Engine, question: &str) -> String {
    let body = json!({
        "caller": "+393331234567", "codice_fiscale": "RSSMRA85T10A562S",
        "question": question, "ccm_section": "pensions", "number": "+390773691001",
    });
    let (status, t) = http(engine, "POST", "/api/tickets", Some(("mrossi", "demo-mrossi")), Some(&body));
    assert_eq!(status, 201, "{t}");
    t["number"].as_str().unwrap().to_string()
}

#[test]
fn an_officer_sees_a_new_ticket_arrive_and_takes_it() {
    let engine = Engine::start();
    let browser = Driver::start();
    browser.cmd("POST", "/url", Some(json!({"url": format!("http://{}/backoffice", engine.http)}))).unwrap();
    browser.type_into("#username", "lverdi");
    browser.type_into("#password", "wrong");
    browser.click("#signin-button");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let e = browser.wait("#signin-error", 5);
        let text = browser.cmd("GET", &format!("/element/{e}/text"), None).unwrap();
        if text.as_str().is_some_and(|t| t.contains("nome utente o password errati")) {
            break;
        }
        assert!(Instant::now() < deadline, "no sign-in error shown: {text}");
        std::thread::sleep(Duration::from_millis(100));
    }
    browser.cmd("POST", &format!("/element/{}/clear", browser.wait("#password", 5)), Some(json!({}))).unwrap();
    browser.type_into("#password", "demo-lverdi");
    browser.click("#signin-button");
    browser.wait("#board .section[data-section=pensions]", 10);

    // An operator opens a ticket for a caller of Latina (Lazio): it appears without a reload.
    let number = &open_ticket(&engine, "When will my pension be paid?");
    browser.wait(&format!("[data-section=pensions] #ticket-{number}[data-status=open]"), 10);
    browser.screenshot("backoffice-new-ticket");

    browser.click(&format!("#ticket-{number} .take"));
    browser.wait(&format!("#ticket-{number}[data-status=taken] .answer"), 10);
    let (_, stored) = http(&engine, "GET", &format!("/api/tickets/{number}"), Some(("lverdi", "demo-lverdi")), None);
    assert_eq!((stored["status"].as_str(), stored["officer"].as_str()), (Some("taken"), Some("lverdi")), "{stored}");
    browser.screenshot("backoffice-taken");

    // Answered: it stays on the board, dimmed, until the page is loaded again, which shows
    // only the tickets still to work; the number finds it with its history.
    browser.type_into(&format!("#ticket-{number} .answer"), "Paid on the 16th.");
    browser.click(&format!("#ticket-{number} .answer-button"));
    browser.wait(&format!("#ticket-{number}[data-status=answered]"), 10);
    browser.cmd("POST", "/url", Some(json!({"url": format!("http://{}/backoffice", engine.http)}))).unwrap();
    browser.wait("#board .section[data-section=pensions]", 10);
    assert!(browser.find(&format!("#ticket-{number}")).is_none(), "an answered ticket is not work to show");
    browser.type_into("#find-number", number);
    browser.click("#find button");
    browser.wait(&format!("#found-{number}[data-status=answered]"), 10);
    browser.wait_text("#found .history", "evasa (telefono): Paid on the 16th.", 10);
    // People by name, ticket numbers grouped for reading aloud, dates with the weekday.
    let found = browser.text(&format!("#found-{number}"));
    let grouped = format!("N. {} {} {}", &number[..3], &number[3..6], &number[6..]);
    assert!(found.contains(&grouped) && found.contains("Laura Verdi"), "{found}");
    assert!(
        ["lun", "mar", "mer", "gio", "ven", "sab", "dom"].iter().any(|d| found.contains(&format!("{d} "))),
        "{found}"
    );
    browser.screenshot("backoffice-found");
}

/// The whole loop in browsers: an operator signs in to the console and logs in; a sipp caller
/// goes through the portal and queues; the operator's (sipp) phone answers; the console shows who
/// is calling at once; the operator opens a ticket from it; the Lazio back office, open in
/// another browser, shows the ticket without a reload; the operator books an appointment and
/// passes the caller to its read-back, then saves the call's outcome.
#[test]
fn a_call_pops_up_on_the_console_and_its_ticket_reaches_the_back_office() {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let console = Driver::start();
    let backoffice = Driver::start();
    backoffice.sign_in(&format!("http://{}/backoffice", engine.http), "lverdi", "demo-lverdi");
    backoffice.wait("#board .section[data-section=pensions]", 10);
    console.sign_in(&format!("http://{}/console", engine.http), "mrossi", "demo-mrossi");
    console.click("#login");
    console.wait("#state[data-state=available]", 10);

    let number = thread::scope(|s| {
        let engine = &engine;
        let phone = s.spawn(move || mrossi_answers(engine));
        thread::sleep(Duration::from_millis(1500));
        let caller = s.spawn(move || pensions_caller(engine, "6000", "0 101", 16_000, "5", 300));
        // The screen-pop.
        let pop = console.wait_text("#pop", "+393331234567", 20);
        // Names, not ids: the number's label, the province and region, the section.
        for name in ["Direzione provinciale di Latina (+390773691001)", "Latina (Lazio)", "Pensioni", "italiano"] {
            assert!(pop.contains(name), "{name} in the screen-pop: {pop}");
        }
        assert!(pop.contains("Menu principale › Pensioni › Coda pensioni"), "the portal path by titles: {pop}");
        console.screenshot("console-call");
        console.type_into("#cf", "RSSMRA85T10A562S");
        console.type_into("#question", "When will my pension be paid?");
        console.click("#open-ticket");
        let result = console.wait_text("#ticket-result", "Pratica n.", 10);
        assert!(result.contains("direzione regionale Lazio (Pensioni)"), "{result}");
        console.screenshot("console-ticket");
        let number = console.attribute("#ticket-result", "data-number");
        let grouped = format!("{} {} {}", &number[..3], &number[3..6], &number[6..]);
        assert!(result.contains(&grouped), "the number in groups of three: {result}");
        // An appointment for the same caller, then the read-back: the caller hears it.
        console.click("#slots button");
        console.type_into("#subject", "Pension statement");
        console.click("#book");
        let booked = console.wait_text("#booking-result", "Prenotato", 10);
        assert!(booked.contains("Il chiamante può ascoltarlo"), "{booked}");
        console.screenshot("console-booked");
        console.click("#readback:not([hidden])");
        console.wait_text("#pop-status", "Chiamata terminata", 10);
        // The screen-pop stays through wrap-up.
        assert!(console.text("#pop").contains("+393331234567"), "{}", console.text("#pop"));
        caller.join().unwrap().expect_ok();
        phone.join().unwrap().expect_ok();
        number
    });
    // The back office saw it arrive, without a reload.
    backoffice.wait(&format!("[data-section=pensions] #ticket-{number}[data-status=open]"), 10);
    backoffice.screenshot("backoffice-from-console");
    let (_, t) = http(&engine, "GET", &format!("/api/tickets/{number}"), Some(("lverdi", "demo-lverdi")), None);
    assert_eq!((t["caller"].as_str(), t["opened_by"].as_str()), (Some("+393331234567"), Some("mrossi")), "{t}");
    assert!(t["call_id"].as_str().is_some_and(|c| !c.is_empty()), "linked to the call: {t}");
    // The caller heard the appointment read back.
    let call_id = t["call_id"].as_str().unwrap();
    let r = engine.record(call_id);
    let path: Vec<&str> = r["path"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(path.contains(&"appointment_counter"), "the read-back: {r:#}");
    // In wrap-up the console keeps the call for its outcome, suggested from what was done last.
    let note = "ticket to the regional centre, appointment at the agency";
    console.type_into("#outcome-note", note);
    console.click("#save-outcome");
    let saved = console.wait_text("#outcome-result", "Esito salvato", 10);
    assert!(saved.contains("prenotato un appuntamento"), "{saved}");
    console.screenshot("console-outcome");
    let (status, o) =
        http(&engine, "GET", &format!("/api/calls/{call_id}/outcome"), Some(("mrossi", "demo-mrossi")), None);
    assert_eq!(status, 200, "{o}");
    assert_eq!((o["outcome"].as_str(), o["note"].as_str()), (Some("appointment_booked"), Some(note)));
}

/// The supervisors' wallboard shows the sections, the logged-in operators and the open tickets
/// per region, refreshed by itself.
#[test]
fn the_wallboard_shows_sections_operators_and_tickets() {
    let engine = Engine::start();
    let b = Driver::start();
    b.sign_in(&format!("http://{}/wallboard", engine.http), "admin", "demo-admin");
    b.wait_text("#sections", "Pensioni", 10);
    assert_eq!(http(&engine, "POST", "/api/operator/login", Some(("mrossi", "demo-mrossi")), None).0, 200);
    open_ticket(&engine, "When will my pension be paid?");
    let ops = b.wait_text("#operators", "Mario Rossi", 10);
    assert!(ops.contains("disponibile") && ops.contains("non raggiungibile"), "{ops}");
    let tickets = b.wait_text("#tickets", "Lazio", 10);
    assert!(tickets.contains("Lazio 1"), "one open ticket in Lazio: {tickets}");
    assert_eq!(b.attribute("html", "lang"), "it");
    b.screenshot("wallboard");
    // English on request, remembered: the header's button, then a reload.
    b.click("#lang");
    b.wait_text("#operators", "available", 10);
    assert!(b.text("h1").contains("wallboard") && b.text("#operators").contains("not reachable"), "{}", b.text("body"));
    b.cmd("POST", "/refresh", Some(json!({}))).unwrap();
    b.wait_text("#sections", "Longest wait", 10);
    assert_eq!(b.attribute("html", "lang"), "en");
    // Officers' summary covers their own region only.
    let (_, mine) = http(&engine, "GET", "/api/tickets/summary", Some(("pgallo", "demo-pgallo")), None);
    assert_eq!(mine, json!({}), "Lombardia has none");
    let (_, all) = http(&engine, "GET", "/api/tickets/summary", Some(("admin", "demo-admin")), None);
    assert_eq!(all, json!({"lazio": {"open": 1}}));
}

/// A ticket the regional centre returns appears on every operator's console at once, with the
/// reason; the operator can reuse it for a new ticket.
#[test]
fn a_returned_ticket_reaches_the_contact_center_with_its_reason() {
    let engine = Engine::start();
    let lverdi = Some(("lverdi", "demo-lverdi"));
    let ticket = |question: &str| open_ticket(&engine, question);
    let give_back = |number: &str, reason: &str| {
        assert_eq!(http(&engine, "POST", &format!("/api/tickets/{number}/take"), lverdi, None).0, 200);
        let body = json!({ "reason": reason });
        let (status, t) = http(&engine, "POST", &format!("/api/tickets/{number}/return"), lverdi, Some(&body));
        assert_eq!((status, t["status"].as_str()), (200, Some("returned")), "{t}");
    };
    // One returned before the console opens, one while it is open; one still open is not shown.
    let before = ticket("Which documents for the survivor's pension?");
    give_back(&before, "The pension number is missing: ask the citizen for it.");
    let open = ticket("When is the pension paid?");
    let b = Driver::start();
    b.sign_in(&format!("http://{}/console", engine.http), "mrossi", "demo-mrossi");
    b.wait_text(&format!("#returned-{before} .reason"), "pension number is missing", 10);
    let during = ticket("Is my contribution record complete?");
    give_back(&during, "Belongs to the contributors' office of Milan: open it for Lombardia.");
    b.wait_text(&format!("#returned-{during} .reason"), "contributors' office of Milan", 10);
    assert!(b.find(&format!("#returned-{open}")).is_none(), "an open ticket is not returned");
    let ids =
        json!({"script": "return [...document.querySelectorAll('#returned-list li')].map((li) => li.id)", "args": []});
    let order = b.cmd("POST", "/execute/sync", Some(ids)).unwrap();
    assert_eq!(order, json!([format!("returned-{during}"), format!("returned-{before}")]), "newest return first");
    let meta = b.text(&format!("#returned-{during} .meta"));
    assert!(
        meta.contains("Laura Verdi") && meta.contains("Lazio, Pensioni") && meta.contains("aperta da Mario Rossi"),
        "{meta}"
    );
    let scroll = json!({"script": "document.getElementById('returned-panel').scrollIntoView()", "args": []});
    b.cmd("POST", "/execute/sync", Some(scroll)).unwrap();
    b.screenshot("console-returned");
    b.click(&format!("#returned-{during} .reuse"));
    let cf = b.wait("#cf", 5);
    let value = b.cmd("GET", &format!("/element/{cf}/property/value"), None).unwrap();
    assert_eq!(value, "RSSMRA85T10A562S", "the form is filled from the returned ticket");
}

/// The switchboard restarts under an open back office: the session survives (it is kept in the
/// store) and the page, once its live stream is back, shows the ticket opened meanwhile without
/// a reload. Signed out elsewhere, the page does not pretend to be live: at its next contact it
/// goes back to the sign-in form and says why.
#[test]
fn the_back_office_rides_out_a_restart_and_says_when_its_session_ended() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let engine = Engine::start_with(&["--http", &addr]);
    let b = Driver::start();
    b.sign_in(&format!("http://{addr}/backoffice"), "lverdi", "demo-lverdi");
    b.wait("#board .section[data-section=pensions]", 10);
    b.wait_text("#live", "in diretta", 10);

    let engine = Engine::start_in(engine.crash(), &["--http", &addr]);
    let number = &open_ticket(&engine, "Opened while the back office was away");
    b.wait(&format!("[data-section=pensions] #ticket-{number}[data-status=open]"), 30);
    assert!(b.find("#signin:not([hidden])").is_none(), "still signed in after the restart");

    // Signed out from elsewhere (another tab, say), then the engine restarts again.
    let (status, _, _) = http_raw(&engine, "DELETE", "/api/session", &[("Cookie", b.session_cookie())], "");
    assert_eq!(status, 204);
    let _engine = Engine::start_in(engine.crash(), &["--http", &addr]);
    b.wait_text("#signin-error", "acceda di nuovo", 30);
}

/// An agency's staff member opens the day's agenda: the appointments booked by the contact
/// center, by time, with the weekday and the operator's name, printable; a day without any
/// says so.
#[test]
fn agency_staff_see_the_days_appointments() {
    let engine = Engine::start();
    let mrossi = Some(("mrossi", "demo-mrossi"));
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let (_, slots) = http(&engine, "GET", &format!("/api/agencies/formia/slots?from={tomorrow}&days=14"), mrossi, None);
    let start = slots[0].as_str().unwrap().to_string();
    let body = json!({
        "agency": "formia", "start": start, "codice_fiscale": "RSSMRA85T10A562S", "phone": "+393331234567",
        "subject": "Estratto conto", "mode": "counter",
    });
    let (status, a) = http(&engine, "POST", "/api/appointments", mrossi, Some(&body));
    assert_eq!(status, 201, "{a}");
    let b = Driver::start();
    b.sign_in(&format!("http://{}/agenda", engine.http), "mcolombo", "demo-mcolombo");
    b.wait("#day:not([hidden])", 10);
    let pick = format!(
        "const d = document.getElementById('date'); d.value = '{}'; d.dispatchEvent(new Event('change'));",
        &start[..10]
    );
    b.cmd("POST", "/execute/sync", Some(json!({"script": pick, "args": []}))).unwrap();
    let row = b.wait_text(&format!("#appointment-{}", a["id"].as_str().unwrap()), "Estratto conto", 10);
    for text in [&start[11..16], "RSSMRA85T10A562S", "+393331234567", "allo sportello", "Mario Rossi"] {
        assert!(row.contains(text), "{text} in {row}");
    }
    let title = b.text("#title");
    let weekdays = ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato", "domenica"];
    assert!(title.starts_with("Agenzia INPS di Formia — ") && weekdays.iter().any(|d| title.contains(d)), "{title}");
    b.screenshot("agenda");
    b.click("#next");
    b.wait("#empty:not([hidden])", 10);
    assert_eq!(b.text("#empty"), "Nessun appuntamento in questo giorno.");
}
