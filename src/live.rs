//! The switchboard in service, and its live reload: when a tree, the configuration or a prompt
//! changes (or on SIGHUP), everything is loaded and checked again; if it passes, new calls use
//! it while calls in progress finish on what they started with; if not, the errors are logged
//! with file:line:col and the running switchboard stays in service.

use crate::diag::Diagnostic;
use crate::media::prompt_store::PromptStore;
use crate::switchboard::{Paths, Switchboard, tree_files};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tracing::{error, info, warn};

/// What calls are answered with: the checked switchboard and its audio.
pub struct Loaded {
    pub switchboard: Switchboard,
    pub prompts: Arc<PromptStore>,
}

impl Loaded {
    /// Load and check everything; the diagnostics on failure.
    pub fn load(paths: &Paths) -> Result<(Loaded, Vec<Diagnostic>), Vec<Diagnostic>> {
        let (switchboard, warnings) = Switchboard::load(paths)?;
        let (prompts, errors) = PromptStore::load(&paths.sounds);
        for e in errors {
            warn!("{e}");
        }
        Ok((Loaded { switchboard, prompts: Arc::new(prompts) }, warnings))
    }
}

/// The current [`Loaded`], swapped whole on a successful reload.
pub struct Live {
    paths: Paths,
    current: RwLock<Arc<Loaded>>,
    /// Told of a reload that changed the sections' rules or the operators.
    on_distribution_change: std::sync::Mutex<Vec<DistributionHook>>,
}

/// What wants to know when a reload changes sections or operators (the running distribution).
pub type DistributionHook = Box<dyn Fn(&Loaded) + Send + Sync>;

impl Live {
    pub fn new(paths: Paths, loaded: Loaded) -> Arc<Self> {
        Arc::new(Self { paths, current: RwLock::new(Arc::new(loaded)), on_distribution_change: Default::default() })
    }

    /// Call `hook` with the new version after each reload that changes the sections' queue
    /// rules or the operators.
    pub fn on_distribution_change(&self, hook: DistributionHook) {
        self.on_distribution_change.lock().unwrap_or_else(|e| e.into_inner()).push(hook);
    }

    /// The switchboard new calls use.
    pub fn current(&self) -> Arc<Loaded> {
        Arc::clone(&self.current.read().expect("never poisoned: no panics while held"))
    }

    /// Load and check again; swap in on success. Returns whether the new version is in service.
    pub fn reload(&self) -> bool {
        match Loaded::load(&self.paths) {
            Ok((loaded, warnings)) => {
                for w in warnings {
                    warn!("{w}");
                }
                let trees: Vec<String> = loaded.switchboard.trees.keys().cloned().collect();
                let (old, new) = (&self.current().switchboard.config, &loaded.switchboard.config);
                let distribution = crate::acd::rules::section_rules(old) != crate::acd::rules::section_rules(new)
                    || old.operator_skills() != new.operator_skills();
                let loaded = Arc::new(loaded);
                *self.current.write().expect("never poisoned") = Arc::clone(&loaded);
                if distribution {
                    // The distribution keeps its queues and operators' states and takes the
                    // new rules and operators from now on.
                    info!("sections' queue rules or operators changed: the distribution follows");
                    for hook in self.on_distribution_change.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                        hook(&loaded);
                    }
                }
                info!(?trees, "reloaded: new calls use the new version");
                true
            }
            Err(diags) => {
                for d in diags.iter().filter(|d| d.is_error()) {
                    error!("{d}");
                }
                error!("reload refused: the running switchboard stays in service");
                false
            }
        }
    }

    /// Files whose change triggers a reload: the configuration, the trees, the prompts and the
    /// SIP certificate's files (a renewed certificate is taken without a restart).
    fn watched(&self) -> Vec<(PathBuf, Option<SystemTime>)> {
        let mut files = vec![self.paths.config.clone(), self.paths.trees.clone()];
        files.extend(tree_files(&self.paths.trees).unwrap_or_default());
        files.push(self.paths.sounds.join("transcripts.tsv"));
        let sip = &self.current().switchboard.config.sip;
        let pem = [&sip.tls_certificate, &sip.tls_key, &sip.tls_client_authorities];
        files.extend(pem.into_iter().flatten().map(|f| PathBuf::from(f.get_ref())));
        files.into_iter().map(|f| (f.clone(), std::fs::metadata(&f).and_then(|m| m.modified()).ok())).collect()
    }

    /// Reload on SIGHUP and when a watched file changes (checked every `every`).
    ///
    /// Changes are found by polling modification times rather than with inotify: a handful of
    /// files once a second costs nothing, and it sees editors' write-and-rename saves and files
    /// on network mounts alike.
    pub async fn watch(self: Arc<Self>, every: Duration) {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut seen = self.watched();
        let mut tick = tokio::time::interval(every);
        loop {
            let by_signal = tokio::select! {
                _ = tick.tick() => false,
                Some(_) = async { match hup.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => true,
            };
            let now = self.watched();
            if by_signal || now != seen {
                // Let an editor finish writing before reading.
                tokio::time::sleep(Duration::from_millis(200)).await;
                info!(by_signal, "configuration or trees changed: checking them");
                let me = Arc::clone(&self);
                let _ = tokio::task::spawn_blocking(move || me.reload()).await;
                seen = self.watched();
            }
        }
    }
}
