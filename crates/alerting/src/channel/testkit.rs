//! Test helpers: alerts and notifications built by hand, and a real local HTTP receiver that
//! records requests and answers chosen statuses.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use blazar_config::Severity;
use parking_lot::Mutex;

use crate::alert::{Alert, AlertState, Notification};

/// A firing alert of rule `HighCPU` on `service`.
pub(crate) fn alert(id: &str, severity: Severity, service: Option<&str>, message: &str) -> Alert {
    let mut labels = BTreeMap::from([
        ("alertname".to_string(), "HighCPU".to_string()),
        ("severity".to_string(), severity.as_str().to_string()),
    ]);
    if let Some(s) = service {
        labels.insert("service".into(), s.into());
    }
    Alert {
        id: id.into(),
        rule_id: "high_cpu".into(),
        kind: "resource".into(),
        severity,
        service: service.map(str::to_string),
        message: message.into(),
        labels,
        annotations: BTreeMap::from([("runbook".to_string(), "https://runbooks/cpu".to_string())]),
        value: 95.5,
        state: AlertState::Firing,
        started_at: "2024-05-01T12:00:00Z".into(),
        fired_at: Some("2024-05-01T12:01:00Z".into()),
        last_seen: "2024-05-01T12:02:00Z".into(),
        resolved_at: None,
        count: 3,
        acknowledged_by: None,
        acknowledged_at: None,
        started_ns: 0,
        fired_ns: None,
        last_seen_ns: 0,
        resolved_ns: None,
        last_true_ns: 0,
    }
}

/// `a` resolved at 12:10.
pub(crate) fn resolved(mut a: Alert) -> Alert {
    a.state = AlertState::Resolved;
    a.resolved_at = Some("2024-05-01T12:10:00Z".into());
    a
}

/// A notification of group `alertname=HighCPU`, key `k-1`.
pub(crate) fn notification(status: AlertState, alerts: Vec<Alert>) -> Notification {
    let alerts = if alerts.is_empty() {
        vec![alert(
            "a1b2c3d4e5f60718",
            Severity::Critical,
            Some("api"),
            "CPU at 95.5%",
        )]
    } else {
        alerts
    };
    Notification {
        key: "k-1".into(),
        group_key: "g-high-cpu".into(),
        status,
        group_labels: BTreeMap::from([("alertname".to_string(), "HighCPU".to_string())]),
        alerts,
        timestamp: "2024-05-01T12:02:00Z".into(),
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) path: String,
    /// Lowercase names.
    pub(crate) headers: HashMap<String, String>,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<Recorded>>,
    replies: Mutex<VecDeque<(u16, String)>>,
    delay: Mutex<Duration>,
}

/// A real HTTP server on 127.0.0.1:0; answers 200 "ok" unless told otherwise. Stops with the
/// test's runtime.
pub(crate) struct Receiver {
    addr: std::net::SocketAddr,
    shared: Arc<Shared>,
}

impl Receiver {
    pub(crate) async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(Arc::clone(&shared));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, shared }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Queues an answer for the next request (then back to 200 "ok").
    pub(crate) fn reply(&self, status: u16, body: &str) {
        self.shared
            .replies
            .lock()
            .push_back((status, body.to_string()));
    }

    /// Makes every answer wait this long.
    pub(crate) fn delay(&self, d: Duration) {
        *self.shared.delay.lock() = d;
    }

    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.shared.requests.lock().clone()
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    shared.requests.lock().push(Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    v.to_str().unwrap_or_default().to_string(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });
    let delay = *shared.delay.lock();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (status, body) = shared
        .replies
        .lock()
        .pop_front()
        .unwrap_or((200, "ok".into()));
    (StatusCode::from_u16(status).unwrap(), body)
}
