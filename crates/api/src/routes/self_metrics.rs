//! `GET /metrics`: blazar's own metrics in the Prometheus text format.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

pub(crate) async fn get(State(state): State<AppState>) -> impl IntoResponse {
    // Refreshes the gauges derived from store state.
    let _ = state.store.stats();
    let m = state.store.self_metrics();
    m.set_stream_subscribers(state.store.bus().subscribers());
    m.set_uptime(state.started.elapsed().as_secs());
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        {
            let mut out = m.encode();
            state.health.encode_metrics(&mut out);
            state.alerts.encode_metrics(&mut out);
            out
        },
    )
}
