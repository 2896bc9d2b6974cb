//! Does the home's router answer? One small probe shared by the live doctor (run on the
//! owner's machine when the hub does not answer) and the hub (measuring its own
//! network for its light and for the doctor's `hub_network`).
//!
//! A host "answers" when a TCP connection to one of a few ports a router usually serves
//! (DNS, its admin page) is accepted or actively refused: either way a machine replied.
//! A timeout or "no route" on every port means nothing is there. The gateway is the
//! default route's, read from `/proc/net/route` on Linux.

use std::io::ErrorKind;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

/// Ports a home router usually serves: DNS, its admin page over HTTP and HTTPS.
pub const ROUTER_PORTS: [u16; 3] = [53, 80, 443];

/// How long to wait for each port before counting it silent.
pub const PORT_TIMEOUT: Duration = Duration::from_millis(800);

/// The default route's gateway from the text of `/proc/net/route`; `None` when there
/// is no default route (the machine has no way out of its own link).
pub fn parse_default_gateway(route_table: &str) -> Option<Ipv4Addr> {
    route_table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let (destination, gateway, flags) = (cols.get(1)?, cols.get(2)?, cols.get(3)?);
        let flags = u32::from_str_radix(flags, 16).ok()?;
        const RTF_UP: u32 = 0x1;
        const RTF_GATEWAY: u32 = 0x2;
        if *destination != "00000000" || flags & (RTF_UP | RTF_GATEWAY) != RTF_UP | RTF_GATEWAY {
            return None;
        }
        // The kernel prints the address as a host-order (little-endian) hex word.
        let raw = u32::from_str_radix(gateway, 16).ok()?;
        Some(Ipv4Addr::from(raw.swap_bytes()))
    })
}

/// This machine's default gateway: `Ok(None)` when there is no default route,
/// `Err` when the routing table cannot be read (not Linux, say).
pub fn default_gateway() -> std::io::Result<Option<Ipv4Addr>> {
    Ok(parse_default_gateway(&std::fs::read_to_string(
        "/proc/net/route",
    )?))
}

/// Whether anything at `host` replies on one of `ports` within `timeout` each.
pub fn host_answers(host: IpAddr, ports: &[u16], timeout: Duration) -> bool {
    ports.iter().any(|port| {
        match TcpStream::connect_timeout(&SocketAddr::new(host, *port), timeout) {
            Ok(_) => true,
            Err(e) => e.kind() == ErrorKind::ConnectionRefused,
        }
    })
}

/// Whether the home's router answers: `router` if given (an owner or a test names
/// it), else the default gateway. `Some(false)` with no default route; `None` when
/// this machine cannot tell (no routing table to read).
pub fn router_answers(router: Option<IpAddr>) -> Option<bool> {
    let host = match router {
        Some(host) => host,
        None => match default_gateway() {
            Ok(Some(gateway)) => IpAddr::V4(gateway),
            Ok(None) => return Some(false),
            Err(_) => return None,
        },
    };
    Some(host_answers(host, &ROUTER_PORTS, PORT_TIMEOUT))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0
";

    #[test]
    fn the_default_route_names_the_gateway() {
        assert_eq!(
            parse_default_gateway(TABLE),
            Some(Ipv4Addr::new(192, 168, 1, 1))
        );
        let no_default = TABLE.lines().take(2).collect::<Vec<_>>().join("\n");
        assert_eq!(parse_default_gateway(&no_default), None);
        assert_eq!(parse_default_gateway("garbage\nnot a table"), None);
    }

    #[test]
    fn a_refusing_host_answers_and_a_listening_one_too() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap().port();
        drop(listener);
        // Nothing listens on `open` now: localhost refuses, which is an answer.
        assert!(host_answers(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &[open],
            PORT_TIMEOUT
        ));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(host_answers(
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            &[port],
            PORT_TIMEOUT
        ));
    }
}
