//! What a device login costs the broker, against a baseline measured in the same run:
//! SHA-256 + constant-time compare (ours, for 256-bit random device tokens) versus an
//! argon2 password check (mqtt5's own password provider, right for human passwords).
//!
//! `cargo run -p watchlight-broker --example login_cost` (the dev profile already builds
//! sha2, subtle and argon2 at opt-level 3).

use std::hint::black_box;
use std::time::Instant;

use mqtt5::broker::auth::PasswordAuthProvider;
use watchlight_broker::{DeviceRegistry, token_sha256};

const DEVICES: usize = 10_000;
const ARGON2_SAMPLES: usize = 20;

fn main() {
    let registry = DeviceRegistry::new();
    let tokens: Vec<(String, String)> = (0..DEVICES)
        .map(|i| {
            let id = format!("cam-{i:05}");
            let token = hex_of(&token_sha256(&format!("secret-{i}")));
            registry.insert(id.clone(), token_sha256(&token)).unwrap();
            (id, token)
        })
        .collect();

    let started = Instant::now();
    for (id, token) in &tokens {
        assert!(black_box(registry.verify(id, token.as_bytes())));
    }
    let ours = started.elapsed() / DEVICES as u32;

    let hash = PasswordAuthProvider::hash_password(&tokens[0].1).expect("argon2 hash");
    let started = Instant::now();
    for _ in 0..ARGON2_SAMPLES {
        assert!(black_box(PasswordAuthProvider::verify_password(
            &tokens[0].1,
            &hash
        )));
    }
    let argon2 = started.elapsed() / ARGON2_SAMPLES as u32;

    println!("device login check, {DEVICES} registered devices:");
    println!("  sha256 + constant-time compare: {ours:?} per login");
    println!("  argon2 (mqtt5 default) baseline: {argon2:?} per login");
    println!(
        "  ratio argon2 / ours: {:.0}x; {DEVICES} reconnecting cameras cost {:?} of CPU (argon2: {:?})",
        argon2.as_secs_f64() / ours.as_secs_f64(),
        ours * DEVICES as u32,
        argon2 * DEVICES as u32
    );
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
