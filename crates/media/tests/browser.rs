//! Playback in a real headless Chromium: a clip recorded from the shared campus footage is
//! served over HTTP with byte ranges; the page reports what its `<video>` reached.
//!
//! Needs Debian's `chromium` at /usr/bin/chromium (CI installs it).

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use watchlight_hw::FrameSource;
use watchlight_media::{ClipRecorder, ClipTrigger, MotionSample, Mp4FrameSource, RecorderConfig};

const CHROMIUM: &str = "/usr/bin/chromium";

const PAGE: &str = r#"<!doctype html>
<html><body>
<video id="v" muted preload="auto"></video>
<img id="thumb">
<script>
const v = document.getElementById('v');
const img = document.getElementById('thumb');
const result = {};
let waiting = 2; // the seek and the thumbnail
function done() { if (--waiting === 0) send(); }
function send() {
  fetch('/result', {method: 'POST', body: JSON.stringify(result)});
}
function seekable() {
  return v.seekable.length ? [v.seekable.start(0), v.seekable.end(v.seekable.length - 1)] : null;
}
v.addEventListener('error', () => { result.error = v.error ? v.error.code + ' ' + v.error.message : 'unknown'; send(); });
v.addEventListener('canplay', () => {
  if (result.ready_state !== undefined) return;
  result.ready_state = v.readyState;
  result.duration = v.duration;
  result.video_width = v.videoWidth;
  result.video_height = v.videoHeight;
  result.seekable = seekable();
  result.seek_target = v.duration / 2;
  v.addEventListener('seeked', () => {
    result.seeked_to = v.currentTime;
    result.ready_state_after_seek = v.readyState;
    done();
  }, {once: true});
  v.currentTime = result.seek_target;
});
img.onload = () => { result.thumb_width = img.naturalWidth; result.thumb_height = img.naturalHeight; done(); };
img.onerror = () => { result.thumb_error = true; done(); };
img.src = '/thumb.jpg';
v.src = '/clip.mp4';
</script>
</body></html>"#;

/// What the server saw and received.
#[derive(Default)]
struct Observed {
    range_requests: usize,
}

/// Serves `files` (path → (content type, bytes)) with `Range` support, one thread per
/// connection; the body of `POST /result` goes to `results`.
fn serve(
    files: HashMap<&'static str, (&'static str, Vec<u8>)>,
    results: mpsc::Sender<String>,
) -> (u16, Arc<Mutex<Observed>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let files = Arc::new(files);
    let observed = Arc::new(Mutex::new(Observed::default()));
    let seen = observed.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (files, results, seen) = (files.clone(), results.clone(), seen.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, &files, &results, &seen);
            });
        }
    });
    (port, observed)
}

fn handle(
    stream: TcpStream,
    files: &HashMap<&'static str, (&'static str, Vec<u8>)>,
    results: &mpsc::Sender<String>,
    seen: &Mutex<Observed>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = stream;
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    if method == "POST" && path == "/result" {
        let len = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        let _ = results.send(String::from_utf8_lossy(&body).into_owned());
        return out.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
    }
    let path = if path == "/" { "/index.html" } else { path };
    let Some((content_type, body)) = files.get(path) else {
        return out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let total = body.len();
    let (status, start, end) = match headers.get("range").map(|r| parse_range(r, total)) {
        None => ("200 OK", 0, total),
        Some(Some((start, end))) => {
            seen.lock().unwrap().range_requests += 1;
            ("206 Partial Content", start, end)
        }
        Some(None) => {
            let head = format!(
                "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{total}\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return out.write_all(head.as_bytes());
        }
    };
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Accept-Ranges: bytes\r\nConnection: close\r\n",
        end - start
    );
    if status.starts_with("206") {
        head.push_str(&format!(
            "Content-Range: bytes {start}-{}/{total}\r\n",
            end - 1
        ));
    }
    head.push_str("\r\n");
    out.write_all(head.as_bytes())?;
    if method != "HEAD" {
        out.write_all(&body[start..end])?;
    }
    out.flush()
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` → half-open `[start, end)`, or None if unsatisfiable.
fn parse_range(header: &str, total: usize) -> Option<(usize, usize)> {
    let spec = header.strip_prefix("bytes=")?.split(',').next()?.trim();
    let (a, b) = spec.split_once('-')?;
    let (start, end) = if a.is_empty() {
        let n: usize = b.parse().ok()?;
        (total.saturating_sub(n), total)
    } else {
        let start: usize = a.parse().ok()?;
        let end = if b.is_empty() {
            total
        } else {
            (b.parse::<usize>().ok()? + 1).min(total)
        };
        (start, end)
    };
    (start < end).then_some((start, end))
}

/// Kills the browser when the test ends, however it ends.
struct Browser(Child);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn range_parsing_follows_rfc_9110() {
    assert_eq!(parse_range("bytes=0-99", 1000), Some((0, 100)));
    assert_eq!(parse_range("bytes=900-", 1000), Some((900, 1000)));
    assert_eq!(parse_range("bytes=-100", 1000), Some((900, 1000)));
    assert_eq!(parse_range("bytes=990-2000", 1000), Some((990, 1000)));
    assert_eq!(parse_range("bytes=1000-", 1000), None);
    assert_eq!(parse_range("items=0-1", 1000), None);
}

#[test]
fn a_recorded_clip_plays_and_seeks_in_headless_chromium() {
    assert!(
        std::path::Path::new(CHROMIUM).exists(),
        "this test needs Debian's chromium at {CHROMIUM} (apt-get install chromium)"
    );
    // A clip of real footage through the recorder: 2 s pre-roll, then 4 s recorded.
    let mut source = Mp4FrameSource::open(common::campus_mp4()).unwrap();
    let (w, h) = source.size();
    let mut recorder = ClipRecorder::new(RecorderConfig::new(w, h, source.fps(), 2_000)).unwrap();
    for _ in 0..30 {
        let frame = source.next_frame().unwrap().unwrap();
        recorder.push_frame(&frame, &MotionSample::none()).unwrap();
    }
    recorder
        .start(ClipTrigger::Pixel, 1_700_000_000_000)
        .unwrap();
    for _ in 0..40 {
        let frame = source.next_frame().unwrap().unwrap();
        let motion = MotionSample {
            score: 1.0,
            boxes: vec![[0.1, 0.2, 0.3, 0.4]],
        };
        recorder.push_frame(&frame, &motion).unwrap();
    }
    let clip = recorder.finish().unwrap();
    let expected_s = clip.meta.duration_ms as f64 / 1000.0;
    assert!(expected_s >= 6.0, "pre-roll plus recording: {expected_s} s");

    let (results_tx, results_rx) = mpsc::channel();
    let files = HashMap::from([
        (
            "/index.html",
            ("text/html; charset=utf-8", PAGE.as_bytes().to_vec()),
        ),
        ("/clip.mp4", ("video/mp4", clip.mp4.clone())),
        ("/thumb.jpg", ("image/jpeg", clip.thumbnail_jpeg.clone())),
    ]);
    let (port, observed) = serve(files, results_tx);
    let profile = tempfile::tempdir().unwrap();
    let _browser = Browser(
        Command::new(CHROMIUM)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("http://127.0.0.1:{port}/"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("{CHROMIUM} does not start ({e}): this test needs Debian's chromium (apt-get install chromium)")
            }),
    );
    let report = results_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the page reports back within 60 s");
    let r: serde_json::Value = serde_json::from_str(&report).unwrap();
    println!(
        "clip {} bytes, {expected_s} s; browser reported {r}",
        clip.meta.bytes
    );
    assert!(r.get("error").is_none(), "video error: {r}");
    assert!(r["ready_state"].as_u64().unwrap() >= 3, "readyState: {r}");
    let duration = r["duration"].as_f64().unwrap();
    assert!(
        (duration - expected_s).abs() <= 0.1,
        "duration {duration} s, clip is {expected_s} s (one frame is 0.1 s)"
    );
    assert_eq!(
        (r["video_width"].as_u64(), r["video_height"].as_u64()),
        (Some(480), Some(360))
    );
    let seekable_end = r["seekable"][1].as_f64().unwrap();
    assert!(
        (seekable_end - duration).abs() < 0.01,
        "seekable to the end: {r}"
    );
    let seeked = r["seeked_to"].as_f64().unwrap();
    assert!(
        (seeked - duration / 2.0).abs() < 0.05,
        "seeked to {seeked}: {r}"
    );
    assert!(r["ready_state_after_seek"].as_u64().unwrap() >= 2, "{r}");
    assert!(
        observed.lock().unwrap().range_requests > 0,
        "the browser asked for byte ranges"
    );
    // The browser decodes the thumbnail too.
    assert_eq!(
        (r["thumb_width"].as_u64(), r["thumb_height"].as_u64()),
        (Some(480), Some(360)),
        "{r}"
    );
}
