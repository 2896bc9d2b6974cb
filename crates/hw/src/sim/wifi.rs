//! A simulated access point and link: its name and passphrase, a signal strength, and
//! outages the simulator switches on and off.

use crate::{WifiCredentials, WifiError, WifiLink};

#[derive(Debug, Clone)]
pub struct SimWifi {
    ssid: String,
    passphrase: String,
    rssi_dbm: i32,
    outage: bool,
    joined: bool,
    /// How many join attempts were made, for tests of backoff.
    pub attempts: u32,
}

impl SimWifi {
    /// An access point named `ssid` that accepts `passphrase`, at `rssi_dbm`.
    pub fn new(ssid: &str, passphrase: &str, rssi_dbm: i32) -> SimWifi {
        SimWifi {
            ssid: ssid.to_string(),
            passphrase: passphrase.to_string(),
            rssi_dbm,
            outage: false,
            joined: false,
            attempts: 0,
        }
    }

    /// The router's password changes: joined clients drop, old credentials are refused.
    pub fn change_passphrase(&mut self, passphrase: &str) {
        self.passphrase = passphrase.to_string();
        self.joined = false;
    }

    /// Starts (true) or ends (false) an outage: the access point is gone.
    pub fn set_outage(&mut self, outage: bool) {
        self.outage = outage;
        if outage {
            self.joined = false;
        }
    }

    pub fn set_rssi(&mut self, rssi_dbm: i32) {
        self.rssi_dbm = rssi_dbm;
    }

    pub fn drop_link(&mut self) {
        self.joined = false;
    }
}

impl WifiLink for SimWifi {
    fn join(&mut self, creds: &WifiCredentials) -> Result<(), WifiError> {
        self.attempts += 1;
        if self.outage || creds.ssid != self.ssid {
            self.joined = false;
            return Err(WifiError::NotFound(creds.ssid.clone()));
        }
        if creds.passphrase != self.passphrase {
            self.joined = false;
            return Err(WifiError::Rejected);
        }
        self.joined = true;
        Ok(())
    }

    fn is_up(&self) -> bool {
        self.joined && !self.outage
    }

    fn rssi_dbm(&self) -> Option<i32> {
        self.is_up().then_some(self.rssi_dbm)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(ssid: &str, pass: &str) -> WifiCredentials {
        WifiCredentials {
            ssid: ssid.into(),
            passphrase: pass.into(),
        }
    }

    #[test]
    fn refuses_wrong_passwords_and_unknown_networks() {
        let mut w = SimWifi::new("home", "secret", -60);
        assert_eq!(w.join(&creds("home", "nope")), Err(WifiError::Rejected));
        assert_eq!(
            w.join(&creds("cafe", "secret")),
            Err(WifiError::NotFound("cafe".into()))
        );
        assert!(!w.is_up());
        w.join(&creds("home", "secret")).unwrap();
        assert_eq!(w.rssi_dbm(), Some(-60));
        assert_eq!(w.attempts, 3);
    }

    #[test]
    fn outages_and_password_changes_drop_the_link() {
        let mut w = SimWifi::new("home", "secret", -60);
        w.join(&creds("home", "secret")).unwrap();
        w.set_outage(true);
        assert!(!w.is_up());
        assert_eq!(w.rssi_dbm(), None);
        assert!(w.join(&creds("home", "secret")).is_err());
        w.set_outage(false);
        w.join(&creds("home", "secret")).unwrap();
        w.change_passphrase("new");
        assert!(!w.is_up());
        assert_eq!(w.join(&creds("home", "secret")), Err(WifiError::Rejected));
    }
}
