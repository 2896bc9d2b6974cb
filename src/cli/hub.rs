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
    /// The home id (a topic level).
    #[arg(long, default_value = "home")]
    home: String,
    /// Plain TCP and HTTP instead of TLS: for tests only.
    #[arg(long)]
    insecure: bool,
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
    watchlight_hub::serve_until_signal(config, |hub| {
        // Scripts and tests read these lines.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "http_url={}", hub.http_url);
        let _ = writeln!(out, "mqtt_url={}", hub.mqtt_url);
        if let Some(setup) = &hub.setup_url {
            let _ = writeln!(out, "setup_url={setup}");
        }
        let _ = out.flush();
    })
    .context("running the hub")
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
