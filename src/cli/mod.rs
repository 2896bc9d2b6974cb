//! The binary's edge: argument structs and the glue from them to the library crates.
//! Errors become `anyhow` here; an [`UsageError`] anywhere in the chain exits with 2.

pub mod agent;
pub mod camera;
pub mod demo;
pub mod doctor;
pub mod hub;
pub mod motion;
pub mod sim;

use std::io::IsTerminal;
use std::process::ExitCode;

/// An error in what the user gave us (a bad script, case file or flag): exit status 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WATCHLIGHT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour only on a terminal: escape codes in a log file or a pipe are noise.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .try_init();
}

pub fn exit_code(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.chain().any(|e| e.is::<UsageError>()) {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
