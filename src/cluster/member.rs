//! Every node's side of the distribution: it stands in for the distribution on this node
//! (the calls, phones and API talk to it through the same [`AcdHandle`] as to a local one),
//! forwards what happens to the node holding the lease, and carries out what it is told. The
//! calls it holds stay here, with their audio: when the link to the holder breaks, the offers
//! in progress are withdrawn, conversations go on, and on the next link (to the same holder or
//! the one that takes over) every call held is told again with its arrival time, so callers
//! keep their places.

use super::lease::Holder;
use super::phones::NamedPhones;
use super::wire::{self, Down, Held, HeldCall, Told, Up};
use crate::acd::host::{AcdHandle, Dialer, Msg, Notice, OperatorView};
use crate::acd::{AcdError, Event, SectionStats};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How often the member pings the holder (who drops a link silent for 5 s).
const PING_EVERY: Duration = Duration::from_secs(1);
/// A holder silent for this long is gone.
const SILENCE: Duration = Duration::from_secs(3);
/// Between attempts to link to the holder.
const RETRY: Duration = Duration::from_millis(250);
/// To connect and be welcome.
const CONNECT_WITHIN: Duration = Duration::from_secs(2);

/// A call this node holds for the distribution.
struct Call<L> {
    notices: mpsc::UnboundedSender<Notice<L>>,
    section: String,
    caller: String,
    arrived: SystemTime,
    state: State,
}

enum State {
    Waiting {
        entered: SystemTime,
    },
    Connected {
        operator: String,
        since: SystemTime,
    },
    /// Out of the queues (back in the portal, or ended).
    Away,
}

/// An operator's leg answered: the operator, the leg, and how to hang it up.
type Answered<L> = (String, L, Box<dyn FnOnce(L) + Send>);

enum Pending {
    Command(oneshot::Sender<Result<(), AcdError>>),
    Stats(oneshot::Sender<(Vec<SectionStats>, Vec<OperatorView>)>),
}

struct Link {
    id: u64,
    epoch: i64,
    tx: mpsc::UnboundedSender<Up>,
    stop: CancellationToken,
    heard: Instant,
}

/// What the link's reader passes on.
enum FromLink {
    Down(u64, Down),
    Closed(u64),
}

struct Member<L> {
    node: String,
    /// The other nodes' link addresses, to ask who holds the distribution when the database
    /// cannot tell.
    peers: watch::Receiver<Vec<String>>,
    /// A holder named by a peer, newer than the database told this node.
    moved: Option<Holder>,
    named: Arc<NamedPhones>,
    dialer: Box<dyn Dialer<L>>,
    handle: AcdHandle<L>,
    calls: HashMap<String, Call<L>>,
    /// Answered legs waiting for the holder's word.
    answered: HashMap<String, Answered<L>>,
    rings: HashMap<String, CancellationToken>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    link: Option<Link>,
    links: u64,
    from_link: mpsc::UnboundedSender<FromLink>,
}

/// Start this node's member task; `holder` says who holds the lease, `peers` where the other
/// nodes are; the phones named in offers go to `named`.
pub fn start<L: Send + 'static>(
    node: String,
    dialer: Box<dyn Dialer<L>>,
    (holder, peers): (watch::Receiver<Option<Holder>>, watch::Receiver<Vec<String>>),
    named: Arc<NamedPhones>,
    stop: CancellationToken,
) -> AcdHandle<L> {
    let (handle, inbox) = crate::acd::host::channel();
    let (from_link, links_rx) = mpsc::unbounded_channel();
    let member = Member {
        node,
        peers,
        moved: None,
        named,
        dialer,
        handle: handle.clone(),
        calls: HashMap::new(),
        answered: HashMap::new(),
        rings: HashMap::new(),
        pending: HashMap::new(),
        next_id: 0,
        link: None,
        links: 0,
        from_link,
    };
    tokio::spawn(member.run(inbox, links_rx, holder, stop));
    handle
}

impl<L: Send + 'static> Member<L> {
    async fn run(
        mut self,
        mut inbox: mpsc::UnboundedReceiver<Msg<L>>,
        mut links: mpsc::UnboundedReceiver<FromLink>,
        mut holder: watch::Receiver<Option<Holder>>,
        stop: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(PING_EVERY.min(RETRY));
        let mut last_ping = Instant::now();
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                msg = inbox.recv() => match msg {
                    Some(Msg::Stop) | None => return,
                    Some(msg) => self.on_msg(msg),
                },
                Some(from) = links.recv() => match from {
                    FromLink::Down(id, down) if self.link.as_ref().is_some_and(|l| l.id == id) => {
                        self.link.as_mut().expect("checked").heard = Instant::now();
                        self.on_down(down);
                    }
                    FromLink::Closed(id) if self.link.as_ref().is_some_and(|l| l.id == id) => {
                        self.lost_link("closed by the holder");
                    }
                    _ => {}
                },
                changed = holder.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let newer = holder.borrow().as_ref().map(|h| h.epoch);
                    if let (Some(link), Some(epoch)) = (&self.link, newer)
                        && epoch > link.epoch
                    {
                        self.lost_link("another node took the distribution over");
                    }
                }
                _ = tick.tick() => {
                    if let Some(link) = &self.link {
                        if link.heard.elapsed() > SILENCE {
                            self.lost_link("the holder fell silent");
                        } else if last_ping.elapsed() >= PING_EVERY {
                            let _ = link.tx.send(Up::Ping);
                            last_ping = Instant::now();
                        }
                    }
                    if self.link.is_none() {
                        // The newer of what the database said and what a peer said.
                        let told = holder.borrow().clone();
                        let best = match (told, self.moved.take()) {
                            (Some(t), Some(m)) => Some(if m.epoch > t.epoch { m } else { t }),
                            (t, m) => t.or(m),
                        };
                        if let Some(h) = best {
                            self.find(h).await;
                        }
                    }
                }
            }
        }
    }

    fn send(&self, up: Up) -> bool {
        self.link.as_ref().is_some_and(|l| l.tx.send(up).is_ok())
    }

    fn on_msg(&mut self, msg: Msg<L>) {
        match msg {
            Msg::Join { call, section, caller, arrived, notices, .. } => {
                let now = SystemTime::now();
                let arrived_at = now - arrived.elapsed();
                let entered = State::Waiting { entered: now };
                let c = Call {
                    notices,
                    section: section.clone(),
                    caller: caller.clone(),
                    arrived: arrived_at,
                    state: entered,
                };
                self.calls.insert(call.clone(), c);
                self.send(Up::Join { call, section, caller, arrived: wire::wall_ms(arrived_at) });
            }
            Msg::Left { call } => {
                self.calls.remove(&call);
                self.send(Up::Left { call });
            }
            Msg::Event(event) => {
                match &event {
                    // Only the failure of a ring still going (a withdrawn one is old news).
                    Event::OfferFailed { call, .. } if self.rings.remove(call).is_none() => return,
                    Event::CallerHangup { call } | Event::OperatorHangup { call } => {
                        if let Some(c) = self.calls.get_mut(call) {
                            c.state = State::Away;
                        }
                    }
                    _ => {}
                }
                if !self.send(Up::Event { event: event.clone() }) {
                    debug!(?event, "no link to the distribution: event not told");
                }
            }
            Msg::Command { event, reply } => {
                let id = self.next_id;
                self.next_id += 1;
                if self.send(Up::Command { id, event }) {
                    self.pending.insert(id, Pending::Command(reply));
                } else {
                    let _ = reply.send(Err(AcdError::Unavailable("no node runs it now".into())));
                }
            }
            Msg::Answered { call, operator, leg, hang_up } => {
                if self.rings.remove(&call).is_some()
                    && self.send(Up::Answered { call: call.clone(), operator: operator.clone() })
                {
                    self.answered.insert(call, (operator, leg, hang_up));
                } else {
                    hang_up(leg);
                }
            }
            Msg::Stats { reply } => {
                let id = self.next_id;
                self.next_id += 1;
                if self.send(Up::Stats { id }) {
                    self.pending.insert(id, Pending::Stats(reply));
                } else {
                    let _ = reply.send(Default::default());
                }
            }
            Msg::Stop => {}
        }
    }

    fn on_down(&mut self, down: Down) {
        match down {
            Down::Welcome { .. } | Down::Moved { .. } | Down::Pong => {}
            Down::Notice { call, notice } => self.on_notice(call, notice),
            Down::Ring { offer, epoch, phone } => {
                if self.link.as_ref().is_none_or(|l| l.epoch != epoch) {
                    warn!(call = %offer.call, epoch, "an offer from another epoch: not rung");
                    return;
                }
                if let Some(phone) = &phone {
                    self.named.name(&offer.operator, phone);
                }
                let cancel = CancellationToken::new();
                self.rings.insert(offer.call.clone(), cancel.clone());
                self.dialer.ring(offer, self.handle.clone(), cancel);
            }
            Down::CancelRing { call } => {
                if let Some(c) = self.rings.remove(&call) {
                    c.cancel();
                }
            }
            Down::Release { call } => {
                if let Some((_, leg, hang_up)) = self.answered.remove(&call) {
                    hang_up(leg);
                }
            }
            Down::Reply { id, result } => {
                if let Some(Pending::Command(reply)) = self.pending.remove(&id) {
                    let _ = reply.send(result);
                }
            }
            Down::Stats { id, sections, operators } => {
                if let Some(Pending::Stats(reply)) = self.pending.remove(&id) {
                    let _ = reply.send((sections, operators));
                }
            }
        }
    }

    fn on_notice(&mut self, call: String, notice: Told) {
        let answered = match notice {
            Told::Connect => self.answered.remove(&call),
            _ => None,
        };
        let Some(c) = self.calls.get_mut(&call) else {
            if let Some((_, leg, hang_up)) = answered {
                hang_up(leg);
            }
            return;
        };
        let notice = match notice {
            Told::Announce { ahead, wait_ms, callback } => {
                Notice::Announce { ahead, wait: wait_ms.map(Duration::from_millis), callback }
            }
            Told::AskCallbackNumber => Notice::AskCallbackNumber,
            Told::CallbackAccepted { ahead, wait_ms } => {
                Notice::CallbackAccepted { ahead, wait: wait_ms.map(Duration::from_millis) }
            }
            Told::CallbackRefused { reason } => Notice::CallbackRefused(reason),
            Told::StopAnnouncement => Notice::StopAnnouncement,
            Told::Queued { section } => {
                c.section = section.clone();
                c.state = State::Waiting { entered: SystemTime::now() };
                Notice::Queued { section }
            }
            Told::Route { route } => {
                c.state = State::Away;
                Notice::Route(route)
            }
            Told::Connect => {
                let Some((operator, leg, hang_up)) = answered else { return };
                c.state = State::Connected { operator, since: SystemTime::now() };
                if let Err(mpsc::error::SendError(Notice::Connect(leg))) = c.notices.send(Notice::Connect(leg)) {
                    hang_up(leg);
                }
                return;
            }
        };
        let _ = c.notices.send(notice);
    }

    /// The link is gone: withdraw what cannot be finished without it.
    fn lost_link(&mut self, why: &str) {
        let Some(link) = self.link.take() else { return };
        link.stop.cancel();
        warn!(epoch = link.epoch, "the link to the distribution is lost ({why}): the calls keep their places here");
        for (_, ring) in self.rings.drain() {
            ring.cancel();
        }
        for (_, (_, leg, hang_up)) in self.answered.drain() {
            hang_up(leg);
        }
        for (_, p) in self.pending.drain() {
            match p {
                Pending::Command(reply) => {
                    let _ = reply.send(Err(AcdError::Unavailable("moving to another node".into())));
                }
                Pending::Stats(reply) => {
                    let _ = reply.send(Default::default());
                }
            }
        }
    }

    /// Link to `holder`; if it is unreachable or no longer holds the distribution, ask the
    /// peers who does (remembered for the next attempt).
    async fn find(&mut self, holder: Holder) {
        match self.connect(&holder).await {
            Some(moved) => self.moved = Some(moved),
            None if self.link.is_none() => {
                let peers = self.peers.borrow().clone();
                for peer in peers.iter().filter(|p| **p != holder.address) {
                    if let Some(moved) = ask(peer, &self.node, &holder).await {
                        info!(%peer, holder = %moved.node, epoch = moved.epoch, "a peer says who runs the distribution now");
                        self.moved = Some(moved);
                        return;
                    }
                }
            }
            None => {}
        }
    }

    /// Link to the holder and tell it every call held here; a newer holder if it names one.
    async fn connect(&mut self, holder: &Holder) -> Option<Holder> {
        let hello = Up::Hello {
            node: self.node.clone(),
            secret: holder.secret.clone(),
            epoch: holder.epoch,
            calls: self.held(),
        };
        let attempt = async {
            let stream = TcpStream::connect(&holder.address).await?;
            stream.set_nodelay(true)?;
            let (r, mut w) = stream.into_split();
            let mut r = BufReader::new(r);
            wire::send(&mut w, &hello).await?;
            let mut buf = Vec::new();
            match wire::receive::<Down>(&mut r, &mut buf).await? {
                Some(Down::Welcome { epoch, .. }) if epoch == holder.epoch => Ok(Ok((r, w))),
                Some(Down::Moved { node, address, secret, epoch }) if epoch > holder.epoch => {
                    Ok(Err(Holder { node, address, secret, epoch }))
                }
                other => Err(std::io::Error::other(format!("not welcome: {other:?}"))),
            }
        };
        let (mut r, w) = match tokio::time::timeout(CONNECT_WITHIN, attempt).await {
            Ok(Ok(Ok(rw))) => rw,
            Ok(Ok(Err(moved))) => return Some(moved),
            Ok(Err(e)) => {
                debug!(holder = %holder.node, "no link to the distribution yet: {e}");
                tokio::time::sleep(RETRY).await;
                return None;
            }
            Err(_) => {
                debug!(holder = %holder.node, "no link to the distribution yet: no answer");
                return None;
            }
        };
        self.links += 1;
        let id = self.links;
        let stop = CancellationToken::new();
        let tx = wire::writer::<Up>(w, stop.clone());
        let (from_link, reader_stop) = (self.from_link.clone(), stop.clone());
        tokio::spawn(async move {
            let mut buf = Vec::new();
            loop {
                let down = tokio::select! {
                    d = wire::receive::<Down>(&mut r, &mut buf) => d,
                    // Ended here, or by the writer on a failed write.
                    _ = reader_stop.cancelled() => Ok(None),
                };
                match down {
                    Ok(Some(d)) => {
                        if from_link.send(FromLink::Down(id, d)).is_err() {
                            return;
                        }
                    }
                    _ => {
                        let _ = from_link.send(FromLink::Closed(id));
                        return;
                    }
                }
            }
        });
        info!(holder = %holder.node, epoch = holder.epoch, "linked to the distribution");
        self.link = Some(Link { id, epoch: holder.epoch, tx, stop, heard: Instant::now() });
        None
    }

    /// Every call held in a queue or a conversation, as a new holder must know it.
    fn held(&self) -> Vec<HeldCall> {
        self.calls
            .iter()
            .filter_map(|(call, c)| {
                let state = match &c.state {
                    State::Waiting { entered } => Held::Waiting { entered: wire::wall_ms(*entered) },
                    State::Connected { operator, since } => {
                        Held::Connected { operator: operator.clone(), since: wire::wall_ms(*since) }
                    }
                    State::Away => return None,
                };
                Some(HeldCall {
                    call: call.clone(),
                    section: c.section.clone(),
                    caller: c.caller.clone(),
                    arrived: wire::wall_ms(c.arrived),
                    state,
                })
            })
            .collect()
    }
}

/// Ask the node at `peer` who holds the distribution now, proving that this node knew
/// `holder` (its epoch and secret).
async fn ask(peer: &str, node: &str, holder: &Holder) -> Option<Holder> {
    let question = async {
        let stream = TcpStream::connect(peer).await.ok()?;
        let (r, mut w) = stream.into_split();
        let hello =
            Up::Hello { node: node.to_string(), secret: holder.secret.clone(), epoch: holder.epoch, calls: Vec::new() };
        wire::send(&mut w, &hello).await.ok()?;
        match wire::receive::<Down>(&mut BufReader::new(r), &mut Vec::new()).await.ok()? {
            Some(Down::Moved { node, address, secret, epoch }) if epoch > holder.epoch => {
                Some(Holder { node, address, secret, epoch })
            }
            _ => None,
        }
    };
    tokio::time::timeout(CONNECT_WITHIN, question).await.ok().flatten()
}
