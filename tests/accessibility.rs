//! Every page checked by axe-core in real Chromium, in the states people use it in: signing in,
//! the console of an operator logged in (phone panel, forms, returned tickets), the back office
//! with a ticket to take and one taken, the wallboard with an operator on it, an agency's
//! agenda; in Italian and in English. Every violation is printed; none may be serious or critical.

mod common;

use common::browser::Driver;
use common::*;
use serde_json::json;

#[test]
fn every_page_passes_axe_core() {
    let engine = Engine::start();
    let mrossi = Some(("mrossi", "demo-mrossi"));
    let lverdi = Some(("lverdi", "demo-lverdi"));
    assert_eq!(http(&engine, "POST", "/api/operator/login", mrossi, None).0, 200);
    let mut tickets = Vec::new();
    for question in ["When will my pension be paid?", "Which documents for the survivor's pension?"] {
        let body = json!({
            "caller": "+393331234567", "codice_fiscale": "RSSMRA85T10A562S", "question": question,
            "ccm_section": "pensions", "number": "+390773691001",
        });
        let (status, t) = http(&engine, "POST", "/api/tickets", mrossi, Some(&body));
        assert_eq!(status, 201, "{t}");
        tickets.push(t["number"].as_str().unwrap().to_string());
    }
    let taken = &tickets[1];
    assert_eq!(http(&engine, "POST", &format!("/api/tickets/{taken}/take"), lverdi, None).0, 200);

    let b = Driver::start();
    let mut serious = Vec::new();
    for lang in ["it", "en"] {
        for (page, user, ready) in [
            ("console", "mrossi", "#state[data-state=available]"),
            ("backoffice", "lverdi", &*format!("#ticket-{taken} .answer")),
            ("wallboard", "admin", "#operators tbody tr"),
            ("agenda", "mcolombo", "#day:not([hidden]) #title"),
        ] {
            b.cmd("POST", "/url", Some(json!({"url": format!("http://{}/{page}?lang={lang}", engine.http)}))).unwrap();
            b.wait("#signin:not([hidden])", 10);
            serious.extend(b.axe(&format!("/{page} ({lang}), signing in")));
            b.type_into("#username", user);
            b.type_into("#password", &format!("demo-{user}"));
            b.click("#signin-button");
            b.wait(ready, 10);
            serious.extend(b.axe(&format!("/{page} ({lang}), signed in")));
            let (status, _, _) = http_raw(&engine, "DELETE", "/api/session", &[("Cookie", b.session_cookie())], "");
            assert_eq!(status, 204);
            b.cmd("DELETE", "/cookie", None).unwrap();
        }
    }
    assert!(serious.is_empty(), "serious or critical accessibility violations:\n{}", serious.join("\n"));
}
