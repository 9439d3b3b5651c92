//! The audit trail: `GET /api/v1/telemetry/audit?since=&limit=` answers the hash-chained records
//! as JSON lines (`application/x-ndjson`), oldest first, each line exactly as the log stores it
//! so an export verifies. The log, its format and verification are `blazar-audit`'s.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use blazar_model::ErrorKind;

use crate::params::{now_ns, opt_count, opt_time};
use crate::{ApiError, AppState};

/// Records answered when `limit` is not given.
const DEFAULT_LIMIT: usize = 1000;
const MAX_LIMIT: usize = 10_000;
/// Most body bytes one answer carries (records are small, but `data` may reach 64 KiB). A
/// client pages on with `since` = the last record's time + 1 ns: times strictly increase.
const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// The JSON-lines media type.
const NDJSON: &str = "application/x-ndjson";

pub(crate) async fn get(
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let now = now_ns();
    let limit = opt_count(&q, "limit", MAX_LIMIT)?.unwrap_or(DEFAULT_LIMIT);
    let since = opt_time(&q, "since", now)?;
    let audit = state.audit.clone();
    // File reads: off the async workers.
    let records = tokio::task::spawn_blocking(move || audit.read(since, limit))
        .await
        .map_err(|e| ApiError::new(ErrorKind::Internal, format!("audit read worker: {e}")))?
        .map_err(audit_error)?;
    let mut body = String::new();
    for record in &records {
        let line = record.to_line().map_err(audit_error)?;
        if !body.is_empty() && body.len() + line.len() + 1 > MAX_BODY_BYTES {
            break;
        }
        body.push_str(&line);
        body.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, NDJSON)], body).into_response())
}

fn audit_error(e: blazar_audit::AuditError) -> ApiError {
    let mut chain = e.to_string();
    let mut cur = std::error::Error::source(&e);
    while let Some(c) = cur {
        chain.push_str(": ");
        chain.push_str(&c.to_string());
        cur = c.source();
    }
    tracing::error!(error = %chain, "reading the audit log failed");
    ApiError::new(e.kind(), format!("audit: {e}"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use blazar_audit::{AuditKind, AuditLog};
    use blazar_bus::Bus;
    use blazar_store::{SelfMetrics, Settings, Store};
    use http_body_util::BodyExt;
    use serde_json::{json, Value};
    use tower::ServiceExt;

    use crate::{router, AppState};

    fn app() -> (axum::Router, Arc<AuditLog>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = blazar_config::Config::default();
        cfg.storage.data_dir = dir.path().to_path_buf();
        let (store, _) = Store::open(
            Settings::from_config(&cfg),
            Bus::new(16),
            Arc::new(SelfMetrics::new()),
        )
        .unwrap();
        let audit = Arc::new(AuditLog::open(&dir.path().join("audit")).unwrap());
        let state = AppState::new(Arc::new(store), &cfg, audit.clone());
        (router(state), audit, dir)
    }

    async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String, String) {
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        (status, ct, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn answers_records_as_json_lines_oldest_first() {
        let (app, audit, _dir) = app();
        // The alert manager records the rules it loaded first.
        let mut lines: Vec<String> = audit
            .read(None, 10)
            .unwrap()
            .iter()
            .map(|r| r.to_line().unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "the rule_change record");
        for i in 0..3 {
            let r = audit
                .append(AuditKind::Alert, "system", json!({"i": i}))
                .unwrap();
            lines.push(r.to_line().unwrap());
        }
        let (status, ct, body) = get(&app, "/api/v1/telemetry/audit").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(ct, "application/x-ndjson");
        assert_eq!(body, format!("{}\n", lines.join("\n")));
        assert!(blazar_audit::verify_reader(body.as_bytes()).unwrap().ok);

        let (_, _, page) = get(&app, "/api/v1/telemetry/audit?limit=2").await;
        assert_eq!(page.lines().count(), 2);
        let second: Value = serde_json::from_str(&lines[2]).unwrap();
        let since = second["time"].as_str().unwrap().replace('+', "%2B");
        let (_, _, tail) = get(&app, &format!("/api/v1/telemetry/audit?since={since}")).await;
        assert_eq!(tail, format!("{}\n{}\n", lines[2], lines[3]));
        let (_, _, none) = get(&app, "/api/v1/telemetry/audit?since=1h&limit=5").await;
        assert_eq!(none.lines().count(), 4, "all four are within the last hour");
    }

    #[tokio::test]
    async fn bad_parameters_name_the_field() {
        let (app, _audit, _dir) = app();
        for (uri, field) in [
            ("/api/v1/telemetry/audit?limit=0", "limit:"),
            ("/api/v1/telemetry/audit?since=yesterday", "since:"),
        ] {
            let (status, _, body) = get(&app, uri).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            let v: Value = serde_json::from_str(&body).unwrap();
            assert!(
                v["error"]["message"].as_str().unwrap().starts_with(field),
                "{uri}: {body}"
            );
        }
    }
}
