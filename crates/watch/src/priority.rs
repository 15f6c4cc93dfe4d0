//! Scheduling priority of the daemon's background threads.

/// How much less the background threads weigh than the reading and scoring ones, as a
/// nice increment: at 10, a busy background thread gets about a tenth of the share of
/// a busy scoring thread on a shared core.
pub const BACKGROUND_NICE: i32 = 10;

/// Lowers the calling thread's scheduling priority by [`BACKGROUND_NICE`] (up to the
/// lowest, nice 19).
///
/// For threads whose work can wait a little: delivering queued alerts, writing the
/// store. On a loaded machine the scheduler then gives the cores to reading and
/// scoring, which must keep up with the traffic; the background threads catch up
/// whenever those wait, as their queues are durable (outboxes) or bounded and counted
/// (the store). On Linux the nice value is per thread; elsewhere, or when the system
/// refuses, nothing changes.
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: getpriority and setpriority only read and set the calling thread's nice
    // value (`who` 0 with PRIO_PROCESS is the calling thread on Linux).
    unsafe {
        *libc::__errno_location() = 0;
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        if current == -1 && *libc::__errno_location() != 0 {
            return;
        }
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, (current + BACKGROUND_NICE).min(19));
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice() -> i32 {
        // SAFETY: reads the calling thread's nice value.
        unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
    }

    #[test]
    fn only_the_calling_thread_is_lowered() {
        let before = nice();
        let lowered = std::thread::spawn(|| {
            let start = nice();
            lower_thread_priority();
            (start, nice())
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before, (before + BACKGROUND_NICE).min(19)));
        assert_eq!(nice(), before);
    }
}
