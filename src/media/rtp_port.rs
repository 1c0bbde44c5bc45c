//! RTP ports: one UDP socket per call, on an even port of the configured range (RFC 3550
//! section 11: RTP on even ports, RTCP on the next odd one).

use std::net::UdpSocket;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};

/// Hands out even ports of `[min, max]` round-robin, so a port just freed is not reused at once.
#[derive(Debug)]
pub struct PortPool {
    ip: IpAddr,
    min: u16,
    slots: u32,
    next: AtomicU32,
}

impl PortPool {
    pub fn new(ip: IpAddr, min: u16, max: u16) -> Self {
        let min = min + (min % 2);
        let slots = u32::from(max.saturating_sub(min) / 2 + 1);
        Self { ip, min, slots, next: AtomicU32::new(0) }
    }

    /// Number of even ports in the range.
    pub fn capacity(&self) -> u32 {
        self.slots
    }

    /// Bind a non-blocking socket on the next free even port; fails when every port is taken.
    /// (Not a tokio socket: the media threads, not the runtime, read and write it.)
    pub fn bind(&self) -> std::io::Result<UdpSocket> {
        for _ in 0..self.slots {
            let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots;
            let port = self.min + (slot * 2) as u16;
            match UdpSocket::bind(SocketAddr::new(self.ip, port)) {
                Ok(s) => {
                    s.set_nonblocking(true)?;
                    return Ok(s);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(e) => return Err(e),
            }
        }
        Err(std::io::Error::new(std::io::ErrorKind::AddrInUse, "every RTP port of the range is in use"))
    }
}

/// The RTCP socket of the RTP socket `rtp`: the next (odd) port, non-blocking; none when it is
/// taken (the leg then goes without reports).
pub fn rtcp_beside(rtp: &UdpSocket) -> Option<UdpSocket> {
    let at = rtp.local_addr().ok()?;
    let socket = UdpSocket::bind(SocketAddr::new(at.ip(), at.port().checked_add(1)?)).ok()?;
    socket.set_nonblocking(true).ok()?;
    Some(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_round_robin_and_exhaustion() {
        let pool = PortPool::new("127.0.0.1".parse().unwrap(), 41001, 41006);
        assert_eq!(pool.capacity(), 3);
        let a = pool.bind().unwrap();
        let b = pool.bind().unwrap();
        let c = pool.bind().unwrap();
        let ports: Vec<u16> = [&a, &b, &c].iter().map(|s| s.local_addr().unwrap().port()).collect();
        assert_eq!(ports, [41002, 41004, 41006]);
        assert!(pool.bind().is_err(), "all three taken");
        drop(b);
        assert_eq!(pool.bind().unwrap().local_addr().unwrap().port(), 41004);
    }
}
