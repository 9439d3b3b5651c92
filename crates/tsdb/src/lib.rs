//! blazar-tsdb: in-memory time-series store: interned series, inverted index, Gorilla chunks
