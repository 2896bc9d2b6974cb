//! `watchlight camera [--sim] ...`: the camera agent.
//!
//! Prints `provision_url=http://ADDR` and `pairing_code=NNNNNN` on stdout (scripts and
//! tests read them), then one line per light change. The same address serves the
//! simulator's controls (`/sim/status`, `/sim/link`, `/sim/motion`, `/sim/battery`,
//! `/sim/button`, `/sim/ap`, `/sim/sensor`; see `watchlight_agent::local`).

use super::UsageError;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use watchlight_agent::AgentConfig;
use watchlight_agent::config::SimAccessPoint;
use watchlight_agent::runtime::parse_scene;
use watchlight_protocol::ProfileId;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// Simulated hardware (the only kind this build has).
    #[arg(long)]
    sim: bool,
    /// Camera profile: mini, indoor, outdoor, xt, xt2.
    #[arg(long)]
    profile: Option<String>,
    /// Serial number; the device id is cam-<serial>.
    #[arg(long)]
    serial: Option<String>,
    /// The camera's data folder (credentials, state, offline queue).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Address of the provisioning endpoint and simulator controls.
    #[arg(long, default_value = "127.0.0.1:0")]
    provision: SocketAddr,
    /// Pairing code (default: derived from the serial, printed as pairing_code=...).
    #[arg(long)]
    pairing_code: Option<String>,
    /// Name of the simulated access point (default: it accepts whatever it is given).
    #[arg(long, requires = "wifi_pass")]
    wifi_ssid: Option<String>,
    /// Passphrase of the simulated access point.
    #[arg(long, requires = "wifi_ssid")]
    wifi_pass: Option<String>,
    /// Frames from a synthetic scene, or from an MP4 file (looped).
    #[arg(long, default_value = "synthetic")]
    scene: String,
    /// Accept a hub without TLS (tests only).
    #[arg(long)]
    insecure: bool,
}

pub fn run(args: AgentArgs) -> anyhow::Result<()> {
    let config = config_from(args)?;
    watchlight_agent::run_until_signal(config, |ready| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "provision_url={}", ready.local_url);
        let _ = writeln!(out, "pairing_code={}", ready.pairing_code);
        let _ = writeln!(out, "device_id={}", ready.device_id);
        let _ = out.flush();
    })?;
    Ok(())
}

fn config_from(args: AgentArgs) -> anyhow::Result<AgentConfig> {
    if !args.sim {
        return Err(
            UsageError("this build has no camera hardware drivers: run with --sim".into()).into(),
        );
    }
    let missing = |flag: &str| UsageError(format!("watchlight camera --sim needs {flag}"));
    let profile: ProfileId = args
        .profile
        .ok_or_else(|| missing("--profile"))?
        .parse()
        .map_err(|e| UsageError(format!("--profile: {e}")))?;
    let serial = args.serial.ok_or_else(|| missing("--serial"))?;
    if serial.is_empty()
        || serial.len() > 60
        || !serial
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(
            UsageError("--serial must be 1 to 60 letters, digits, '-' or '_'".into()).into(),
        );
    }
    let data = args.data.ok_or_else(|| missing("--data"))?;
    let mut config = AgentConfig::new(profile, &serial, data);
    config.local_addr = args.provision;
    if let Some(code) = args.pairing_code {
        config.pairing_code = code;
    }
    if let (Some(ssid), Some(passphrase)) = (args.wifi_ssid, args.wifi_pass) {
        config.access_point = Some(SimAccessPoint { ssid, passphrase });
    }
    config.scene = parse_scene(&args.scene);
    if let watchlight_agent::SceneChoice::File(path) = &config.scene
        && !path.is_file()
    {
        return Err(UsageError(format!("--scene: no such file {}", path.display())).into());
    }
    config.insecure = args.insecure;
    Ok(config)
}
