//! The `log` channel: one structured `tracing` event per notification, at warn when firing and
//! info otherwise, with the alerts at or above `min_severity`.

use blazar_config::Severity;

use super::render_labels;
use crate::alert::{AlertState, Notification};

/// What the event carries.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct LogLine {
    pub(super) status: AlertState,
    /// `alertname=HighCPU, service=api`.
    pub(super) group: String,
    /// Alerts in the line (those at or above `min_severity`).
    pub(super) count: usize,
    /// `<id> <state> <severity> <service|->: <message>`, joined by `; `.
    pub(super) alerts: String,
}

/// Renders `n`, or `None` when every alert in it is below `min_severity`.
pub(super) fn render(n: &Notification, min_severity: Severity) -> Option<LogLine> {
    let shown: Vec<String> = n
        .alerts
        .iter()
        .filter(|a| a.severity >= min_severity)
        .map(|a| {
            format!(
                "{} {} {} {}: {}",
                a.id,
                a.state.as_str(),
                a.severity.as_str(),
                a.service.as_deref().unwrap_or("-"),
                a.message
            )
        })
        .collect();
    if shown.is_empty() {
        return None;
    }
    Some(LogLine {
        status: n.status,
        group: render_labels(&n.group_labels),
        count: shown.len(),
        alerts: shown.join("; "),
    })
}

/// Logs `n` through channel `name`.
pub(super) fn deliver(name: &str, min_severity: Severity, n: &Notification) {
    let Some(line) = render(n, min_severity) else {
        return;
    };
    let LogLine {
        status,
        group,
        count,
        alerts,
    } = line;
    if status == AlertState::Firing {
        tracing::warn!(
            channel = name,
            key = %n.key,
            status = status.as_str(),
            group = %group,
            count,
            severity = n.severity().as_str(),
            alerts = %alerts,
            "alert firing"
        );
    } else {
        tracing::info!(
            channel = name,
            key = %n.key,
            status = status.as_str(),
            group = %group,
            count,
            severity = n.severity().as_str(),
            alerts = %alerts,
            "alert resolved"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{alert, notification, resolved};
    use super::*;

    #[test]
    fn line_lists_alerts_at_or_above_min_severity() {
        let n = notification(
            AlertState::Firing,
            vec![
                alert("id1", Severity::Critical, Some("api"), "CPU at 95%"),
                alert("id2", Severity::Info, None, "CPU at 50%"),
                resolved(alert("id3", Severity::Warning, Some("db"), "CPU ok")),
            ],
        );
        let line = render(&n, Severity::Warning).unwrap();
        assert_eq!(
            line,
            LogLine {
                status: AlertState::Firing,
                group: "alertname=HighCPU".into(),
                count: 2,
                alerts: "id1 firing critical api: CPU at 95%; id3 resolved warning db: CPU ok"
                    .into(),
            }
        );
        assert_eq!(render(&n, Severity::Info).unwrap().count, 3);
    }

    #[test]
    fn notification_below_min_severity_is_skipped() {
        let n = notification(
            AlertState::Firing,
            vec![alert("id2", Severity::Info, None, "CPU at 50%")],
        );
        assert_eq!(render(&n, Severity::Warning), None);
        deliver("log", Severity::Warning, &n);
    }

    #[tokio::test]
    async fn log_channel_always_delivers() {
        let sender = super::super::Sender::new().unwrap();
        let kind = blazar_config::ChannelKind::Log {
            min_severity: Severity::Info,
        };
        for status in [AlertState::Firing, AlertState::Resolved] {
            let n = notification(status, vec![]);
            sender.deliver("log", &kind, &n).await.unwrap();
        }
    }
}
