//! The SIP server: transports, the endpoint, and the dispatch of new transactions
//! (OPTIONS, INVITE, in-dialog requests). Built on rsipstack 0.7.14; its sharp edges that this
//! code works around are marked "rsipstack:" (see docs/architecture.md).

use super::call_leg::{self, Leg};
use super::guard::{FaultCounts, GuardedSocket};
use super::intake::{self, Invite, Offer};
use super::registrar::Registrar;
use crate::acd::host::AcdHandle;
use crate::calls::OperatorLeg;
use crate::calls::{CallLog, CallRecord, Ending};
use crate::cases::CaseStore;
use crate::live::Live;
use crate::media::clock::MediaClock;
use crate::media::g711::Law;
use crate::media::receiver::MediaReceiver;
use crate::media::rtp_port::PortPool;
use crate::media::sdp::{SrtpPolicy, Terms};
use crate::media::srtp::MasterKey;
use crate::password_guard::host::SharedGuard;
use crate::vocabulary::CallOrigin;
use chrono::Utc;
use rsipstack::EndpointBuilder;
use rsipstack::dialog::dialog_layer::DialogLayer;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, StatusCode, Transport, Uri};
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transaction::{Transaction, TransactionState};
use rsipstack::transport::{TcpListenerConnection, TransportLayer, udp::UdpConnection};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, info, warn};

/// Methods we answer (Allow header).
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REGISTER";
/// Codecs we accept, in our order of preference (the offer's order decides among them).
pub const CODECS: &[Law] = &[Law::Pcmu, Law::Pcma];

/// Our SDP terms for a new leg under `srtp`, with a new SRTP master key.
pub fn terms(srtp: SrtpPolicy) -> Terms {
    Terms { codecs: CODECS, srtp, key: MasterKey::from_bytes(rand::random()) }
}

/// Our terms for a leg towards a caller or a trunk (`rtp.srtp`).
pub(super) fn caller_terms(shared: &Shared) -> Terms {
    terms(shared.live.current().switchboard.config.rtp.srtp)
}

/// Our terms for a leg towards an operator's phone (`rtp.operators_srtp`).
pub(super) fn operator_terms(shared: &Shared) -> Terms {
    terms(shared.live.current().switchboard.config.rtp.operators_srtp)
}

/// Where and how to listen.
#[derive(Clone, Debug)]
pub struct SipSettings {
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// SIP over TLS, if on (the address it listens on once started).
    pub tls: Option<SocketAddr>,
    pub rtp_ip: IpAddr,
    pub rtp_ports: (u16, u16),
    pub max_calls: usize,
    pub ringing: bool,
    pub answer_delay: Duration,
    pub media_timeout: Duration,
    pub max_hold: Duration,
    /// Digest realm of the registrar (the operators' HA1 hashes depend on it).
    pub realm: String,
    /// Digest algorithms offered, in order of preference.
    pub digest_algorithms: Vec<super::digest::Algorithm>,
    /// The UDP socket's receive buffer, in bytes.
    pub udp_receive_buffer: usize,
    /// Proxies in front (Kamailio) whose Via says who their client was.
    pub trusted_proxies: Vec<IpAddr>,
}

/// What every call leg shares.
pub struct Shared {
    pub settings: SipSettings,
    pub live: Arc<Live>,
    pub log: CallLog,
    pub ports: Arc<PortPool>,
    /// Sends every call's RTP.
    pub clock: MediaClock,
    /// Reads every call's RTP and relays bridged calls.
    pub receiver: MediaReceiver,
    /// Tickets (the portal's ticket-status lookup); none: lookups answer "unavailable".
    pub store: Option<Arc<dyn CaseStore>>,
    /// The consoles' live updates (screen-pops).
    pub updates: Option<Arc<crate::updates::Updates>>,
    /// Operators' phones.
    pub registrar: Arc<std::sync::Mutex<Registrar>>,
    /// The phones of every node's registrar, when the nodes of a cluster share them.
    pub phone_book: Option<Arc<dyn super::phone_book::PhoneBook>>,
    /// Limits on password guessing, shared with the HTTP API.
    pub guard: Arc<SharedGuard>,
    /// The distribution (set once the server exists: its dialer needs the server).
    pub acd: std::sync::OnceLock<AcdHandle<OperatorLeg>>,
    pub dialogs: Arc<DialogLayer>,
    pub endpoint: EndpointInnerRef,
    pub active: AtomicUsize,
    /// Outgoing calls (callbacks) through the trunk now.
    pub outgoing: AtomicUsize,
    /// Stopping: new calls and OPTIONS get 503, calls in progress go on.
    pub draining: Arc<AtomicBool>,
    /// TLS handshakes, for the metrics.
    pub tls_handshakes: Arc<super::tls::TlsCounts>,
}

impl Shared {
    /// Check a request's digest credentials with the registrar and the password guard (the
    /// registrar's lock taken first, then the guard's), at the current time.
    pub fn check_credentials<R>(
        &self,
        check: impl FnOnce(&mut Registrar, &mut crate::password_guard::PasswordGuard, std::time::SystemTime) -> R,
    ) -> R {
        let mut registrar = self.registrar.lock().unwrap_or_else(|e| e.into_inner());
        self.guard.with(|guard, now| check(&mut registrar, guard, now))
    }
}

/// A running SIP server.
pub struct SipServer {
    pub shared: Arc<Shared>,
    pub cancel: CancellationToken,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    pub tls: Option<SocketAddr>,
}

/// What the SIP server works with, besides its settings: the engine's parts it hands calls.
pub struct SipServices {
    pub live: Arc<Live>,
    pub log: CallLog,
    /// Sends every call's RTP.
    pub clock: MediaClock,
    /// Reads every call's RTP and relays bridged calls.
    pub receiver: MediaReceiver,
    pub store: Option<Arc<dyn CaseStore>>,
    pub updates: Option<Arc<crate::updates::Updates>>,
    /// Limits on password guessing, shared with the HTTP API.
    pub guard: Arc<SharedGuard>,
    /// Malformed datagrams, for the metrics.
    pub faults: Arc<FaultCounts>,
    /// The phones of every node, in a cluster.
    pub phone_book: Option<Arc<dyn super::phone_book::PhoneBook>>,
}

impl SipServer {
    /// Bind the transports and start serving.
    pub async fn start(mut settings: SipSettings, services: SipServices) -> std::io::Result<SipServer> {
        let SipServices { live, log, clock, receiver, store, updates, guard, faults, phone_book } = services;
        let cancel = CancellationToken::new();
        let tl = TransportLayer::new(cancel.child_token());
        // rsipstack: TCP flows are closed after 300 s idle by default, which kills long calls.
        tl.set_stream_idle_timeout(Duration::ZERO);
        // rsipstack: TCP bind errors are only logged inside serve(); bind first to fail loudly.
        let tcp_probe = std::net::TcpListener::bind(settings.tcp)?;
        let tcp_addr = tcp_probe.local_addr()?;
        drop(tcp_probe);
        // The guard answers or drops malformed datagrams before the stack sees them.
        let socket = bind_udp(settings.udp, settings.udp_receive_buffer)?;
        let guarded = GuardedSocket::new(socket, faults, cancel.child_token());
        let udp = UdpConnection::from_socket(Arc::new(guarded), None, Some(cancel.child_token()))
            .await
            .map_err(|e| std::io::Error::other(format!("SIP UDP {}: {e}", settings.udp)))?;
        let udp_addr = udp.get_addr().get_socketaddr().map_err(|e| std::io::Error::other(e.to_string()))?;
        tl.add_transport(udp.into());
        let tcp = TcpListenerConnection::new(tcp_addr, None)
            .await
            .map_err(|e| std::io::Error::other(format!("SIP TCP {tcp_addr}: {e}")))?;
        tl.add_transport(tcp.into());
        // SIP over TLS: our own listener (see super::tls), bound here to fail loudly.
        let tls_listener = match settings.tls {
            Some(addr) => {
                crate::tls::install_default_provider();
                let listener = tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| std::io::Error::other(format!("SIP TLS {addr}: {e}")))?;
                settings.tls = Some(listener.local_addr()?);
                Some(listener)
            }
            None => None,
        };

        // rsipstack: Call-IDs of our outgoing calls would end in the library author's domain.
        let option = rsipstack::transaction::endpoint::EndpointOption {
            callid_suffix: Some("centralino.invalid".into()),
            ..Default::default()
        };
        let endpoint = EndpointBuilder::new()
            .with_user_agent(concat!("centralino/", env!("CARGO_PKG_VERSION")))
            .with_option(option)
            .with_cancel_token(cancel.clone())
            .with_transport_layer(tl)
            .build();
        let mut incoming = endpoint.incoming_transactions().map_err(|e| std::io::Error::other(e.to_string()))?;
        let dialogs = Arc::new(DialogLayer::new(endpoint.inner.clone()));
        let (lo, hi) = settings.rtp_ports;
        let shared = Arc::new(Shared {
            ports: Arc::new(PortPool::new(settings.rtp_ip, lo, hi)),
            clock,
            receiver,
            store,
            updates,
            registrar: Arc::new(std::sync::Mutex::new(Registrar::new(&settings.realm, &settings.digest_algorithms))),
            phone_book,
            acd: std::sync::OnceLock::new(),
            guard,
            settings,
            live,
            log,
            dialogs,
            endpoint: endpoint.inner.clone(),
            active: AtomicUsize::new(0),
            outgoing: AtomicUsize::new(0),
            draining: Arc::default(),
            tls_handshakes: Arc::default(),
        });
        let serve = endpoint.inner.clone();
        tokio::spawn(async move {
            if let Err(e) = serve.serve().await {
                warn!(error = %e, "SIP endpoint stopped");
            }
        });
        if let Some(listener) = tls_listener {
            let live = Arc::clone(&shared.live);
            let identity: super::tls::Identity = Box::new(move || live.current().switchboard.sip_tls.clone());
            let counts = Arc::clone(&shared.tls_handshakes);
            tokio::spawn(super::tls::serve(listener, endpoint.inner.clone(), identity, counts, cancel.child_token()));
        }
        super::register::spawn_sweeper(Arc::clone(&shared), cancel.child_token());
        let dispatch = Arc::clone(&shared);
        tokio::spawn(async move {
            // The endpoint lives as long as this task: it owns the transports.
            let _endpoint = endpoint;
            while let Some(tx) = incoming.recv().await {
                dispatch_transaction(&dispatch, tx).await;
            }
        });
        let tls = shared.settings.tls;
        info!(udp = %udp_addr, tcp = %tcp_addr, tls = ?tls, "SIP listening");
        Ok(SipServer { shared, cancel, udp: udp_addr, tcp: tcp_addr, tls })
    }

    /// Hand queued calls to this distribution (once; its dialer rings through this server).
    pub fn set_distribution(&self, acd: AcdHandle<OperatorLeg>) {
        let _ = self.shared.acd.set(acd);
    }

    /// Calls in progress.
    pub fn active_calls(&self) -> usize {
        self.shared.active.load(Ordering::Relaxed)
    }

    /// Stop taking calls (new INVITEs and OPTIONS get 503 with Retry-After, so a proxy sends
    /// them elsewhere) and wait until the calls in progress end or `within` passes; then stop.
    /// Returns the calls still in progress when it stopped (0: all ended).
    pub async fn drain(&self, within: Duration) -> usize {
        self.shared.draining.store(true, Ordering::Relaxed);
        let until = tokio::time::Instant::now() + within;
        info!(
            active = self.active_calls(),
            seconds = within.as_secs(),
            "draining: new calls are refused, calls in progress go on"
        );
        while self.active_calls() > 0 && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let left = self.active_calls();
        self.cancel.cancel();
        left
    }
}

/// The SIP UDP socket with a receive buffer of `buffer` bytes, so that a burst (or a flood
/// of junk) does not make the kernel drop good requests before the guard reads them. The
/// kernel caps SO_RCVBUF at `net.core.rmem_max`; as root SO_RCVBUFFORCE passes the cap.
fn bind_udp(addr: SocketAddr, buffer: usize) -> std::io::Result<tokio::net::UdpSocket> {
    let socket = socket2::Socket::new(socket2::Domain::for_address(addr), socket2::Type::DGRAM, None)?;
    socket.set_recv_buffer_size(buffer)?;
    // Linux reports twice the size asked (the other half is its bookkeeping).
    if socket.recv_buffer_size()? < buffer {
        force_recv_buffer(&socket, buffer);
    }
    let got = socket.recv_buffer_size()? / 2;
    if got < buffer {
        warn!(
            asked = buffer,
            got,
            "the SIP receive buffer is smaller than configured: raise net.core.rmem_max (sysctl) to at least {buffer}"
        );
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    tokio::net::UdpSocket::from_std(socket.into())
}

/// SO_RCVBUFFORCE (privileged): past `net.core.rmem_max`. socket2 does not offer it.
fn force_recv_buffer(socket: &socket2::Socket, buffer: usize) {
    use std::os::fd::AsRawFd;
    let size = libc::c_int::try_from(buffer).unwrap_or(libc::c_int::MAX);
    // SAFETY: a valid socket and a pointer to a c_int of the stated length.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUFFORCE,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

async fn dispatch_transaction(shared: &Arc<Shared>, mut tx: Transaction) {
    let in_dialog = matches!(tx.original.to_header().and_then(|t| t.tag()), Ok(Some(_)));
    if in_dialog {
        if let Some(r) = super::uas_checks::required(&tx.original) {
            info!(why = %r.why, status = r.status, "in-dialog request refused");
            let _ = tx.reply_with(StatusCode::from(r.status), r.headers, None).await;
            return;
        }
        match shared.dialogs.match_dialog(&tx) {
            Some(mut dialog) => {
                tokio::spawn(async move {
                    if let Err(e) = dialog.handle(&mut tx).await {
                        warn!(error = %e, "in-dialog request failed");
                    }
                    // rsipstack: requests before the ACK are left unanswered; answer them.
                    if matches!(tx.state, TransactionState::Trying | TransactionState::Proceeding)
                        && tx.original.method != Method::Ack
                    {
                        let _ = tx
                            .reply_with(StatusCode::ServerInternalError, vec![Header::RetryAfter("1".into())], None)
                            .await;
                    }
                });
            }
            None => {
                let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
            }
        }
        return;
    }
    // The RFC 3261 8.2.2 refusals before anything else (an INVITE's come with its call record).
    if !matches!(tx.original.method, Method::Invite | Method::Ack)
        && let Some(r) =
            super::uas_checks::uri_scheme(&tx.original).or_else(|| super::uas_checks::required(&tx.original))
    {
        info!(why = %r.why, status = r.status, method = %tx.original.method, "request refused");
        let _ = tx.reply_with(StatusCode::from(r.status), r.headers, None).await;
        return;
    }
    match tx.original.method {
        Method::Options if shared.draining.load(Ordering::Relaxed) => {
            let _ = tx.reply_with(StatusCode::ServiceUnavailable, vec![Header::RetryAfter("5".into())], None).await;
        }
        Method::Options => {
            let _ = tx
                .reply_with(
                    StatusCode::OK,
                    vec![Header::Allow(ALLOW.into()), Header::Accept("application/sdp".into())],
                    None,
                )
                .await;
        }
        // Each INVITE in its own task: one slow call set-up never holds up the next request.
        Method::Invite => {
            tokio::spawn(on_invite(Arc::clone(shared), tx));
        }
        Method::Register => {
            tokio::spawn(super::register::on_register(Arc::clone(shared), tx));
        }
        Method::Bye | Method::Info => {
            let _ = tx.reply(StatusCode::CallTransactionDoesNotExist).await;
        }
        _ => {
            let _ = tx.reply_with(StatusCode::MethodNotAllowed, vec![Header::Allow(ALLOW.into())], None).await;
        }
    }
}

/// Refuse an INVITE before any dialog, keep the transaction alive for the ACK, record it.
async fn reject(mut tx: Transaction, status: StatusCode, extra: Vec<Header>, mut record: CallRecord, log: &CallLog) {
    let code = status.code();
    let reason = status.to_string().trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ').to_string();
    let _ = tx.reply_with(status, extra, None).await;
    tokio::spawn(async move { while tx.receive().await.is_some() {} });
    record.ended = Utc::now();
    record.ending = Ending::Rejected { status: code, reason };
    log.append(record);
}

/// 503 with Retry-After: over `max_calls`, or no RTP port left.
async fn busy(tx: Transaction, record: CallRecord, log: &CallLog) {
    reject(tx, StatusCode::ServiceUnavailable, vec![Header::RetryAfter("5".into())], record, log).await
}

async fn on_invite(shared: Arc<Shared>, mut tx: Transaction) {
    // 100 Trying before any other work, so the caller stops retransmitting (RFC 3261 17.2.1).
    let _ = tx.send_trying().await;
    let terms = caller_terms(&shared);
    let invite = intake::invite(&tx.original, &terms);
    let span = tracing::info_span!("call", call_id = %invite.call_id);
    on_new_call(&shared, tx, invite, terms).instrument(span).await
}

async fn on_new_call(shared: &Arc<Shared>, tx: Transaction, invite: Invite, terms: Terms) {
    let Invite { call_id, dialled, caller, offer } = invite;
    let now = Utc::now();
    let mut record = CallRecord {
        call_id,
        origin: CallOrigin { caller: caller.clone(), number: dialled.clone(), province: None, region: None },
        tree: None,
        arrived: now,
        answered: None,
        ended: now,
        language: None,
        path: Vec::new(),
        keys: String::new(),
        answers: Vec::new(),
        ending: Ending::Cancelled,
        callback_of: None,
        media: None,
    };

    if let Some(r) = super::uas_checks::uri_scheme(&tx.original) {
        info!(why = %r.why, "{}", r.status);
        return reject(tx, StatusCode::from(r.status), r.headers, record, &shared.log).await;
    }
    if shared.draining.load(Ordering::Relaxed) {
        info!("stopping: 503");
        return busy(tx, record, &shared.log).await;
    }
    if dialled.starts_with('*') {
        let contact = our_contact(shared, &tx);
        return super::feature_codes::on_feature_code(Arc::clone(shared), tx, dialled, contact).await;
    }
    if shared.active.load(Ordering::Relaxed) >= shared.settings.max_calls {
        warn!(max = shared.settings.max_calls, "overloaded: 503");
        return busy(tx, record, &shared.log).await;
    }
    let loaded = shared.live.current();
    let session = match loaded.switchboard.session(&caller, &dialled) {
        Ok(s) => s,
        Err(e) => {
            info!(number = %dialled, "{e}: 404");
            return reject(tx, StatusCode::NotFound, vec![], record, &shared.log).await;
        }
    };
    record.origin = session.facts().origin.clone();
    record.tree = Some(session.tree().name.clone());
    // After the number is known to be ours (404 first, RFC 3261 8.2.2.1): 420, 415, 406.
    let refusal = super::uas_checks::required(&tx.original).or_else(|| super::uas_checks::sdp_exchange(&tx.original));
    if let Some(r) = refusal {
        info!(why = %r.why, "{}", r.status);
        return reject(tx, StatusCode::from(r.status), r.headers, record, &shared.log).await;
    }

    let (negotiated, late_offer) = match offer {
        Offer::Late => (Ok(intake::late_offer_media()), true),
        Offer::Early(negotiated) => (negotiated, false),
    };
    let media = match negotiated {
        Ok(m) => m,
        Err(e) => {
            info!("{e}: 488");
            let warning = Header::Warning(format!("304 centralino \"{e}\"").into());
            return reject(tx, StatusCode::NotAcceptableHere, vec![warning], record, &shared.log).await;
        }
    };
    let socket = match shared.ports.bind() {
        Ok(s) => s,
        Err(e) => {
            warn!("no RTP port: {e}: 503");
            return busy(tx, record, &shared.log).await;
        }
    };
    let contact = our_contact(shared, &tx);
    let leg = Leg { shared: Arc::clone(shared), session, media, terms, late_offer, socket, record, contact };
    call_leg::start(leg, tx).await;
}

/// Our Contact for a dialog on the transport `tx` came in on: a SIPS URI when the request's
/// was (RFC 3261 12.1.1).
fn our_contact(shared: &Shared, tx: &Transaction) -> Option<Uri> {
    let transport = tx.connection.as_ref().map(|c| c.transport()).unwrap_or(Transport::Udp);
    let contact = match (&tx.original.uri.scheme, transport) {
        (Some(rsipstack::sip::Scheme::Sips), Transport::Tls) => {
            format!("sips:centralino@{}", our_address(shared, transport))
        }
        _ => contact_uri("centralino", shared, transport),
    };
    contact.as_str().try_into().ok()
}

/// A URI of ours for `user`, reached on `transport`.
pub(super) fn contact_uri(user: &str, shared: &Shared, transport: Transport) -> String {
    let addr = our_address(shared, transport);
    match transport {
        Transport::Tcp => format!("sip:{user}@{addr};transport=tcp"),
        Transport::Tls => format!("sip:{user}@{addr};transport=tls"),
        _ => format!("sip:{user}@{addr}"),
    }
}

/// The transport a binding's name says (`udp`, `tcp`, `tls`), and back.
pub(super) fn transport_named(name: &str) -> Transport {
    match name {
        "tcp" => Transport::Tcp,
        "tls" => Transport::Tls,
        _ => Transport::Udp,
    }
}

pub(super) fn transport_name(transport: Option<Transport>) -> &'static str {
    match transport {
        Some(Transport::Tcp) => "tcp",
        Some(Transport::Tls) => "tls",
        _ => "udp",
    }
}

/// Operators' phones must register, and are rung, over TLS (`sip.operators_require_tls`, as the
/// configuration in service says).
pub(super) fn operators_require_tls(shared: &Shared) -> bool {
    *shared.live.current().switchboard.config.sip.operators_require_tls.get_ref()
}

/// Where we listen for `transport` (UDP for the transports we do not have).
pub(super) fn our_address(shared: &Shared, transport: Transport) -> SocketAddr {
    match (transport, shared.settings.tls) {
        (Transport::Tcp, _) => listen_addr(shared, Transport::Tcp).unwrap_or(shared.settings.tcp),
        (Transport::Tls, Some(tls)) => tls,
        _ => listen_addr(shared, Transport::Udp).unwrap_or(shared.settings.udp),
    }
}

fn listen_addr(shared: &Shared, t: Transport) -> Option<SocketAddr> {
    shared
        .endpoint
        .transport_layer
        .get_addrs()
        .into_iter()
        .find(|a| a.r#type == Some(t))
        .and_then(|a| a.get_socketaddr().ok())
}
