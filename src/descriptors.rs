//! File descriptors shared out at start-up: the open-file limit raised to its hard limit, then
//! room kept for the engine's own files, reloads and every call before HTTP connections get
//! theirs, so that idle HTTP clients can never make calls fail or a reload misread the trees.

/// Descriptors kept for the engine itself: stores, logs, journals, the SIP sockets and TCP
/// connections of phones, threads' epoll sets, and the files a reload reads.
pub const RESERVED: u64 = 256;
/// A call's descriptors at most: the caller's RTP socket, the operator leg's, and a SIP TCP
/// connection.
pub const PER_CALL: u64 = 3;
/// HTTP connections kept even when the limit is too low for everything (the console of a few
/// operators and an administrator).
pub const MIN_HTTP: u64 = 16;

/// How the descriptors are shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub calls: usize,
    pub http_connections: usize,
    /// False when `max_calls` had to be lowered to fit.
    pub calls_fit: bool,
}

/// Share `limit` descriptors between `max_calls` calls and at most `max_http` HTTP connections.
pub fn budget(limit: u64, max_calls: usize, max_http: usize) -> Budget {
    let for_calls = limit.saturating_sub(RESERVED + MIN_HTTP) / PER_CALL;
    let calls = (max_calls as u64).min(for_calls);
    let left = limit.saturating_sub(RESERVED + calls * PER_CALL);
    Budget {
        calls: calls as usize,
        http_connections: left.min(max_http as u64) as usize,
        calls_fit: calls == max_calls as u64,
    }
}

/// Raise the soft open-file limit to the hard one; the limit now.
pub fn raise_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_come_first_then_http_gets_the_rest() {
        // A generous limit: everything fits.
        assert_eq!(budget(1 << 20, 4000, 1024), Budget { calls: 4000, http_connections: 1024, calls_fit: true });
        // 20 000: 4 000 calls take 12 000, HTTP is capped by its own maximum.
        assert_eq!(budget(20_000, 4000, 1024).http_connections, 1024);
        // The common 1 024: calls are lowered to fit, HTTP keeps its minimum.
        let tight = budget(1024, 4000, 1024);
        assert_eq!(tight, Budget { calls: 250, http_connections: 18, calls_fit: false });
        assert!(RESERVED + tight.calls as u64 * PER_CALL + tight.http_connections as u64 <= 1024);
        // 100 calls in 1 024: HTTP gets what is left.
        assert_eq!(budget(1024, 100, 1024).http_connections, 1024 - 256 - 300);
    }
}
