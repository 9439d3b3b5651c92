//! `GET /api/v1/telemetry/stream`: live messages over WebSocket, or SSE when the request is
//! not an upgrade. One pump per subscriber, generic over a `Sink`, reads the bus: a subscriber
//! that lags is told how many it missed, and is dropped when its total lag passes
//! `stream.max_lag_events` or one write blocks longer than `stream.send_timeout`. Ingest never waits.

use std::collections::HashSet;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as WsMessage, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::header;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use blazar_bus::{Message, MessageKind};
use futures_util::{Sink, SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::{ApiError, AppState};

/// Which messages a subscriber wants.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    types: Option<HashSet<MessageKind>>,
    service: Option<String>,
}

impl Filter {
    fn parse(query: Option<&str>) -> Result<Self, ApiError> {
        let mut f = Filter::default();
        for (k, v) in url_pairs(query.unwrap_or("")) {
            match k.as_str() {
                "types" | "type" => {
                    let mut set = HashSet::new();
                    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        let kind = MessageKind::parse(t).ok_or_else(|| {
                            let all: Vec<&str> =
                                MessageKind::ALL.iter().map(|k| k.as_str()).collect();
                            ApiError::invalid(
                                "types",
                                format!("unknown type {t:?}; expected some of {}", all.join(", ")),
                            )
                        })?;
                        set.insert(kind);
                    }
                    f.types = Some(set);
                }
                "service" => f.service = Some(v),
                _ => {}
            }
        }
        Ok(f)
    }

    fn wants(&self, m: &Message) -> bool {
        self.types.as_ref().is_none_or(|t| t.contains(&m.kind))
            && self
                .service
                .as_ref()
                .is_none_or(|s| m.service.as_deref() == Some(s.as_str()))
    }
}

fn url_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(h) = hex {
                    out.push(h);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One frame to a subscriber: the message type and its JSON text.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Frame {
    pub kind: String,
    pub json: String,
}

fn frame(m: &Message) -> Frame {
    let v = json!({"type": m.kind.as_str(), "timestamp": blazar_model::format_rfc3339_nanos(m.timestamp_ns), "data": m.data});
    Frame {
        kind: m.kind.as_str().to_string(),
        json: v.to_string(),
    }
}

fn lag_frame(skipped: u64) -> Frame {
    let v = json!({"type": "lagged", "timestamp": blazar_model::format_rfc3339_nanos(crate::params::now_ns()), "data": {"skipped": skipped}});
    Frame {
        kind: "lagged".into(),
        json: v.to_string(),
    }
}

/// Why a pump stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PumpEnd {
    ClientGone,
    TooSlow,
    BusClosed,
    Shutdown,
}

/// Forwards bus messages matching `filter` to `sink` until the client goes or falls too far behind.
pub(crate) async fn pump<S>(
    mut rx: tokio::sync::broadcast::Receiver<Arc<Message>>,
    filter: Filter,
    mut sink: S,
    max_lag: u64,
    send_timeout: Duration,
    shutdown: tokio_util::sync::CancellationToken,
) -> (PumpEnd, u64)
where
    S: Sink<Frame> + Unpin,
{
    let mut lagged_total = 0u64;
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return (PumpEnd::Shutdown, lagged_total),
            r = rx.recv() => r,
        };
        let frame = match next {
            Ok(m) if filter.wants(&m) => frame(&m),
            Ok(_) => continue,
            Err(RecvError::Lagged(n)) => {
                lagged_total += n;
                if lagged_total > max_lag {
                    return (PumpEnd::TooSlow, lagged_total);
                }
                lag_frame(n)
            }
            Err(RecvError::Closed) => return (PumpEnd::BusClosed, lagged_total),
        };
        match tokio::time::timeout(send_timeout, sink.send(frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return (PumpEnd::ClientGone, lagged_total),
            Err(_) => return (PumpEnd::TooSlow, lagged_total),
        }
    }
}

pub(crate) async fn get(State(state): State<AppState>, req: Request) -> Response {
    let s = state.settings();
    if !s.stream_enabled {
        return ApiError::new(
            blazar_model::ErrorKind::Unavailable,
            "stream: disabled by stream.enabled (enable_realtime_stream)",
        )
        .into_response();
    }
    let (mut parts, _) = req.into_parts();
    let filter = match Filter::parse(parts.uri.query()) {
        Ok(f) => f,
        Err(e) => return e.into_response(),
    };
    let is_ws = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let rx = state.store.bus().subscribe();
    let store = state.store.clone();
    let max_lag = s.max_lag_events as u64;
    let timeout = s.send_timeout;
    let shutdown = state.shutdown.clone();
    let finish = move |(end, lagged): (PumpEnd, u64)| {
        let m = store.self_metrics();
        m.stream_lagged(lagged);
        if end == PumpEnd::TooSlow {
            m.stream_dropped();
            store
                .bus()
                .stats()
                .dropped_subscribers
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::info!(lagged, "dropped a stream subscriber that fell behind");
        }
    };
    if is_ws {
        let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(ws) => ws,
            Err(rej) => {
                return ApiError {
                    status: rej.status(),
                    code: "invalid_input",
                    message: format!("upgrade: {}", rej.body_text()),
                    retry_after: None,
                }
                .into_response()
            }
        };
        return ws.on_upgrade(move |socket| async move {
            let (tx, mut rx_ws) = socket.split();
            let sink =
                tx.with(
                    |f: Frame| async move { Ok::<_, axum::Error>(WsMessage::Text(f.json.into())) },
                );
            let sink = Box::pin(sink);
            // Read side: only to notice a close; clients send nothing we act on.
            let reader = tokio::spawn(async move { while let Some(Ok(_)) = rx_ws.next().await {} });
            let res = tokio::select! {
                r = pump(rx, filter, sink, max_lag, timeout, shutdown) => r,
                _ = reader => (PumpEnd::ClientGone, 0),
            };
            finish(res);
        });
    }
    let (tx, out) = tokio::sync::mpsc::channel::<Frame>(64);
    tokio::spawn(async move {
        // A client that leaves is noticed at once, not at the next matching message (which,
        // with a narrow filter, may never come).
        let gone = tx.clone();
        let sink = tokio_util::sync::PollSender::new(tx);
        let res = tokio::select! {
            r = pump(rx, filter, sink, max_lag, timeout, shutdown) => r,
            () = gone.closed() => (PumpEnd::ClientGone, 0),
        };
        finish(res);
    });
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(SseEvent::default().comment("connected"))
    });
    let events = tokio_stream::wrappers::ReceiverStream::new(out)
        .map(|f| Ok(SseEvent::default().event(f.kind).data(f.json)));
    Sse::new(first.chain(events))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use blazar_bus::Bus;
    use tokio_util::sync::CancellationToken;

    fn msg(kind: MessageKind, service: &str) -> Message {
        Message {
            kind,
            timestamp_ns: 0,
            service: Some(service.into()),
            data: json!({}),
        }
    }

    #[test]
    fn filter_by_types_and_service() {
        let f = Filter::parse(Some("types=event,metric_update&service=api")).unwrap();
        assert!(f.wants(&msg(MessageKind::Event, "api")));
        assert!(!f.wants(&msg(MessageKind::Event, "db")));
        assert!(!f.wants(&msg(MessageKind::TraceCompleted, "api")));
        assert!(Filter::parse(Some("types=nope")).is_err());
    }

    #[tokio::test]
    async fn lagging_subscriber_is_told_then_dropped() {
        let bus = Bus::new(4);
        let rx = bus.subscribe();
        for _ in 0..20 {
            bus.publish(msg(MessageKind::Event, "a"));
        }
        let (tx, mut out) = tokio::sync::mpsc::channel::<Frame>(100);
        let sink = tokio_util::sync::PollSender::new(tx);
        drop(bus);
        let (end, lagged) = pump(
            rx,
            Filter::default(),
            sink,
            100,
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(end, PumpEnd::BusClosed);
        assert_eq!(lagged, 16);
        assert_eq!(out.recv().await.unwrap().kind, "lagged");
        // Past max_lag the subscriber is dropped.
        let bus = Bus::new(4);
        let rx = bus.subscribe();
        for _ in 0..20 {
            bus.publish(msg(MessageKind::Event, "a"));
        }
        let (tx, _out) = tokio::sync::mpsc::channel::<Frame>(100);
        let (end, _) = pump(
            rx,
            Filter::default(),
            tokio_util::sync::PollSender::new(tx),
            10,
            Duration::from_secs(5),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(end, PumpEnd::TooSlow);
    }

    #[tokio::test]
    async fn blocked_client_is_dropped_after_send_timeout() {
        let bus = Bus::new(16);
        let rx = bus.subscribe();
        let (tx, _out) = tokio::sync::mpsc::channel::<Frame>(1);
        for _ in 0..5 {
            bus.publish(msg(MessageKind::Event, "a"));
        }
        let (end, _) = pump(
            rx,
            Filter::default(),
            tokio_util::sync::PollSender::new(tx),
            100,
            Duration::from_millis(50),
            CancellationToken::new(),
        )
        .await;
        assert_eq!(end, PumpEnd::TooSlow);
    }

    #[tokio::test]
    async fn shutdown_ends_the_pump() {
        let bus = Bus::new(4);
        let rx = bus.subscribe();
        let (tx, _out) = tokio::sync::mpsc::channel::<Frame>(4);
        let stop = CancellationToken::new();
        stop.cancel();
        let (end, _) = pump(
            rx,
            Filter::default(),
            tokio_util::sync::PollSender::new(tx),
            10,
            Duration::from_secs(5),
            stop,
        )
        .await;
        assert_eq!(end, PumpEnd::Shutdown);
    }
}
