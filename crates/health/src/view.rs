//! What the API serves: every service's state (`GET /api/v1/telemetry/health`) and one
//! service with its transitions (`/health/{service}`), in DESIGN §3's shape.

use std::collections::BTreeMap;

use blazar_config::Criticality;
use serde::Serialize;

use crate::process::ProcessSample;
use crate::tracker::Transition;
use crate::HealthStatus;

/// Counts of services by status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub healthy: usize,
    pub degraded: usize,
    pub unhealthy: usize,
    pub unknown: usize,
}

impl Summary {
    pub(crate) fn count(&mut self, s: HealthStatus) {
        match s {
            HealthStatus::Healthy => self.healthy += 1,
            HealthStatus::Degraded => self.degraded += 1,
            HealthStatus::Unhealthy => self.unhealthy += 1,
            HealthStatus::Unknown => self.unknown += 1,
        }
    }
}

/// One service now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceView {
    pub name: String,
    pub status: HealthStatus,
    pub criticality: Criticality,
    /// `http`, `tcp`, `grpc`, `exec`, `metric` or `process`.
    pub check: &'static str,
    pub target: String,
    /// Last passing check (RFC 3339).
    pub last_seen: Option<String>,
    pub last_check: Option<String>,
    pub last_change: Option<String>,
    pub response_time_ms: Option<f64>,
    /// Failed checks in a row.
    pub error_count: u64,
    pub checks_total: u64,
    pub failures_total: u64,
    pub message: String,
    /// Each direct dependency's status.
    pub dependencies: BTreeMap<String, HealthStatus>,
    /// The unhealthy dependencies (transitive) at the root of this service's trouble.
    pub affected_by: Vec<String>,
    pub process: Option<ProcessSample>,
    /// Oldest first; only in the one-service view.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transitions: Option<Vec<Transition>>,
}

/// Every service and the whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthView {
    /// The overall status (criticality rules).
    pub status: HealthStatus,
    pub timestamp: String,
    pub summary: Summary,
    pub services: Vec<ServiceView>,
}
