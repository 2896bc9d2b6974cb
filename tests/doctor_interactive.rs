//! `watchlight doctor` in a terminal: driven through a real pseudo-terminal (util-linux
//! `script` allocates it, so the binary sees a TTY), answering its questions, saying
//! "not fixed" once to make it re-plan, then "fixed", and checking the priors it learned.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

struct Terminal {
    child: std::process::Child,
    input: std::process::ChildStdin,
    output: mpsc::Receiver<Vec<u8>>,
    seen: String,
}

impl Terminal {
    fn spawn(command: &str) -> Terminal {
        let mut child = Command::new("script")
            .args(["-q", "-e", "-f", "-c", command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("util-linux `script` provides the pseudo-terminal");
        let mut stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let input = child.stdin.take().unwrap();
        Terminal {
            child,
            input,
            output: rx,
            seen: String::new(),
        }
    }

    /// Wait until one of `needles` appears in new output; return which, and the text
    /// up to and including it.
    fn expect_any(&mut self, needles: &[&str]) -> (usize, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((i, at)) = needles
                .iter()
                .enumerate()
                .filter_map(|(i, n)| self.seen.find(n).map(|at| (i, at + n.len())))
                .min_by_key(|(_, at)| *at)
            {
                let text: String = self.seen.drain(..at).collect();
                return (i, text);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.output.recv_timeout(left) {
                Ok(chunk) => self.seen.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => panic!(
                    "timed out waiting for {needles:?}; output so far: {}",
                    self.seen
                ),
            }
        }
    }

    fn send_line(&mut self, line: &str) {
        self.input
            .write_all(format!("{line}\n").as_bytes())
            .unwrap();
        self.input.flush().unwrap();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_doctor_talks_an_owner_through_in_a_terminal() {
    let dir = std::env::temp_dir().join(format!("wl-doctor-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let case = dir.join("case.json");
    // A camera blinking red; the owner has not said more yet.
    std::fs::write(
        &case,
        r#"{"v":1,"profile":"outdoor","observations":{"light":"red_blink"},
            "telemetry":{"availability":"offline","minutes_since_seen":8,"fleet_offline_fraction":1.0}}"#,
    )
    .unwrap();
    let priors: PathBuf = dir.join("priors.json");
    let command = format!(
        "{} doctor --case {} --priors {}",
        env!("CARGO_BIN_EXE_watchlight"),
        case.display(),
        priors.display()
    );
    let mut tty = Terminal::spawn(&command);
    tty.expect_any(&["Watchlight doctor"]);

    // The owner's truth: the router is fine (phones online), the hub is off.
    // The dialog speaks in words: questions and steps are recognised by their text,
    // and the "when" answer is typed as a person would say it.
    let answers = [
        ("other devices", "yes"),
        ("hub running", "no"),
        ("password change", "no"),
        ("When does it show", "all the time"),
        ("set up and working", "yes"),
    ];
    let steps = [
        ("Check the hub", "check_hub"),
        ("Restart your router", "restart_router"),
    ];
    let mut questions = 0;
    let mut repairs = Vec::new();
    loop {
        let (which, _) = tty.expect_any(&["Question: ", "Next step (", "Glad it works again"]);
        if which == 2 {
            break;
        }
        let (_, text) = tty.expect_any(&["> "]);
        assert!(
            !text.contains("ask_") && !text.contains("_hub") && !text.contains("_router"),
            "ids leaked into the dialog: {text}"
        );
        if which == 0 {
            questions += 1;
            let answer = answers
                .iter()
                .find(|(q, _)| text.contains(q))
                .map(|(_, a)| *a)
                .unwrap_or("skip");
            tty.send_line(answer);
        } else {
            let id = steps
                .iter()
                .find(|(words, _)| text.contains(words))
                .map(|(_, id)| *id)
                .unwrap_or("other");
            repairs.push(id.to_string());
            if id == "check_hub" {
                tty.send_line("fixed");
            } else if id == "restart_router" {
                tty.send_line("not fixed");
                tty.expect_any(&["Re-planning"]);
            } else {
                tty.send_line("can't do");
            }
        }
        assert!(
            repairs.len() + questions < 15,
            "never got to check_hub: {repairs:?}"
        );
    }
    assert!(
        questions >= 1,
        "a cheap, telling question should come first"
    );
    assert_eq!(
        repairs.last().map(String::as_str),
        Some("check_hub"),
        "{repairs:?}"
    );
    tty.expect_any(&["priors saved"]);
    let learned = std::fs::read_to_string(&priors).unwrap();
    assert!(learned.contains("hub_unreachable"), "{learned}");
    let _ = std::fs::remove_dir_all(&dir);
}
