//! What the statuses of all services mean together: each service's root-cause dependencies,
//! and the overall status by criticality.

use std::collections::BTreeSet;

use blazar_config::Criticality;

use crate::HealthStatus;

/// Returns the overall status: a critical service unhealthy makes it unhealthy; an important
/// one unhealthy, or any one degraded, degraded; optional ones can only degrade it. Services
/// not checked yet do not count; when none has been checked, it is unknown.
pub fn overall(services: impl IntoIterator<Item = (Criticality, HealthStatus)>) -> HealthStatus {
    let mut any = false;
    let mut checked = false;
    let mut worst = HealthStatus::Healthy;
    for (crit, status) in services {
        any = true;
        let effect = match (crit, status) {
            (_, HealthStatus::Unknown) => continue,
            (Criticality::Critical, HealthStatus::Unhealthy) => HealthStatus::Unhealthy,
            (_, HealthStatus::Healthy) => HealthStatus::Healthy,
            _ => HealthStatus::Degraded,
        };
        checked = true;
        if effect.severity() > worst.severity() {
            worst = effect;
        }
    }
    if any && !checked {
        HealthStatus::Unknown
    } else {
        worst
    }
}

/// For each service (by index), the unhealthy services among its transitive dependencies
/// that are not themselves affected by a deeper unhealthy one: the root causes to name.
/// `deps[i]` are indexes; the graph is acyclic (config validation refuses cycles), and a
/// cycle here would only stop the walk, never loop.
pub fn root_causes(deps: &[Vec<usize>], status: &[HealthStatus]) -> Vec<BTreeSet<usize>> {
    let n = deps.len();
    let mut memo: Vec<Option<BTreeSet<usize>>> = vec![None; n];
    let mut on_path = vec![false; n];
    for i in 0..n {
        resolve(i, deps, status, &mut memo, &mut on_path);
    }
    memo.into_iter().map(Option::unwrap_or_default).collect()
}

fn resolve(
    i: usize,
    deps: &[Vec<usize>],
    status: &[HealthStatus],
    memo: &mut Vec<Option<BTreeSet<usize>>>,
    on_path: &mut Vec<bool>,
) -> BTreeSet<usize> {
    if let Some(Some(done)) = memo.get(i) {
        return done.clone();
    }
    if on_path.get(i).copied().unwrap_or(true) {
        return BTreeSet::new();
    }
    if let Some(p) = on_path.get_mut(i) {
        *p = true;
    }
    let mut out = BTreeSet::new();
    for &d in deps.get(i).map_or(&[][..], Vec::as_slice) {
        let below = resolve(d, deps, status, memo, on_path);
        if below.is_empty() && status.get(d) == Some(&HealthStatus::Unhealthy) {
            out.insert(d);
        } else {
            out.extend(below);
        }
    }
    if let Some(p) = on_path.get_mut(i) {
        *p = false;
    }
    if let Some(slot) = memo.get_mut(i) {
        *slot = Some(out.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Criticality::{Critical as C, Important as I, Optional as O};
    use HealthStatus::{Degraded as D, Healthy as H, Unhealthy as U, Unknown as X};

    #[test]
    fn criticality_decides_the_whole() {
        assert_eq!(overall([(C, H), (I, H), (O, H)]), H);
        assert_eq!(overall([(C, U), (I, H)]), U);
        assert_eq!(overall([(C, H), (I, U)]), D);
        assert_eq!(overall([(C, H), (O, U)]), D, "optional can only degrade");
        assert_eq!(overall([(C, D), (O, H)]), D);
        assert_eq!(
            overall([(C, X), (O, H)]),
            H,
            "unchecked services do not count"
        );
        assert_eq!(overall([(C, X), (O, X)]), X);
        assert_eq!(overall(std::iter::empty()), H);
    }

    #[test]
    fn root_causes_name_the_deepest_unhealthy_dependency() {
        // 0 web -> 1 api -> 2 db; 3 worker -> 2 db; 4 cache (healthy); 1 api -> 4 cache.
        let deps = vec![vec![1], vec![2, 4], vec![], vec![2], vec![]];
        let set = |v: &[usize]| v.iter().copied().collect::<BTreeSet<_>>();
        let rc = root_causes(&deps, &[H, U, U, D, H]);
        assert_eq!(rc[0], set(&[2]), "web is affected by db, not api");
        assert_eq!(rc[1], set(&[2]));
        assert_eq!(rc[2], set(&[]));
        assert_eq!(rc[3], set(&[2]));
        let rc = root_causes(&deps, &[H, U, H, H, H]);
        assert_eq!(rc[0], set(&[1]), "api is the root when db is fine");
        assert_eq!(rc[3], set(&[]));
    }

    #[test]
    fn a_cycle_stops_the_walk() {
        let rc = root_causes(&[vec![1], vec![0]], &[U, U]);
        assert_eq!(rc.len(), 2);
    }
}
