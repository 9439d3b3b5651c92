//! blazar-wal: write-ahead log: CRC-framed records in size-bounded segments, fsync policy, checkpoints
