//! Reading the head: series lookup and selection, samples by time range, label names and values.

use blazar_model::{Labels, Sample};

use super::{Head, SeriesRef};
use crate::matcher::Matcher;

impl Head {
    /// Returns the ref of the series with exactly `labels`.
    pub fn lookup(&self, labels: &Labels) -> Option<SeriesRef> {
        let reg = self.reg.read();
        let h = std::hash::BuildHasher::hash_one(&reg.hasher, labels);
        reg.find(h, labels)
    }

    /// Returns the labels of series `r`.
    pub fn labels_of(&self, r: SeriesRef) -> Option<Labels> {
        self.reg.read().series.get(&r).map(|s| s.labels.clone())
    }

    /// Returns the series matching every matcher, sorted by ref. Equality matchers intersect
    /// postings; a matcher that accepts `""` also accepts series without its label, and with
    /// no narrowing matcher at all every series is a candidate.
    pub fn select_series(&self, matchers: &[Matcher]) -> Vec<(SeriesRef, Labels)> {
        let reg = self.reg.read();
        let refs = reg.index.select(matchers, || {
            let mut all: Vec<SeriesRef> = reg.series.keys().copied().collect();
            all.sort_unstable();
            all
        });
        refs.into_iter()
            .filter_map(|r| reg.series.get(&r).map(|s| (r, s.labels.clone())))
            .collect()
    }

    /// Returns the samples of series `r` with `start <= t <= end`, in time order; empty for
    /// an unknown series.
    pub fn samples(&self, r: SeriesRef, start: i64, end: i64) -> Vec<Sample> {
        let mut out = Vec::new();
        if start > end {
            return out;
        }
        if let Some(series) = self.series(r) {
            series.data.lock().samples_in(start, end, &mut out);
        }
        out
    }

    /// Returns the newest sample of series `r`.
    pub fn latest(&self, r: SeriesRef) -> Option<Sample> {
        let reg = self.reg.read();
        let series = reg.series.get(&r)?;
        let last = series.data.lock().last;
        last
    }

    /// Returns every label name in use, sorted.
    pub fn label_names(&self) -> Vec<String> {
        self.reg.read().index.label_names()
    }

    /// Returns every value of label `name` in use, sorted.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.reg.read().index.label_values(name)
    }
}
