//! The running alert manager: the store's observer feeds samples of rule metrics to one
//! engine task, which also evaluates every rule on a timer and at pending deadlines, publishes
//! `alert` messages, groups changes into notifications and hands them to delivery workers
//! that retry with exponential backoff and jitter until delivered or expired.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use blazar_bus::{Message, MessageKind};
use blazar_config::{AlertingConfig, EscalationStep, Severity};
use blazar_model::{Labels, Sample};
use blazar_store::{SampleObserver, Store};
use parking_lot::{Mutex, RwLock};
use rand::Rng;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use crate::alert::{Alert, AlertState, Notification};
use crate::channel::{DeliveryError, Sender};
use crate::engine::{Change, Engine, RuleHealth};
use crate::notify::{Dispatcher, Grouping, Outgoing};
use crate::outbox::Outbox;
use crate::silence::{Silence, Silences};
use blazar_audit::{AuditKind, AuditLog};

/// Samples waiting for the engine; more are dropped (the timer's evaluation covers them).
const SAMPLE_QUEUE: usize = 65_536;
/// Deliveries waiting for a worker, and retries waiting for their time.
const DELIVERY_QUEUE: usize = 10_000;
/// Deliveries in flight at once.
const DELIVERY_WORKERS: usize = 16;
/// A notification not delivered within this long is given up (and counted).
const DELIVERY_EXPIRY: Duration = Duration::from_secs(3600);
const BACKOFF_FIRST: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(300);

/// Delivery counters for `/metrics`.
#[derive(Debug, Default)]
struct ChannelStats {
    attempts: AtomicU64,
    delivered: AtomicU64,
    failed_attempts: AtomicU64,
    expired: AtomicU64,
    /// Sum of delivery latencies (notification created → delivered), microseconds.
    latency_us: AtomicU64,
}

/// The alert manager.
pub struct AlertManager {
    engine: Mutex<Engine>,
    dispatcher: Mutex<Dispatcher>,
    config: RwLock<AlertingConfig>,
    grouping: RwLock<Grouping>,
    observer: Arc<Observer>,
    sender: Option<Sender>,
    stats: RwLock<HashMap<String, Arc<ChannelStats>>>,
    retries_waiting: AtomicUsize,
    deliveries_dropped: AtomicU64,
    wake: Arc<Notify>,
    rx: Mutex<Option<mpsc::Receiver<(Labels, Sample)>>>,
    delivery_tx: mpsc::Sender<Delivery>,
    delivery_rx: Mutex<Option<mpsc::Receiver<Delivery>>>,
    silences: Mutex<Silences>,
    outbox: Mutex<Option<Outbox>>,
    audit: RwLock<Option<Arc<AuditLog>>>,
    escalations: Mutex<HashMap<String, Escalation>>,
    dependencies: RwLock<Option<RootCauses>>,
}

/// For a service, the unhealthy dependencies at the root of its trouble.
pub(crate) type RootCauses = Arc<dyn Fn(&str) -> Vec<String> + Send + Sync>;

/// Where one alert goes.
struct RouteChoice {
    channels: Vec<String>,
    grouping: Grouping,
    escalation: Vec<EscalationStep>,
}

/// An alert's escalation: the steps still to come.
struct Escalation {
    steps: Vec<EscalationStep>,
    next: usize,
    fired_ns: i64,
    /// Muted at the last look: its step waits for a change (which wakes the loop), not a time.
    muted: bool,
    /// Channels its steps have notified (they get the resolution too).
    notified: Vec<String>,
}

/// What mutes alerts at one moment.
struct Muter {
    equal: Vec<String>,
    critical_keys: HashSet<Vec<String>>,
    firing_services: HashSet<String>,
    /// Firing services' root causes (non-empty only).
    roots: HashMap<String, Vec<String>>,
}

impl Muter {
    /// Silenced, inhibited by a firing critical alert with equal labels, or folded under a
    /// firing alert of the dependency at the root of its service's trouble.
    fn muted(&self, a: &Alert, now_ns: i64, silences: &Mutex<Silences>) -> bool {
        if !silences.lock().silencing(&a.labels, now_ns).is_empty() {
            return true;
        }
        if a.severity < Severity::Critical
            && inhibit_key(a, &self.equal).is_some_and(|k| self.critical_keys.contains(&k))
        {
            return true;
        }
        a.service.as_ref().is_some_and(|s| {
            self.roots
                .get(s)
                .is_some_and(|r| r.iter().any(|root| self.firing_services.contains(root)))
        })
    }

    /// Names, on each alert of a root-cause service, the services folded under it.
    fn annotate_affected(&self, n: &mut Notification) {
        for a in &mut n.alerts {
            let Some(service) = &a.service else { continue };
            let mut affected: Vec<&str> = self
                .roots
                .iter()
                .filter(|(_, r)| r.contains(service))
                .map(|(s, _)| s.as_str())
                .collect();
            if affected.is_empty() {
                continue;
            }
            affected.sort_unstable();
            a.annotations
                .insert("affected_services".into(), affected.join(", "));
        }
    }
}

/// The values of `equal` labels, when the alert has them all.
fn inhibit_key(a: &Alert, equal: &[String]) -> Option<Vec<String>> {
    equal.iter().map(|k| a.labels.get(k).cloned()).collect()
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// The store's observer: a name set and a bounded queue.
struct Observer {
    names: RwLock<HashSet<String>>,
    tx: mpsc::Sender<(Labels, Sample)>,
    dropped: AtomicU64,
    wake: Arc<Notify>,
}

impl SampleObserver for Observer {
    fn wants(&self, name: &str) -> bool {
        self.names.read().contains(name)
    }

    fn observe(&self, labels: &Labels, sample: Sample) {
        if self.tx.try_send((labels.clone(), sample)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        } else {
            self.wake.notify_one();
        }
    }
}

#[derive(Debug, Clone)]
struct Delivery {
    channel: String,
    notification: Arc<Notification>,
    attempt: u32,
    /// Unix milliseconds when first queued (survives a restart, through the outbox).
    created_ms: i64,
    /// Its entry in the outbox, when there is one.
    outbox_id: Option<u64>,
}

impl AlertManager {
    /// Builds the manager for `config`; `start` runs it.
    pub fn new(config: &AlertingConfig) -> Arc<Self> {
        let (engine, errors) = Engine::new(config);
        for e in errors {
            tracing::error!(error = %e, "alert rule skipped");
        }
        let (tx, rx) = mpsc::channel(SAMPLE_QUEUE);
        let (dtx, drx) = mpsc::channel(DELIVERY_QUEUE);
        let wake = Arc::new(Notify::new());
        let observer = Arc::new(Observer {
            names: RwLock::new(engine.metric_names()),
            tx,
            dropped: AtomicU64::new(0),
            wake: wake.clone(),
        });
        let sender = match Sender::new() {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(error = %e, "notification HTTP client could not be built");
                None
            }
        };
        Arc::new(Self {
            engine: Mutex::new(engine),
            dispatcher: Mutex::new(Dispatcher::default()),
            grouping: RwLock::new(Grouping::from_config(config)),
            config: RwLock::new(config.clone()),
            observer,
            sender,
            stats: RwLock::new(HashMap::new()),
            retries_waiting: AtomicUsize::new(0),
            deliveries_dropped: AtomicU64::new(0),
            wake,
            rx: Mutex::new(Some(rx)),
            delivery_tx: dtx,
            delivery_rx: Mutex::new(Some(drx)),
            silences: Mutex::new(Silences::default()),
            outbox: Mutex::new(None),
            audit: RwLock::new(None),
            escalations: Mutex::new(HashMap::new()),
            dependencies: RwLock::new(None),
        })
    }

    /// Installs the observer on `store` and starts the engine and delivery tasks (once).
    ///
    /// With `outbox_dir`, notifications are written there before delivery, and those a previous
    /// run left undelivered are delivered again now.
    pub fn start(
        self: &Arc<Self>,
        store: &Arc<Store>,
        stop: &CancellationToken,
        outbox_dir: Option<&std::path::Path>,
    ) {
        if !self.config.read().enabled {
            return;
        }
        let Some(rx) = self.rx.lock().take() else {
            return;
        };
        if let Some(dir) = outbox_dir {
            match Outbox::open(dir) {
                Ok((outbox, replayed)) => {
                    *self.outbox.lock() = Some(outbox);
                    if !replayed.is_empty() {
                        tracing::info!(
                            notifications = replayed.len(),
                            "delivering notifications left in the outbox"
                        );
                    }
                    let known: HashSet<String> = self
                        .config
                        .read()
                        .channels
                        .iter()
                        .map(|c| c.name.clone())
                        .collect();
                    let mut deliveries = Vec::new();
                    for e in replayed {
                        let parsed = serde_json::from_value::<Notification>(e.notification);
                        match parsed {
                            Ok(n) if known.contains(&e.channel) => deliveries.push(Delivery {
                                channel: e.channel,
                                notification: Arc::new(n),
                                attempt: 0,
                                created_ms: e.created_ms,
                                outbox_id: Some(e.id),
                            }),
                            // A channel no longer configured, or an entry this version cannot
                            // read: nothing can deliver it; done, so it is not kept forever.
                            _ => {
                                tracing::warn!(channel = %e.channel, "outbox entry dropped: no such channel now, or unreadable");
                                if let Some(o) = self.outbox.lock().as_mut() {
                                    let _ = o.done(e.id);
                                }
                            }
                        }
                    }
                    // Fed after the workers start, waiting for room in the queue.
                    let me = self.clone();
                    tokio::spawn(async move {
                        for d in deliveries {
                            if me.delivery_tx.send(d).await.is_err() {
                                return;
                            }
                        }
                    });
                }
                Err(e) => {
                    tracing::error!(error = %e, dir = %dir.display(), "notification outbox unavailable; notifications wait in memory only")
                }
            }
        }
        store.set_observer(Some(self.observer.clone()));
        tokio::spawn(self.clone().run(store.clone(), rx, stop.clone()));
        if let Some(drx) = self.delivery_rx.lock().take() {
            let drx = Arc::new(tokio::sync::Mutex::new(drx));
            for _ in 0..DELIVERY_WORKERS {
                tokio::spawn(self.clone().deliver_loop(drx.clone(), stop.clone()));
            }
        }
    }

    /// Applies a reloaded config: new rules (active alerts of rules that still exist keep
    /// their state), channels and grouping.
    pub fn reload(&self, config: &AlertingConfig) {
        let (engine, errors) = Engine::new(config);
        for e in errors {
            tracing::error!(error = %e, "alert rule skipped");
        }
        *self.observer.names.write() = engine.metric_names();
        {
            let mut current = self.engine.lock();
            let previous = std::mem::replace(&mut *current, engine);
            current.adopt(previous);
        }
        *self.grouping.write() = Grouping::from_config(config);
        *self.config.write() = config.clone();
        let rules: Vec<String> = self
            .engine
            .lock()
            .rules
            .iter()
            .map(|r| r.config.id.clone())
            .collect();
        self.record(
            AuditKind::RuleChange,
            "system",
            serde_json::json!({"event": "reloaded", "rules": rules}),
        );
        self.wake.notify_one();
    }

    async fn run(
        self: Arc<Self>,
        store: Arc<Store>,
        mut rx: mpsc::Receiver<(Labels, Sample)>,
        stop: CancellationToken,
    ) {
        let mut buf = Vec::with_capacity(1024);
        let mut next_eval = tokio::time::Instant::now();
        loop {
            let interval = self.config.read().evaluation_interval;
            let now_ns = now_ns_fn();
            let deadline = {
                let engine_next = self.engine.lock().next_deadline();
                let due_next = self.dispatcher.lock().next_due();
                let silence_next = self.silences.lock().next_change(now_ns);
                [engine_next, due_next, silence_next, self.next_escalation()]
                    .into_iter()
                    .flatten()
                    .min()
                    .map(|ns| {
                        let wait = u64::try_from(ns.saturating_sub(now_ns)).unwrap_or(0);
                        tokio::time::Instant::now() + Duration::from_nanos(wait)
                    })
                    .map_or(next_eval, |d| d.min(next_eval))
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.wake.notified() => {}
                n = rx.recv_many(&mut buf, 1024) => if n == 0 { return },
                () = tokio::time::sleep_until(deadline) => {}
            }
            let now_ns = now_ns_fn();
            let mut changes = Vec::new();
            {
                let mut engine = self.engine.lock();
                for (labels, sample) in buf.drain(..) {
                    changes.extend(engine.observe(&labels, sample, now_ns));
                }
                if tokio::time::Instant::now() >= next_eval {
                    changes.extend(engine.evaluate(store.head(), now_ns));
                    next_eval = tokio::time::Instant::now() + interval;
                }
                changes.extend(engine.promote_due(now_ns));
            }
            self.handle(&store, changes, now_ns);
        }
    }

    /// Publishes changes, groups them, escalates, and queues what is due.
    fn handle(&self, store: &Store, changes: Vec<Change>, now_ns: i64) {
        let mut escalation_resolved = Vec::new();
        let mut dispatcher = self.dispatcher.lock();
        for c in &changes {
            publish(store, c);
            self.record(
                AuditKind::Alert,
                "system",
                serde_json::json!({
                    "id": c.alert.id,
                    "rule_id": c.alert.rule_id,
                    "state": if c.cancelled { "inactive" } else { c.alert.state.as_str() },
                    "severity": c.alert.severity,
                    "service": c.alert.service,
                    "value": c.alert.value,
                    "labels": c.alert.labels,
                }),
            );
            if c.cancelled {
                continue;
            }
            let route = self.route_of(c.rule, &c.alert);
            match c.alert.state {
                AlertState::Firing if !route.escalation.is_empty() => {
                    self.escalations
                        .lock()
                        .entry(c.alert.id.clone())
                        .or_insert(Escalation {
                            steps: route.escalation.clone(),
                            next: 0,
                            fired_ns: c.alert.fired_ns.unwrap_or(now_ns),
                            muted: false,
                            notified: Vec::new(),
                        });
                }
                AlertState::Resolved => {
                    // Channels an escalation step told about it hear that it resolved (a pager
                    // incident it opened must close).
                    let reached = self
                        .escalations
                        .lock()
                        .remove(&c.alert.id)
                        .map(|e| e.notified)
                        .unwrap_or_default();
                    if !reached.is_empty() {
                        escalation_resolved.push(Outgoing {
                            channels: reached,
                            notification: Notification {
                                key: format!("{}:escalation:resolved", c.alert.id),
                                group_key: format!("escalation:{}", c.alert.id),
                                status: AlertState::Resolved,
                                group_labels: BTreeMap::new(),
                                alerts: vec![c.alert.clone()],
                                timestamp: blazar_model::format_rfc3339_nanos(now_ns),
                            },
                        });
                    }
                }
                _ => {}
            }
            dispatcher.on_change(&c.alert, &route.channels, &route.grouping, now_ns);
        }
        let mute = self.muter(now_ns);
        let mut due = dispatcher.due(now_ns, &|a| mute.muted(a, now_ns, &self.silences));
        drop(dispatcher);
        due.extend(self.escalate(now_ns, &mute));
        due.extend(escalation_resolved);
        for mut out in due {
            mute.annotate_affected(&mut out.notification);
            self.enqueue(out);
        }
    }

    /// Where an alert goes: the rule's channels when it names some (default grouping), else the
    /// first route whose `match` its labels meet, else `log`.
    fn route_of(&self, rule: usize, alert: &Alert) -> RouteChoice {
        let base = self.grouping.read().clone();
        let listed = self
            .engine
            .lock()
            .rules
            .get(rule)
            .map(|r| r.config.channels.clone())
            .unwrap_or_default();
        if !listed.is_empty() {
            return RouteChoice {
                channels: listed,
                grouping: base,
                escalation: Vec::new(),
            };
        }
        let config = self.config.read();
        match config.routes.iter().find(|r| r.matches(&alert.labels)) {
            Some(r) => RouteChoice {
                channels: r.channels.clone(),
                grouping: Grouping {
                    group_by: r.group_by.clone().unwrap_or(base.group_by),
                    group_wait: r.group_wait.unwrap_or(base.group_wait),
                    group_interval: r.group_interval.unwrap_or(base.group_interval),
                    repeat_interval: r.repeat_interval.unwrap_or(base.repeat_interval),
                },
                escalation: r.escalation.clone(),
            },
            None => RouteChoice {
                channels: vec!["log".to_string()],
                grouping: base,
                escalation: Vec::new(),
            },
        }
    }

    /// What mutes alerts now: firing critical alerts (inhibition by equal labels) and the
    /// health monitor's root causes (dependency folding).
    fn muter(&self, now_ns: i64) -> Muter {
        let config = self.config.read();
        let active = self.engine.lock().active();
        let firing: Vec<&Alert> = active
            .iter()
            .filter(|a| a.state == AlertState::Firing)
            .collect();
        let equal = config.inhibit_equal.clone();
        let critical_keys = if equal.is_empty() {
            HashSet::new()
        } else {
            firing
                .iter()
                .filter(|a| a.severity == Severity::Critical)
                .filter_map(|a| inhibit_key(a, &equal))
                .collect()
        };
        let firing_services: HashSet<String> =
            firing.iter().filter_map(|a| a.service.clone()).collect();
        let roots: HashMap<String, Vec<String>> = match (
            config.inhibit_dependencies,
            self.dependencies.read().as_ref(),
        ) {
            (true, Some(f)) => firing_services
                .iter()
                .map(|s| (s.clone(), f(s)))
                .filter(|(_, r)| !r.is_empty())
                .collect(),
            _ => HashMap::new(),
        };
        let _ = now_ns;
        Muter {
            equal,
            critical_keys,
            firing_services,
            roots,
        }
    }

    /// Sends the escalation steps that are due for firing, unacknowledged, unmuted alerts.
    fn escalate(&self, now_ns: i64, mute: &Muter) -> Vec<Outgoing> {
        let mut out = Vec::new();
        let mut escalations = self.escalations.lock();
        let engine = self.engine.lock();
        escalations.retain(|id, e| {
            let Some(alert) = engine.get(id).filter(|a| a.state == AlertState::Firing) else {
                return false;
            };
            if alert.acknowledged_by.is_some() {
                return false;
            }
            e.muted = mute.muted(&alert, now_ns, &self.silences);
            if e.muted {
                return true;
            }
            while let Some(step) = e.steps.get(e.next) {
                if now_ns < e.fired_ns.saturating_add(nanos(step.after)) {
                    break;
                }
                e.next += 1;
                for c in &step.channels {
                    if !e.notified.contains(c) {
                        e.notified.push(c.clone());
                    }
                }
                let mut a = alert.clone();
                a.annotations.insert(
                    "escalation".into(),
                    format!("step {} after {:?}", e.next, step.after),
                );
                out.push(Outgoing {
                    channels: step.channels.clone(),
                    notification: Notification {
                        key: format!("{id}:escalation:{}", e.next),
                        group_key: format!("escalation:{id}"),
                        status: AlertState::Firing,
                        group_labels: BTreeMap::new(),
                        alerts: vec![a],
                        timestamp: blazar_model::format_rfc3339_nanos(now_ns),
                    },
                });
            }
            e.next < e.steps.len()
        });
        out
    }

    /// The next escalation step's time.
    fn next_escalation(&self) -> Option<i64> {
        self.escalations
            .lock()
            .values()
            .filter(|e| !e.muted)
            .filter_map(|e| {
                e.steps
                    .get(e.next)
                    .map(|s| e.fired_ns.saturating_add(nanos(s.after)))
            })
            .min()
    }

    /// Installs the audit trail: rule changes, alert transitions, notification attempts,
    /// silences, acknowledgements and remediations are appended to it.
    pub fn set_audit(&self, audit: Arc<AuditLog>) {
        let rules: Vec<String> = self
            .engine
            .lock()
            .rules
            .iter()
            .map(|r| r.config.id.clone())
            .collect();
        *self.audit.write() = Some(audit);
        self.record(
            AuditKind::RuleChange,
            "system",
            serde_json::json!({"event": "loaded", "rules": rules}),
        );
    }

    /// Appends to the audit trail, if there is one; a failure is logged, never fatal.
    fn record(&self, kind: AuditKind, actor: &str, data: serde_json::Value) {
        if let Some(a) = self.audit.read().as_ref() {
            if let Err(e) = a.append(kind, actor, data) {
                tracing::error!(error = %e, "audit record not written");
            }
        }
    }

    /// Installs the health monitor's view of root causes: for a service, the unhealthy
    /// dependencies at the root of its trouble.
    pub fn set_dependencies(&self, f: RootCauses) {
        *self.dependencies.write() = Some(f);
    }

    /// Creates a silence.
    ///
    /// # Errors
    /// A bad regex, or too many silences.
    pub fn add_silence(&self, s: Silence) -> Result<Silence, String> {
        let out = self.silences.lock().add(s, now_ns_fn());
        if let Ok(s) = &out {
            self.record(
                AuditKind::Silence,
                &s.created_by,
                serde_json::json!({"event": "created", "silence": s}),
            );
        }
        self.wake.notify_one();
        out
    }

    /// Expires a silence; `None` for an unknown id.
    pub fn expire_silence(&self, id: &str) -> Option<Silence> {
        let out = self.silences.lock().expire(id, now_ns_fn());
        if let Some(s) = &out {
            self.record(
                AuditKind::Silence,
                "api",
                serde_json::json!({"event": "expired", "id": s.id}),
            );
        }
        self.wake.notify_one();
        out
    }

    /// Every silence, newest first.
    pub fn silences(&self) -> Vec<Silence> {
        self.silences.lock().list(now_ns_fn())
    }

    /// The remediation commands run for an alert (exec channels) and their outcomes.
    pub fn remediation(&self, alert_id: &str) -> Vec<crate::channel::RemediationOutcome> {
        self.sender
            .as_ref()
            .map(|s| s.remediation_outcomes_for(alert_id))
            .unwrap_or_default()
    }

    /// The active silences that mute `alert` now.
    pub fn silenced_by(&self, alert: &Alert) -> Vec<String> {
        self.silences.lock().silencing(&alert.labels, now_ns_fn())
    }

    fn enqueue(&self, out: Outgoing) {
        let n = Arc::new(out.notification);
        let created_ms = now_ns_fn() / 1_000_000;
        for channel in out.channels {
            // The time in the key keeps it unique across restarts (sequences start again).
            let notification = Arc::new(Notification {
                key: format!("{}:{created_ms}:{channel}", n.key),
                ..(*n).clone()
            });
            let outbox_id = self.outbox.lock().as_mut().and_then(|o| {
                o.enqueue(&channel, &notification, created_ms)
                    .inspect_err(|e| tracing::error!(error = %e, "notification not written to the outbox; delivering from memory"))
                    .ok()
            });
            let d = Delivery {
                notification,
                channel,
                attempt: 0,
                created_ms,
                outbox_id,
            };
            if let Err(e) = self.delivery_tx.try_send(d) {
                self.deliveries_dropped.fetch_add(1, Ordering::Relaxed);
                tracing::error!("notification queue full; notification dropped");
                let d = match e {
                    mpsc::error::TrySendError::Full(d) | mpsc::error::TrySendError::Closed(d) => d,
                };
                self.done(&d);
            }
        }
    }

    async fn deliver_loop(
        self: Arc<Self>,
        rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Delivery>>>,
        stop: CancellationToken,
    ) {
        loop {
            let next = {
                let mut rx = rx.lock().await;
                tokio::select! {
                    () = stop.cancelled() => return,
                    d = rx.recv() => d,
                }
            };
            let Some(d) = next else { return };
            self.deliver_once(d).await;
        }
    }

    async fn deliver_once(self: &Arc<Self>, mut d: Delivery) {
        let kind = self
            .config
            .read()
            .channels
            .iter()
            .find(|c| c.name == d.channel)
            .map(|c| c.kind.clone());
        let stats = self.stats_for(&d.channel);
        let (Some(kind), Some(sender)) = (kind, self.sender.as_ref()) else {
            tracing::error!(channel = %d.channel, "notification for a channel that no longer exists dropped");
            stats.expired.fetch_add(1, Ordering::Relaxed);
            return;
        };
        stats.attempts.fetch_add(1, Ordering::Relaxed);
        let result = sender.deliver(&d.channel, &kind, &d.notification).await;
        let audit_kind = if matches!(kind, blazar_config::ChannelKind::Exec { .. }) {
            AuditKind::Remediation
        } else {
            AuditKind::Notification
        };
        let alert_ids: Vec<&str> = d
            .notification
            .alerts
            .iter()
            .map(|a| a.id.as_str())
            .collect();
        self.record(
            audit_kind,
            "system",
            serde_json::json!({
                "key": d.notification.key,
                "channel": d.channel,
                "type": kind.as_str(),
                "status": d.notification.status,
                "alerts": alert_ids,
                "attempt": d.attempt + 1,
                "outcome": if result.is_ok() { "delivered" } else { "failed" },
                "error": result.as_ref().err().map(ToString::to_string),
            }),
        );
        match result {
            Ok(()) => {
                self.done(&d);
                stats.delivered.fetch_add(1, Ordering::Relaxed);
                let waited_ms = (now_ns_fn() / 1_000_000)
                    .saturating_sub(d.created_ms)
                    .max(0);
                stats.latency_us.fetch_add(
                    u64::try_from(waited_ms).unwrap_or(0).saturating_mul(1000),
                    Ordering::Relaxed,
                );
                tracing::debug!(channel = %d.channel, key = %d.notification.key, "notification delivered");
            }
            Err(e) => {
                stats.failed_attempts.fetch_add(1, Ordering::Relaxed);
                let age_ms = (now_ns_fn() / 1_000_000).saturating_sub(d.created_ms);
                let retry = matches!(e, DeliveryError::Retryable(_))
                    && u128::try_from(age_ms).unwrap_or(0) < DELIVERY_EXPIRY.as_millis()
                    && self.retries_waiting.load(Ordering::Relaxed) < DELIVERY_QUEUE;
                tracing::warn!(channel = %d.channel, key = %d.notification.key, attempt = d.attempt + 1, retry, error = %e, "notification not delivered");
                if !retry {
                    self.done(&d);
                    stats.expired.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                d.attempt += 1;
                let wait = backoff(d.attempt);
                let me = self.clone();
                me.retries_waiting.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    tokio::time::sleep(wait).await;
                    me.retries_waiting.fetch_sub(1, Ordering::Relaxed);
                    if me.delivery_tx.send(d).await.is_err() {
                        me.deliveries_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        }
    }

    /// Marks a delivery finished in the outbox (delivered or given up).
    fn done(&self, d: &Delivery) {
        if let (Some(id), Some(o)) = (d.outbox_id, self.outbox.lock().as_mut()) {
            if let Err(e) = o.done(id) {
                tracing::error!(error = %e, "outbox entry not marked done; it may be sent again after a restart");
            }
        }
    }

    fn stats_for(&self, channel: &str) -> Arc<ChannelStats> {
        if let Some(s) = self.stats.read().get(channel) {
            return s.clone();
        }
        self.stats
            .write()
            .entry(channel.to_string())
            .or_default()
            .clone()
    }

    /// Acknowledges an active alert (stops escalation); `None` when no active alert has `id`.
    pub fn ack(&self, id: &str, by: &str) -> Option<Alert> {
        let a = self.engine.lock().ack(id, by, now_ns_fn())?;
        self.dispatcher.lock().refresh(&a);
        self.record(
            AuditKind::Ack,
            by,
            serde_json::json!({"id": a.id, "rule_id": a.rule_id, "service": a.service}),
        );
        Some(a)
    }

    /// Active alerts, newest first.
    pub fn active(&self) -> Vec<Alert> {
        self.engine.lock().active()
    }

    /// Resolved alerts since `since_ns`, newest first.
    pub fn resolved_since(&self, since_ns: i64) -> Vec<Alert> {
        self.engine.lock().resolved_since(since_ns)
    }

    /// One alert by id.
    pub fn get(&self, id: &str) -> Option<Alert> {
        self.engine.lock().get(id)
    }

    /// Every rule with its state and evaluation record.
    pub fn rules(&self) -> Vec<RuleView> {
        // Config before engine, as everywhere else (see `muter`).
        let interval = self.config.read().evaluation_interval;
        let engine = self.engine.lock();
        engine
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let alerts = engine.active_of(i);
                let state = if alerts.iter().any(|a| a.state == AlertState::Firing) {
                    "firing"
                } else if alerts.is_empty() {
                    "inactive"
                } else {
                    "pending"
                };
                RuleView {
                    id: r.config.id.clone(),
                    name: r.config.name.clone(),
                    description: r.config.description.clone(),
                    metric: r.config.metric.clone(),
                    condition: r.config.condition.as_str(),
                    threshold: r.config.threshold,
                    duration_seconds: r.config.duration.as_secs_f64(),
                    keep_firing_for_seconds: r.config.keep_firing_for.as_secs_f64(),
                    severity: r.config.severity.as_str(),
                    labels: r.config.labels.clone().into_iter().collect(),
                    annotations: r.config.annotations.clone().into_iter().collect(),
                    channels: if r.config.channels.is_empty() {
                        vec!["log".into()]
                    } else {
                        r.config.channels.clone()
                    },
                    builtin: r.builtin,
                    state,
                    alerts,
                    health: engine.health.get(i).cloned().unwrap_or_default(),
                    interval_seconds: interval.as_secs_f64(),
                }
            })
            .collect()
    }

    /// Appends delivery and engine counters in the Prometheus text format.
    pub fn encode_metrics(&self, out: &mut String) {
        let stats = self.stats.read();
        let mut names: Vec<&String> = stats.keys().collect();
        names.sort();
        let kind_of = |name: &str| {
            self.config
                .read()
                .channels
                .iter()
                .find(|c| c.name == name)
                .map_or("unknown", |c| c.kind.as_str())
        };
        let series = |metric: &str,
                      help: &str,
                      kind: &str,
                      out: &mut String,
                      f: &dyn Fn(&ChannelStats) -> String| {
            let _ = writeln!(out, "# HELP {metric} {help}\n# TYPE {metric} {kind}");
            for n in &names {
                if let Some(s) = stats.get(*n) {
                    let _ = writeln!(
                        out,
                        "{metric}{{channel=\"{n}\",type=\"{}\"}} {}",
                        kind_of(n),
                        f(s)
                    );
                }
            }
        };
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        series(
            "blazar_notifications_attempts_total",
            "Notification delivery attempts.",
            "counter",
            out,
            &|s| g(&s.attempts).to_string(),
        );
        series(
            "blazar_notifications_delivered_total",
            "Notifications delivered.",
            "counter",
            out,
            &|s| g(&s.delivered).to_string(),
        );
        series(
            "blazar_notifications_failed_attempts_total",
            "Delivery attempts that failed (retried while not expired).",
            "counter",
            out,
            &|s| g(&s.failed_attempts).to_string(),
        );
        series(
            "blazar_notifications_expired_total",
            "Notifications given up: a permanent error, or not delivered within an hour.",
            "counter",
            out,
            &|s| g(&s.expired).to_string(),
        );
        series(
            "blazar_notification_latency_seconds_sum",
            "Seconds from notification to delivery, summed (divide by delivered).",
            "counter",
            out,
            &|s| format!("{}", g(&s.latency_us) as f64 / 1e6),
        );
        let (active, firing) = {
            let e = self.engine.lock();
            let a = e.active();
            let f = a.iter().filter(|x| x.state == AlertState::Firing).count();
            (a.len(), f)
        };
        let _ = writeln!(
            out,
            "# HELP blazar_alerts Active alerts by state.\n# TYPE blazar_alerts gauge\nblazar_alerts{{state=\"firing\"}} {firing}\nblazar_alerts{{state=\"pending\"}} {}\n\
             # HELP blazar_alert_samples_dropped_total Samples for rule evaluation dropped at a full queue (the timer's evaluation covers them).\n# TYPE blazar_alert_samples_dropped_total counter\nblazar_alert_samples_dropped_total {}\n\
             # HELP blazar_notifications_dropped_total Notifications dropped at a full delivery queue.\n# TYPE blazar_notifications_dropped_total counter\nblazar_notifications_dropped_total {}",
            active - firing,
            self.observer.dropped.load(Ordering::Relaxed),
            self.deliveries_dropped.load(Ordering::Relaxed) + self.dispatcher.lock().dropped,
        );
    }
}

/// A rule for the API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub metric: String,
    pub condition: &'static str,
    pub threshold: f64,
    pub duration_seconds: f64,
    pub keep_firing_for_seconds: f64,
    pub severity: &'static str,
    pub labels: std::collections::BTreeMap<String, String>,
    pub annotations: std::collections::BTreeMap<String, String>,
    pub channels: Vec<String>,
    pub builtin: bool,
    /// `inactive`, `pending` or `firing`.
    pub state: &'static str,
    pub alerts: Vec<Alert>,
    #[serde(flatten)]
    pub health: RuleHealth,
    pub interval_seconds: f64,
}

/// Exponential backoff with jitter: a random wait between half and all of `first × 2^attempt`,
/// capped.
fn backoff(attempt: u32) -> Duration {
    let cap = BACKOFF_FIRST
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_MAX);
    let ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX).max(1);
    Duration::from_millis(rand::thread_rng().gen_range(ms / 2..=ms))
}

fn publish(store: &Store, c: &Change) {
    let state = if c.cancelled {
        "inactive"
    } else {
        c.alert.state.as_str()
    };
    let mut data = serde_json::to_value(&c.alert).unwrap_or_default();
    if let Some(o) = data.as_object_mut() {
        o.insert("state".into(), serde_json::json!(state));
    }
    store.bus().publish(Message {
        kind: MessageKind::Alert,
        timestamp_ns: now_ns_fn(),
        service: c.alert.service.clone(),
        data,
    });
}

fn now_ns_fn() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}
