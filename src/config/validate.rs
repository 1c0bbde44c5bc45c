//! Cross-checks of a parsed configuration: every reference must name something that exists.

use super::credentials::is_hex_hash;
use super::model::*;
use super::numbers::{is_e164, normalize_number};
use super::queues::{QueueSettings, RouteConfig};
use crate::calendar::WeeklyHours;
use crate::diag::{Diagnostic, Diagnostics, Pos, did_you_mean};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use toml::Spanned;

/// Diagnostics pointing into the configuration's text (also used by the cross-checks with the
/// trees, in `switchboard`).
pub(crate) struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
    pub(crate) out: Diagnostics,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(path: &'a Path, text: &'a str) -> Self {
        Self { path, text, out: Diagnostics::default() }
    }

    fn pos<T>(&self, s: &Spanned<T>) -> Pos {
        Pos::of_offset(self.text, s.span().start)
    }

    pub(crate) fn error<T>(&mut self, at: &Spanned<T>, message: String, hint: impl Into<String>) {
        let d = Diagnostic::error(self.path, self.pos(at), message).hint(hint);
        self.out.push(d);
    }

    /// Report `name` unless it is a key of `map`.
    /// Report `name` unless it is a key of `map`, the table `[table]` (whose entries are `what`s).
    fn reference<V>(&mut self, what: &str, table: &str, name: &Spanned<String>, map: &BTreeMap<Spanned<String>, V>) {
        let n = name.get_ref();
        if map.contains_key(n.as_str()) {
            return;
        }
        let hint = did_you_mean(n, map.keys().map(|k| k.get_ref().as_str()))
            .unwrap_or_else(|| format!("define [{table}.{n}] or use a {what} already defined under [{table}]"));
        self.error(name, format!("unknown {what} `{n}`"), hint);
    }

    fn hours(&mut self, what: &str, hours: &Spanned<WeeklyHours>) {
        for p in hours.get_ref().problems() {
            self.error(hours, format!("{what}: {p}"), "fix the intervals of that day");
        }
    }
}

pub(super) fn validate(path: &Path, text: &str, c: &Config) -> Diagnostics {
    let mut k = Checker { path, text, out: Diagnostics::default() };

    k.reference("section", "sections", &c.general_section, &c.sections);

    let (lo, hi) = (*c.rtp.port_min.get_ref(), *c.rtp.port_max.get_ref());
    if lo >= hi || lo % 2 != 0 || lo < 1024 {
        k.error(
            &c.rtp.port_min,
            format!("RTP port range {lo}-{hi} is not usable"),
            "port_min must be an even port of at least 1024 (RTP uses even ports, RTCP the next odd one) and below port_max",
        );
    }

    match (&c.http.tls_certificate, &c.http.tls_key) {
        (Some(field), None) | (None, Some(field)) => k.error(
            field,
            "http.tls_certificate and http.tls_key go together".into(),
            "give both PEM files (the certificate chain and its private key), or neither for plain HTTP on loopback",
        ),
        _ => {}
    }

    match (&c.sip.tls_certificate, &c.sip.tls_key) {
        (Some(field), None) | (None, Some(field)) => k.error(
            field,
            "sip.tls_certificate and sip.tls_key go together".into(),
            "give both PEM files (the certificate chain and its private key), or neither for SIP over UDP and TCP only",
        ),
        (None, None) => {
            if let Some(field) = &c.sip.tls_client_authorities {
                k.error(
                    field,
                    "sip.tls_client_authorities without SIP over TLS".into(),
                    "give sip.tls_certificate and sip.tls_key too, or remove it",
                );
            }
            if *c.sip.operators_require_tls.get_ref() {
                k.error(
                    &c.sip.operators_require_tls,
                    "operators' phones cannot be required to use TLS: SIP over TLS is off".into(),
                    "give sip.tls_certificate and sip.tls_key, or set operators_require_tls = false",
                );
            }
        }
        (Some(_), Some(_)) => {}
    }

    if let Some(url) = &c.store.url
        && !["postgres://", "postgresql://"].iter().any(|p| url.get_ref().starts_with(p))
    {
        k.error(
            url,
            "store.url is not a PostgreSQL URL".into(),
            "write postgres://user:password@host:5432/database, or remove it to keep the embedded store in data_dir",
        );
    }

    for (days, name) in [
        (&c.retention.closed_tickets_days, "retention.closed_tickets_days"),
        (&c.retention.records_days, "retention.records_days"),
    ] {
        if let Some(d) = days
            && !(1..=36_500).contains(d.get_ref())
        {
            k.error(
                d,
                format!("{name} {} is out of range", d.get_ref()),
                "use between 1 and 36500 days, or remove it to keep for ever",
            );
        }
    }

    let limits = [
        (&c.sip.udp_receive_buffer_kib, 64, 1 << 20, "sip.udp_receive_buffer_kib", "KiB"),
        (&c.sip.drain_seconds, 0, 24 * 3600, "sip.drain_seconds", "seconds"),
        (&c.http.max_connections, 16, 1 << 20, "http.max_connections", "connections"),
        (&c.http.header_timeout_seconds, 1, 300, "http.header_timeout_seconds", "seconds"),
    ];
    for (value, min, max, name, unit) in limits {
        let v = *value.get_ref();
        if !(min..=max).contains(&v) {
            k.error(value, format!("{name} {v} is out of range"), format!("use between {min} and {max} {unit}"));
        }
    }

    for (code, p) in &c.provinces {
        if !code.get_ref().chars().all(|ch| ch.is_ascii_uppercase()) || code.get_ref().len() != 2 {
            k.error(
                code,
                format!("province code `{}` is not a two-letter sigla", code.get_ref()),
                "use the official uppercase sigla, e.g. LT for Latina",
            );
        }
        k.reference("region", "regions", &p.region, &c.regions);
        k.hours(&format!("office_hours of {}", code.get_ref()), &p.office_hours);
    }

    let mut seen = HashSet::new();
    for n in &c.numbers {
        let raw = n.number.get_ref();
        if !is_e164(raw) {
            let hint = match normalize_number(raw) {
                Some(e) => format!("write it in E.164 form: \"{e}\""),
                None => "write it in E.164 form, e.g. \"+390773691001\"".to_string(),
            };
            k.error(&n.number, format!("called number `{raw}` is not in E.164 form"), hint);
        } else if !seen.insert(raw.clone()) {
            k.error(&n.number, format!("called number `{raw}` is listed twice"), "keep one entry per number");
        }
        k.reference("province", "provinces", &n.province, &c.provinces);
    }

    for (id, s) in &c.sections {
        if s.name.trim().is_empty() {
            k.error(
                id,
                format!("section `{}` has an empty name", id.get_ref()),
                "give it the name operators know it by",
            );
        }
    }

    let mut users = HashSet::new();
    for o in &c.operators {
        let u = o.username.get_ref();
        if !users.insert(u.clone()) {
            k.error(&o.username, format!("operator `{u}` is defined twice"), "user names must be unique");
        }
        if u.is_empty() || !u.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-')) {
            k.error(
                &o.username,
                format!("operator user name `{u}` is not valid"),
                "use letters, digits, '.', '_' or '-' (it is the SIP user name)",
            );
        }
        if o.sections.is_empty() {
            k.error(
                &o.username,
                format!("operator `{u}` serves no section"),
                "list at least one section in `sections`, in priority order",
            );
        }
        for s in &o.sections {
            k.reference("section", "sections", s, &c.sections);
        }
        if !is_hex_hash(o.ha1_md5.get_ref(), 32) {
            k.error(
                &o.ha1_md5,
                format!("ha1_md5 of `{u}` is not 32 lowercase hex digits"),
                format!("generate it with `centralino passwd {u}`"),
            );
        }
        if !is_hex_hash(o.ha1_sha256.get_ref(), 64) {
            k.error(
                &o.ha1_sha256,
                format!("ha1_sha256 of `{u}` is not 64 lowercase hex digits"),
                format!("generate it with `centralino passwd {u}`"),
            );
        }
    }

    let staff = c
        .officers
        .iter()
        .map(|o| (&o.username, &o.ha1_md5, "officer"))
        .chain(c.administrators.iter().map(|a| (&a.username, &a.ha1_md5, "administrator")))
        .chain(c.agency_staff.iter().map(|s| (&s.username, &s.ha1_md5, "agency staff member")));
    for (username, ha1, role) in staff {
        let u = username.get_ref();
        if !users.insert(u.clone()) {
            k.error(
                username,
                format!("user `{u}` is defined twice"),
                "user names of operators, officers, administrators and agency staff must be unique",
            );
        }
        if !is_hex_hash(ha1.get_ref(), 32) {
            k.error(
                ha1,
                format!("ha1_md5 of {role} `{u}` is not 32 lowercase hex digits"),
                format!("generate it with `centralino passwd {u}`"),
            );
        }
    }
    for o in &c.officers {
        k.reference("regional centre", "regional_centres", &o.region, &c.regional_centres);
    }
    for s in &c.agency_staff {
        let agency = s.agency.get_ref();
        if !c.agencies.iter().any(|a| a.id.get_ref() == agency) {
            let ids = c.agencies.iter().map(|a| a.id.get_ref().as_str());
            let hint = did_you_mean(agency, ids).unwrap_or_else(|| "name the id of an [[agencies]] entry".into());
            k.error(&s.agency, format!("unknown agency `{agency}`"), hint);
        }
    }

    for (region, centre) in &c.regional_centres {
        k.reference("region", "regions", region, &c.regions);
        let mut secs = centre.sections.get_ref().clone();
        secs.sort();
        secs.dedup();
        if secs.len() != centre.sections.get_ref().len() || secs != TicketSection::ALL {
            k.error(
                &centre.sections,
                format!(
                    "regional centre `{}` must have exactly the sections pensions, income_support and contributors",
                    region.get_ref()
                ),
                "write sections = [\"pensions\", \"income_support\", \"contributors\"]",
            );
        }
    }
    let missing: Vec<&str> =
        c.regions.keys().map(|r| r.get_ref().as_str()).filter(|r| !c.regional_centres.contains_key(*r)).collect();
    if !missing.is_empty() {
        let d = Diagnostic::error(path, Pos::new(1, 1), format!("regions without a regional centre: {}", missing.join(", ")))
            .hint("add a [regional_centres.<region>] table for each: Linea INPS tickets of that region have nowhere to go otherwise");
        k.out.push(d);
    }

    let mut ids = HashSet::new();
    for a in &c.agencies {
        let id = a.id.get_ref();
        if !ids.insert(id.clone()) {
            k.error(&a.id, format!("agency `{id}` is defined twice"), "agency ids must be unique");
        }
        k.reference("province", "provinces", &a.province, &c.provinces);
        let slot = *a.slot_minutes.get_ref();
        if !(5..=240).contains(&slot) {
            k.error(&a.slot_minutes, format!("slot_minutes {slot} is out of range"), "use between 5 and 240 minutes");
        }
        let horizon = *a.booking_horizon_days.get_ref();
        if !(1..=366).contains(&horizon) {
            k.error(
                &a.booking_horizon_days,
                format!("booking_horizon_days {horizon} is out of range"),
                "use between 1 and 366 days",
            );
        }
        k.hours(&format!("agenda of {id}"), &a.agenda);
        if a.agenda.get_ref().is_empty() {
            k.error(
                &a.agenda,
                format!("agency `{id}` has an empty agenda"),
                "list the weekdays and hours when appointments can be booked",
            );
        }
        let too_short = crate::calendar::WEEK
            .iter()
            .flat_map(|d| a.agenda.get_ref().day(*d))
            .find(|r| (r.end - r.start).num_minutes() < i64::from(slot));
        if let Some(r) = too_short {
            k.error(
                &a.agenda,
                format!("agenda of `{id}`: interval {r} is shorter than one {slot}-minute slot"),
                "lengthen the interval or shorten slot_minutes",
            );
        }
    }
    let algorithms = c.sip.digest_algorithms.get_ref();
    let unknown = algorithms.iter().find(|a| super::credentials::Algorithm::parse(a).is_none());
    if let Some(a) = unknown {
        k.error(&c.sip.digest_algorithms, format!("unknown digest algorithm `{a}`"), "use \"SHA-256\" and/or \"MD5\"");
    } else if algorithms.is_empty() {
        k.error(
            &c.sip.digest_algorithms,
            "no digest algorithm".into(),
            "list \"SHA-256\", \"MD5\" or both, in order of preference",
        );
    }
    k.queue_settings("[queue]", None, &c.queue, c);
    super::callback::check_limits(&mut k, c.trunk.as_ref(), &c.callback);
    for (id, section) in &c.sections {
        k.queue_settings(&format!("section `{}`", id.get_ref()), Some(id), &section.queue, c);
    }
    k.out
}

impl Checker<'_> {
    /// Limits come with their route, routes name one existing target, the leave key is a key.
    fn queue_settings(&mut self, what: &str, section: Option<&Spanned<String>>, q: &QueueSettings, c: &Config) {
        // A section takes what it does not set from [queue]; a limit needs its route and back.
        let d = &c.queue;
        let inherit = section.is_some();
        let pairs = [
            (
                "max_queue",
                q.max_queue.as_ref(),
                d.max_queue.as_ref(),
                "when_full",
                q.when_full.as_ref(),
                d.when_full.as_ref(),
            ),
            (
                "max_wait_seconds",
                q.max_wait_seconds.as_ref(),
                d.max_wait_seconds.as_ref(),
                "after_max_wait",
                q.after_max_wait.as_ref(),
                d.after_max_wait.as_ref(),
            ),
        ];
        for (limit, own_limit, default_limit, route, own_route, default_route) in pairs {
            let has_limit = own_limit.is_some() || (inherit && default_limit.is_some());
            let has_route = own_route.is_some() || (inherit && default_route.is_some());
            match (own_limit, own_route.and_then(RouteConfig::first)) {
                (Some(v), _) if !has_route => self.error(
                    v,
                    format!("{what}: {limit} is set but {route} is not"),
                    format!("say where callers go then: {route} = {{ section = \"...\" }}, {{ node = \"...\" }} or {{ message = \"...\" }}"),
                ),
                (_, Some(at)) if !has_limit => {
                    self.error(at, format!("{what}: {route} is set but {limit} is not"), format!("set {limit}, or remove {route}"))
                }
                _ => {}
            }
        }
        if let Some(m) = &q.max_queue
            && *m.get_ref() == 0
        {
            self.error(
                m,
                format!("{what}: max_queue is 0"),
                "allow at least one waiting caller, or route callers elsewhere with when_no_operators",
            );
        }
        match (&q.leave_key, &q.leave_to) {
            (Some(k), None) => self.error(
                k,
                format!("{what}: leave_key without leave_to"),
                "say where the key takes the caller: leave_to = { node = \"...\" }",
            ),
            (Some(k), Some(_))
                if !matches!(
                    k.get_ref().as_str(),
                    "0" | "1" | "2" | "3" | "4" | "5" | "6" | "7" | "8" | "9" | "*" | "#"
                ) =>
            {
                self.error(
                    k,
                    format!("{what}: leave_key `{}` is not a phone key", k.get_ref()),
                    "use one of 0-9, * or #",
                )
            }
            (None, Some(r)) => {
                if let Some(at) = r.first() {
                    self.error(at, format!("{what}: leave_to without leave_key"), "set leave_key, e.g. \"9\"")
                }
            }
            _ => {}
        }
        if section.is_none()
            && let Some(k) = &q.leave_key
        {
            self.error(
                k,
                "leave_key belongs to a section, not to [queue]".into(),
                "move it under [sections.<id>.queue]",
            );
        }
        super::callback::check_settings(self, what, &q.callback, q.leave_key.as_ref(), c);
        let routes = [&q.when_full, &q.after_max_wait, &q.when_no_operators, &q.leave_to];
        for r in routes.into_iter().flatten() {
            let given = [&r.section, &r.node, &r.message].iter().filter(|t| t.is_some()).count();
            let Some(at) = r.first() else {
                if let Some(id) = section {
                    self.error(
                        id,
                        format!("{what}: a queue route names no target"),
                        "write { section = \"...\" }, { node = \"...\" } or { message = \"...\" }",
                    );
                }
                continue;
            };
            if given > 1 {
                self.error(
                    at,
                    format!("{what}: a queue route names {given} targets"),
                    "give exactly one of section, node or message",
                );
                continue;
            }
            if let Some(target) = &r.section {
                self.reference("section", "sections", target, &c.sections);
                if section.is_some_and(|id| id.get_ref() == target.get_ref()) {
                    self.error(
                        target,
                        format!("{what} routes its callers to itself"),
                        "name another section, a node or a message",
                    );
                }
            }
        }
    }
}
