//! The machine's own network, read for [`crate::netwatch`]: the I/O edge of its
//! sans-IO decision, on the hub's runtime side.

use crate::netwatch::{NetworkProbe, ProbeError, Sample};
use std::net::IpAddr;

/// The machine's own network: interface addresses from `getifaddrs` (`if-addrs`), the
/// default gateway from the routing table, and whether the gateway answers on a port a
/// router serves (the doctor's own probe, shared).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemNetwork;

impl NetworkProbe for SystemNetwork {
    fn sample(&self) -> Result<Sample, ProbeError> {
        use watchlight_doctor::netprobe;
        let addresses = if_addrs::get_if_addrs()
            .map_err(ProbeError::Interfaces)?
            .iter()
            .map(if_addrs::Interface::ip)
            .collect();
        let gateway = netprobe::default_gateway()
            .map_err(ProbeError::Routes)?
            .map(IpAddr::V4);
        let gateway_answered = gateway
            .map(|gw| netprobe::host_answers(gw, &netprobe::ROUTER_PORTS, netprobe::PORT_TIMEOUT));
        Ok(Sample {
            addresses,
            gateway,
            gateway_answered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    #[test]
    fn the_machine_reads() {
        // Loopback is always listed; whether there is a gateway depends on where the
        // test runs.
        let real = SystemNetwork.sample().unwrap();
        assert!(real.addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)));
        assert_eq!(real.gateway.is_some(), real.gateway_answered.is_some());
    }
}
