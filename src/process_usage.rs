//! What a piece of work cost this process, read from the OS: CPU time
//! (`getrusage`, all threads, user + system) and peak resident memory
//! (`VmHWM` in `/proc/self/status`, which Linux lets a process reset by
//! writing `5` to `/proc/self/clear_refs`). The sweep reads both around each
//! cell, so a cell's peak is its own, not that of the cells run before it in
//! the same process.

/// CPU seconds (user + system, every thread) this process has used so far.
pub fn cpu_seconds() -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// Start a new peak-memory window: the high-water mark falls to the current
/// resident size. False where the OS does not allow it (not Linux, or a
/// kernel before 4.0); the peak then covers the process's whole life.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Peak resident memory of this process since start or the last
/// [`reset_peak_rss`], in bytes (None where `/proc` is not there).
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status_field_kib(&status, "VmHWM:").map(|k| k * 1024)
}

fn status_field_kib(status: &str, field: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Bytes of the files directly in folder `dir` (its subfolders not
/// counted): a saved model, whose trainer keeps its working files
/// (checkpoints) in subfolders. 0 where it does not exist.
pub fn top_level_file_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_seconds();
        let mut x = 0u64;
        let t = std::time::Instant::now();
        while t.elapsed().as_millis() < 50 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(std::hint::black_box(1));
        }
        std::hint::black_box(x);
        assert!(cpu_seconds() > before, "a 50 ms busy loop used no CPU time");
    }

    #[test]
    fn peak_rss_sees_an_allocation_and_resets() {
        if !reset_peak_rss() {
            eprintln!("clear_refs not writable here: peak reset untested");
            return;
        }
        let base = peak_rss_bytes().expect("VmHWM");
        // Large beside anything the other (parallel) unit tests hold.
        let big = vec![1u8; 256 << 20];
        std::hint::black_box(&big);
        let with = peak_rss_bytes().unwrap();
        assert!(
            with >= base + (250 << 20),
            "peak {with} after 256 MiB, from {base}"
        );
        drop(big);
        assert!(reset_peak_rss());
        let after = peak_rss_bytes().unwrap();
        assert!(
            after + (128 << 20) < with,
            "peak {after} not reset from {with}"
        );
    }

    #[test]
    fn status_fields_parse_and_subfolders_are_not_counted() {
        let s = "Name:\tx\nVmHWM:\t  123456 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(status_field_kib(s, "VmHWM:"), Some(123456));
        assert_eq!(status_field_kib(s, "VmSwap:"), None);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), [0u8; 100]).unwrap();
        std::fs::create_dir(dir.path().join("checkpoints")).unwrap();
        std::fs::write(dir.path().join("checkpoints/b"), [0u8; 50]).unwrap();
        assert_eq!(top_level_file_bytes(dir.path()), 100);
        assert_eq!(top_level_file_bytes(&dir.path().join("missing")), 0);
    }
}
