//! Scheduling priority of the media threads: pacing and relaying are the engine's latency-bound
//! paths, so they may run ahead of ordinary threads.

/// How the media threads (the clock's pacers, the receivers) ask the kernel for the CPU
/// (`rtp.clock_priority` in the config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ClockPriority {
    /// SCHED_FIFO at the lowest real-time priorities (pacers above receivers): a pacer is never
    /// preempted mid-slot by ordinary threads, a relayed packet never waits behind them (as Asterisk and FreeSWITCH run their timing threads). Falls back to
    /// `raised` without the privilege (CAP_SYS_NICE / root). The kernel's real-time throttling
    /// (95 % by default) still leaves the rest of the engine its share if the pacers overrun.
    #[default]
    Realtime,
    /// Nice -10: favoured by the ordinary scheduler, but it can still be preempted.
    Raised,
    /// The default priority of the process.
    Normal,
}

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
