//! The machine stays sans-IO: its crate has tokio, rumqttc and reqwest for the driver, so
//! the crate-level rule in `tests/architecture.rs` cannot see a use of them in here;
//! this reads the machine's own source instead.

/// The machine's files, as compiled.
const SOURCES: [(&str, &str); 7] = [
    ("mod.rs", include_str!("mod.rs")),
    ("io.rs", include_str!("io.rs")),
    ("connection.rs", include_str!("connection.rs")),
    ("delivery.rs", include_str!("delivery.rs")),
    ("hub_messages.rs", include_str!("hub_messages.rs")),
    ("live.rs", include_str!("live.rs")),
    ("sensors.rs", include_str!("sensors.rs")),
];

/// What would bring I/O, a clock or unseeded randomness into the machine.
const FORBIDDEN: [&str; 14] = [
    "tokio",
    "rumqttc",
    "reqwest",
    "axum",
    "std::fs",
    "std::net",
    "std::time",
    "std::thread",
    "Instant",
    "SystemTime",
    "rand::",
    "crate::runtime",
    "crate::session",
    "crate::disk_queue",
];

#[test]
fn the_machine_uses_no_io_no_clock_and_no_unseeded_randomness() {
    let mut found = Vec::new();
    for (file, text) in SOURCES {
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for word in FORBIDDEN {
                if code.contains(word) {
                    found.push(format!("machine/{file}:{}: {word}", n + 1));
                }
            }
        }
    }
    assert!(found.is_empty(), "{found:#?}");
}
