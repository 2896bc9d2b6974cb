//! How many wrong credentials one source address may try (SPEC §5 "no guessing"): a
//! sans-IO limiter keyed by IP address, used by the broker for MQTT logins and by the hub
//! for owner logins.
//!
//! Per address, never per user name: keyed by name, anyone could lock a camera out by
//! guessing its name with wrong passwords. A camera at its own address is never touched by
//! an attacker's failures elsewhere; a refused address is refused before its credentials
//! are even looked at, so guessing stops, and it is admitted again when the lockout ends.

use std::collections::HashMap;
use std::net::IpAddr;

/// The limits: `max_failures` wrong attempts within `window_ms` lock the address out for
/// `lockout_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_failures: u32,
    pub window_ms: u64,
    pub lockout_ms: u64,
}

impl Limits {
    /// For MQTT logins: a forgotten camera gives up after ten refusals a second apart
    /// and stays under it; a guesser gets 20 tries per 5 minutes.
    pub const MQTT: Limits = Limits {
        max_failures: 20,
        window_ms: 60_000,
        lockout_ms: 300_000,
    };
    /// For owner logins: a person mistyping a few times is under it.
    pub const OWNER: Limits = Limits {
        max_failures: 5,
        window_ms: 60_000,
        lockout_ms: 300_000,
    };
}

/// Addresses tracked at once; beyond it the oldest entries are forgotten first, so a
/// flood of spoofed-looking addresses cannot grow memory without bound.
const MAX_TRACKED: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    window_start_ms: u64,
    locked_until_ms: Option<u64>,
}

/// What [`GuessLimiter::check`] decided for an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Look at the credentials.
    Allowed,
    /// Refuse without looking; the address may try again in this many milliseconds.
    LockedOut { retry_in_ms: u64 },
}

/// The limiter. Time is an input (milliseconds on any monotonic scale).
#[derive(Debug)]
pub struct GuessLimiter {
    limits: Limits,
    entries: HashMap<IpAddr, Entry>,
    lockouts: u64,
}

impl GuessLimiter {
    pub fn new(limits: Limits) -> GuessLimiter {
        GuessLimiter {
            limits,
            entries: HashMap::new(),
            lockouts: 0,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many times an address was locked out since start.
    pub fn lockouts(&self) -> u64 {
        self.lockouts
    }

    /// Before looking at an attempt's credentials.
    pub fn check(&mut self, addr: IpAddr, now_ms: u64) -> Verdict {
        let Some(entry) = self.entries.get(&addr).copied() else {
            return Verdict::Allowed;
        };
        match entry.locked_until_ms {
            Some(until) if now_ms < until => Verdict::LockedOut {
                retry_in_ms: until - now_ms,
            },
            Some(_) => {
                self.entries.remove(&addr);
                Verdict::Allowed
            }
            None => Verdict::Allowed,
        }
    }

    /// After an attempt that was looked at: a failure counts; a success clears the
    /// address's failures (a camera that got its token right is not held back by its
    /// own earlier retries).
    pub fn record(&mut self, addr: IpAddr, ok: bool, now_ms: u64) {
        if ok {
            self.entries.remove(&addr);
            return;
        }
        if self.entries.len() >= MAX_TRACKED && !self.entries.contains_key(&addr) {
            self.forget_oldest(now_ms);
        }
        let limits = self.limits;
        let entry = self.entries.entry(addr).or_insert(Entry {
            failures: 0,
            window_start_ms: now_ms,
            locked_until_ms: None,
        });
        if now_ms.saturating_sub(entry.window_start_ms) >= limits.window_ms {
            entry.failures = 0;
            entry.window_start_ms = now_ms;
        }
        entry.failures += 1;
        if entry.failures >= limits.max_failures && entry.locked_until_ms.is_none() {
            entry.locked_until_ms = Some(now_ms + limits.lockout_ms);
            self.lockouts += 1;
        }
    }

    /// Drops entries whose window and lockout are over, then, if still full, the oldest.
    fn forget_oldest(&mut self, now_ms: u64) {
        let limits = self.limits;
        self.entries.retain(|_, e| match e.locked_until_ms {
            Some(until) => now_ms < until,
            None => now_ms.saturating_sub(e.window_start_ms) < limits.window_ms,
        });
        while self.entries.len() >= MAX_TRACKED {
            let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.window_start_ms)
                .map(|(a, _)| *a)
            else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_failures: 3,
        window_ms: 1_000,
        lockout_ms: 10_000,
    };

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn failures_lock_the_address_out_until_the_lockout_ends() {
        let mut g = GuessLimiter::new(L);
        let a = ip("10.0.0.9");
        for t in 0..3 {
            assert_eq!(g.check(a, t), Verdict::Allowed);
            g.record(a, false, t);
        }
        assert_eq!(g.check(a, 5), Verdict::LockedOut { retry_in_ms: 9_997 });
        assert_eq!(g.lockouts(), 1);
        assert_eq!(g.check(a, 10_001), Verdict::LockedOut { retry_in_ms: 1 });
        assert_eq!(g.check(a, 10_002), Verdict::Allowed);
        g.record(a, false, 10_002);
        assert_eq!(g.check(a, 10_003), Verdict::Allowed, "a fresh window");
    }

    #[test]
    fn another_address_is_untouched() {
        let mut g = GuessLimiter::new(L);
        for t in 0..10 {
            g.record(ip("10.0.0.9"), false, t);
        }
        assert_eq!(g.check(ip("10.0.0.7"), 11), Verdict::Allowed);
        assert!(matches!(
            g.check(ip("10.0.0.9"), 11),
            Verdict::LockedOut { .. }
        ));
    }

    #[test]
    fn slow_failures_and_a_success_clear_the_count() {
        let mut g = GuessLimiter::new(L);
        let a = ip("::1");
        // Two failures per window, forever: under the limit.
        for w in 0..20u64 {
            g.record(a, false, w * 1_000);
            g.record(a, false, w * 1_000 + 10);
            assert_eq!(g.check(a, w * 1_000 + 20), Verdict::Allowed);
        }
        g.record(a, false, 50_000);
        g.record(a, false, 50_001);
        g.record(a, true, 50_002);
        g.record(a, false, 50_003);
        assert_eq!(g.check(a, 50_004), Verdict::Allowed);
    }

    #[test]
    fn memory_is_bounded() {
        let mut g = GuessLimiter::new(L);
        for i in 0..(MAX_TRACKED as u32 + 100) {
            g.record(IpAddr::from(i.to_be_bytes()), false, u64::from(i));
        }
        assert!(g.entries.len() <= MAX_TRACKED);
    }
}
