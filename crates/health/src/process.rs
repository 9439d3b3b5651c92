//! Process watch: liveness, CPU and memory of a service's process, found by name or pid file.

use std::ffi::OsStr;
use std::io::Read;
use std::path::Path;

use blazar_config::ProcessWatch;
use serde::Serialize;
use sysinfo::{
    Pid, Process, ProcessRefreshKind, ProcessStatus, ProcessesToUpdate, System, ThreadKind,
    UpdateKind,
};

/// Most bytes read from a pid file; a pid is a few digits.
const MAX_PID_FILE: u64 = 64;

/// Linux keeps a process name (`comm`) to this many bytes.
const COMM_LEN: usize = 15;

/// One look at a watched process.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProcessSample {
    /// The process found (the oldest, when a name matches several).
    pub pid: Option<u32>,
    pub alive: bool,
    /// CPU use since the previous sample, in percent of one core.
    pub cpu_percent: f64,
    /// Resident memory.
    pub memory_bytes: u64,
    /// Why it is not alive, when it is not.
    pub message: String,
}

impl ProcessSample {
    fn dead(pid: Option<u32>, message: String) -> Self {
        Self {
            pid,
            alive: false,
            cpu_percent: 0.0,
            memory_bytes: 0,
            message,
        }
    }

    fn of(p: &Process) -> Self {
        Self {
            pid: Some(p.pid().as_u32()),
            alive: true,
            cpu_percent: f64::from(p.cpu_usage()),
            memory_bytes: p.memory(),
            message: String::new(),
        }
    }
}

/// Samples watched processes; keeps what CPU accounting needs between calls. Blocking: call
/// from a blocking thread.
pub struct ProcessWatcher {
    // Kept between samples: a process's CPU percent is the difference between two refreshes.
    system: System,
    /// Whether the last refresh read every process (so `system` holds them all).
    refreshed_all: bool,
}

impl std::fmt::Debug for ProcessWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessWatcher")
            .field("processes", &self.system.processes().len())
            .finish()
    }
}

impl Default for ProcessWatcher {
    fn default() -> Self {
        Self::new()
    }
}

/// What one watch resolved to before the process table is read.
enum Target<'a> {
    Name(&'a str),
    Pid { pid: u32, file: &'a str },
    Unreadable(String),
}

impl ProcessWatcher {
    /// Creates a watcher. Stops `sysinfo` (process-wide) from keeping every process's
    /// `/proc/<pid>/stat` open between refreshes: a name search reads every process and
    /// thread on the host, and a server needs its descriptors for sockets.
    pub fn new() -> Self {
        sysinfo::set_open_files_limit(0);
        Self {
            system: System::new(),
            refreshed_all: false,
        }
    }

    /// Samples every watch in one pass over the process table; results in `watches` order.
    pub fn sample(&mut self, watches: &[&ProcessWatch]) -> Vec<ProcessSample> {
        let targets: Vec<Target<'_>> = watches
            .iter()
            .map(|w| match w {
                ProcessWatch::Name(name) => Target::Name(name),
                ProcessWatch::PidFile(file) => match read_pid_file(file) {
                    Ok(pid) => Target::Pid { pid, file },
                    Err(why) => Target::Unreadable(why),
                },
            })
            .collect();
        self.refresh(&targets);
        targets.iter().map(|t| self.look(t)).collect()
    }

    /// Refreshes once for all targets: every process when a name must be searched, else only
    /// the pids named by pid files.
    fn refresh(&mut self, targets: &[Target<'_>]) {
        let by_name = targets.iter().any(|t| matches!(t, Target::Name(_)));
        let kind = ProcessRefreshKind::nothing().with_cpu().with_memory();
        if by_name {
            // The executable is read once per process, for names `comm` cut to 15 bytes.
            let kind = kind.with_exe(UpdateKind::OnlyIfNotSet);
            self.system
                .refresh_processes_specifics(ProcessesToUpdate::All, true, kind);
            self.refreshed_all = true;
            return;
        }
        let pids: Vec<Pid> = targets
            .iter()
            .filter_map(|t| match t {
                Target::Pid { pid, .. } => Some(Pid::from_u32(*pid)),
                _ => None,
            })
            .collect();
        if self.refreshed_all {
            // Drop the whole table a name search left: only these pids are kept fresh now.
            self.system = System::new();
            self.refreshed_all = false;
        }
        if !pids.is_empty() {
            self.system
                .refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        }
    }

    fn look(&self, target: &Target<'_>) -> ProcessSample {
        match target {
            Target::Unreadable(why) => ProcessSample::dead(None, why.clone()),
            Target::Pid { pid, file } => match self.system.process(Pid::from_u32(*pid)) {
                None => {
                    ProcessSample::dead(None, format!("pid {pid} (from {file}) is not running"))
                }
                Some(p) if !is_running(p) => ProcessSample::dead(
                    Some(*pid),
                    format!("pid {pid} (from {file}) has exited ({:?})", p.status()),
                ),
                Some(p) => ProcessSample::of(p),
            },
            Target::Name(name) => match self.find_by_name(name) {
                Some(p) => ProcessSample::of(p),
                None => ProcessSample::dead(None, format!("no running process named {name}")),
            },
        }
    }

    /// The oldest process called `name`, else the oldest whose executable is `name`.
    fn find_by_name(&self, name: &str) -> Option<&Process> {
        let candidates = || {
            self.system
                .processes()
                .values()
                .filter(|p| is_running(p) && p.thread_kind() != Some(ThreadKind::Userland))
        };
        let wanted = OsStr::new(name);
        oldest(candidates().filter(|p| p.name() == wanted))
            .or_else(|| oldest(candidates().filter(|p| exe_is(p, name) || cut_name_is(p, name))))
    }
}

/// Oldest start, then lowest pid: a service's main process, not the workers it forked.
fn oldest<'a>(it: impl Iterator<Item = &'a Process>) -> Option<&'a Process> {
    it.min_by_key(|p| (p.start_time(), p.pid().as_u32()))
}

/// A zombie has exited; only its parent has not reaped it yet.
fn is_running(p: &Process) -> bool {
    !matches!(p.status(), ProcessStatus::Zombie | ProcessStatus::Dead)
}

fn exe_is(p: &Process, name: &str) -> bool {
    let Some(file) = p.exe().and_then(Path::file_name) else {
        return false;
    };
    // Linux names a replaced binary `name (deleted)`; the service is still running.
    file == OsStr::new(name)
        || file
            .to_str()
            .and_then(|f| f.strip_suffix(" (deleted)"))
            .is_some_and(|f| f == name)
}

/// Linux cuts `comm` to 15 bytes, and another user's executable cannot be read, so a long
/// name also matches its first 15 bytes.
fn cut_name_is(p: &Process, name: &str) -> bool {
    cfg!(target_os = "linux")
        && name.len() > COMM_LEN
        && name
            .as_bytes()
            .get(..COMM_LEN)
            .is_some_and(|cut| p.name().as_encoded_bytes() == cut)
}

/// Reads the pid in `path`: the first line, trimmed.
fn read_pid_file(path: &str) -> Result<u32, String> {
    let cannot = |e: std::io::Error| format!("cannot read pid file {path}: {e}");
    let meta = std::fs::metadata(path).map_err(cannot)?;
    // A fifo or device would block or never end.
    if !meta.is_file() {
        return Err(format!("pid file {path} is not a regular file"));
    }
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PID_FILE).read_to_end(&mut buf))
        .map_err(cannot)?;
    let text = String::from_utf8_lossy(&buf);
    let first = text.lines().next().unwrap_or_default().trim();
    match first.parse::<u32>() {
        Ok(pid) if pid > 0 => Ok(pid),
        _ if first.is_empty() => Err(format!("pid file {path} is empty")),
        _ => Err(format!(
            "pid file {path} holds no pid: {:?}",
            first.chars().take(20).collect::<String>()
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use super::*;

    fn pid_file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        f
    }

    fn path_of(f: &tempfile::NamedTempFile) -> String {
        f.path().to_str().unwrap().to_string()
    }

    fn one(w: &mut ProcessWatcher, watch: &ProcessWatch) -> ProcessSample {
        let mut s = w.sample(&[watch]);
        assert_eq!(s.len(), 1);
        s.remove(0)
    }

    /// Polls until `f` holds (5 s at most), for changes the kernel makes on its own time.
    fn eventually(mut f: impl FnMut() -> bool) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    #[test]
    fn our_own_process_by_pid_file() {
        let f = pid_file(&format!("{}\n", std::process::id()));
        let watch = ProcessWatch::PidFile(path_of(&f));
        let mut w = ProcessWatcher::new();
        let s = one(&mut w, &watch);
        assert!(s.alive, "{s:?}");
        assert_eq!(s.pid, Some(std::process::id()));
        assert!(s.memory_bytes > 0, "{s:?}");
        assert!(s.message.is_empty(), "{s:?}");

        // Burn some CPU between samples: the second sample sees it.
        let spin = Instant::now();
        let mut x = 0u64;
        while spin.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let s = one(&mut w, &watch);
        assert!(s.alive, "{s:?}");
        assert!(s.cpu_percent > 0.0 && s.cpu_percent.is_finite(), "{s:?}");
    }

    #[test]
    fn bad_pid_files_say_why() {
        let mut w = ProcessWatcher::new();
        let garbage = pid_file("not a pid\n");
        let empty = pid_file("  \n");
        let zero = pid_file("0");
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone.pid").to_str().unwrap().to_string();
        let a_dir = dir.path().to_str().unwrap().to_string();
        let watches = [
            ProcessWatch::PidFile(path_of(&garbage)),
            ProcessWatch::PidFile(path_of(&empty)),
            ProcessWatch::PidFile(path_of(&zero)),
            ProcessWatch::PidFile(missing.clone()),
            ProcessWatch::PidFile(a_dir),
        ];
        let samples = w.sample(&watches.iter().collect::<Vec<_>>());
        assert_eq!(samples.len(), watches.len());
        for s in &samples {
            assert!(!s.alive, "{s:?}");
            assert_eq!(s.pid, None);
            assert!(!s.message.is_empty(), "{s:?}");
        }
        let messages: Vec<&str> = samples.iter().map(|s| s.message.as_str()).collect();
        assert!(messages[0].contains("holds no pid"), "{messages:?}");
        assert!(messages[1].contains("empty"), "{messages:?}");
        assert!(messages[2].contains("holds no pid"), "{messages:?}");
        assert!(messages[3].contains(&missing), "{messages:?}");
        assert!(messages[4].contains("not a regular file"), "{messages:?}");
    }

    #[test]
    fn a_pid_file_naming_an_exited_process() {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let f = pid_file(&pid.to_string());
        let s = one(
            &mut ProcessWatcher::new(),
            &ProcessWatch::PidFile(path_of(&f)),
        );
        assert!(!s.alive, "{s:?}");
        assert!(s.message.contains("not running"), "{s:?}");
    }

    /// A copy of `sleep` under a name no other process has (long enough for Linux to cut it).
    struct Sleeper {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        name: String,
    }

    impl Sleeper {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            // Unique within the first 15 bytes too, since tests run at once.
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!("bw{}x{n}-sleeper-copy", std::process::id());
            let path = dir.path().join(&name);
            let sleep = ["/bin/sleep", "/usr/bin/sleep"]
                .into_iter()
                .find(|p| Path::new(p).exists())
                .unwrap();
            std::fs::copy(sleep, &path).unwrap();
            Self {
                _dir: dir,
                path,
                name,
            }
        }

        fn spawn(&self) -> Child {
            // A concurrent fork may briefly hold the fresh copy open for writing (ETXTBSY).
            let mut tries = 0;
            loop {
                let spawned = Command::new(&self.path)
                    .arg("30")
                    .stdin(Stdio::null())
                    .spawn();
                match spawned {
                    Err(e) if e.raw_os_error() == Some(26) && tries < 50 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    other => return other.unwrap(),
                }
            }
        }
    }

    #[test]
    fn by_name_alive_then_gone() {
        let sleeper = Sleeper::new();
        let mut child = sleeper.spawn();
        let long = ProcessWatch::Name(sleeper.name.clone());
        let cut = ProcessWatch::Name(sleeper.name.get(..COMM_LEN).unwrap().to_string());
        let mut w = ProcessWatcher::new();
        let samples = w.sample(&[&long, &cut]);
        for s in &samples {
            assert!(s.alive, "{s:?}");
            assert_eq!(s.pid, Some(child.id()), "{s:?}");
        }

        child.kill().unwrap();
        child.wait().unwrap();
        let s = one(&mut w, &long);
        assert!(!s.alive, "{s:?}");
        assert_eq!(s.pid, None);
        assert!(s.message.contains(&sleeper.name), "{s:?}");
    }

    #[test]
    fn by_name_finds_a_sleep() {
        // Other `sleep`s may run on this machine, so only liveness is asserted.
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let s = one(
            &mut ProcessWatcher::new(),
            &ProcessWatch::Name("sleep".into()),
        );
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(s.alive, "{s:?}");
        assert!(s.pid.is_some(), "{s:?}");
    }

    #[test]
    fn by_name_picks_the_oldest() {
        let sleeper = Sleeper::new();
        let mut first = sleeper.spawn();
        // Start times count whole seconds.
        std::thread::sleep(Duration::from_millis(1200));
        let mut second = sleeper.spawn();
        let s = one(
            &mut ProcessWatcher::new(),
            &ProcessWatch::Name(sleeper.name.clone()),
        );
        for c in [&mut first, &mut second] {
            c.kill().unwrap();
            c.wait().unwrap();
        }
        assert_eq!(s.pid, Some(first.id()), "{s:?}");
    }

    #[test]
    fn a_zombie_is_not_alive() {
        let sleeper = Sleeper::new();
        let mut child = sleeper.spawn();
        let pid = child.id();
        let f = pid_file(&pid.to_string());
        let by_file = ProcessWatch::PidFile(path_of(&f));
        let by_name = ProcessWatch::Name(sleeper.name.clone());
        let mut w = ProcessWatcher::new();
        assert!(w.sample(&[&by_file, &by_name]).iter().all(|s| s.alive));
        // Killed but not reaped: a zombie until `wait`.
        child.kill().unwrap();
        let dead = eventually(|| w.sample(&[&by_file, &by_name]).iter().all(|s| !s.alive));
        child.wait().unwrap();
        assert!(dead, "{:?}", w.sample(&[&by_file, &by_name]));
    }

    #[test]
    fn a_name_nobody_has() {
        let s = one(
            &mut ProcessWatcher::new(),
            &ProcessWatch::Name("blazar-no-such-process-xyz".into()),
        );
        assert!(!s.alive, "{s:?}");
        assert_eq!(s.pid, None);
        assert!(s.message.contains("blazar-no-such-process-xyz"), "{s:?}");
    }

    #[test]
    fn switching_from_names_to_pid_files_keeps_working() {
        let f = pid_file(&std::process::id().to_string());
        let by_file = ProcessWatch::PidFile(path_of(&f));
        let by_name = ProcessWatch::Name("blazar-no-such-process-xyz".into());
        let mut w = ProcessWatcher::new();
        assert_eq!(w.sample(&[&by_name, &by_file]).len(), 2);
        let s = one(&mut w, &by_file);
        assert!(s.alive, "{s:?}");
        assert!(w.system.processes().len() < 10, "{w:?}");
        assert!(w.sample(&[]).is_empty());
    }

    #[test]
    fn a_name_search_does_not_hoard_descriptors() {
        // Every `System` in this test binary is made by `ProcessWatcher::new`.
        let stat_fds = || {
            std::fs::read_dir("/proc/self/fd")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter(|t| t.starts_with("/proc") && t.ends_with("stat"))
                .count()
        };
        let mut w = ProcessWatcher::new();
        w.sample(&[&ProcessWatch::Name("blazar-no-such-process-xyz".into())]);
        assert!(w.system.processes().len() > 1);
        assert!(stat_fds() < 5, "{} /proc/*/stat files open", stat_fds());
    }
}
