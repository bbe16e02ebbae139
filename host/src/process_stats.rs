//! This process's memory and page-fault counters, from Linux's /proc (None
//! elsewhere): what `bench-train` and `train` report beside their speed.

/// Peak resident memory of this process so far, in MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Minor page faults of this process so far.
pub fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // minflt is field 10 of the whole line, the 8th after the name.
    fields.get(7)?.parse().ok()
}

/// "1234 MiB", or "unknown" where /proc is not there.
pub fn peak_rss_text() -> String {
    peak_rss_mib().map_or("unknown".into(), |r| format!("{r:.0} MiB"))
}
