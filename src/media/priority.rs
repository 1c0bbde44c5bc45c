//! Scheduling priority of the media threads: pacing and relaying are the engine's latency-bound
//! paths, so they may run ahead of ordinary threads.

pub use crate::config::ClockPriority;

/// Nice value of [`ClockPriority::Raised`].
const RAISED_NICE: libc::c_int = -10;

/// Apply `wanted` to the calling thread (`rt_level`: its SCHED_FIFO priority when real-time),
/// falling back as far as the privileges allow; returns what the thread got.
pub fn apply_priority(wanted: ClockPriority, rt_level: i32) -> ClockPriority {
    // SAFETY: plain syscalls on the calling thread (prctl, sched_setscheduler(0) and
    // setpriority on its own tid), with valid arguments.
    unsafe {
        // Wake within ~1 us of the instant asked rather than the default 50 us slack.
        libc::prctl(libc::PR_SET_TIMERSLACK, 1_000 as libc::c_ulong, 0, 0, 0);
        if wanted == ClockPriority::Realtime {
            let param = libc::sched_param { sched_priority: rt_level };
            if libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) == 0 {
                return ClockPriority::Realtime;
            }
        }
        if wanted != ClockPriority::Normal
            && libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, RAISED_NICE) == 0
        {
            return ClockPriority::Raised;
        }
    }
    ClockPriority::Normal
}
