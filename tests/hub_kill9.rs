//! kill -9 of the hub process during a clip upload: after a restart the clip
//! arrives once, no partial file is left, and `watchlight hub fsck` finds the store
//! clean. Runs the real binary on ephemeral ports; HTTP is spoken by hand over TCP so
//! the test needs nothing beyond the standard library.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use watchlight_hub::watchlight_store::{NewDevice, Store, SystemClock, TokenDigest};

const BIN: &str = env!("CARGO_BIN_EXE_watchlight");
const VIDEO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/data/video/campus-pedestrians-480x360-10fps.mp4"
);

struct RunningHub {
    child: Child,
    http: String,
}

impl Drop for RunningHub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_hub(data: &Path) -> RunningHub {
    let mut child = Command::new(BIN)
        .args([
            "hub",
            "--insecure",
            "--http",
            "127.0.0.1:0",
            "--mqtt",
            "127.0.0.1:0",
            "--data",
        ])
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("watchlight runs");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let http = loop {
        let line = lines.next().expect("the hub prints its URLs").unwrap();
        if let Some(url) = line.strip_prefix("http_url=") {
            break url.strip_prefix("http://").unwrap().to_string();
        }
    };
    // Keep reading what the hub prints after its URLs (the setup link): a closed pipe
    // would make its next line fail.
    std::thread::spawn(move || lines.for_each(drop));
    RunningHub { child, http }
}

/// One HTTP/1.1 request; returns the status and the body.
fn request(addr: &str, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "{head}Host: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body_at = text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(out.len());
    (status, out[body_at..].to_vec())
}

fn sha256_hex(data: &[u8]) -> String {
    use std::fmt::Write as _;
    // The store's digest type computes SHA-256; reuse it rather than add a dependency.
    let d = watchlight_hub::watchlight_store::Sha256Hex::of(data);
    let mut s = String::new();
    write!(s, "{d}").unwrap();
    s
}

#[test]
fn kill_9_during_a_clip_upload_then_restart_the_clip_arrives_once_and_fsck_is_clean() {
    let dir = std::env::temp_dir().join(format!("wl-hub-kill9-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.as_path();
    let token = "ab".repeat(32);
    {
        // A paired camera, written the way pairing writes it.
        let store = Store::open(data, Arc::new(SystemClock)).unwrap();
        store
            .create_device(&NewDevice {
                id: "cam-K9".into(),
                serial: "K9".into(),
                name: "Yard".into(),
                profile: "mini".parse().unwrap(),
                token: TokenDigest::of_token(&token),
            })
            .unwrap();
    }
    let video = std::fs::read(VIDEO).unwrap_or_else(|e| {
        panic!(
            "missing {VIDEO} ({e}): the tests read real footage from ../shared/data beside the repository (not in it; see ../shared/data/SOURCES.md and the README's Tests section)"
        )
    });
    let digest = sha256_hex(&video);
    let clip = "cam-K9-1800000000000-1";
    let head = format!(
        "PUT /api/v1/devices/cam-K9/clips/{clip} HTTP/1.1\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: video/mp4\r\nX-Watchlight-Sha256: {digest}\r\n"
    );

    // Half the body, then the hub dies.
    let mut hub = start_hub(data);
    let mut s = TcpStream::connect(&hub.http).unwrap();
    write!(
        s,
        "{head}Host: x\r\nContent-Length: {}\r\n\r\n",
        video.len()
    )
    .unwrap();
    s.write_all(&video[..video.len() / 2]).unwrap();
    s.flush().unwrap();
    let device_dir = data.join("clips/cam-K9");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !std::fs::read_dir(&device_dir).is_ok_and(|mut d| {
        d.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tmp-")))
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the upload never started writing"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    hub.child.kill().unwrap(); // SIGKILL
    hub.child.wait().unwrap();
    drop(s);
    assert!(
        !device_dir.join(format!("{clip}.mp4")).exists(),
        "no clip file from half an upload"
    );

    // Restart: the camera retries; the clip lands once.
    let hub = start_hub(data);
    let (status, body) = request(&hub.http, &head, &video);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let (status, _) = request(&hub.http, &head, &video);
    assert_eq!(status, 200, "the retry is recognised");
    let files: Vec<String> = std::fs::read_dir(&device_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        files,
        vec![format!("{clip}.mp4")],
        "one file, no partial left"
    );
    assert_eq!(
        std::fs::read(device_dir.join(format!("{clip}.mp4"))).unwrap(),
        video
    );
    drop(hub);

    let out = Command::new(BIN)
        .args(["hub", "fsck", "--data"])
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "fsck: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
