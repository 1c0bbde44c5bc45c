//! The node holding the lease runs the distribution for every node: one [`Acd`] with every
//! section's queue and every operator, fed by the links of the members (every node, itself
//! included). Members' calls join with their arrival time; what a call must do goes down its
//! member's link; an offer goes down as a `Ring` that the member carries out with its own
//! dialer (the call's audio and the operator's leg stay on the caller's node).

use super::lease::Fence;
use super::wire::{self, Down, Held, HeldCall, Phone, Told, Up};
use crate::acd::host::{self, AcdHandle, Dialer, Notice, Offer, Placed, Presence};
use crate::acd::journal::Journal;
use crate::acd::{Acd, Event, PhoneKind, rules};
use crate::cases::{PgStore, PresenceRow};
use crate::live::Live;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// A link that says nothing for this long is dead (members ping every second).
pub const LINK_SILENCE: Duration = Duration::from_secs(5);
/// How often the operators' phones are looked up in the phone book.
const PHONES_EVERY: Duration = Duration::from_secs(1);
/// A node that said it was alive this recently is expected to link after a takeover.
const ALIVE_WITHIN: Duration = Duration::from_secs(2);
/// After a takeover, nothing is offered until every node expected has linked, or this long.
const GATHER_AT_MOST: Duration = Duration::from_secs(3);

type LinkTx = mpsc::UnboundedSender<Down>;

/// Which member link holds each call, and the offers being rung through them.
struct Routes {
    epoch: i64,
    fence: Arc<Fence>,
    calls: Mutex<HashMap<String, (u64, LinkTx)>>,
    rings: Mutex<HashMap<String, tokio::task::AbortHandle>>,
    /// The operators' phones as last read from the phone book, named in each offer.
    phones: Mutex<HashMap<String, Phone>>,
}

impl Routes {
    fn link_of(&self, call: &str) -> Option<LinkTx> {
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).get(call).map(|(_, tx)| tx.clone())
    }

    fn end_ring(&self, call: &str) {
        if let Some(watch) = self.rings.lock().unwrap_or_else(|e| e.into_inner()).remove(call) {
            watch.abort();
        }
    }

    /// Send to the member holding `call`, only while this node holds the lease (a stale holder
    /// must not connect anyone).
    fn tell(&self, call: &str, down: Down) -> bool {
        if !self.fence.holds(self.epoch) {
            debug!(%call, "not the distribution's holder any more: nothing sent");
            return false;
        }
        self.link_of(call).is_some_and(|tx| tx.send(down).is_ok())
    }
}

/// Offers ring through the member that holds the call.
struct RemoteDialer {
    routes: Arc<Routes>,
}

impl Dialer<()> for RemoteDialer {
    fn ring(&self, offer: Offer, acd: AcdHandle<()>, cancel: CancellationToken) {
        let call = offer.call.clone();
        let (operator, epoch) = (offer.operator.clone(), self.routes.epoch);
        let phone = self.routes.phones.lock().unwrap_or_else(|e| e.into_inner()).get(&operator).cloned();
        if !self.routes.tell(&call, Down::Ring { offer, epoch, phone }) {
            acd.event(Event::OfferFailed { call, operator, reason: "the caller's node is unreachable".into() });
            return;
        }
        let routes = Arc::clone(&self.routes);
        let c = call.clone();
        let watch = tokio::spawn(async move {
            cancel.cancelled().await;
            routes.rings.lock().unwrap_or_else(|e| e.into_inner()).remove(&c);
            routes.tell(&c, Down::CancelRing { call: c.clone() });
        });
        self.routes.rings.lock().unwrap_or_else(|e| e.into_inner()).insert(call, watch.abort_handle());
    }
}

/// The distribution as run by this node while it holds the lease.
pub struct Leader {
    pub acd: AcdHandle<()>,
    pub epoch: i64,
    secret: String,
    node: String,
    routes: Arc<Routes>,
    store: Arc<PgStore>,
    stopped: CancellationToken,
    /// Each member's current link.
    members: Mutex<HashMap<String, MemberLink>>,
    next_link: AtomicU64,
    /// Look at the phone book now (a member saw a phone come or go).
    phones_changed: Notify,
    /// The nodes alive at the start that have not linked yet (empty: the gathering is over).
    expected: Mutex<BTreeSet<String>>,
}

/// A member's link: its id, a token that ends it, and one cancelled once its calls are out of
/// the distribution.
type MemberLink = (u64, CancellationToken, CancellationToken);

impl Leader {
    /// Start the distribution at `epoch`: the operators signed in as the last holder left
    /// them, their phones from the phone book; members are welcome once this returns.
    pub async fn start(
        store: Arc<PgStore>,
        live: &Live,
        journal: Journal,
        node: &str,
        (epoch, secret): (i64, String),
        fence: Arc<Fence>,
    ) -> Result<Arc<Leader>, String> {
        let routes = Arc::new(Routes {
            epoch,
            fence,
            calls: Default::default(),
            rings: Default::default(),
            phones: Default::default(),
        });
        let config = &live.current().switchboard.config;
        let acd = Acd::new(rules::section_rules(config), config.operator_skills());
        let presence = keep_presence(Arc::clone(&store), node.to_string(), epoch);
        let dialer = Box::new(RemoteDialer { routes: Arc::clone(&routes) });
        // A holder whose lease may have lapsed (a process frozen, then woken) decides nothing
        // more: no offer, no journal entry.
        let fence = Arc::clone(&routes.fence);
        let keeping = host::Keeping {
            presence: Some(presence),
            fence: Some(Box::new(move || fence.holds(epoch))),
            callbacks: None,
        };
        let handle = host::start_keeping(acd, dialer, Some(journal), keeping);
        let kept = store.presences().await.map_err(|e| format!("the operators' presence cannot be read: {e}"))?;
        for p in kept {
            let p = Presence { operator: p.operator, serving: p.serving, paused: p.paused };
            for event in p.events() {
                if let Err(e) = handle.command(event).await {
                    debug!(operator = %p.operator, "presence not restored: {e}");
                }
            }
        }
        // The callers of every node come back before anyone is offered to an operator.
        let expected: BTreeSet<String> = store
            .live_nodes(ALIVE_WITHIN)
            .await
            .map_err(|e| format!("the live nodes: {e}"))?
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        handle.event(Event::Gather { until: std::time::Instant::now() + GATHER_AT_MOST });
        let leader = Arc::new(Leader {
            acd: handle,
            epoch,
            secret,
            node: node.to_string(),
            routes,
            store,
            stopped: CancellationToken::new(),
            members: Default::default(),
            next_link: AtomicU64::new(1),
            phones_changed: Notify::new(),
            expected: Mutex::new(expected),
        });
        let phones = leader.look_up_phones(&BTreeSet::new()).await.map_err(|e| format!("the phone book: {e}"))?;
        tokio::spawn(Arc::clone(&leader).follow_phones(phones));
        info!(epoch, "this node runs the distribution");
        Ok(leader)
    }

    /// Stop: the distribution ends here, every member link is closed.
    pub fn stop(&self) {
        self.stopped.cancel();
        self.acd.stop();
    }

    /// The operators whose phones are in the phone book; those that changed since `before`
    /// are told to the distribution.
    async fn look_up_phones(&self, before: &BTreeSet<String>) -> Result<BTreeSet<String>, String> {
        let rows = self.store.phones(None).await.map_err(|e| e.to_string())?;
        let now: BTreeSet<String> = rows.iter().map(|p| p.operator.clone()).collect();
        *self.routes.phones.lock().unwrap_or_else(|e| e.into_inner()) = rows
            .into_iter()
            .map(|p| {
                let expires = wire::wall_ms(p.expires.into());
                (p.operator, Phone { contact: p.contact, source: p.source, transport: p.transport, expires })
            })
            .collect();
        for (operator, reachable) in
            now.difference(before).map(|o| (o, true)).chain(before.difference(&now).map(|o| (o, false)))
        {
            self.acd.event(Event::Reachable { operator: operator.clone(), reachable, phone: PhoneKind::Sip });
        }
        Ok(now)
    }

    async fn follow_phones(self: Arc<Self>, mut known: BTreeSet<String>) {
        loop {
            tokio::select! {
                _ = self.stopped.cancelled() => return,
                _ = tokio::time::sleep(PHONES_EVERY) => {}
                _ = self.phones_changed.notified() => {}
            }
            match self.look_up_phones(&known).await {
                Ok(now) => known = now,
                Err(e) => debug!("the phone book cannot be read now: {e}"),
            }
        }
    }

    /// Serve one member's link until it ends; its calls then leave the distribution.
    pub async fn serve(self: Arc<Self>, stream: TcpStream, seen: Arc<super::Seen>) {
        let peer = stream.peer_addr().ok();
        let (r, mut w) = stream.into_split();
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        let hello = tokio::time::timeout(LINK_SILENCE, wire::receive::<Up>(&mut r, &mut buf)).await;
        let Ok(Ok(Some(Up::Hello { node, secret, epoch, calls }))) = hello else {
            warn!(?peer, "a distribution link without a proper hello: closed");
            return;
        };
        if secret != self.secret || epoch != self.epoch {
            if !seen.redirect(&mut w, epoch, &secret).await {
                warn!(?peer, %node, epoch, "a distribution link for another epoch or without the lease's secret: closed");
            }
            return;
        }
        // One link per member: a new one replaces the old, once the old one's calls are out.
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        let (stop, ended) = (self.stopped.child_token(), CancellationToken::new());
        let previous = self
            .members
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(node.clone(), (id, stop.clone(), ended.clone()));
        if let Some((_, old, old_ended)) = previous {
            old.cancel();
            old_ended.cancelled().await;
        }
        let tx = wire::writer::<Down>(w, stop.clone());
        let _ = tx.send(Down::Welcome { node: self.node.clone(), epoch: self.epoch });
        info!(member = %node, calls = calls.len(), "a member joined the distribution");
        let mut mine = HashSet::new();
        for held in calls {
            let call = held.call.clone();
            if self.join(id, &tx, held) {
                mine.insert(call);
            }
        }
        let gathered = {
            let mut expected = self.expected.lock().unwrap_or_else(|e| e.into_inner());
            expected.remove(&node) && expected.is_empty()
        };
        if gathered {
            debug!("every node alive has linked: the distribution goes on");
            self.acd.event(Event::Gather { until: std::time::Instant::now() });
        }
        loop {
            let up = tokio::select! {
                _ = stop.cancelled() => break,
                up = tokio::time::timeout(LINK_SILENCE, wire::receive::<Up>(&mut r, &mut buf)) => up,
            };
            let up = match up {
                Ok(Ok(Some(up))) => up,
                Ok(Ok(None)) => break,
                Ok(Err(e)) => {
                    warn!(member = %node, "the distribution link broke: {e}");
                    break;
                }
                Err(_) => {
                    warn!(member = %node, "the distribution link fell silent");
                    break;
                }
            };
            self.on_up(id, &tx, up, &mut mine);
        }
        stop.cancel();
        // Its calls are gone with it (a member that comes back brings them again).
        for call in mine {
            let ours = {
                let mut calls = self.routes.calls.lock().unwrap_or_else(|e| e.into_inner());
                let ours = calls.get(&call).is_some_and(|(link, _)| *link == id);
                if ours {
                    calls.remove(&call);
                }
                ours
            };
            if ours {
                self.routes.end_ring(&call);
                self.acd.event(Event::CallerHangup { call: call.clone() });
                self.acd.left(&call);
            }
        }
        {
            let mut members = self.members.lock().unwrap_or_else(|e| e.into_inner());
            if members.get(&node).is_some_and(|(link, ..)| *link == id) {
                members.remove(&node);
            }
        }
        ended.cancel();
        info!(member = %node, "a member left the distribution");
    }

    fn on_up(&self, link: u64, tx: &LinkTx, up: Up, mine: &mut HashSet<String>) {
        match up {
            Up::Hello { .. } => {}
            Up::Join { call, section, caller, arrived } => {
                let held =
                    HeldCall { call: call.clone(), section, caller, arrived, state: Held::Waiting { entered: 0 } };
                if self.join_as(link, tx, held, Placed::New) {
                    mine.insert(call);
                }
            }
            Up::Left { call } => {
                if !mine.remove(&call) {
                    return;
                }
                self.routes.calls.lock().unwrap_or_else(|e| e.into_inner()).remove(&call);
                self.routes.end_ring(&call);
                self.acd.left(&call);
            }
            Up::Event { event: Event::Reachable { .. } } => self.phones_changed.notify_one(),
            Up::Event { event } => {
                if let Event::OfferFailed { call, .. } = &event {
                    self.routes.end_ring(call);
                }
                self.acd.event(event);
            }
            Up::Command { id, event } => {
                let (acd, tx) = (self.acd.clone(), tx.clone());
                tokio::spawn(async move {
                    let result = acd.command(event).await;
                    let _ = tx.send(Down::Reply { id, result });
                });
            }
            Up::Answered { call, operator } => {
                self.routes.end_ring(&call);
                let (tx, c) = (tx.clone(), call.clone());
                self.acd.answered(&call, &operator, (), move |()| {
                    let _ = tx.send(Down::Release { call: c });
                });
            }
            Up::Stats { id } => {
                let (acd, tx) = (self.acd.clone(), tx.clone());
                tokio::spawn(async move {
                    let (sections, operators) = acd.stats().await;
                    let _ = tx.send(Down::Stats { id, sections, operators });
                });
            }
            Up::Ping => {
                let _ = tx.send(Down::Pong);
            }
        }
    }

    /// A call the member held before this link: back at its place.
    fn join(&self, link: u64, tx: &LinkTx, held: HeldCall) -> bool {
        let placed = match &held.state {
            Held::Waiting { entered } => Placed::Waiting { entered: wire::instant_of(*entered) },
            Held::Connected { operator, since } => {
                Placed::Connected { operator: operator.clone(), since: wire::instant_of(*since) }
            }
        };
        self.join_as(link, tx, held, placed)
    }

    /// False when another member already holds a call of this id: a proxy that gave up on a
    /// frozen node sent the same INVITE on, and the frozen node, woken, answered its copy too.
    /// That copy is sent away; the caller keeps the place they have.
    fn join_as(&self, link: u64, tx: &LinkTx, held: HeldCall, placed: Placed) -> bool {
        let HeldCall { call, section, caller, arrived, .. } = held;
        {
            let mut calls = self.routes.calls.lock().unwrap_or_else(|e| e.into_inner());
            if calls.get(&call).is_some_and(|(other, _)| *other != link) {
                warn!(%call, "the same call is already held through another node: this copy is sent away");
                let route = rules::Route::Message("queue_timeout".into());
                let _ = tx.send(Down::Notice { call, notice: Told::Route { route } });
                return false;
            }
            calls.insert(call.clone(), (link, tx.clone()));
        }
        let (notices, mut told) = mpsc::unbounded_channel::<Notice<()>>();
        self.acd.rejoin(&call, &section, &caller, wire::instant_of(arrived), placed, notices);
        // What the distribution tells the call goes to whichever link holds it then.
        let routes = Arc::clone(&self.routes);
        tokio::spawn(async move {
            while let Some(notice) = told.recv().await {
                let notice = match notice {
                    Notice::Announce { ahead, wait, callback } => {
                        Told::Announce { ahead, wait_ms: wait.map(|w| w.as_millis() as u64), callback }
                    }
                    Notice::AskCallbackNumber => Told::AskCallbackNumber,
                    Notice::CallbackAccepted { ahead, wait } => {
                        Told::CallbackAccepted { ahead, wait_ms: wait.map(|w| w.as_millis() as u64) }
                    }
                    Notice::CallbackRefused(reason) => Told::CallbackRefused { reason },
                    Notice::StopAnnouncement => Told::StopAnnouncement,
                    Notice::Queued { section } => Told::Queued { section },
                    Notice::Route(route) => Told::Route { route },
                    Notice::Connect(()) => Told::Connect,
                };
                routes.tell(&call, Down::Notice { call: call.clone(), notice });
            }
        });
        true
    }
}

/// Keep every operator's presence in the store, in order, at this epoch (the latest of each
/// operator is written; a holder that lost the lease writes nothing).
fn keep_presence(store: Arc<PgStore>, node: String, epoch: i64) -> host::PresenceSink {
    let (tx, mut rx) = mpsc::unbounded_channel::<Presence>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut latest = HashMap::new();
            latest.insert(first.operator.clone(), first);
            while let Ok(p) = rx.try_recv() {
                latest.insert(p.operator.clone(), p);
            }
            for p in latest.into_values() {
                let row = PresenceRow { operator: p.operator, serving: p.serving, paused: p.paused };
                let lease = (super::lease::DISTRIBUTION, node.as_str(), epoch);
                match store.put_presence(lease, &row).await {
                    Ok(true) => {}
                    Ok(false) => debug!(operator = %row.operator, "presence not kept: the lease is another node's"),
                    Err(e) => warn!(operator = %row.operator, "presence not kept: {e}"),
                }
            }
        }
    });
    Box::new(move |p| {
        let _ = tx.send(p);
    })
}
