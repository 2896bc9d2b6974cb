//! What the agent is started with.

use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::PathBuf;
use watchlight_protocol::ProfileId;

/// Where the simulated camera's frames come from.
#[derive(Debug, Clone, PartialEq)]
pub enum SceneChoice {
    /// A seeded synthetic scene; `POST /sim/motion` walks a person through it.
    Synthetic,
    /// An MP4/H.264 file, looped.
    File(PathBuf),
}

/// The simulated access point the camera can join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimAccessPoint {
    pub ssid: String,
    pub passphrase: String,
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub profile: ProfileId,
    pub serial: String,
    pub data_dir: PathBuf,
    /// Address of the camera's local endpoint (provisioning and simulator controls).
    pub local_addr: SocketAddr,
    pub pairing_code: String,
    /// `None`: the simulated access point accepts whatever it is given.
    pub access_point: Option<SimAccessPoint>,
    pub scene: SceneChoice,
    /// Accept `mqtt://` and `http://` hubs (no TLS). Without it a plain-text hub is refused.
    pub insecure: bool,
    /// Print each light change on stdout (the demo and people watching read these).
    pub print_lights: bool,
}

impl AgentConfig {
    /// A simulated camera with the defaults of `watchlight camera --sim`.
    pub fn new(profile: ProfileId, serial: &str, data_dir: impl Into<PathBuf>) -> AgentConfig {
        AgentConfig {
            profile,
            serial: serial.to_string(),
            data_dir: data_dir.into(),
            local_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            pairing_code: pairing_code_for(serial),
            access_point: None,
            scene: SceneChoice::Synthetic,
            insecure: false,
            print_lights: true,
        }
    }

    pub fn device_id(&self) -> String {
        format!("cam-{}", self.serial)
    }
}

/// The pairing code "printed on" a simulated camera: six digits derived from its serial,
/// so a test or the demo can compute it without reading the camera's output.
pub fn pairing_code_for(serial: &str) -> String {
    let digest = Sha256::digest(format!("watchlight-pairing-code:{serial}").as_bytes());
    let n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]) % 1_000_000;
    format!("{n:06}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairing_codes_are_six_digits_stable_and_differ_by_serial() {
        let a = pairing_code_for("A1");
        assert_eq!(a.len(), 6);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(a, pairing_code_for("A1"));
        assert_ne!(a, pairing_code_for("A2"));
    }
}
