//! The WAL directory: file names of segments (`00000001.wal`), checkpoints
//! (`checkpoint.00000001`) and their temporaries, listing them, and fsyncing the directory.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::WalError;

const SEGMENT_SUFFIX: &str = ".wal";
const CHECKPOINT_PREFIX: &str = "checkpoint.";
const TEMP_SUFFIX: &str = ".tmp";

/// A segment file found in the WAL directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentInfo {
    /// The segment's sequence number.
    pub number: u64,
    /// The file's size in bytes.
    pub bytes: u64,
    /// The file's path.
    pub path: PathBuf,
}

pub(crate) fn segment_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:08}{SEGMENT_SUFFIX}"))
}

pub(crate) fn checkpoint_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{CHECKPOINT_PREFIX}{number:08}"))
}

pub(crate) fn checkpoint_temp_path(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{CHECKPOINT_PREFIX}{number:08}{TEMP_SUFFIX}"))
}

/// Parses a run of ASCII digits (zero-padded to at least 8 when we write it; any width read).
fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

pub(crate) fn parse_segment_name(name: &str) -> Option<u64> {
    parse_number(name.strip_suffix(SEGMENT_SUFFIX)?)
}

pub(crate) fn parse_checkpoint_name(name: &str) -> Option<u64> {
    parse_number(name.strip_prefix(CHECKPOINT_PREFIX)?)
}

pub(crate) fn parse_checkpoint_temp_name(name: &str) -> Option<u64> {
    parse_number(
        name.strip_prefix(CHECKPOINT_PREFIX)?
            .strip_suffix(TEMP_SUFFIX)?,
    )
}

/// Returns the number from a file name, if `path` names a checkpoint.
pub(crate) fn checkpoint_number_of(path: &Path) -> Option<u64> {
    parse_checkpoint_name(path.file_name()?.to_str()?)
}

/// A regular file in the WAL directory, by name.
pub(crate) struct DirEntry {
    pub(crate) name: String,
    pub(crate) path: PathBuf,
    pub(crate) bytes: u64,
}

/// Lists regular files with UTF-8 names; a missing directory is empty.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<DirEntry>, WalError> {
    let list_err = |source| WalError::ListDir {
        dir: dir.to_path_buf(),
        source,
    };
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(list_err(err)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(list_err)?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let meta = match entry.metadata() {
            Ok(meta) => meta,
            // Removed between readdir and stat (e.g. a concurrent checkpoint cleanup).
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(list_err(err)),
        };
        if meta.is_file() {
            out.push(DirEntry {
                name,
                path: entry.path(),
                bytes: meta.len(),
            });
        }
    }
    Ok(out)
}

/// Returns the segments in `dir`, oldest first; a missing directory has none.
///
/// # Errors
///
/// [`WalError::ListDir`] if the directory cannot be read.
pub fn list_segments(dir: impl AsRef<Path>) -> Result<Vec<SegmentInfo>, WalError> {
    let mut segments: Vec<SegmentInfo> = read_dir(dir.as_ref())?
        .into_iter()
        .filter_map(|e| {
            Some(SegmentInfo {
                number: parse_segment_name(&e.name)?,
                bytes: e.bytes,
                path: e.path,
            })
        })
        .collect();
    segments.sort_by_key(|s| s.number);
    Ok(segments)
}

/// Makes creations, renames and removals in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        fs::File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened as files here; metadata is committed with the files.
        let _ = dir;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/x");
        let seg = segment_path(dir, 7);
        assert_eq!(seg, Path::new("/x/00000007.wal"));
        assert_eq!(parse_segment_name("00000007.wal"), Some(7));
        assert_eq!(parse_segment_name("123456789.wal"), Some(123_456_789));
        assert_eq!(checkpoint_number_of(&checkpoint_path(dir, 9)), Some(9));
        assert_eq!(checkpoint_number_of(&checkpoint_temp_path(dir, 9)), None);
        assert_eq!(
            parse_checkpoint_temp_name("checkpoint.00000009.tmp"),
            Some(9)
        );
    }

    #[test]
    fn foreign_names_are_ignored() {
        for name in [
            "x.wal",
            ".wal",
            "0001.wal.bak",
            "+1.wal",
            "checkpoint.",
            "checkpoint.1a",
        ] {
            assert_eq!(parse_segment_name(name), None, "{name}");
            assert_eq!(parse_checkpoint_name(name), None, "{name}");
        }
    }

    #[test]
    fn missing_dir_lists_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(list_segments(tmp.path().join("absent")).unwrap().is_empty());
    }
}
