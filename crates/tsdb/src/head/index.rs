//! The inverted index: label name -> value -> sorted series refs (postings), and
//! matcher selection over it. Series data and locking belong to `Head`.

use std::collections::BTreeMap;

use blazar_model::Labels;

use super::SeriesRef;
use crate::matcher::Matcher;

/// Postings by label name and value; every list is sorted and free of duplicates.
#[derive(Debug, Default)]
pub(crate) struct Index {
    postings: BTreeMap<String, BTreeMap<String, Vec<SeriesRef>>>,
}

impl Index {
    pub(crate) fn add(&mut self, r: SeriesRef, labels: &Labels) {
        for (name, value) in labels.iter() {
            let values = match self.postings.get_mut(name) {
                Some(v) => v,
                None => self.postings.entry(name.to_string()).or_default(),
            };
            let list = match values.get_mut(value) {
                Some(l) => l,
                None => values.entry(value.to_string()).or_default(),
            };
            // Refs are mostly handed out in increasing order; replay may insert anywhere.
            match list.last() {
                Some(last) if *last >= r => {
                    if let Err(i) = list.binary_search(&r) {
                        list.insert(i, r);
                    }
                }
                _ => list.push(r),
            }
        }
    }

    /// Removes series `removed` (sorted by ref), dropping lists and names left empty.
    pub(crate) fn remove(&mut self, removed: &[(SeriesRef, Labels)]) {
        let mut by_pair: BTreeMap<(&str, &str), Vec<SeriesRef>> = BTreeMap::new();
        for (r, labels) in removed {
            for pair in labels.iter() {
                by_pair.entry(pair).or_default().push(*r);
            }
        }
        for ((name, value), refs) in by_pair {
            let Some(values) = self.postings.get_mut(name) else {
                continue;
            };
            if let Some(list) = values.get_mut(value) {
                list.retain(|r| refs.binary_search(r).is_err());
                if list.is_empty() {
                    values.remove(value);
                } else if list.capacity() > 2 * list.len() + 4 {
                    list.shrink_to_fit();
                }
            }
            if values.is_empty() {
                self.postings.remove(name);
            }
        }
    }

    pub(crate) fn label_names(&self) -> Vec<String> {
        self.postings.keys().cloned().collect()
    }

    pub(crate) fn label_values(&self, name: &str) -> Vec<String> {
        self.postings
            .get(name)
            .map(|v| v.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Returns the refs of series matching all `matchers`, sorted; `all` lists every series
    /// for when no matcher narrows the set (each only matches series missing its label).
    pub(crate) fn select(
        &self,
        matchers: &[Matcher],
        all: impl FnOnce() -> Vec<SeriesRef>,
    ) -> Vec<SeriesRef> {
        let mut result: Option<Vec<SeriesRef>> = None;
        // Narrowing matchers first: those that do not match the empty value need the label.
        for m in matchers.iter().filter(|m| !m.matches("")) {
            let set = match m {
                Matcher::Equal { name, value } => self
                    .postings
                    .get(name.as_str())
                    .and_then(|v| v.get(value.as_str()))
                    .cloned()
                    .unwrap_or_default(),
                _ => self.union_where(m.name(), |v| m.matches(v)),
            };
            result = Some(match result {
                None => set,
                Some(acc) => intersect(&acc, &set),
            });
            if result.as_ref().is_some_and(Vec::is_empty) {
                return Vec::new();
            }
        }
        let mut acc = result.unwrap_or_else(all);
        // Matchers that accept a missing label exclude series whose value does not match.
        for m in matchers.iter().filter(|m| m.matches("")) {
            let exclude = self.union_where(m.name(), |v| !m.matches(v));
            if !exclude.is_empty() {
                acc = subtract(&acc, &exclude);
            }
        }
        acc
    }

    /// Returns the sorted union of the postings of `name`'s values that pass `keep`.
    fn union_where(&self, name: &str, keep: impl Fn(&str) -> bool) -> Vec<SeriesRef> {
        let Some(values) = self.postings.get(name) else {
            return Vec::new();
        };
        let mut lists = values.iter().filter(|(v, _)| keep(v)).map(|(_, l)| l);
        let Some(first) = lists.next() else {
            return Vec::new();
        };
        let mut out = first.clone();
        let mut more = false;
        for l in lists {
            out.extend_from_slice(l);
            more = true;
        }
        if more {
            out.sort_unstable();
            out.dedup();
        }
        out
    }

    /// Returns the approximate heap bytes of the index.
    pub(crate) fn mem_bytes(&self) -> usize {
        // A B-tree entry costs its key and value plus roughly a pointer of node overhead.
        const ENTRY: usize = 8;
        let mut n = 0;
        for (name, values) in &self.postings {
            n += std::mem::size_of::<(String, BTreeMap<String, Vec<SeriesRef>>)>()
                + ENTRY
                + name.capacity();
            for (value, list) in values {
                n += std::mem::size_of::<(String, Vec<SeriesRef>)>() + ENTRY + value.capacity();
                n += list.capacity() * std::mem::size_of::<SeriesRef>();
            }
        }
        n
    }
}

fn intersect(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    let (small, large) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(small.len());
    let (mut i, mut j) = (small.iter().peekable(), large.iter().peekable());
    while let (Some(x), Some(y)) = (i.peek(), j.peek()) {
        match x.cmp(y) {
            std::cmp::Ordering::Less => {
                i.next();
            }
            std::cmp::Ordering::Greater => {
                j.next();
            }
            std::cmp::Ordering::Equal => {
                out.push(**x);
                i.next();
                j.next();
            }
        }
    }
    out
}

fn subtract(a: &[SeriesRef], b: &[SeriesRef]) -> Vec<SeriesRef> {
    a.iter()
        .copied()
        .filter(|r| b.binary_search(r).is_err())
        .collect()
}
