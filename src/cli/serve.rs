use centralino::acd::journal::Journal;
use centralino::calls::CallLog;
use centralino::cases::outcome_log::OutcomeLog;
use centralino::cases::{CaseStore, RedbStore};
use centralino::descriptors;
use centralino::live::{Live, Loaded};
use centralino::media::clock::ClockPriority;
use centralino::password_guard::host::SharedGuard;
use centralino::sip::digest::Algorithm;
use centralino::sip::guard::FaultCounts;
use centralino::sip::server::{SipServer, SipServices, SipSettings};
use centralino::switchboard::Paths;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tracing::{error, info, warn};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// SIP over UDP (default: the configuration's `sip.udp`).
    #[arg(long)]
    sip_udp: Option<SocketAddr>,
    /// SIP over TCP (default: the configuration's `sip.tcp`).
    #[arg(long)]
    sip_tcp: Option<SocketAddr>,
    /// RTP port range `MIN-MAX` (default: the configuration's).
    #[arg(long, value_parser = parse_range)]
    rtp_ports: Option<(u16, u16)>,
    /// HTTP API address (default: the configuration's `http.listen`).
    #[arg(long)]
    http: Option<SocketAddr>,
    /// Scheduling of the RTP pacing threads (default: the configuration's `rtp.clock_priority`).
    #[arg(long, value_enum)]
    clock_priority: Option<ClockPriority>,
    /// Data directory (default: the configuration's `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once('-').ok_or("write the range as MIN-MAX, e.g. 20000-29999")?;
    let (a, b) = (a.parse().map_err(|_| "MIN is not a port")?, b.parse().map_err(|_| "MAX is not a port")?);
    if a >= b { Err("MIN must be below MAX".into()) } else { Ok((a, b)) }
}

fn init_logs(format: LogFormat) {
    // rsipstack logs every datagram at INFO: keep it at WARN unless RUST_LOG says otherwise.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,rsipstack=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().with_current_span(true).init(),
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

pub fn run(paths: &Paths, args: ServeArgs) -> ExitCode {
    init_logs(args.log_format);
    let (loaded, warnings) = match Loaded::load(paths) {
        Ok(x) => x,
        Err(diags) => {
            super::report(&diags);
            error!("the switchboard did not start: fix the errors above");
            return ExitCode::FAILURE;
        }
    };
    for w in &warnings {
        warn!("{w}");
    }
    let c = &loaded.switchboard.config;
    let budget = share_descriptors(c.sip.max_calls as usize, *c.http.max_connections.get_ref() as usize);
    let settings = SipSettings {
        udp: args.sip_udp.unwrap_or(c.sip.udp),
        tcp: args.sip_tcp.unwrap_or(c.sip.tcp),
        rtp_ip: c.rtp.address,
        rtp_ports: args.rtp_ports.unwrap_or((*c.rtp.port_min.get_ref(), *c.rtp.port_max.get_ref())),
        max_calls: budget.calls,
        ringing: c.sip.ringing,
        answer_delay: Duration::from_millis(c.sip.answer_delay_ms.into()),
        media_timeout: Duration::from_secs(c.rtp.media_timeout_seconds.into()),
        max_hold: Duration::from_secs(c.rtp.max_hold_seconds.into()),
        clock_priority: args.clock_priority.unwrap_or(c.rtp.clock_priority),
        realm: c.sip.realm.clone(),
        digest_algorithms: c.sip.digest_algorithms.get_ref().iter().filter_map(|a| Algorithm::parse(a)).collect(),
        udp_receive_buffer: *c.sip.udp_receive_buffer_kib.get_ref() as usize * 1024,
    };
    let drain = Duration::from_secs((*c.sip.drain_seconds.get_ref()).into());
    let http_limits = centralino::api::connections::Limits {
        max_connections: budget.http_connections,
        header_timeout: Duration::from_secs((*c.http.header_timeout_seconds.get_ref()).into()),
    };
    let data_dir = args.data_dir.unwrap_or_else(|| PathBuf::from(&c.data_dir));
    let http = args.http.unwrap_or(c.http.listen);
    info!(
        trees = loaded.switchboard.trees.len(),
        numbers = c.numbers.len(),
        prompts = loaded.prompts.len(),
        "switchboard loaded"
    );
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let (log, _writer) = match CallLog::start(&data_dir) {
            Ok(x) => x,
            Err(e) => {
                error!("cannot open the call log in {}: {e}", data_dir.display());
                return ExitCode::FAILURE;
            }
        };
        let journal = match Journal::start(&data_dir) {
            Ok(j) => j,
            Err(e) => {
                error!("cannot open the queue journal in {}: {e}", data_dir.display());
                return ExitCode::FAILURE;
            }
        };
        let (outcome_log, _outcome_writer) = match OutcomeLog::start(&data_dir) {
            Ok(x) => x,
            Err(e) => {
                error!("cannot open the outcome log in {}: {e}", data_dir.display());
                return ExitCode::FAILURE;
            }
        };
        let store_path = data_dir.join("cases.redb");
        let store: Arc<dyn CaseStore> = match RedbStore::open(&store_path) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                error!("cannot open the cases store: {e}");
                return ExitCode::FAILURE;
            }
        };
        let sessions = Arc::new(centralino::api::session::Sessions::default());
        match store.sessions() {
            Ok(kept) => {
                for ended in sessions.restore(kept) {
                    let _ = store.drop_session(&ended);
                }
            }
            Err(e) => warn!("the sessions from before the restart are not known: {e}"),
        }
        let updates = Arc::new(centralino::updates::Updates::default());
        match store.latest_calls() {
            Ok(calls) => updates.recall(calls),
            Err(e) => warn!("the operators' latest calls are not known: {e}"),
        }
        let live = Live::new(paths.clone(), loaded);
        tokio::spawn(live.clone().watch(Duration::from_secs(1)));
        let guard = Arc::new(SharedGuard::default());
        let sip_faults = Arc::new(FaultCounts::default());
        let files = (log.clone(), journal.clone(), outcome_log.clone());
        let services = SipServices {
            live,
            log,
            journal: Some(journal),
            store: Some(Arc::clone(&store)),
            updates: Some(Arc::clone(&updates)),
            guard: Arc::clone(&guard),
            faults: Arc::clone(&sip_faults),
        };
        let server = match SipServer::start(settings, services).await         {
            Ok(s) => s,
            Err(e) => {
                error!("cannot listen for SIP: {e}");
                return ExitCode::FAILURE;
            }
        };
        let listener = match tokio::net::TcpListener::bind(http).await {
            Ok(l) => l,
            Err(e) => {
                error!("cannot listen for HTTP on {http}: {e}");
                return ExitCode::FAILURE;
            }
        };
        let http = listener.local_addr().unwrap_or(http);
        let acd = server.shared.acd.get().cloned().expect("the server starts its distribution");
        let drain_asked = Arc::new(tokio::sync::Notify::new());
        guard.spawn_pruner(server.cancel.child_token());
        let state = centralino::api::ApiState {
            live: Arc::clone(&server.shared.live),
            acd,
            store,
            sessions,
            events: updates,
            data_dir: data_dir.clone(),
            outcome_log,
            guard,
            connections: Default::default(),
            sip_faults,
            drain: Arc::clone(&drain_asked),
        };
        centralino::api::spawn(listener, state, http_limits, server.cancel.child_token());
        // The line test harnesses and operators wait for.
        info!(udp = %server.udp, tcp = %server.tcp, %http, "switchboard ready");
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let mut stop = async || {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                Some(_) = async { match term.as_mut() { Some(t) => t.recv().await, None => std::future::pending().await } } => {},
            }
        };
        // SIGTERM, Ctrl-C or an administrator's POST /api/drain.
        tokio::select! {
            _ = stop() => {},
            _ = drain_asked.notified() => info!("drain asked through the API"),
        }
        // A second signal stops at once.
        tokio::select! {
            left = server.drain(drain) => if left > 0 {
                warn!(calls = left, "stopping with calls still in progress: the drain time is over");
            },
            _ = stop() => warn!(calls = server.active_calls(), "stopping at once (second signal)"),
        }
        server.cancel.cancel();
        // The last calls' records, queue events and outcomes on disk before the process ends.
        let (log, journal, outcomes) = files;
        tokio::join!(log.flush(), journal.flush(), outcomes.flush());
        info!("stopped");
        ExitCode::SUCCESS
    })
}
