//! The hub measures its own network: for its light (SPEC §3: red solid with no network
//! at all) and for the doctor's `telemetry.hub_network`, which tells a router outage
//! (the hub lost its gateway too) from a changed Wi-Fi password or a hub whose address
//! changed (its cameras look for it at the old one).
//!
//! [`NetWatch`] is sans-IO: it takes [`Sample`]s with the hub's time and says what
//! holds now ([`NetWatch::state`], for the light) and what the last day showed
//! ([`NetWatch::last_day`], for the doctor). [`NetworkProbe`] is where samples come
//! from: the machine itself (`crate::system_network`, on the hub's runtime side) or
//! [`SimNetwork`] for tests.
//!
//! Only IPv4 counts. The default route the hub reads is IPv4 (`/proc/net/route`),
//! cameras are handed an IPv4 address, and IPv6 temporary addresses rotate every day by
//! design: counting them would report an "address change" daily.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::Duration;
use watchlight_doctor::HubNetwork;

/// A change of address, and a lost network or gateway, count for this long: the
/// doctor's evidence is "in the last day" (`docs/doctor.md`).
pub const DAY_MS: u64 = 24 * 60 * 60 * 1000;
/// How often the hub looks at its network (and once at start).
pub const SAMPLE_EVERY: Duration = Duration::from_secs(60);
/// The `config` key under which [`Memory`] survives a restart.
pub const MEMORY_KEY: &str = "netwatch";
/// The kind of the owner's notice written on a transition.
pub const NOTICE_KIND: &str = "hub_network";

/// One look at the hub's network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sample {
    /// The machine's interface addresses, as found (loopback, link-local and IPv6 are
    /// ignored by [`NetWatch`]).
    pub addresses: BTreeSet<IpAddr>,
    /// The default route's gateway; `None`: no default route.
    pub gateway: Option<IpAddr>,
    /// Whether the gateway answered a probe; `None`: not asked (no gateway).
    pub gateway_answered: Option<bool>,
}

/// What the hub keeps across a restart (as JSON in the store's `config` table), so that
/// a hub that comes back at a new address reports it, and a change or an outage of the
/// last day is still reported after a restart.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// The last non-empty set of the hub's usable addresses (empty: never seen one).
    #[serde(default)]
    pub addresses: BTreeSet<Ipv4Addr>,
    /// When an address of the hub last went away.
    #[serde(default)]
    pub changed_ms: Option<u64>,
    /// The last sample with no usable address or no default route.
    #[serde(default)]
    pub no_network_ms: Option<u64>,
    /// The last sample whose gateway did not answer.
    #[serde(default)]
    pub upstream_lost_ms: Option<u64>,
}

/// What the last sample showed, before the day's memory is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    NoNetwork,
    UpstreamLost,
    Reachable,
}

/// A change of [`NetWatch::state`], for the hub's log and the owner's notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub at_ms: u64,
    /// `None`: the first sample since the hub started.
    pub from: Option<HubNetwork>,
    pub to: HubNetwork,
    /// The hub's usable addresses now, and before the last change of them.
    pub addresses: Vec<Ipv4Addr>,
    pub previous_addresses: Vec<Ipv4Addr>,
}

impl Transition {
    /// Whether the owner hears of it: any change once the hub has a state, and a
    /// start in a bad state; a start with a fine network is only logged.
    pub fn worth_a_notice(&self) -> bool {
        self.from.is_some() || self.to != HubNetwork::Ok
    }

    /// A sentence for the owner.
    pub fn message(&self) -> String {
        let list = |a: &[Ipv4Addr]| {
            a.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.to {
            HubNetwork::NoNetwork => {
                "The hub has no network: no address or no route to the router".into()
            }
            HubNetwork::UpstreamLost => {
                "The hub's router does not answer: cameras cannot report until it is back".into()
            }
            HubNetwork::AddressChanged if self.previous_addresses.is_empty() => format!(
                "The hub's address changed to {}: cameras that look for it at the old one cannot report",
                list(&self.addresses)
            ),
            HubNetwork::AddressChanged => format!(
                "The hub's address changed from {} to {}: cameras that look for it at the old one cannot report",
                list(&self.previous_addresses),
                list(&self.addresses)
            ),
            HubNetwork::Ok => "The hub's network is fine".into(),
        }
    }
}

/// The hub's network over time, sans-IO.
#[derive(Debug, Clone, Default)]
pub struct NetWatch {
    memory: Memory,
    /// The addresses before the last change (for the owner's message).
    previous: BTreeSet<Ipv4Addr>,
    /// The last sample's link; `None` before the first sample since start.
    link: Option<Link>,
    /// The state last reported through a [`Transition`].
    reported: Option<HubNetwork>,
}

/// Whether `addr` is one cameras could reach the hub at.
fn usable(addr: &IpAddr) -> Option<Ipv4Addr> {
    match addr {
        IpAddr::V4(a) if !a.is_loopback() && !a.is_link_local() && !a.is_unspecified() => Some(*a),
        _ => None,
    }
}

/// Whether a moment `at` lies within the day up to `now_ms` (both ends included).
fn within_day(at: Option<u64>, now_ms: u64) -> bool {
    at.is_some_and(|t| now_ms.saturating_sub(t) <= DAY_MS)
}

impl NetWatch {
    /// A watch that starts from what the hub remembered (`Memory::default()` on a new
    /// hub: its first sample then sets the addresses and is no change).
    pub fn resume(memory: Memory) -> NetWatch {
        NetWatch {
            memory,
            ..NetWatch::default()
        }
    }

    /// What to keep across a restart.
    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Takes a sample made at `now_ms`; returns the change of [`Self::state`] it
    /// brings, if any (also a change of address that a day made old).
    pub fn observe(&mut self, sample: &Sample, now_ms: u64) -> Option<Transition> {
        let addresses: BTreeSet<Ipv4Addr> = sample.addresses.iter().filter_map(usable).collect();
        if !addresses.is_empty() {
            // An address gone is what strands cameras; one added beside the old ones
            // (a second interface) does not. Losing every address is no network, and
            // coming back with the same ones is no change.
            if !self.memory.addresses.is_subset(&addresses) {
                self.memory.changed_ms = Some(now_ms);
                self.previous = self.memory.addresses.clone();
            }
            self.memory.addresses = addresses.clone();
        }
        let link = if addresses.is_empty() || sample.gateway.is_none() {
            self.memory.no_network_ms = Some(now_ms);
            Link::NoNetwork
        } else if sample.gateway_answered == Some(false) {
            self.memory.upstream_lost_ms = Some(now_ms);
            Link::UpstreamLost
        } else {
            Link::Reachable
        };
        self.link = Some(link);
        let to = self.state(now_ms)?;
        if self.reported == Some(to) {
            return None;
        }
        let from = self.reported.replace(to);
        Some(Transition {
            at_ms: now_ms,
            from,
            to,
            addresses: self.memory.addresses.iter().copied().collect(),
            previous_addresses: self.previous.iter().copied().collect(),
        })
    }

    /// The network now, for the hub light: no_network > upstream_lost >
    /// address_changed (within the last day, both ends included) > ok. `None` before
    /// the first sample.
    pub fn state(&self, now_ms: u64) -> Option<HubNetwork> {
        Some(match self.link? {
            Link::NoNetwork => HubNetwork::NoNetwork,
            Link::UpstreamLost => HubNetwork::UpstreamLost,
            Link::Reachable if within_day(self.memory.changed_ms, now_ms) => {
                HubNetwork::AddressChanged
            }
            Link::Reachable => HubNetwork::Ok,
        })
    }

    /// The most telling state of the last day, in the same order as [`Self::state`]:
    /// what the doctor's `hub_network` means (`watchlight_doctor::HubNetwork`). A
    /// router that was down an hour ago explains a camera that is still offline.
    /// `None` before the first sample since start.
    pub fn last_day(&self, now_ms: u64) -> Option<HubNetwork> {
        let now = self.state(now_ms)?;
        let m = &self.memory;
        Some(if within_day(m.no_network_ms, now_ms) {
            HubNetwork::NoNetwork
        } else if within_day(m.upstream_lost_ms, now_ms) {
            HubNetwork::UpstreamLost
        } else {
            now
        })
    }
}

/// Why the machine's network could not be read (then the hub knows nothing, which is
/// not the same as "no network").
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot list the network interfaces: {0}")]
    Interfaces(std::io::Error),
    #[error("cannot read the routing table (/proc/net/route): {0}")]
    Routes(std::io::Error),
}

/// Where samples come from. Blocking: the hub calls it on a blocking thread.
pub trait NetworkProbe: Send + Sync {
    fn sample(&self) -> Result<Sample, ProbeError>;
}

/// A simulated network (the hub's network hardware, simulated like the cameras'):
/// every sample is the one last [`set`](SimNetwork::set).
#[derive(Debug, Default)]
pub struct SimNetwork(Mutex<Sample>);

impl SimNetwork {
    pub fn new(sample: Sample) -> SimNetwork {
        SimNetwork(Mutex::new(sample))
    }

    pub fn set(&self, sample: Sample) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = sample;
    }
}

impl NetworkProbe for SimNetwork {
    fn sample(&self) -> Result<Sample, ProbeError> {
        Ok(self.0.lock().unwrap_or_else(|p| p.into_inner()).clone())
    }
}

/// A home network's sample, for simulations: `addresses` on a link whose gateway
/// `192.168.1.1` answered (`Some(true)`), stayed silent (`Some(false)`), or is absent
/// (`None`: no default route).
pub fn home_sample(
    addresses: impl IntoIterator<Item = IpAddr>,
    gateway_answered: Option<bool>,
) -> Sample {
    Sample {
        addresses: addresses.into_iter().collect(),
        gateway: gateway_answered.map(|_| IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1))),
        gateway_answered,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HubNetwork::*;

    const T0: u64 = 1_700_000_000_000;
    const MIN: u64 = 60_000;

    fn home_sample(addresses: &[&str], gateway_answered: Option<bool>) -> Sample {
        super::home_sample(
            addresses.iter().map(|a| a.parse().unwrap()),
            gateway_answered,
        )
    }

    fn fine(addr: &str) -> Sample {
        home_sample(&[addr, "127.0.0.1", "fe80::1", "2001:db8::7"], Some(true))
    }

    #[test]
    fn nothing_is_known_before_the_first_sample() {
        let w = NetWatch::default();
        assert_eq!(w.state(T0), None);
        assert_eq!(w.last_day(T0), None);
    }

    #[test]
    fn a_fine_network_is_ok_and_the_first_sample_is_no_change() {
        let mut w = NetWatch::default();
        let t = w.observe(&fine("192.168.1.10"), T0).unwrap();
        assert_eq!((t.from, t.to), (None, Ok));
        assert!(
            !t.worth_a_notice(),
            "a start with a fine network is only logged"
        );
        assert_eq!(w.state(T0), Some(Ok));
        assert_eq!(w.observe(&fine("192.168.1.10"), T0 + MIN), None);
        assert_eq!(
            w.memory().addresses,
            BTreeSet::from([Ipv4Addr::new(192, 168, 1, 10)]),
            "loopback, link-local and IPv6 are not the hub's addresses"
        );
    }

    #[test]
    fn no_address_or_no_default_route_is_no_network() {
        let mut w = NetWatch::default();
        // Only loopback and link-local (a DHCP that failed): no address cameras reach.
        let t = w
            .observe(
                &home_sample(&["127.0.0.1", "169.254.3.4", "fe80::1"], Some(true)),
                T0,
            )
            .unwrap();
        assert_eq!(t.to, NoNetwork);
        assert!(t.worth_a_notice(), "starting without a network is told");
        // An address but no default route.
        w.observe(&home_sample(&["192.168.1.10"], None), T0 + MIN);
        assert_eq!(w.state(T0 + MIN), Some(NoNetwork));
        let t = w.observe(&fine("192.168.1.10"), T0 + 2 * MIN).unwrap();
        assert_eq!(
            (t.from, t.to),
            (Some(NoNetwork), Ok),
            "first address: no change"
        );
    }

    #[test]
    fn a_silent_gateway_is_upstream_lost() {
        let mut w = NetWatch::default();
        w.observe(&fine("192.168.1.10"), T0);
        let t = w
            .observe(&home_sample(&["192.168.1.10"], Some(false)), T0 + MIN)
            .unwrap();
        assert_eq!((t.from, t.to), (Some(Ok), UpstreamLost));
        assert!(
            t.message().contains("router does not answer"),
            "{}",
            t.message()
        );
        let t = w.observe(&fine("192.168.1.10"), T0 + 2 * MIN).unwrap();
        assert_eq!(t.to, Ok);
    }

    #[test]
    fn a_new_address_is_address_changed_for_a_day_to_the_millisecond() {
        let mut w = NetWatch::default();
        w.observe(&fine("192.168.1.10"), T0);
        let t = w.observe(&fine("192.168.1.23"), T0 + MIN).unwrap();
        assert_eq!((t.from, t.to), (Some(Ok), AddressChanged));
        assert_eq!(
            t.message(),
            "The hub's address changed from 192.168.1.10 to 192.168.1.23: cameras that look for it at the old one cannot report"
        );
        let changed = T0 + MIN;
        assert_eq!(w.state(changed + DAY_MS), Some(AddressChanged));
        assert_eq!(w.state(changed + DAY_MS + 1), Some(Ok));
        assert_eq!(w.last_day(changed + DAY_MS), Some(AddressChanged));
        assert_eq!(w.last_day(changed + DAY_MS + 1), Some(Ok));
        // The next sample reports that the day has passed.
        assert_eq!(w.observe(&fine("192.168.1.23"), changed + DAY_MS), None);
        let t = w
            .observe(&fine("192.168.1.23"), changed + DAY_MS + 1)
            .unwrap();
        assert_eq!((t.from, t.to), (Some(AddressChanged), Ok));
    }

    #[test]
    fn an_added_address_or_a_return_to_the_same_one_is_no_change() {
        let mut w = NetWatch::default();
        w.observe(&fine("192.168.1.10"), T0);
        // A second interface comes up: the old address still works.
        w.observe(
            &home_sample(&["192.168.1.10", "172.17.0.1"], Some(true)),
            T0 + MIN,
        );
        assert_eq!(w.state(T0 + MIN), Some(Ok));
        // The cable comes out, and back with the same lease.
        w.observe(&home_sample(&["127.0.0.1"], None), T0 + 2 * MIN);
        w.observe(
            &home_sample(&["192.168.1.10", "172.17.0.1"], Some(true)),
            T0 + 3 * MIN,
        );
        assert_eq!(w.state(T0 + 3 * MIN), Some(Ok));
        // The first interface goes: its address is gone.
        w.observe(&fine("172.17.0.1"), T0 + 4 * MIN);
        assert_eq!(w.state(T0 + 4 * MIN), Some(AddressChanged));
    }

    #[test]
    fn precedence_no_network_over_upstream_lost_over_address_changed() {
        let mut w = NetWatch::default();
        w.observe(&fine("192.168.1.10"), T0);
        // New address and a silent gateway at once: the gateway tells more.
        w.observe(&home_sample(&["192.168.1.23"], Some(false)), T0 + MIN);
        assert_eq!(w.state(T0 + MIN), Some(UpstreamLost));
        // New address but no route at all: no network.
        w.observe(&home_sample(&["192.168.1.24"], None), T0 + 2 * MIN);
        assert_eq!(w.state(T0 + 2 * MIN), Some(NoNetwork));
        // Back, answered: the change of the last day shows.
        w.observe(&fine("192.168.1.24"), T0 + 3 * MIN);
        assert_eq!(w.state(T0 + 3 * MIN), Some(AddressChanged));
        // Another new address, later.
        w.observe(&fine("192.168.1.25"), T0 + 4 * MIN);
        // The doctor hears of the worst of the day, in the same order.
        assert_eq!(w.last_day(T0 + 4 * MIN), Some(NoNetwork));
        let no_network_at = T0 + 2 * MIN;
        assert_eq!(w.last_day(no_network_at + DAY_MS), Some(NoNetwork));
        assert_eq!(w.last_day(no_network_at + DAY_MS + 1), Some(AddressChanged));
        let changed_at = T0 + 4 * MIN;
        assert_eq!(w.last_day(changed_at + DAY_MS), Some(AddressChanged));
        assert_eq!(w.last_day(changed_at + DAY_MS + 1), Some(Ok));
    }

    #[test]
    fn an_upstream_loss_counts_for_the_doctor_for_a_day() {
        let mut w = NetWatch::default();
        w.observe(&fine("192.168.1.10"), T0);
        w.observe(&home_sample(&["192.168.1.10"], Some(false)), T0 + MIN);
        w.observe(&fine("192.168.1.10"), T0 + 2 * MIN);
        assert_eq!(w.state(T0 + 2 * MIN), Some(Ok), "the light shows now");
        assert_eq!(w.last_day(T0 + MIN + DAY_MS), Some(UpstreamLost));
        assert_eq!(w.last_day(T0 + MIN + DAY_MS + 1), Some(Ok));
        // A new address after the loss: the loss still tells more, for its day.
        w.observe(&fine("192.168.1.23"), T0 + 3 * MIN);
        assert_eq!(w.last_day(T0 + MIN + DAY_MS), Some(UpstreamLost));
        assert_eq!(w.last_day(T0 + MIN + DAY_MS + 1), Some(AddressChanged));
    }

    #[test]
    fn a_restart_remembers_the_addresses_and_the_day() {
        let mut w = NetWatch::default();
        w.observe(&fine("192.168.1.10"), T0);
        let json = serde_json::to_string(w.memory()).unwrap();
        let memory: Memory = serde_json::from_str(&json).unwrap();
        assert_eq!(&memory, w.memory());

        // Back after a restart at the same address: no change.
        let mut same = NetWatch::resume(memory.clone());
        assert_eq!(same.state(T0 + 10 * MIN), None, "nothing before a sample");
        let t = same.observe(&fine("192.168.1.10"), T0 + 10 * MIN).unwrap();
        assert_eq!((t.from, t.to), (None, Ok));

        // Back at a new address: the router gave the hub a new one while it was off.
        let mut moved = NetWatch::resume(memory);
        let t = moved.observe(&fine("192.168.1.23"), T0 + 10 * MIN).unwrap();
        assert_eq!((t.from, t.to), (None, AddressChanged));
        assert!(t.worth_a_notice());

        // A change of the last day survives a second restart.
        let mut again = NetWatch::resume(moved.memory().clone());
        again.observe(&fine("192.168.1.23"), T0 + 20 * MIN);
        assert_eq!(again.state(T0 + 20 * MIN), Some(AddressChanged));
        assert_eq!(again.state(T0 + 10 * MIN + DAY_MS + 1), Some(Ok));

        // An older memory without some fields still reads.
        let old: Memory = serde_json::from_str(r#"{"addresses":["10.0.0.2"]}"#).unwrap();
        assert_eq!(old.changed_ms, None);
    }

    #[test]
    fn a_clock_that_steps_back_does_not_panic() {
        let mut w = NetWatch::default();
        w.observe(&fine("192.168.1.10"), T0);
        w.observe(&fine("192.168.1.23"), T0);
        assert_eq!(w.state(T0 - DAY_MS), Some(AddressChanged));
    }

    #[test]
    fn the_simulation_hands_back_what_was_set() {
        let sim = SimNetwork::new(fine("192.168.1.10"));
        sim.set(home_sample(&[], None));
        assert_eq!(sim.sample().unwrap(), home_sample(&[], None));
    }
}
