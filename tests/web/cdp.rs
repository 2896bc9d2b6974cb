//! A small Chrome DevTools Protocol client for the browser tests: Debian's Chromium,
//! headless, spoken to over `--remote-debugging-pipe` (JSON messages ending in NUL on
//! file descriptors 3 and 4), so no WebSocket stack and no downloaded browser.

use base64::Engine;
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

pub const CHROMIUM: &str = "/usr/bin/chromium";

pub type Result<T> = std::result::Result<T, String>;

/// A headless Chromium; killed when dropped.
pub struct Browser {
    child: Child,
    to_browser: File,
    from_browser: Receiver<Value>,
    next_id: u64,
    /// Events that arrived while waiting for an answer (kept for `wait_event`).
    events: VecDeque<Value>,
    _profile: tempfile::TempDir,
    pub downloads: PathBuf,
}

/// One tab, attached with a flat session.
pub struct Tab {
    pub session: String,
}

impl Browser {
    pub fn start() -> Result<Browser> {
        if !Path::new(CHROMIUM).exists() {
            return Err(format!(
                "the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
            ));
        }
        let profile = tempfile::tempdir().map_err(|e| e.to_string())?;
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).map_err(|e| e.to_string())?;
        let (to_child_read, to_child_write) = std::io::pipe().map_err(|e| e.to_string())?;
        let (from_child_read, from_child_write) = std::io::pipe().map_err(|e| e.to_string())?;
        let (r, w) = (
            OwnedFd::from(to_child_read),
            OwnedFd::from(from_child_write),
        );
        let (rfd, wfd) = (r.as_raw_fd(), w.as_raw_fd());
        let mut cmd = Command::new(CHROMIUM);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--autoplay-policy=no-user-gesture-required",
            "--remote-debugging-pipe",
            "--window-size=1440,900",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("about:blank")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2,
        // close) on descriptors this process owns.
        unsafe {
            cmd.pre_exec(move || {
                // Move both ends above 4 first, so that dup2 never meets itself.
                let r2 = libc::fcntl(rfd, libc::F_DUPFD, 10);
                let w2 = libc::fcntl(wfd, libc::F_DUPFD, 10);
                if r2 < 0 || w2 < 0 || libc::dup2(r2, 3) < 0 || libc::dup2(w2, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(r2);
                libc::close(w2);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {CHROMIUM}: {e}"))?;
        drop((r, w));
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_child_read);
            let mut buf = Vec::new();
            while let Ok(n) = reader.read_until(0, &mut buf) {
                if n == 0 {
                    break;
                }
                buf.pop_if(|b| *b == 0);
                if let Ok(v) = serde_json::from_slice::<Value>(&buf)
                    && tx.send(v).is_err()
                {
                    break;
                }
                buf.clear();
            }
        });
        let mut b = Browser {
            child,
            to_browser: File::from(OwnedFd::from(to_child_write)),
            from_browser: rx,
            next_id: 1,
            events: VecDeque::new(),
            _profile: profile,
            downloads,
        };
        b.call(None, "Browser.getVersion", json!({}))?;
        let dir = b.downloads.display().to_string();
        b.call(
            None,
            "Browser.setDownloadBehavior",
            json!({"behavior": "allow", "downloadPath": dir, "eventsEnabled": true}),
        )?;
        Ok(b)
    }

    /// Sends a command and waits for its answer (60 s at most).
    pub fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).map_err(|e| e.to_string())?;
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .map_err(|e| format!("{method}: the browser went away: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(v) if v.get("id").and_then(Value::as_u64) == Some(id) => {
                    if let Some(e) = v.get("error") {
                        return Err(format!("{method}: {e}"));
                    }
                    return Ok(v.get("result").cloned().unwrap_or(Value::Null));
                }
                Ok(v) => {
                    if self.events.len() > 10_000 {
                        self.events.pop_front();
                    }
                    self.events.push_back(v);
                }
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("{method}: no answer in 60 s"));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(format!("{method}: the browser closed"));
                }
            }
        }
    }

    /// A new tab of `width`×`height` CSS pixels (`mobile` for a phone's viewport).
    pub fn tab(&mut self, width: u32, height: u32, mobile: bool) -> Result<Tab> {
        let t = self.call(None, "Target.createTarget", json!({"url": "about:blank"}))?;
        let target = t["targetId"].as_str().ok_or("no targetId")?.to_string();
        let a = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        )?;
        let session = a["sessionId"].as_str().ok_or("no sessionId")?.to_string();
        let tab = Tab { session };
        self.call(Some(&tab.session), "Page.enable", json!({}))?;
        self.call(Some(&tab.session), "Runtime.enable", json!({}))?;
        self.viewport(&tab, width, height, mobile)?;
        Ok(tab)
    }

    pub fn viewport(&mut self, tab: &Tab, width: u32, height: u32, mobile: bool) -> Result<()> {
        self.call(
            Some(&tab.session),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )?;
        Ok(())
    }

    /// Loads `url` and waits until the document is complete.
    pub fn goto(&mut self, tab: &Tab, url: &str) -> Result<()> {
        self.call(Some(&tab.session), "Page.navigate", json!({"url": url}))?;
        self.wait(
            tab,
            "document.readyState === 'complete' && location.href !== 'about:blank'",
            20,
        )?;
        Ok(())
    }

    /// Evaluates `expr` in the page (promises awaited) and returns its JSON value.
    pub fn eval(&mut self, tab: &Tab, expr: &str) -> Result<Value> {
        let r = self.call(
            Some(&tab.session),
            "Runtime.evaluate",
            json!({"expression": expr, "awaitPromise": true, "returnByValue": true}),
        )?;
        if let Some(ex) = r.get("exceptionDetails") {
            let text = ex
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .unwrap_or_else(|| ex["text"].as_str().unwrap_or("exception"));
            return Err(format!("{expr}: {text}"));
        }
        Ok(r.pointer("/result/value").cloned().unwrap_or(Value::Null))
    }

    /// Waits until `expr` is truthy in the page; an error names the condition.
    pub fn wait(&mut self, tab: &Tab, expr: &str, secs: u64) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let last = match self.eval(tab, expr) {
                Ok(v) if truthy(&v) => return Ok(v),
                Ok(v) => v,
                Err(e) => json!(e),
            };
            if Instant::now() > deadline {
                return Err(format!("waited {secs} s for `{expr}`; last {last}"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A key press (Tab, Enter, ...) as the keyboard sends it.
    pub fn key(&mut self, tab: &Tab, key: &str, code: u32) -> Result<()> {
        for kind in ["rawKeyDown", "keyUp"] {
            self.call(
                Some(&tab.session),
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code}),
            )?;
        }
        Ok(())
    }

    /// Saves a PNG of the page as it is now.
    pub fn screenshot(&mut self, tab: &Tab, path: &Path) -> Result<()> {
        let r = self.call(
            Some(&tab.session),
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        )?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(r["data"].as_str().ok_or("no screenshot data")?)
            .map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        }
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
