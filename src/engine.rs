//! The engine room: the whole switchboard wired in one place, top to bottom. It shares out the
//! file descriptors, opens what must last (call log, queue journal, outcome log, cases store),
//! starts the live reload, the media threads, the SIP adapter, the distribution (whose offers
//! ring operators' phones through SIP) and the HTTP API; then it waits for SIGTERM, Ctrl-C or a
//! drain asked through the API, drains the calls in progress and writes everything to disk.

use crate::acd::host::{AcdHandle, Dialer};
use crate::acd::journal::Journal;
use crate::acd::{Acd, Event as AcdEvent, rules};
use crate::browser_phone::BrowserPhones;
use crate::calls::{CallLog, OperatorLeg};
use crate::cases::outcome_log::OutcomeLog;
use crate::cases::retention::{Purged, Retention};
use crate::cases::store::Feed;
use crate::cases::{CaseStore, PgStore, RedbStore};
use crate::cluster::{NamedPhones, Node, SharedPhones};
use crate::config::{ClockPriority, Config};
use crate::descriptors;
use crate::live::{Live, Loaded};
use crate::media::clock::MediaClock;
use crate::media::receiver::MediaReceiver;
use crate::password_guard::host::SharedGuard;
use crate::records::Records;
use crate::sip::dialer::SipDialer;
use crate::sip::digest::Algorithm;
use crate::sip::guard::FaultCounts;
use crate::sip::phone_book::PhoneBook;
use crate::sip::server::{SipServer, SipServices, SipSettings};
use crate::switchboard::Paths;
use crate::updates::Updates;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tracing::{info, warn};

/// What the command line sets over the configuration.
#[derive(Debug, Default)]
pub struct Overrides {
    pub sip_udp: Option<SocketAddr>,
    pub sip_tcp: Option<SocketAddr>,
    pub sip_tls: Option<SocketAddr>,
    pub rtp_ports: Option<(u16, u16)>,
    pub http: Option<SocketAddr>,
    pub clock_priority: Option<ClockPriority>,
    pub data_dir: Option<PathBuf>,
    /// The cases store's URL.
    pub store: Option<String>,
    /// This node's link address in a cluster.
    pub cluster: Option<SocketAddr>,
    /// This node's name in a cluster.
    pub node: Option<String>,
    /// More proxies in front whose Via names their client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// Run the switchboard until it is stopped; `Err` says why it could not start.
pub async fn run(paths: Paths, loaded: Loaded, overrides: Overrides) -> Result<(), String> {
    let c = &loaded.switchboard.config;
    let budget = share_descriptors(c.sip.max_calls as usize, *c.http.max_connections.get_ref() as usize);
    let settings = sip_settings(c, &overrides, budget.calls);
    let priority = overrides.clock_priority.unwrap_or(c.rtp.clock_priority);
    let rtp_io = c.rtp.io;
    let drain_time = Duration::from_secs((*c.sip.drain_seconds.get_ref()).into());
    let http_limits = crate::api::connections::Limits {
        max_connections: budget.http_connections,
        header_timeout: Duration::from_secs((*c.http.header_timeout_seconds.get_ref()).into()),
    };
    let data_dir = overrides.data_dir.unwrap_or_else(|| PathBuf::from(&c.data_dir));
    let http = overrides.http.unwrap_or(c.http.listen);
    // The HTTP API and the pages: HTTPS with a certificate, plain HTTP on loopback only.
    let tls = match (&c.http.tls_certificate, &c.http.tls_key) {
        (Some(cert), Some(key)) => {
            Some(crate::api::tls::server_config(Path::new(cert.get_ref()), Path::new(key.get_ref()))?)
        }
        _ if !http.ip().is_loopback() => {
            return Err(format!(
                "the pages and the API on {http} would be plain HTTP: set http.tls_certificate and http.tls_key, or listen on a loopback address"
            ));
        }
        _ => None,
    };
    info!(
        trees = loaded.switchboard.trees.len(),
        numbers = c.numbers.len(),
        prompts = loaded.prompts.len(),
        "switchboard loaded"
    );

    // What must last.
    let store_url = overrides.store.or_else(|| c.store.url.as_ref().map(|u| u.get_ref().clone()));
    let files = Files::open(&data_dir, store_url).await?;
    let cluster = match (overrides.cluster.or(c.cluster.link), &files.shared) {
        (None, _) => None,
        (Some(_), None) => return Err("a node of a cluster needs the shared store: set store.url or --store".into()),
        (Some(link), Some(store)) => {
            let name = overrides.node.clone().or_else(|| c.cluster.node.clone()).unwrap_or_else(|| link.to_string());
            Some((Node { name, link }, Arc::clone(store)))
        }
    };
    let sessions = Arc::new(crate::api::session::Sessions::new(files.feed.is_some()));
    match files.store.sessions().await {
        Ok(kept) => crate::api::session::forget(Arc::clone(&files.store), sessions.restore(kept)),
        Err(e) => warn!("the sessions from before the restart are not known: {e}"),
    }
    let updates = Arc::new(Updates::new(files.feed.clone()));
    match files.store.latest_calls().await {
        Ok(calls) => updates.recall(calls),
        Err(e) => warn!("the operators' latest calls are not known: {e}"),
    }

    // The switchboard in service, reloaded when its files change.
    let live = Live::new(paths, loaded);
    tokio::spawn(live.clone().watch(Duration::from_secs(1)));

    // Media: one sending clock and one set of receivers for every call.
    let clock = MediaClock::start_per_core(priority).map_err(|e| format!("cannot start the media clock: {e}"))?;
    let receiver = MediaReceiver::start_per_core(priority, rtp_io)
        .map_err(|e| format!("cannot start the media receivers: {e}"))?;

    // Signalling.
    let guard = Arc::new(SharedGuard::default());
    let sip_faults = Arc::new(FaultCounts::default());
    // The phones the distribution names in its offers (a node cut off from the database rings
    // them from there).
    let named_phones = Arc::new(NamedPhones::default());
    let services = SipServices {
        live: Arc::clone(&live),
        log: files.log.clone(),
        store: Some(Arc::clone(&files.store)),
        updates: Some(Arc::clone(&updates)),
        guard: Arc::clone(&guard),
        faults: Arc::clone(&sip_faults),
        clock,
        receiver,
        phone_book: cluster.as_ref().map(|(node, store)| {
            let named = Arc::clone(&named_phones);
            Arc::new(SharedPhones { store: Arc::clone(store), node: node.name.clone(), named }) as Arc<dyn PhoneBook>
        }),
    };
    let server = SipServer::start(settings, services).await.map_err(|e| format!("cannot listen for SIP: {e}"))?;

    // The distribution: its offers ring operators' phones through the SIP adapter. In a
    // cluster it runs on the node holding its lease, and this node links to it.
    // Operators with the console's phone connected are rung there, the others on their SIP phone.
    let phones = BrowserPhones::new(Arc::clone(&server.shared.ports), server.shared.settings.rtp_ip)?;
    let dialer = phones.dialer(Arc::clone(&live), Box::new(SipDialer::new(&server.shared)));
    let (acd, holder) = match cluster {
        None => {
            let acd = start_distribution(&live, dialer, files.journal.clone(), Arc::clone(&files.store));
            match crate::callbacks::restore(files.store.as_ref(), &acd).await {
                Ok(0) => {}
                Ok(n) => info!(requests = n, "pending callbacks back at their places"),
                Err(e) => warn!("pending callbacks cannot be read: {e}"),
            }
            tokio::spawn(crate::callbacks::follow_hours(Arc::clone(&live), acd.clone(), server.cancel.child_token()));
            (acd, None)
        }
        Some((node, store)) => {
            let draining = Arc::clone(&server.shared.draining);
            let stop = server.cancel.child_token();
            let journal = files.journal.clone();
            let name = node.name.clone();
            let joined = crate::cluster::join(
                node,
                store,
                Arc::clone(&live),
                Box::new(dialer),
                journal,
                named_phones,
                draining,
                stop,
            );
            let joined = joined.await?;
            (joined.acd, Some((name, joined.holder)))
        }
    };
    server.set_distribution(acd.clone());
    phones.set_distribution(acd.clone());

    let listener =
        tokio::net::TcpListener::bind(http).await.map_err(|e| format!("cannot listen for HTTP on {http}: {e}"))?;
    let http = listener.local_addr().unwrap_or(http);
    let drain_asked = Arc::new(tokio::sync::Notify::new());
    guard.spawn_pruner(server.cancel.child_token());
    tokio::spawn(Arc::clone(&updates).follow(server.cancel.child_token()));
    tokio::spawn(purge_daily(Arc::clone(&live), files.clone(), server.cancel.child_token()));
    let state = crate::api::ApiState {
        live,
        acd,
        store: Arc::clone(&files.store),
        sessions,
        events: updates,
        records: Arc::clone(&files.records),
        outcome_log: files.outcomes.clone(),
        guard,
        connections: Default::default(),
        sip_faults,
        drain: Arc::clone(&drain_asked),
        draining: Arc::clone(&server.shared.draining),
        metrics: crate::api::metrics::Sources { sip: Arc::clone(&server.shared), cluster: holder },
        tls,
        phones,
    };
    crate::api::spawn(listener, state, http_limits, server.cancel.child_token());
    // The line test harnesses and operators wait for.
    match server.tls {
        Some(tls) => info!(udp = %server.udp, tcp = %server.tcp, %tls, %http, "switchboard ready"),
        None => info!(udp = %server.udp, tcp = %server.tcp, %http, "switchboard ready"),
    }

    // SIGTERM, Ctrl-C or an administrator's POST /api/drain; a second signal stops at once.
    let mut signals = StopSignals::new();
    tokio::select! {
        _ = signals.next() => {},
        _ = drain_asked.notified() => info!("drain asked through the API"),
    }
    tokio::select! {
        left = server.drain(drain_time) => if left > 0 {
            warn!(calls = left, "stopping with calls still in progress: the drain time is over");
        },
        _ = signals.next() => warn!(calls = server.active_calls(), "stopping at once (second signal)"),
    }
    server.cancel.cancel();
    // The last calls' records, queue events and outcomes on disk before the process ends.
    tokio::join!(files.log.flush(), files.journal.flush(), files.outcomes.flush());
    info!("stopped");
    Ok(())
}

/// How often the retention periods are applied (and once at start).
const PURGE_EVERY: Duration = Duration::from_secs(24 * 3600);

/// Anonymise or delete what the retention periods of the configuration in service say is due,
/// in the store and the journals, at start and every [`PURGE_EVERY`], until `stop`.
async fn purge_daily(live: Arc<Live>, files: Files, stop: tokio_util::sync::CancellationToken) {
    loop {
        let retention = Retention::of(&live.current().switchboard.config.retention);
        match files.purge(&retention, chrono::Utc::now()).await {
            Ok(done) => info!(?done, "retention applied"),
            Err(e) => warn!("retention not applied this time: {e}"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(PURGE_EVERY) => {}
        }
    }
}

/// What a purge removed from the journals (JSON-lines files), besides the store's [`Purged`].
#[derive(Debug, Default)]
pub struct JournalsPruned {
    pub call_records: usize,
    pub queue_entries: usize,
    pub outcome_lines: usize,
}

/// The files the engine writes, open.
#[derive(Clone)]
struct Files {
    log: CallLog,
    journal: Journal,
    outcomes: OutcomeLog,
    store: Arc<dyn CaseStore>,
    /// Where the records are read back.
    records: Arc<Records>,
    /// The changes every node's pages see, when the store is shared.
    feed: Option<Arc<dyn Feed>>,
    /// The shared store, when there is one.
    shared: Option<Arc<PgStore>>,
}

impl Files {
    /// Apply `retention` as of `now` to the store and the journals.
    async fn purge(
        &self,
        retention: &Retention,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(Purged, JournalsPruned), String> {
        let plan = retention.plan(now);
        let purged = self.store.purge(&plan).await.map_err(|e| e.to_string())?;
        let mut pruned = JournalsPruned::default();
        if let Some(before) = plan.records_before {
            let failed = |e: std::io::Error| format!("cannot prune a journal: {e}");
            pruned.call_records = self.log.prune(before).await.map_err(failed)?;
            pruned.queue_entries = self.journal.prune(before).await.map_err(failed)?;
            pruned.outcome_lines = self.outcomes.prune(before).await.map_err(failed)?;
        }
        Ok((purged, pruned))
    }

    async fn open(data_dir: &Path, store_url: Option<String>) -> Result<Files, String> {
        let dir = data_dir.display();
        if let Some(url) = store_url {
            // A center of several nodes: the store and the journals are shared.
            let store = PgStore::connect(&url).await;
            let store = Arc::new(store.map_err(|e| format!("cannot open the cases store: {e}"))?);
            info!(store = store.shown(), "cases store: PostgreSQL");
            return Ok(Files {
                log: CallLog::to_store(store.journal("calls", crate::calls::log::ENDED)),
                journal: Journal::to_store(
                    store.journal("queue", crate::acd::journal::AT),
                    store.journal("operators", crate::acd::journal::AT),
                ),
                outcomes: OutcomeLog::none(),
                records: Arc::new(Records::Shared(Arc::clone(&store))),
                store: store.clone(),
                feed: Some(store.clone()),
                shared: Some(store),
            });
        }
        // The writers' tasks run on their own: their handles are not needed to keep them.
        let (log, _) = CallLog::start(data_dir).map_err(|e| format!("cannot open the call log in {dir}: {e}"))?;
        let journal = Journal::start(data_dir).map_err(|e| format!("cannot open the queue journal in {dir}: {e}"))?;
        let (outcomes, _) =
            OutcomeLog::start(data_dir).map_err(|e| format!("cannot open the outcome log in {dir}: {e}"))?;
        let path = data_dir.join("cases.redb");
        let store = Arc::new(RedbStore::open(&path).map_err(|e| format!("cannot open the cases store: {e}"))?);
        let records = Arc::new(Records::Files(data_dir.to_path_buf()));
        Ok(Files { log, journal, outcomes, records, store, feed: None, shared: None })
    }
}

/// The distribution task, fed the new rules on every reload that changes them.
fn start_distribution(
    live: &Arc<Live>,
    dialer: impl Dialer<OperatorLeg>,
    journal: Journal,
    store: Arc<dyn CaseStore>,
) -> AcdHandle<OperatorLeg> {
    let config = &live.current().switchboard.config;
    let acd = Acd::new(rules::section_rules(config), config.operator_skills());
    let keeping = crate::acd::host::Keeping { callbacks: Some(crate::callbacks::keep_in(store)), ..Default::default() };
    let handle = crate::acd::host::start_keeping(acd, Box::new(dialer), Some(journal), keeping);
    let reconfigure = handle.clone();
    live.on_distribution_change(Box::new(move |loaded| {
        let config = &loaded.switchboard.config;
        reconfigure.event(AcdEvent::Reconfigure {
            sections: rules::section_rules(config),
            operators: config.operator_skills(),
        });
    }));
    handle
}

fn sip_settings(c: &Config, overrides: &Overrides, max_calls: usize) -> SipSettings {
    SipSettings {
        udp: overrides.sip_udp.unwrap_or(c.sip.udp),
        tcp: overrides.sip_tcp.unwrap_or(c.sip.tcp),
        tls: c.sip.tls_certificate.is_some().then(|| overrides.sip_tls.unwrap_or(c.sip.tls)),
        rtp_ip: c.rtp.address,
        rtp_ports: overrides.rtp_ports.unwrap_or((*c.rtp.port_min.get_ref(), *c.rtp.port_max.get_ref())),
        max_calls,
        ringing: c.sip.ringing,
        answer_delay: Duration::from_millis(c.sip.answer_delay_ms.into()),
        media_timeout: Duration::from_secs(c.rtp.media_timeout_seconds.into()),
        max_hold: Duration::from_secs(c.rtp.max_hold_seconds.into()),
        realm: c.sip.realm.clone(),
        digest_algorithms: c.sip.digest_algorithms.get_ref().iter().filter_map(|a| Algorithm::parse(a)).collect(),
        udp_receive_buffer: *c.sip.udp_receive_buffer_kib.get_ref() as usize * 1024,
        trusted_proxies: c.sip.trusted_proxies.iter().chain(&overrides.trusted_proxies).copied().collect(),
    }
}

/// Raise the open-file limit and share it between calls and HTTP connections (calls first).
fn share_descriptors(max_calls: usize, max_http: usize) -> descriptors::Budget {
    let limit = descriptors::raise_limit().unwrap_or_else(|e| {
        warn!("cannot read or raise the open-file limit ({e}); assuming 1024");
        1024
    });
    let budget = descriptors::budget(limit, max_calls, max_http);
    info!(open_files = limit, calls = budget.calls, http_connections = budget.http_connections, "descriptors shared");
    if !budget.calls_fit {
        warn!(
            max_calls,
            calls = budget.calls,
            "the open-file limit ({limit}) is too low for max_calls: calls beyond {} get 503; raise the hard limit (LimitNOFILE, ulimit -Hn) to at least {}",
            budget.calls,
            descriptors::RESERVED + descriptors::MIN_HTTP + max_calls as u64 * descriptors::PER_CALL
        );
    }
    budget
}

/// SIGTERM and Ctrl-C, each seen once.
struct StopSignals {
    term: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn new() -> StopSignals {
        StopSignals { term: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok() }
    }

    /// Completes at the next SIGTERM or Ctrl-C.
    async fn next(&mut self) {
        let term = async {
            match self.term.as_mut() {
                Some(t) => t.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            Some(_) = term => {},
        }
    }
}
