//! Trace analysis: issue patterns, critical path and bottleneck, the service graph.
