//! `watchlight`: one binary for the hub, the camera agent, the doctor, the demo and
//! the tools. This file only parses the command line; each area's commands live in
//! `cli/<area>.rs`, and all logic lives in the library crates.

mod cli;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "watchlight",
    version,
    about = "Self-hosted home security cameras whose status light explains itself"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The hub: MQTT broker, device registry, clip store, HTTP API and web app.
    Hub(cli::hub::HubArgs),
    /// The camera agent (real or simulated hardware), and offline tools for the camera core.
    Camera(cli::camera::CameraArgs),
    /// Why is my camera flashing red? The troubleshooter.
    Doctor(cli::doctor::DoctorArgs),
    /// Motion detection tools: evaluation on CDnet sequences.
    Motion(cli::motion::MotionArgs),
    /// Start a hub and four simulated cameras and play the story an owner should see.
    Demo(cli::demo::DemoArgs),
    /// The fleet simulator: many simulated cameras against a hub, with timed faults.
    Sim(cli::sim::SimArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli::init_logging();
    let result = match cli.command {
        Command::Hub(args) => cli::hub::run(args),
        Command::Camera(args) => cli::camera::run(args),
        Command::Doctor(args) => cli::doctor::run(args),
        Command::Motion(args) => cli::motion::run(args),
        Command::Demo(args) => cli::demo::run(args),
        Command::Sim(args) => cli::sim::run(args),
    };
    cli::exit_code(result)
}
