//! The event bus: typed live messages over a bounded broadcast. Publishing never waits; a
//! subscriber that falls behind loses the oldest messages and is told how many (`Lagged`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

/// What a live message is about (DESIGN §3 stream types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    HealthUpdate,
    MetricUpdate,
    Alert,
    TraceCompleted,
    Event,
    Log,
    Anomaly,
}

impl MessageKind {
    /// Every kind, in wire order.
    pub const ALL: [MessageKind; 7] = [
        Self::HealthUpdate,
        Self::MetricUpdate,
        Self::Alert,
        Self::TraceCompleted,
        Self::Event,
        Self::Log,
        Self::Anomaly,
    ];

    /// Returns the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HealthUpdate => "health_update",
            Self::MetricUpdate => "metric_update",
            Self::Alert => "alert",
            Self::TraceCompleted => "trace_completed",
            Self::Event => "event",
            Self::Log => "log",
            Self::Anomaly => "anomaly",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One live message: `{"type","timestamp","data"}` on the wire; `service` is for filtering.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub kind: MessageKind,
    /// Unix nanoseconds.
    pub timestamp_ns: i64,
    /// The service the message concerns, when there is one.
    pub service: Option<String>,
    pub data: serde_json::Value,
}

/// Counters the bus keeps about itself.
#[derive(Debug, Default)]
pub struct BusStats {
    /// Messages published.
    pub published: AtomicU64,
    /// Messages dropped for subscribers that lagged (summed over subscribers).
    pub lagged: AtomicU64,
    /// Subscribers disconnected for lagging too far.
    pub dropped_subscribers: AtomicU64,
}

/// Cloneable handle to the bus.
#[derive(Debug, Clone)]
pub struct Bus {
    tx: broadcast::Sender<Arc<Message>>,
    stats: Arc<BusStats>,
}

impl Bus {
    /// Creates a bus that keeps `capacity` messages for slow subscribers.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self {
            tx,
            stats: Arc::new(BusStats::default()),
        }
    }

    /// Publishes a message; never blocks. Returns how many subscribers will see it.
    pub fn publish(&self, msg: Message) -> usize {
        self.stats.published.fetch_add(1, Ordering::Relaxed);
        // An error only means nobody is subscribed right now: not a loss worth counting.
        self.tx.send(Arc::new(msg)).unwrap_or(0)
    }

    /// Returns whether anyone is listening (lets producers skip building messages).
    pub fn has_subscribers(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Returns the number of current subscribers.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// Subscribes from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Message>> {
        self.tx.subscribe()
    }

    /// Returns the bus's counters.
    pub fn stats(&self) -> &BusStats {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(n: i64) -> Message {
        Message {
            kind: MessageKind::Event,
            timestamp_ns: n,
            service: None,
            data: serde_json::Value::Null,
        }
    }

    #[tokio::test]
    async fn slow_subscriber_lags_and_publisher_never_waits() {
        let bus = Bus::new(4);
        let mut rx = bus.subscribe();
        for i in 0..10 {
            bus.publish(msg(i));
        }
        match rx.recv().await {
            Err(broadcast::error::RecvError::Lagged(n)) => assert_eq!(n, 6),
            other => panic!("expected lag, got {other:?}"),
        }
        assert_eq!(rx.recv().await.unwrap().timestamp_ns, 6);
    }

    #[test]
    fn kinds_round_trip_names() {
        for k in MessageKind::ALL {
            assert_eq!(MessageKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(MessageKind::parse("nope"), None);
    }
}
