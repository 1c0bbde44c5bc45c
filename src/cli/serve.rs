//! `centralino serve`: the command line over the engine room (`centralino::engine`).

use centralino::config::ClockPriority;
use centralino::engine::{self, Overrides};
use centralino::live::Loaded;
use centralino::switchboard::Paths;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tracing::{error, warn};

#[derive(clap::Args)]
pub struct ServeArgs {
    /// SIP over UDP (default: the configuration's `sip.udp`).
    #[arg(long)]
    sip_udp: Option<SocketAddr>,
    /// SIP over TCP (default: the configuration's `sip.tcp`).
    #[arg(long)]
    sip_tcp: Option<SocketAddr>,
    /// SIP over TLS (default: the configuration's `sip.tls`; only with its certificate).
    #[arg(long)]
    sip_tls: Option<SocketAddr>,
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
    /// The cases store: a PostgreSQL URL shared by the nodes of a center (default: the
    /// configuration's `store.url`, else the embedded store in the data directory).
    #[arg(long)]
    store: Option<String>,
    /// Take part in a cluster: where the other nodes link to this one (default: the
    /// configuration's `cluster.link`; needs the shared store).
    #[arg(long)]
    cluster: Option<SocketAddr>,
    /// This node's name in the cluster (default: the configuration's `cluster.node`, else the
    /// link's address).
    #[arg(long)]
    node: Option<String>,
    /// A proxy in front (Kamailio) whose Via names its client, for the password guard (with the
    /// configuration's `sip.trusted_proxies`; repeat for several).
    #[arg(long)]
    trusted_proxy: Vec<std::net::IpAddr>,
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
    let overrides = Overrides {
        sip_udp: args.sip_udp,
        sip_tcp: args.sip_tcp,
        sip_tls: args.sip_tls,
        rtp_ports: args.rtp_ports,
        http: args.http,
        clock_priority: args.clock_priority,
        data_dir: args.data_dir,
        store: args.store,
        cluster: args.cluster,
        node: args.node,
        trusted_proxies: args.trusted_proxy,
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            error!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(engine::run(paths.clone(), loaded, overrides)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            error!("{e}");
            ExitCode::FAILURE
        }
    }
}
