//! blazar-tsdb: the in-memory time-series store: Gorilla-style chunks, series with stable
//! refs, an inverted index with Prometheus matchers, retention and snapshots. No I/O and no
//! clock: WAL and checkpoint files belong to `blazar-store`, which feeds this crate.

mod chunk;
mod head;
mod matcher;

pub use chunk::{ChunkError, ChunkIter, XorChunk, CHUNK_VERSION, MAX_SAMPLES};
pub use head::{
    AppendError, AppendStats, Head, HeadOptions, HeadStats, SeriesError, SeriesRef, SeriesSnapshot,
    SnapshotError, TruncateStats, DEFAULT_CHUNK_SAMPLES, SNAPSHOT_VERSION,
};
pub use matcher::{LabelRegex, Matcher, MatcherError};
