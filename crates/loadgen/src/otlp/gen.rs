//! The request pool: OTLP requests generated and encoded once, before the clock starts, each
//! with the list of fields [`Patches`] rewrites per send. Pure and seeded: the same spec gives
//! the same bytes. What a request looks like per signal is in `gen/{traces,metrics,logs}.rs`.

mod logs;
mod metrics;
mod traces;

use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use rand::rngs::StdRng;
use rand::SeedableRng;

use crate::patch::{schema, Patches};

/// The three OTLP signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    /// Returns the signal's name as the CLI and the summary spell it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Metrics => "metrics",
            Self::Logs => "logs",
        }
    }

    /// Returns what one item of this signal is called.
    pub(crate) fn item(self) -> &'static str {
        match self {
            Self::Traces => "spans",
            Self::Metrics => "data points",
            Self::Logs => "log records",
        }
    }
}

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Spec {
    pub(crate) signal: Signal,
    /// Items per request.
    pub(crate) batch: usize,
    /// Distinct `service.name`s.
    pub(crate) services: usize,
    /// Requests in the pool.
    pub(crate) pool: usize,
    pub(crate) seed: u64,
    /// Start of every cumulative metric series (`start_time_unix_nano`), a real time.
    pub(crate) start_ns: u64,
}

/// One pooled request: its encoding (with placeholders) and what it carries.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) body: Vec<u8>,
    pub(crate) patches: Patches,
    /// Spans, data points or log records.
    pub(crate) items: u64,
    /// Samples blazar derives (metrics: a histogram point is its buckets, `_sum` and `_count`);
    /// equal to `items` for traces and logs.
    pub(crate) samples: u64,
}

/// Placeholder of the earliest time in a request: times are offsets from the send's base time,
/// kept non-zero so they are on the wire.
pub(crate) const TIME_BIAS_NS: u64 = 1;

/// Returns the pool: `spec.pool` requests of `spec.batch` items each.
///
/// # Errors
/// A generated request cannot be walked for patching (a bug).
pub(crate) fn generate(spec: &Spec) -> anyhow::Result<Vec<Entry>> {
    (0..spec.pool)
        .map(|i| {
            let mut rng =
                StdRng::seed_from_u64(spec.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let (body, samples, schema) = match spec.signal {
                Signal::Traces => (
                    traces::request(spec, &mut rng).encode_to_vec(),
                    spec.batch as u64,
                    &schema::TRACES,
                ),
                Signal::Metrics => {
                    let (req, samples) = metrics::request(spec, i);
                    (req.encode_to_vec(), samples, &schema::METRICS)
                }
                Signal::Logs => (
                    logs::request(spec, &mut rng).encode_to_vec(),
                    spec.batch as u64,
                    &schema::LOGS,
                ),
            };
            let patches = Patches::find(&body, schema)?;
            Ok(Entry {
                body,
                patches,
                items: spec.batch as u64,
                samples,
            })
        })
        .collect()
}

/// Returns the name of service `i`: the demo shop's names first, then numbered ones.
pub(crate) fn service_name(i: usize) -> String {
    const NAMES: [&str; 10] = [
        "frontend",
        "checkout",
        "cart",
        "payment",
        "shipping",
        "currency",
        "email",
        "recommendation",
        "ad",
        "inventory",
    ];
    match NAMES.get(i) {
        Some(n) => (*n).to_string(),
        None => format!("service-{i}"),
    }
}

/// Returns a resource as an SDK describes its process.
fn resource(service: &str, instance: usize) -> Resource {
    Resource {
        attributes: vec![
            kv_str("service.name", service),
            kv_str("service.namespace", "shop"),
            kv_str("service.instance.id", &format!("{service}-{instance}")),
            kv_str("host.name", &format!("node-{}", instance % 7)),
            kv_str("telemetry.sdk.language", "rust"),
            kv_str("deployment.environment", "bench"),
        ],
        ..Default::default()
    }
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "blazar-otlp-load".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    })
}

fn kv(key: &str, value: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
    }
}

fn kv_str(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn kv_int(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn kv_f64(key: &str, v: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(v))
}

fn kv_bool(key: &str, v: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(v))
}

/// A placeholder trace id: local trace `n` in the last 8 bytes.
fn trace_id(n: u64) -> Vec<u8> {
    let mut id = vec![0u8; 8];
    id.extend_from_slice(&n.to_be_bytes());
    id
}

/// A placeholder span id: local span `n`.
fn span_id(n: u64) -> Vec<u8> {
    n.to_be_bytes().to_vec()
}

const HTTP_ROUTES: [&str; 5] = [
    "/api/products",
    "/api/products/{id}",
    "/api/cart",
    "/api/checkout",
    "/api/recommendations",
];

#[cfg(test)]
mod tests;
