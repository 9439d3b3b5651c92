//! Pre-generates the whole load as encoded remote_write bodies, before any clock starts.
//! Series are split over shards like Prometheus's queue manager does, so each series' samples
//! stay in time order as long as each shard is sent by one sequential sender.

use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use anyhow::{anyhow, bail, Context};
use blazar_ingest::remote_write::encode;
use blazar_ingest::remote_write::proto::{Sample, TimeSeries, WriteRequest};

use crate::series::{fleet, Series};

/// What to generate.
#[derive(Debug, Clone)]
pub(crate) struct PlanSpec {
    pub(crate) series: usize,
    pub(crate) samples_per_series: usize,
    pub(crate) samples_per_request: usize,
    pub(crate) shards: usize,
    pub(crate) interval_ms: i64,
    pub(crate) jitter_ms: i64,
    /// Timestamp of the first scrape round; the last one lands before `start_ms + span_ms()`.
    pub(crate) start_ms: i64,
    pub(crate) seed: u64,
}

impl PlanSpec {
    /// Returns the simulated time the data covers, plus one interval of phase and the jitter.
    pub(crate) fn span_ms(&self) -> i64 {
        self.samples_per_series as i64 * self.interval_ms + self.jitter_ms
    }
}

/// One encoded request.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) body: Vec<u8>,
    pub(crate) samples: u64,
}

/// The generated load: one ordered request list per shard.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(crate) shards: Vec<Vec<Request>>,
    pub(crate) min_t: i64,
    pub(crate) max_t: i64,
}

impl Plan {
    /// Returns the number of requests in all shards.
    pub(crate) fn requests(&self) -> usize {
        self.shards.iter().map(Vec::len).sum()
    }

    /// Returns the number of samples in all shards.
    pub(crate) fn samples(&self) -> u64 {
        self.shards.iter().flatten().map(|r| r.samples).sum()
    }

    /// Returns the compressed bytes of all requests.
    pub(crate) fn bytes(&self) -> u64 {
        self.shards
            .iter()
            .flatten()
            .map(|r| r.body.len() as u64)
            .sum()
    }
}

const PLAN_MAGIC: &str = "blazar-loadgen-plan v1";

/// Writes the plan to `path`: a header line naming the spec, then per shard its request count
/// and each request as `samples`, `len` (u64 little-endian) and the body.
///
/// # Errors
/// Writing the file fails.
pub(crate) fn save(plan: &Plan, spec: &PlanSpec, path: &Path) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::new(file);
    writeln!(w, "{PLAN_MAGIC} {}", header(spec, plan.min_t, plan.max_t))?;
    for shard in &plan.shards {
        w.write_all(&(shard.len() as u64).to_le_bytes())?;
        for r in shard {
            w.write_all(&r.samples.to_le_bytes())?;
            w.write_all(&(r.body.len() as u64).to_le_bytes())?;
            w.write_all(&r.body)?;
        }
    }
    w.flush()
        .with_context(|| format!("writing {}", path.display()))
}

/// Reads a plan written by [`save`] for the same spec.
///
/// # Errors
/// The file is unreadable, truncated, or was generated from another spec.
pub(crate) fn load(spec: &PlanSpec, path: &Path) -> anyhow::Result<Plan> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut r = BufReader::new(file);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let json = line
        .trim_end()
        .strip_prefix(PLAN_MAGIC)
        .ok_or_else(|| anyhow!("{}: not a plan file", path.display()))?;
    let head: serde_json::Value = serde_json::from_str(json.trim())?;
    let (min_t, max_t) = (
        head["min_t"].as_i64().unwrap_or_default(),
        head["max_t"].as_i64().unwrap_or_default(),
    );
    let want = header(spec, min_t, max_t);
    if head != want {
        bail!(
            "{}: generated for {head}, not for {want}; delete it or pass the same arguments",
            path.display()
        );
    }
    let u64_at = |r: &mut BufReader<std::fs::File>| -> anyhow::Result<u64> {
        let mut b = [0u8; 8];
        r.read_exact(&mut b)
            .with_context(|| format!("{}: truncated", path.display()))?;
        Ok(u64::from_le_bytes(b))
    };
    let mut shards = Vec::with_capacity(spec.shards);
    for _ in 0..spec.shards.max(1) {
        let n = u64_at(&mut r)?;
        let mut shard = Vec::new();
        for _ in 0..n {
            let samples = u64_at(&mut r)?;
            let len = usize::try_from(u64_at(&mut r)?)?;
            let mut body = vec![0u8; len];
            r.read_exact(&mut body)
                .with_context(|| format!("{}: truncated", path.display()))?;
            shard.push(Request { body, samples });
        }
        shards.push(shard);
    }
    Ok(Plan {
        shards,
        min_t,
        max_t,
    })
}

fn header(spec: &PlanSpec, min_t: i64, max_t: i64) -> serde_json::Value {
    serde_json::json!({
        "series": spec.series,
        "samples_per_series": spec.samples_per_series,
        "samples_per_request": spec.samples_per_request,
        "shards": spec.shards.max(1),
        "interval_ms": spec.interval_ms,
        "jitter_ms": spec.jitter_ms,
        "start_ms": spec.start_ms,
        "seed": spec.seed,
        "min_t": min_t,
        "max_t": max_t,
    })
}

/// Generates the plan on up to `threads` threads; the result does not depend on `threads`.
pub(crate) fn generate(spec: &PlanSpec, threads: usize) -> Plan {
    let shards = spec.shards.max(1);
    let mut per_shard: Vec<Vec<Series>> = (0..shards).map(|_| Vec::new()).collect();
    for (i, s) in fleet(spec.series, spec.seed, spec.interval_ms)
        .into_iter()
        .enumerate()
    {
        if let Some(shard) = per_shard.get_mut(i % shards) {
            shard.push(s);
        }
    }
    let threads = threads.clamp(1, shards);
    let mut results: Vec<(usize, Vec<Request>, i64, i64)> = std::thread::scope(|scope| {
        let mut jobs: Vec<Vec<(usize, Vec<Series>)>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, s) in per_shard.into_iter().enumerate() {
            if let Some(job) = jobs.get_mut(i % threads) {
                job.push((i, s));
            }
        }
        let handles: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                scope.spawn(move || {
                    job.into_iter()
                        .map(|(i, mut series)| {
                            let (reqs, min_t, max_t) = shard_requests(spec, &mut series);
                            (i, reqs, min_t, max_t)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    results.sort_by_key(|r| r.0);
    let min_t = results.iter().map(|r| r.2).min().unwrap_or(spec.start_ms);
    let max_t = results.iter().map(|r| r.3).max().unwrap_or(spec.start_ms);
    Plan {
        shards: results.into_iter().map(|r| r.1).collect(),
        min_t,
        max_t,
    }
}

/// Builds one shard's requests: scrape round by scrape round, one sample per `TimeSeries`
/// (as Prometheus 2.x sends), cut every `samples_per_request` samples.
fn shard_requests(spec: &PlanSpec, series: &mut [Series]) -> (Vec<Request>, i64, i64) {
    let batch = spec.samples_per_request.max(1);
    let interval_s = spec.interval_ms as f64 / 1000.0;
    let mut out = Vec::new();
    let mut pending = Vec::with_capacity(batch);
    let (mut min_t, mut max_t) = (i64::MAX, i64::MIN);
    let flush = |pending: &mut Vec<TimeSeries>, out: &mut Vec<Request>| {
        if !pending.is_empty() {
            let req = WriteRequest {
                timeseries: std::mem::take(pending),
                metadata: Vec::new(),
            };
            out.push(Request {
                body: encode(&req),
                samples: req.timeseries.len() as u64,
            });
            pending.reserve(batch);
        }
    };
    for round in 0..spec.samples_per_series {
        let round_t = spec.start_ms + round as i64 * spec.interval_ms;
        for s in series.iter_mut() {
            let t = round_t + s.phase_ms + s.jitter_ms(spec.jitter_ms);
            let v = s.next_value(interval_s);
            min_t = min_t.min(t);
            max_t = max_t.max(t);
            pending.push(TimeSeries {
                labels: s.labels.clone(),
                samples: vec![Sample {
                    value: v,
                    timestamp: t,
                }],
            });
            if pending.len() >= batch {
                flush(&mut pending, &mut out);
            }
        }
    }
    flush(&mut pending, &mut out);
    (out, min_t, max_t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Decodes with the receiver's own decoder, so the tool and blazar agree on the format.
    fn decode(body: &[u8]) -> blazar_ingest::remote_write::Decoded {
        blazar_ingest::remote_write::decode(body, 64 << 20, &blazar_model::Limits::default())
            .unwrap()
    }

    fn spec(shards: usize) -> PlanSpec {
        PlanSpec {
            series: 500,
            samples_per_series: 12,
            samples_per_request: 700,
            shards,
            interval_ms: 15_000,
            jitter_ms: 5,
            start_ms: 1_700_000_000_000,
            seed: 3,
        }
    }

    #[test]
    fn plan_covers_every_series_in_time_order_per_shard() {
        let s = spec(3);
        let plan = generate(&s, 2);
        assert_eq!(plan.samples(), 500 * 12);
        assert!(plan.max_t < s.start_ms + s.span_ms());
        assert!(plan.min_t >= s.start_ms - s.jitter_ms);
        let mut last: HashMap<String, i64> = HashMap::new();
        for shard in &plan.shards {
            for req in shard {
                assert!(req.samples <= 700);
                for series in decode(&req.body).series {
                    let key = format!("{:?}", series.labels);
                    for sample in series.samples {
                        let prev = last.insert(key.clone(), sample.t);
                        assert!(prev.is_none_or(|p| p + 14_000 < sample.t));
                    }
                }
            }
        }
        assert_eq!(last.len(), 500);
    }

    #[test]
    fn saved_plan_loads_only_for_its_spec() {
        let dir = std::env::temp_dir().join(format!("blazar-loadgen-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("plan.bin");
        let s = spec(2);
        let plan = generate(&s, 1);
        save(&plan, &s, &path).unwrap();
        let back = load(&s, &path).unwrap();
        let bodies = |p: &Plan| {
            p.shards
                .iter()
                .flatten()
                .map(|r| (r.samples, r.body.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(bodies(&plan), bodies(&back));
        assert_eq!((back.min_t, back.max_t), (plan.min_t, plan.max_t));
        assert!(load(&PlanSpec { seed: 4, ..s }, &path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plan_data_does_not_depend_on_threads() {
        let a = generate(&spec(4), 1);
        let b = generate(&spec(4), 3);
        let bodies = |p: &Plan| {
            p.shards
                .iter()
                .flatten()
                .map(|r| r.body.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(bodies(&a), bodies(&b));
    }
}
