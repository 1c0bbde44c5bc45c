//! A center of several engine nodes behind a SIP load balancer (Kamailio), sharing one
//! PostgreSQL database. Each node answers the calls the balancer gives it and keeps their
//! audio; the distribution of calls to operators (every section's queue, every operator) runs
//! on the one node holding the distribution's [`lease`], and every node links to it
//! ([`member`], [`leader`], over the messages of [`wire`]). Operators' phones register with any
//! node; their bindings are shared in the database, so any node can ring any phone.
//! `docs/cluster.md` has the design and its failure analysis.

mod leader;
pub mod lease;
mod member;
mod phones;
pub mod wire;

use crate::acd::host::{AcdHandle, Dialer};
use crate::acd::journal::Journal;
use crate::cases::PgStore;
use crate::live::Live;
use leader::Leader;
use lease::{Holder, Lease, RENEW_EVERY, Step};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use phones::{NamedPhones, SharedPhones};

/// How recently a node said it was alive to be asked who holds the distribution.
const PEERS_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The holders this node has seen, to tell a member that lost track of the distribution (it
/// cannot read the database) who holds it now: only a member that proves it knew an earlier
/// holder's secret is told.
#[derive(Default)]
pub struct Seen {
    holders: Mutex<Vec<Holder>>,
}

impl Seen {
    fn saw(&self, h: &Holder) {
        let mut holders = self.holders.lock().unwrap_or_else(|e| e.into_inner());
        if !holders.iter().any(|k| k.epoch == h.epoch) {
            holders.push(h.clone());
            holders.sort_by_key(|k| k.epoch);
            let excess = holders.len().saturating_sub(8);
            holders.drain(..excess);
        }
    }

    /// Answer a hello for an earlier `epoch` whose `secret` this node knew with who holds the
    /// distribution now; whether it did.
    pub(crate) async fn redirect(
        &self,
        w: &mut (impl tokio::io::AsyncWrite + Unpin),
        epoch: i64,
        secret: &str,
    ) -> bool {
        let now = {
            let holders = self.holders.lock().unwrap_or_else(|e| e.into_inner());
            let knew = holders.iter().any(|h| h.epoch == epoch && h.secret == secret);
            holders.last().filter(|h| knew && h.epoch > epoch).cloned()
        };
        let Some(h) = now else { return false };
        let moved = wire::Down::Moved { node: h.node, address: h.address, secret: h.secret, epoch: h.epoch };
        wire::send(w, &moved).await.is_ok()
    }
}

/// This node in the cluster.
#[derive(Debug, Clone)]
pub struct Node {
    /// Its name, unique in the center (the logs, the lease, the phone book say it).
    pub name: String,
    /// Where the other nodes link to it when it holds the distribution.
    pub link: SocketAddr,
}

/// The distribution on this node, whichever node runs it.
pub struct Cluster<L> {
    /// What the calls, phones and API use.
    pub acd: AcdHandle<L>,
    /// Who holds the distribution now, as this node last saw it.
    pub holder: watch::Receiver<Option<Holder>>,
}

/// This node's distribution while it holds the lease.
type Leading = Arc<Mutex<Option<Arc<Leader>>>>;

/// Join the cluster: listen for links, take part in the lease, and link to the holder. Offers
/// for this node's calls ring through `dialer`; the distribution's queue events go to `journal`
/// while this node runs it. A `draining` node gives the distribution up and never takes it.
#[allow(clippy::too_many_arguments)]
pub async fn join<L: Send + 'static>(
    node: Node,
    store: Arc<PgStore>,
    live: Arc<Live>,
    dialer: Box<dyn Dialer<L>>,
    journal: Journal,
    named: Arc<NamedPhones>,
    draining: Arc<AtomicBool>,
    stop: CancellationToken,
) -> Result<Cluster<L>, String> {
    let listener = TcpListener::bind(node.link)
        .await
        .map_err(|e| format!("cannot listen for the cluster on {}: {e}", node.link))?;
    let link = listener.local_addr().map_err(|e| e.to_string())?;
    let leading: Leading = Arc::default();
    let seen = Arc::new(Seen::default());
    let (holder_tx, holder) = watch::channel(None);
    let (peers_tx, peers) = watch::channel(Vec::new());
    tokio::spawn(accept_links(listener, Arc::clone(&leading), Arc::clone(&seen), stop.clone()));
    follow_reloads(&live, Arc::clone(&leading));
    let holding = Holding {
        lease: Lease::new(Arc::clone(&store), node.name.clone(), link.to_string()),
        store,
        live,
        journal,
        leading,
        seen,
        draining,
        holder: holder_tx,
        peers: peers_tx,
    };
    tokio::spawn(holding.run(stop.clone()));
    let acd = member::start(node.name, dialer, (holder.clone(), peers), named, stop);
    Ok(Cluster { acd, holder })
}

/// Serve the members' links while this node runs the distribution; otherwise tell a member
/// that lost track who does.
async fn accept_links(listener: TcpListener, leading: Leading, seen: Arc<Seen>, stop: CancellationToken) {
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else { continue };
        let _ = stream.set_nodelay(true);
        let current = leading.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let seen = Arc::clone(&seen);
        match current {
            Some(leader) => {
                tokio::spawn(leader.serve(stream, seen));
            }
            None => {
                tokio::spawn(async move {
                    let (r, mut w) = stream.into_split();
                    let (mut r, mut buf) = (tokio::io::BufReader::new(r), Vec::new());
                    let hello = wire::receive::<wire::Up>(&mut r, &mut buf);
                    if let Ok(Ok(Some(wire::Up::Hello { epoch, secret, .. }))) =
                        tokio::time::timeout(std::time::Duration::from_secs(2), hello).await
                    {
                        seen.redirect(&mut w, epoch, &secret).await;
                    }
                });
            }
        }
    }
}

/// A reload reaches the distribution wherever it runs (here, while this node holds it).
fn follow_reloads(live: &Live, leading: Leading) {
    live.on_distribution_change(Box::new(move |loaded| {
        let current = leading.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(leader) = current {
            let config = &loaded.switchboard.config;
            leader.acd.event(crate::acd::Event::Reconfigure {
                sections: crate::acd::rules::section_rules(config),
                operators: config.operator_skills(),
            });
        }
    }));
}

/// This node's part in the lease, every [`RENEW_EVERY`]: say it is alive, renew, take or give
/// up the lease (starting and stopping the distribution here), and publish who holds it and
/// where the other nodes are.
struct Holding {
    lease: Lease,
    store: Arc<PgStore>,
    live: Arc<Live>,
    journal: Journal,
    leading: Leading,
    seen: Arc<Seen>,
    draining: Arc<AtomicBool>,
    holder: watch::Sender<Option<Holder>>,
    peers: watch::Sender<Vec<String>>,
}

impl Holding {
    async fn run(mut self, stop: CancellationToken) {
        let mut tick = tokio::time::interval(RENEW_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => {
                    self.step_down();
                    if let Some(epoch) = self.lease.epoch() {
                        let _ = self.store.release_lease(lease::DISTRIBUTION, &self.lease.node, epoch).await;
                    }
                    return;
                }
                _ = tick.tick() => {}
            }
            if let Err(e) = self.store.node_seen(&self.lease.node, &self.lease.address).await {
                tracing::debug!("cannot say this node is alive: {e}");
            }
            self.step().await;
            self.publish().await;
        }
    }

    async fn step(&mut self) {
        match self.lease.step(!self.draining.load(Ordering::Relaxed)).await {
            Step::Took(epoch, secret) => {
                let (store, fence) = (Arc::clone(&self.store), Arc::clone(&self.lease.fence));
                let node = self.lease.node.clone();
                match Leader::start(store, &self.live, self.journal.clone(), &node, (epoch, secret), fence).await {
                    Ok(leader) => *self.leading.lock().unwrap_or_else(|e| e.into_inner()) = Some(leader),
                    Err(e) => {
                        warn!("cannot run the distribution: {e}; giving the lease up");
                        let _ = self.lease.step(false).await;
                    }
                }
            }
            Step::Lost => {
                info!("this node no longer runs the distribution");
                self.step_down();
            }
            Step::Unchanged => {}
        }
    }

    async fn publish(&self) {
        let now = self.lease.holder().await;
        if let Some(h) = &now {
            self.seen.saw(h);
        }
        if let Ok(nodes) = self.store.live_nodes(PEERS_WITHIN).await {
            let me = &self.lease.node;
            let links: Vec<String> = nodes.into_iter().filter(|(n, _)| n != me).map(|(_, link)| link).collect();
            self.peers.send_if_modified(|p| std::mem::replace(p, links.clone()) != links);
        }
        // Nobody (or the database silent): keep the last holder known.
        if now.is_some() {
            self.holder.send_if_modified(|h| std::mem::replace(h, now.clone()) != now);
        }
    }

    fn step_down(&self) {
        if let Some(leader) = self.leading.lock().unwrap_or_else(|e| e.into_inner()).take() {
            leader.stop();
        }
    }
}
