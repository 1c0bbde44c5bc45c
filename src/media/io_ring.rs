//! Batched UDP I/O on io_uring for the media threads: no system call per packet. Each watched
//! socket has one multishot `recvmsg` armed, whose datagrams land in a ring of buffers the
//! kernel picks from; sends are queued, and one `io_uring_enter` per round submits them all,
//! runs the receives that arrived meanwhile and waits for the next ones (at least
//! [`IoRing::wait`]'s `coalesce`, unless a full batch is ready: the interrupt coalescing the
//! epoll receiver does with a sleep). On loopback this halves the CPU per relayed packet of
//! epoll + `recvfrom` + `sendto` (docs/benchmarks.md).
//!
//! Written on the `io-uring` crate's raw queues rather than on tokio-uring or monoio: those are
//! async runtimes with a future per operation, where the media threads need a synchronous loop
//! that takes a batch of completions and queues a batch of sends per system call.
//!
//! Needs Linux 6.1 (multishot `recvmsg`, provided-buffer rings, deferred task work);
//! [`IoRing::new`] fails on older kernels or where io_uring is disabled, and the caller falls
//! back to epoll. All the `unsafe` of the media plane's io_uring use is here.

use io_uring::{IoUring, cqueue, opcode, squeue, types};
use std::io;
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

/// Receive buffers in the ring (a power of two), and their size.
const RECV_BUFFERS: u16 = 1024;
const RECV_LEN: usize = 2048;
/// Send buffers; a packet finding none is dropped (counted as a send error).
const SEND_SLOTS: usize = 2048;
const SEND_LEN: usize = 2048;
/// The buffer group of the receive buffers.
const GROUP: u16 = 0;
/// Completions that end a wait before `coalesce` has passed.
const BATCH: usize = 256;

/// user_data of our own operations; socket tokens are below [`MAX_TOKEN`].
const SEND: u64 = 1 << 63;
const CANCEL: u64 = 1 << 62;
const WAKE: u64 = 1 << 61;
/// Tokens the caller may give sockets.
pub const MAX_TOKEN: u64 = 1 << 60;

/// What a round of completions brings.
pub enum Event<'a> {
    /// A datagram from `from` on the socket watched as `token`.
    Datagram { token: u64, from: SocketAddr, data: &'a [u8] },
    /// The socket watched as `token` is no longer read (unwatched, or the kernel ended the
    /// receive): watch it again if still wanted; otherwise it may now be closed.
    Ended { token: u64 },
    /// The wake-up descriptor was signalled (read it).
    Woken,
    /// A queued send failed.
    SendFailed,
}

/// One thread's ring.
pub struct IoRing {
    ring: IoUring,
    buffers: ProvidedBuffers,
    /// Asks for the source address with each datagram; read by the kernel for as long as
    /// receives are armed, so it lives on the heap at a fixed address.
    msghdr: Box<libc::msghdr>,
    slots: SendSlots,
    /// The kernel can end a wait early once `coalesce` has passed (Linux 6.12).
    min_wait: bool,
    wake: RawFd,
    /// Multishot operations (receives, the wake-up poll) whose last completion has not come.
    armed: usize,
    /// Being dropped: nothing is armed again.
    closing: bool,
}

// SAFETY: the raw pointers (the msghdr's, the buffer ring's) point into memory the ring owns;
// one thread at a time uses the ring, which needs no other thread's state.
unsafe impl Send for IoRing {}

impl IoRing {
    /// A ring that also watches `wake` (an eventfd) for readability.
    pub fn new(wake: RawFd) -> io::Result<IoRing> {
        let ring = IoUring::builder().setup_single_issuer().setup_defer_taskrun().setup_cqsize(8192).build(1024)?;
        let min_wait = ring.params().is_feature_min_timeout();
        if !ring.params().is_feature_ext_arg() || !ring.params().is_feature_nodrop() {
            return Err(io::Error::other("io_uring without the needed features (Linux 6.1)"));
        }
        let buffers = ProvidedBuffers::new(&ring)?;
        let mut msghdr: Box<libc::msghdr> = Box::new(
            // SAFETY: msghdr is plain data; all zeroes is its empty value.
            unsafe { std::mem::zeroed() },
        );
        msghdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
        let mut this =
            IoRing { ring, buffers, msghdr, slots: SendSlots::new(), min_wait, wake, armed: 0, closing: false };
        this.arm_wake()?;
        // Probe the multishot receive now, so an old kernel fails here, not on the first call.
        this.ring.submit()?;
        Ok(this)
    }

    fn push(&mut self, entry: &squeue::Entry) -> io::Result<()> {
        // SAFETY: every entry's pointers (msghdr, buffers, send slots) outlive the ring.
        if unsafe { self.ring.submission().push(entry) }.is_err() {
            self.ring.submit()?;
            // SAFETY: as above.
            unsafe { self.ring.submission().push(entry) }.map_err(|_| io::Error::other("io_uring queue full"))?;
        }
        Ok(())
    }

    fn arm_wake(&mut self) -> io::Result<()> {
        let e = opcode::PollAdd::new(types::Fd(self.wake), libc::POLLIN as u32).multi(true).build().user_data(WAKE);
        self.push(&e)?;
        self.armed += 1;
        Ok(())
    }

    /// Read the datagrams of socket `fd` as `token` (below [`MAX_TOKEN`]) until [`Self::unwatch`].
    /// The socket must stay open until its [`Event::Ended`].
    pub fn watch(&mut self, fd: RawFd, token: u64) -> io::Result<()> {
        debug_assert!(token < MAX_TOKEN);
        let e = opcode::RecvMsgMulti::new(types::Fd(fd), &*self.msghdr, GROUP).build().user_data(token);
        self.push(&e)?;
        self.armed += 1;
        Ok(())
    }

    /// Stop reading the socket watched as `token`; its [`Event::Ended`] follows.
    pub fn unwatch(&mut self, token: u64) -> io::Result<()> {
        let e = opcode::AsyncCancel::new(token).build().user_data(CANCEL);
        self.push(&e)
    }

    /// Submit what is queued and wait for completions: at least `coalesce` (when the kernel
    /// can), unless [`BATCH`] of them are ready first; at most `timeout`.
    pub fn wait(&mut self, coalesce: Duration, timeout: Duration) -> io::Result<()> {
        let ts = types::Timespec::from(timeout);
        let args = types::SubmitArgs::new().timespec(&ts);
        let result = if self.min_wait {
            let args = args.min_wait_usec(coalesce.as_micros() as u32);
            self.ring.submitter().submit_with_args(BATCH, &args)
        } else {
            self.ring.submitter().submit_with_args(1, &args)
        };
        match result {
            Ok(_) => Ok(()),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ETIME | libc::EINTR | libc::EBUSY)) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Whether [`Self::wait`] coalesces by itself (otherwise the caller pauses between rounds).
    pub fn coalesces(&self) -> bool {
        self.min_wait
    }

    /// Hand every completion to `handle`, which may queue sends; returns how many there were.
    pub fn complete(&mut self, mut handle: impl FnMut(Event<'_>, &mut Sender<'_>)) -> usize {
        let (submitter, sq, mut cq) = self.ring.split();
        cq.sync();
        let mut sender = Sender { submitter, sq, slots: &mut self.slots };
        let mut count = 0;
        let mut rearm_wake = false;
        for cqe in &mut cq {
            count += 1;
            let (data, result, flags) = (cqe.user_data(), cqe.result(), cqe.flags());
            if data & SEND != 0 {
                sender.slots.free.push((data & !SEND) as usize);
                if result < 0 {
                    handle(Event::SendFailed, &mut sender);
                }
            } else if data == WAKE {
                if !cqueue::more(flags) {
                    self.armed -= 1;
                    rearm_wake = true;
                }
                handle(Event::Woken, &mut sender);
            } else if data == CANCEL {
            } else {
                if let Some(bid) = cqueue::buffer_select(flags) {
                    if result > 0 {
                        let buffer = self.buffers.get(bid, result as usize);
                        if let Ok(out) = types::RecvMsgOut::parse(buffer, &self.msghdr)
                            && !out.is_payload_truncated()
                            && let Some(from) = socket_addr(out.name_data())
                        {
                            handle(Event::Datagram { token: data, from, data: out.payload_data() }, &mut sender);
                        }
                    }
                    self.buffers.give_back(bid);
                }
                if !cqueue::more(flags) {
                    self.armed -= 1;
                    handle(Event::Ended { token: data }, &mut sender);
                }
            }
        }
        drop(sender);
        cq.sync();
        drop(cq);
        self.buffers.publish();
        if rearm_wake
            && !self.closing
            && let Err(e) = self.arm_wake()
        {
            tracing::warn!(error = %e, "media io_uring: cannot watch the wake-up again");
        }
        count
    }
}

impl Drop for IoRing {
    fn drop(&mut self) {
        // The kernel may write into the buffers until every operation has ended: cancel them
        // all and wait (bounded) for the last completion before the memory goes.
        self.closing = true;
        let cancel = opcode::AsyncCancel2::new(types::CancelBuilder::any()).build().user_data(CANCEL);
        if self.push(&cancel).is_ok() {
            for _ in 0..100 {
                let _ = self.wait(Duration::ZERO, Duration::from_millis(10));
                self.complete(|_, _| {});
                // In-flight sends hold their slots.
                if self.armed == 0 && self.slots.free.len() == SEND_SLOTS {
                    return;
                }
            }
        }
        self.buffers.leak();
        std::mem::forget(std::mem::take(&mut self.slots.memory));
        std::mem::forget(std::mem::take(&mut self.slots.addrs));
    }
}

/// Queues sends during [`IoRing::complete`].
pub struct Sender<'a> {
    submitter: io_uring::Submitter<'a>,
    sq: io_uring::SubmissionQueue<'a>,
    slots: &'a mut SendSlots,
}

impl Sender<'_> {
    /// Queue a datagram to `to` on socket `fd`, written by `write` into a buffer of
    /// [`SEND_LEN`] bytes (it returns the length, or `None` to send nothing). False when it
    /// could not be queued (no buffer free, or the queue would not take it).
    pub fn send(&mut self, fd: RawFd, to: SocketAddr, write: impl FnOnce(&mut [u8]) -> Option<usize>) -> bool {
        let Some(slot) = self.slots.free.pop() else { return false };
        let Some(len) = write(self.slots.buffer(slot)) else {
            self.slots.free.push(slot);
            return true;
        };
        self.slots.addrs[slot] = socket2::SockAddr::from(to);
        let data = self.slots.buffer(slot).as_ptr();
        let addr = &self.slots.addrs[slot];
        let entry = opcode::Send::new(types::Fd(fd), data, len as u32)
            .dest_addr(addr.as_ptr().cast())
            .dest_addr_len(addr.len())
            .build()
            .user_data(SEND | slot as u64);
        if self.sq.is_full() {
            self.sq.sync();
            let _ = self.submitter.submit();
            self.sq.sync();
        }
        // SAFETY: the slot's buffer and address stay put until the send's completion frees it.
        if unsafe { self.sq.push(&entry) }.is_err() {
            self.slots.free.push(slot);
            return false;
        }
        true
    }
}

/// The buffers of outgoing packets, each busy from its send until that send's completion.
struct SendSlots {
    memory: Vec<u8>,
    addrs: Vec<socket2::SockAddr>,
    free: Vec<usize>,
}

impl SendSlots {
    fn new() -> Self {
        let unspecified = socket2::SockAddr::from(SocketAddr::from(([0, 0, 0, 0], 0)));
        Self {
            memory: vec![0; SEND_SLOTS * SEND_LEN],
            addrs: vec![unspecified; SEND_SLOTS],
            free: (0..SEND_SLOTS).rev().collect(),
        }
    }

    fn buffer(&mut self, slot: usize) -> &mut [u8] {
        &mut self.memory[slot * SEND_LEN..(slot + 1) * SEND_LEN]
    }
}

/// The ring of receive buffers the kernel fills (a provided-buffer ring): entries in a
/// page-aligned mapping shared with the kernel, the buffers in `memory`.
struct ProvidedBuffers {
    entries: *mut types::BufRingEntry,
    memory: Vec<u8>,
    /// Our tail (published to the kernel by [`Self::publish`]).
    tail: u16,
}

impl ProvidedBuffers {
    fn new(ring: &IoUring) -> io::Result<Self> {
        let size = RECV_BUFFERS as usize * std::mem::size_of::<types::BufRingEntry>();
        // SAFETY: an anonymous private mapping, checked below; page-aligned as the kernel needs.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                size,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut this = Self { entries: map.cast(), memory: vec![0; RECV_BUFFERS as usize * RECV_LEN], tail: 0 };
        // SAFETY: the mapping holds RECV_BUFFERS entries and lives until this is dropped, after
        // the ring (the ring is dropped first: IoRing's fields drop in order).
        unsafe { ring.submitter().register_buf_ring_with_flags(this.entries as u64, RECV_BUFFERS, GROUP, 0)? };
        for bid in 0..RECV_BUFFERS {
            this.give_back(bid);
        }
        this.publish();
        Ok(this)
    }

    /// The first `len` bytes of buffer `bid`.
    fn get(&self, bid: u16, len: usize) -> &[u8] {
        let start = bid as usize * RECV_LEN;
        &self.memory[start..start + len.min(RECV_LEN)]
    }

    fn give_back(&mut self, bid: u16) {
        let start = bid as usize * RECV_LEN;
        let addr = self.memory[start..].as_ptr() as u64;
        // SAFETY: the index is masked into the mapping; the kernel reads entries only up to the
        // published tail, and this one is past it.
        let entry = unsafe { &mut *self.entries.add((self.tail & (RECV_BUFFERS - 1)) as usize) };
        entry.set_addr(addr);
        entry.set_len(RECV_LEN as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    fn publish(&self) {
        // SAFETY: the tail field lives in the first entry of our mapping; the kernel reads it
        // with acquire ordering.
        unsafe { AtomicU16::from_ptr(types::BufRingEntry::tail(self.entries).cast_mut()) }
            .store(self.tail, Ordering::Release);
    }

    /// The kernel may still use the buffers: never free them.
    fn leak(&mut self) {
        std::mem::forget(std::mem::take(&mut self.memory));
        self.entries = std::ptr::null_mut();
    }
}

impl Drop for ProvidedBuffers {
    fn drop(&mut self) {
        if !self.entries.is_null() {
            let size = RECV_BUFFERS as usize * std::mem::size_of::<types::BufRingEntry>();
            // SAFETY: our own mapping, no longer registered (the ring is gone).
            unsafe { libc::munmap(self.entries.cast(), size) };
        }
    }
}

/// The source address the kernel wrote for a datagram.
fn socket_addr(name: &[u8]) -> Option<SocketAddr> {
    let family = u16::from_ne_bytes(name.get(..2)?.try_into().ok()?);
    match family as i32 {
        libc::AF_INET if name.len() >= std::mem::size_of::<libc::sockaddr_in>() => {
            // SAFETY: long enough, read unaligned.
            let a = unsafe { name.as_ptr().cast::<libc::sockaddr_in>().read_unaligned() };
            Some(SocketAddrV4::new(u32::from_be(a.sin_addr.s_addr).into(), u16::from_be(a.sin_port)).into())
        }
        libc::AF_INET6 if name.len() >= std::mem::size_of::<libc::sockaddr_in6>() => {
            // SAFETY: long enough, read unaligned.
            let a = unsafe { name.as_ptr().cast::<libc::sockaddr_in6>().read_unaligned() };
            let ip = a.sin6_addr.s6_addr.into();
            Some(SocketAddrV6::new(ip, u16::from_be(a.sin6_port), a.sin6_flowinfo, a.sin6_scope_id).into())
        }
        _ => None,
    }
}
