//! CIDR blocks, as the baseline names allowed egress and the drift rules compare rules to it.
//! A leaf: no crate imports.

use std::net::IpAddr;

/// `10.0.0.0/16` or `::/0` as an address and a prefix length.
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, len) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let len: u8 = len.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

/// Whether CIDR `inner` lies within CIDR `outer` (same family).
pub fn cidr_within(inner: (IpAddr, u8), outer: (IpAddr, u8)) -> bool {
    fn bits(ip: IpAddr) -> (u128, u8) {
        match ip {
            IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
            IpAddr::V6(v) => (u128::from(v), 128),
        }
    }
    let ((a, wa), (b, wb)) = (bits(inner.0), bits(outer.0));
    if wa != wb || inner.1 < outer.1 {
        return false;
    }
    let shift = u32::from(wa - outer.1);
    let mask = |x: u128| x.checked_shr(shift).unwrap_or(0);
    mask(a) == mask(b)
}
