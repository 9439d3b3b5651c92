//! Health statuses as seed 001 names them.

use serde::Serialize;

/// A service's (or the whole's) health.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    Healthy,
    Degraded,
    Unhealthy,
    /// Not checked yet.
    #[default]
    Unknown,
}

impl HealthStatus {
    /// Returns the wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Degraded => "degraded",
            Self::Unhealthy => "unhealthy",
            Self::Unknown => "unknown",
        }
    }

    /// Returns the `service.health.status` gauge value (seed 001: 1, 0.5, 0; -1 unknown).
    pub fn gauge(self) -> f64 {
        match self {
            Self::Healthy => 1.0,
            Self::Degraded => 0.5,
            Self::Unhealthy => 0.0,
            Self::Unknown => -1.0,
        }
    }

    /// Orders by how bad: healthy 0, degraded 1, unhealthy 2 (unknown counts as degraded).
    pub fn severity(self) -> u8 {
        match self {
            Self::Healthy => 0,
            Self::Degraded | Self::Unknown => 1,
            Self::Unhealthy => 2,
        }
    }
}
