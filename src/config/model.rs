//! The engine configuration as written in `config/centralino.toml`.

use crate::calendar::WeeklyHours;
use chrono::NaiveDate;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use toml::Spanned;

/// A configuration file, as read (references not yet checked: see [`super::validate`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where call records, tickets and appointments are kept.
    pub data_dir: String,
    /// The tree a called number uses unless it names another.
    pub default_tree: Spanned<String>,
    /// Section that the operator key reaches where no other section applies.
    pub general_section: Spanned<String>,
    pub sip: SipConfig,
    pub rtp: RtpConfig,
    /// Queue defaults for every section.
    #[serde(default)]
    pub queue: super::queues::QueueSettings,
    /// The HTTP API and pages.
    #[serde(default)]
    pub http: HttpConfig,
    /// Where tickets, appointments, sessions and outcomes are kept.
    #[serde(default)]
    pub store: StoreConfig,
    /// How long personal data is kept.
    #[serde(default)]
    pub retention: RetentionConfig,
    /// This node in a center of several (needs `store.url`).
    #[serde(default)]
    pub cluster: ClusterConfig,
    pub regions: BTreeMap<Spanned<String>, Region>,
    pub provinces: BTreeMap<Spanned<String>, Province>,
    pub numbers: Vec<CalledNumber>,
    pub sections: BTreeMap<Spanned<String>, Section>,
    #[serde(default)]
    pub operators: Vec<Operator>,
    pub regional_centres: BTreeMap<Spanned<String>, RegionalCentre>,
    /// Back-office officers of the regional centres (they work the Linea INPS tickets).
    #[serde(default)]
    pub officers: Vec<Officer>,
    /// Administrators (every region's tickets, every page).
    #[serde(default)]
    pub administrators: Vec<Administrator>,
    /// Staff of a local agency (they read their agency's agenda).
    #[serde(default)]
    pub agency_staff: Vec<AgencyStaff>,
    #[serde(default)]
    pub agencies: Vec<Agency>,
    /// Whom callbacks may call and how often.
    #[serde(default)]
    pub callback: super::callback::CallbackLimits,
    /// The carrier's trunk for outgoing calls; without it no section may offer callback.
    pub trunk: Option<super::callback::TrunkConfig>,
}

/// A member of a local agency's staff: reads the agency's appointments (`/agenda`); signs in to
/// the API and pages only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyStaff {
    pub username: Spanned<String>,
    pub display_name: String,
    /// The agency (an `[[agencies]]` id) whose agenda they read.
    pub agency: Spanned<String>,
    /// MD5(username:realm:password), lowercase hex, as for operators.
    pub ha1_md5: Spanned<String>,
}

/// A back-office officer of a regional consultancy centre; signs in to the API and pages only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Officer {
    pub username: Spanned<String>,
    pub display_name: String,
    /// The regional centre (region id) whose tickets they work.
    pub region: Spanned<String>,
    /// MD5(username:realm:password), lowercase hex, as for operators.
    pub ha1_md5: Spanned<String>,
}

/// An administrator; signs in to the API and pages only.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Administrator {
    pub username: Spanned<String>,
    pub display_name: String,
    /// MD5(username:realm:password), lowercase hex, as for operators.
    pub ha1_md5: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipConfig {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// Digest authentication realm; operators' stored hashes depend on it.
    pub realm: String,
    /// Calls beyond this get 503 with Retry-After.
    pub max_calls: u32,
    /// Send 180 Ringing before answering.
    #[serde(default = "yes")]
    pub ringing: bool,
    /// Milliseconds between 180 Ringing and the answer (callers hear a short ring).
    #[serde(default)]
    pub answer_delay_ms: u32,
    /// Digest algorithms offered to operators' phones, in order of preference (RFC 8760).
    #[serde(default = "default_digest_algorithms")]
    pub digest_algorithms: Spanned<Vec<String>>,
    /// On SIGTERM, how long calls in progress may go on (new calls get 503) before the engine
    /// stops.
    #[serde(default = "spanned::<60>")]
    pub drain_seconds: Spanned<u32>,
    /// The SIP UDP socket's receive buffer, in KiB: room for bursts and floods of junk, so the
    /// kernel does not drop good requests before the engine reads them.
    #[serde(default = "spanned::<4096>")]
    pub udp_receive_buffer_kib: Spanned<u32>,
    /// Proxies in front of the engine (Kamailio): for requests from them, the client that wrong
    /// passwords count against is the one their Via names.
    #[serde(default)]
    pub trusted_proxies: Vec<IpAddr>,
    /// SIP over TLS (`sips:`): where it listens, when `tls_certificate` and `tls_key` are given.
    #[serde(default = "default_sip_tls")]
    pub tls: SocketAddr,
    /// SIP over TLS: the certificate chain (PEM), with `tls_key`; re-read on every reload.
    pub tls_certificate: Option<Spanned<String>>,
    /// SIP over TLS: the certificate's private key (PEM).
    pub tls_key: Option<Spanned<String>>,
    /// SIP over TLS: certificate authorities (PEM) of peers with a client certificate (trunks):
    /// a client presenting a certificate they did not sign is refused.
    pub tls_client_authorities: Option<Spanned<String>>,
    /// Operators' phones must register over TLS (a phone on UDP or TCP gets 403).
    #[serde(default = "no")]
    pub operators_require_tls: Spanned<bool>,
}

fn default_sip_tls() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 5061))
}

fn no() -> Spanned<bool> {
    Spanned::new(0..0, false)
}

/// A default number, without a place in the file.
fn spanned<const N: u32>() -> Spanned<u32> {
    Spanned::new(0..0, N)
}

fn default_digest_algorithms() -> Spanned<Vec<String>> {
    Spanned::new(0..0, vec!["SHA-256".into(), "MD5".into()])
}

/// The cases store: embedded (redb in `data_dir`) unless a shared database is named.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://user:password@host:port/database`: the PostgreSQL database shared by every
    /// node of a center.
    pub url: Option<Spanned<String>>,
}

/// A node of a center of several nodes behind a SIP load balancer. See `docs/cluster.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Where the other nodes link to this one when it runs the distribution (an address they
    /// reach). Set, the node takes part in a cluster.
    pub link: Option<SocketAddr>,
    /// The node's name, unique in the center (default: the link's address).
    pub node: Option<String>,
}

/// How long personal data is kept (none: for ever). See `docs/retention.md`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days after a ticket is closed (answered or returned) before it is anonymised or deleted.
    pub closed_tickets_days: Option<Spanned<u32>>,
    /// What becomes of them.
    #[serde(default)]
    pub tickets: Disposal,
    /// Days call records, queue and operator journals, outcomes and the citizen's data of past
    /// appointments are kept.
    pub records_days: Option<Spanned<u32>>,
}

/// What becomes of a closed ticket past its period.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposal {
    /// Kept for the figures (number, region, section, status, dates, officers), without the
    /// citizen's data, the question, the answer or the reason.
    #[default]
    Anonymise,
    Delete,
}

/// Where the HTTP API listens, and its limits.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub listen: SocketAddr,
    /// Open connections at most (fewer if the open-file limit leaves less room beside calls).
    #[serde(default = "spanned::<1024>")]
    pub max_connections: Spanned<u32>,
    /// Seconds a connection may take to send a request's headers, counted from connecting or
    /// from the previous response (so also the longest idle keep-alive).
    #[serde(default = "spanned::<10>")]
    pub header_timeout_seconds: Spanned<u32>,
    /// HTTPS: the certificate chain (PEM), with `tls_key`. Without it the pages and the API are
    /// plain HTTP, which is allowed on a loopback address only.
    pub tls_certificate: Option<Spanned<String>>,
    /// HTTPS: the certificate's private key (PEM).
    pub tls_key: Option<Spanned<String>>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            max_connections: spanned::<1024>(),
            header_timeout_seconds: spanned::<10>(),
            tls_certificate: None,
            tls_key: None,
        }
    }
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RtpConfig {
    pub address: IpAddr,
    pub port_min: Spanned<u16>,
    pub port_max: Spanned<u16>,
    /// End a call when the caller's RTP stops for this many seconds.
    #[serde(default = "default_media_timeout")]
    pub media_timeout_seconds: u32,
    /// Until queues to operators exist, a queued caller holds at most this long.
    #[serde(default = "default_max_hold")]
    pub max_hold_seconds: u32,
    /// Scheduling priority of the threads that pace RTP.
    #[serde(default)]
    pub clock_priority: ClockPriority,
    /// How the media receivers talk to the kernel.
    #[serde(default)]
    pub io: MediaIo,
    /// SRTP (SDES keys) with callers and trunks.
    #[serde(default)]
    pub srtp: SrtpPolicy,
    /// SRTP with operators' phones.
    #[serde(default)]
    pub operators_srtp: SrtpPolicy,
}

fn default_media_timeout() -> u32 {
    30
}

fn default_max_hold() -> u32 {
    300
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    pub name: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Province {
    pub name: String,
    pub region: Spanned<String>,
    /// The provincial directorate's address, as announced to callers.
    pub office_address: String,
    /// The provincial office's opening hours, as announced to callers.
    pub office_hours: Spanned<WeeklyHours>,
}

/// A number citizens dial, and where it leads.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalledNumber {
    /// E.164 with a leading `+`.
    pub number: Spanned<String>,
    pub province: Spanned<String>,
    pub label: String,
    /// Tree answering this number; the default tree when absent.
    pub tree: Option<Spanned<String>>,
}

/// The three sections of a regional consultancy centre (CRIC) that Linea INPS tickets go to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketSection {
    Pensions,
    IncomeSupport,
    Contributors,
}

impl TicketSection {
    pub const ALL: [TicketSection; 3] = [Self::Pensions, Self::IncomeSupport, Self::Contributors];
}

/// A specialist section of the contact center: a queue and the operators skilled for it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Section {
    pub name: String,
    /// The tree this section belongs to.
    pub tree: Spanned<String>,
    /// The regional centre section a ticket opened from this section defaults to.
    pub ticket_section: Option<TicketSection>,
    /// Queue rules of this section (over `[queue]`).
    #[serde(default)]
    pub queue: super::queues::QueueSettings,
}

/// A contact-center operator. The password is never stored: only digest hashes (HA1).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub username: Spanned<String>,
    pub display_name: String,
    /// The sections served, in priority order.
    pub sections: Vec<Spanned<String>>,
    /// MD5(username:realm:password), lowercase hex (RFC 7616).
    pub ha1_md5: Spanned<String>,
    /// SHA-256(username:realm:password), lowercase hex (RFC 7616, RFC 8760).
    pub ha1_sha256: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionalCentre {
    pub name: String,
    pub sections: Spanned<Vec<TicketSection>>,
}

/// A local agency and its appointment agenda.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agency {
    pub id: Spanned<String>,
    pub name: String,
    pub province: Spanned<String>,
    pub address: String,
    pub slot_minutes: Spanned<u32>,
    /// How many days ahead the agenda takes bookings.
    #[serde(default = "spanned::<90>")]
    pub booking_horizon_days: Spanned<u32>,
    /// Extra closing days beyond the national holidays.
    #[serde(default)]
    pub closed: Vec<NaiveDate>,
    pub agenda: Spanned<WeeklyHours>,
}

/// How the media receivers read and relay packets (`rtp.io` in the config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum MediaIo {
    /// io_uring where the kernel offers it (Linux 6.1 and io_uring not disabled), else epoll.
    #[default]
    Auto,
    /// Batched: one system call per round of packets, about half the CPU per relayed packet.
    IoUring,
    /// One `recvfrom` and one `sendto` per packet (the fallback).
    Epoll,
}

/// Whether a leg's media is encrypted (`rtp.srtp`, `rtp.operators_srtp` in the config): SRTP
/// keyed by SDES (RFC 4568), whose keys travel in the SDP (so over TLS, or over a trusted
/// network).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SrtpPolicy {
    /// Never: an offer of RTP/SAVP only is refused (488), crypto offered with RTP/AVP ignored.
    Off,
    /// When the peer offers or accepts it; plain RTP otherwise.
    #[default]
    Optional,
    /// Always: an offer without usable crypto is refused (488), a phone that answers without
    /// is not bridged.
    Required,
}

/// How the media threads (the clock's pacers, the receivers) ask the kernel for the CPU
/// (`rtp.clock_priority` in the config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClockPriority {
    /// SCHED_FIFO at the lowest real-time priorities (pacers above receivers): a pacer is never
    /// preempted mid-slot by ordinary threads, a relayed packet never waits behind them (as Asterisk and FreeSWITCH run their timing threads). Falls back to
    /// `raised` without the privilege (CAP_SYS_NICE / root). The kernel's real-time throttling
    /// (95 % by default) still leaves the rest of the engine its share if the pacers overrun.
    #[default]
    Realtime,
    /// Nice -10: favoured by the ordinary scheduler, but it can still be preempted.
    Raised,
    /// The default priority of the process.
    Normal,
}
