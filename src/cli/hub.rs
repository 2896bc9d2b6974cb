//! `watchlight hub`: run the hub, check its storage, manage the owner, reset it.

use anyhow::{Context, bail};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use watchlight_hub::admin::{self, AdminError};
use watchlight_hub::{HubConfig, MqttMode};

use super::UsageError;

#[derive(clap::Args)]
#[command(args_conflicts_with_subcommands = false)]
pub struct HubArgs {
    #[command(subcommand)]
    command: Option<HubCommand>,
    /// The hub's data folder (database, clips, certificate, broker state).
    #[arg(long, global = true, default_value = "watchlight-data")]
    data: PathBuf,
    /// HTTP(S) address of the API; port 0 picks a free one (printed as http_url=...).
    #[arg(long, default_value = "0.0.0.0:8443")]
    http: SocketAddr,
    /// Address of the embedded MQTT broker; port 0 picks a free one (printed as mqtt_url=...).
    #[arg(long, default_value = "0.0.0.0:8883")]
    mqtt: SocketAddr,
    /// Use this external broker (mqtt://host:port or mqtts://host:port) instead of the embedded one.
    #[arg(long)]
    mqtt_url: Option<String>,
    /// With --mqtt-url to a Mosquitto: the password file it reads (its `password_file`).
    /// The hub adds a line for each camera it pairs and removes forgotten ones, and at
    /// start removes cameras it does not know (after a hub reset). Make the whole
    /// configuration with 'watchlight hub mosquitto-config'.
    #[arg(long, value_name = "FILE", requires = "mqtt_url")]
    mosquitto_passwd: Option<PathBuf>,
    /// Mosquitto's pid file (its `pid_file`): after each change of the password file the
    /// hub sends that process SIGHUP so it reloads its users. Without it, reload
    /// Mosquitto yourself.
    #[arg(long, value_name = "FILE", requires = "mosquitto_passwd")]
    mosquitto_pid_file: Option<PathBuf>,
    /// The home id (a topic level).
    #[arg(long, default_value = "home")]
    home: String,
    /// Plain TCP and HTTP instead of TLS: for tests only.
    #[arg(long)]
    insecure: bool,
    /// Free disk space (MiB) the hub keeps by deleting the oldest clips before the disk
    /// is full, so events and the database always have room.
    #[arg(long, value_name = "MIB", default_value_t = watchlight_hub::storage::DEFAULT_RESERVE_BYTES >> 20)]
    storage_reserve_mib: u64,
    /// A battery camera's live view lasts this many seconds before the owner must extend it.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    live_cap_s: u64,
}

#[derive(clap::Subcommand)]
enum HubCommand {
    /// Check the database against the clip files.
    Fsck {
        /// Fix what can be fixed (remove leftovers, quarantine corrupt files, drop dangling rows).
        #[arg(long)]
        repair: bool,
    },
    /// Create the owner account or reset its password.
    #[command(subcommand)]
    Owner(OwnerCommand),
    /// Forget every camera and the owner (the hub must be stopped). Keeps a backup of the
    /// database and keeps the clips unless --purge.
    Reset {
        #[arg(long)]
        purge: bool,
    },
    /// Write a Mosquitto configuration for this hub (mosquitto.conf, mosquitto.passwd
    /// with the hub's user, mosquitto.acl, pid file path) into a folder; then run
    /// `mosquitto -c DIR/mosquitto.conf` and `watchlight hub --mqtt-url mqtt(s)://ADDR
    /// --mosquitto-passwd DIR/mosquitto.passwd --mosquitto-pid-file DIR/mosquitto.pid`.
    /// Without --insecure Mosquitto serves the hub's certificate, which cameras pin.
    MosquittoConfig {
        /// The folder to write into.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Where Mosquitto listens (a fixed port: Mosquitto cannot pick one).
        #[arg(long, default_value = "0.0.0.0:8883")]
        listen: SocketAddr,
    },
}

#[derive(clap::Subcommand)]
enum OwnerCommand {
    /// Create the owner; the password is read from the first line of standard input.
    Create {
        #[arg(long)]
        username: String,
        /// Read the password from standard input (the default; accepted for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password for the owner, read from the first line of standard input.
    ResetPassword {
        #[arg(long)]
        password_stdin: bool,
    },
}

pub fn run(args: HubArgs) -> anyhow::Result<()> {
    match &args.command {
        None => serve(&args),
        Some(HubCommand::Fsck { repair }) => fsck(&args.data, *repair),
        Some(HubCommand::Owner(OwnerCommand::Create { username, .. })) => {
            owner_create(&args.data, username)
        }
        Some(HubCommand::Owner(OwnerCommand::ResetPassword { .. })) => owner_reset(&args.data),
        Some(HubCommand::Reset { purge }) => reset(&args.data, *purge),
        Some(HubCommand::MosquittoConfig { out, listen }) => mosquitto_config(&args, out, *listen),
    }
}

fn serve(args: &HubArgs) -> anyhow::Result<()> {
    let mqtt = match &args.mqtt_url {
        Some(url) => MqttMode::External { url: url.clone() },
        None => MqttMode::Embedded { listen: args.mqtt },
    };
    let mut config = HubConfig::new(&args.data);
    config.http_addr = args.http;
    config.mqtt = mqtt;
    config.home = args.home.clone();
    config.insecure = args.insecure;
    config.storage_reserve_bytes = args.storage_reserve_mib.saturating_mul(1024 * 1024);
    config.live_cap_ms = args.live_cap_s * 1000;
    if let Some(passwd) = &args.mosquitto_passwd {
        if !passwd.is_file() {
            return Err(UsageError(format!(
                "--mosquitto-passwd: no such file {} (make it with 'watchlight hub mosquitto-config')",
                passwd.display()
            ))
            .into());
        }
        config.external_credentials = Some(watchlight_hub::credentials::mosquitto_password_sink(
            passwd.clone(),
            args.mosquitto_pid_file.clone(),
        ));
    }
    watchlight_hub::runtime::serve(
        config,
        |hub| {
            // Scripts and tests read these lines.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "http_url={}", hub.http_url);
            let _ = writeln!(out, "mqtt_url={}", hub.mqtt_url);
            if let Some(setup) = &hub.setup_url {
                let _ = writeln!(out, "setup_url={setup}");
            }
            let _ = out.flush();
        },
        |report| {
            // The reset button was held 10 s: the hub starts again, printing its URLs.
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{report}");
            let _ = out.flush();
        },
    )
    .context("running the hub")?;
    Ok(())
}

/// Mistakes of the user exit with 2.
fn usage(e: AdminError) -> anyhow::Error {
    if e.is_usage() {
        UsageError(e.to_string()).into()
    } else {
        e.into()
    }
}

fn fsck(data: &Path, repair: bool) -> anyhow::Result<()> {
    let report = admin::fsck(data, repair).map_err(usage)?;
    println!("{report}");
    if report.is_clean() || repair {
        Ok(())
    } else {
        bail!("the store has problems; run 'watchlight hub fsck --repair'")
    }
}

fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    if password.is_empty() {
        return Err(UsageError("no password on standard input".into()).into());
    }
    Ok(password)
}

fn owner_create(data: &Path, username: &str) -> anyhow::Result<()> {
    admin::owner_create(data, username, &read_password()?).map_err(usage)?;
    println!("owner {username} created");
    Ok(())
}

fn owner_reset(data: &Path) -> anyhow::Result<()> {
    admin::owner_reset_password(data, &read_password()?).map_err(usage)?;
    println!("password changed; every session was logged out");
    Ok(())
}

fn reset(data: &Path, purge: bool) -> anyhow::Result<()> {
    let report = admin::reset(data, purge).map_err(usage)?;
    println!("{report}");
    Ok(())
}

fn mosquitto_config(args: &HubArgs, out: &Path, listen: SocketAddr) -> anyhow::Result<()> {
    let files = admin::mosquitto_config(&args.data, out, listen, &args.home, args.insecure)
        .map_err(usage)?;
    println!("config={}", files.config.display());
    println!("password_file={}", files.password_file.display());
    println!("acl_file={}", files.acl_file.display());
    println!("pid_file={}", files.pid_file.display());
    Ok(())
}
