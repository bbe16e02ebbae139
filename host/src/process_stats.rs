//! This process's memory and page-fault counters, and a child's CPU time,
//! from Linux's /proc (None elsewhere): what `bench-train` and `train`
//! report beside their speed, and what an idle virtual board costs.

/// Peak resident memory of this process so far, in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The fields of /proc/`pid`/stat after the command name (which is in
/// parentheses and may hold spaces): field n of the whole line is n - 3 here.
fn stat_fields(pid: &str) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The first field after the name is the state letter, kept as 0.
    Some(stat[stat.rfind(')')? + 1..].split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
}

/// Minor page faults of this process so far.
pub fn minor_faults() -> Option<u64> {
    // minflt is field 10 of the whole line.
    stat_fields("self")?.get(7).copied()
}

/// CPU time (user + system) process `pid` has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let fields = stat_fields(&pid.to_string())?;
    // utime and stime are fields 14 and 15, in clock ticks.
    let ticks = fields.get(11)? + fields.get(12)?;
    // SAFETY: sysconf only reads a constant of the C library.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    (per_second > 0).then(|| ticks as f64 / per_second as f64)
}

/// "1234 MiB", or "unknown" where /proc is not there.
pub fn peak_rss_text() -> String {
    peak_rss_mib().map_or("unknown".into(), |r| format!("{r:.0} MiB"))
}
