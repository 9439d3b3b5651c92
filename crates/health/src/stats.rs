//! The monitor's own numbers for `/metrics`: checks run, failed, panicked and skipped, how late
//! checks start against their schedule, and how many run at once.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

/// Lag bucket bounds in seconds.
const LAG_BUCKETS: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// Counters shared by the scheduler tasks.
#[derive(Debug, Default)]
pub(crate) struct MonitorStats {
    pub(crate) passed: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) panicked: AtomicU64,
    /// Intervals missed because a check was still running or waiting for a permit.
    pub(crate) skipped: AtomicU64,
    pub(crate) in_flight: AtomicI64,
    lag_buckets: [AtomicU64; LAG_BUCKETS.len() + 1],
    lag_sum_us: AtomicU64,
    lag_count: AtomicU64,
}

impl MonitorStats {
    /// Counts how late one check started against its schedule.
    pub(crate) fn lag(&self, d: Duration) {
        let secs = d.as_secs_f64();
        let i = LAG_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LAG_BUCKETS.len());
        if let Some(b) = self.lag_buckets.get(i) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        self.lag_sum_us.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.lag_count.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the Prometheus text form.
    pub(crate) fn encode(&self, out: &mut String, services: &crate::view::Summary) {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP blazar_health_checks_total Health checks run, by result.\n\
             # TYPE blazar_health_checks_total counter\n\
             blazar_health_checks_total{{result=\"pass\"}} {}\n\
             blazar_health_checks_total{{result=\"fail\"}} {}\n\
             # HELP blazar_health_check_panics_total Checks that panicked (counted as the service's failure).\n\
             # TYPE blazar_health_check_panics_total counter\n\
             blazar_health_check_panics_total {}\n\
             # HELP blazar_health_checks_skipped_total Check intervals missed because the previous check still ran.\n\
             # TYPE blazar_health_checks_skipped_total counter\n\
             blazar_health_checks_skipped_total {}\n\
             # HELP blazar_health_checks_in_flight Checks running now.\n\
             # TYPE blazar_health_checks_in_flight gauge\n\
             blazar_health_checks_in_flight {}",
            g(&self.passed),
            g(&self.failed),
            g(&self.panicked),
            g(&self.skipped),
            self.in_flight.load(Ordering::Relaxed).max(0),
        );
        let _ = writeln!(
            out,
            "# HELP blazar_health_check_lag_seconds How late checks start against their schedule.\n\
             # TYPE blazar_health_check_lag_seconds histogram"
        );
        let mut cumulative = 0;
        for (le, b) in LAG_BUCKETS
            .iter()
            .map(|b| b.to_string())
            .chain(std::iter::once("+Inf".to_string()))
            .zip(self.lag_buckets.iter())
        {
            cumulative += g(b);
            let _ = writeln!(
                out,
                "blazar_health_check_lag_seconds_bucket{{le=\"{le}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            out,
            "blazar_health_check_lag_seconds_sum {}\nblazar_health_check_lag_seconds_count {}",
            g(&self.lag_sum_us) as f64 / 1e6,
            g(&self.lag_count)
        );
        let _ = writeln!(
            out,
            "# HELP blazar_health_services Monitored services by status.\n\
             # TYPE blazar_health_services gauge\n\
             blazar_health_services{{status=\"healthy\"}} {}\n\
             blazar_health_services{{status=\"degraded\"}} {}\n\
             blazar_health_services{{status=\"unhealthy\"}} {}\n\
             blazar_health_services{{status=\"unknown\"}} {}",
            services.healthy, services.degraded, services.unhealthy, services.unknown
        );
    }
}
