//! What the browser tests share: the app in a headless Chromium tab, with screenshots
//! and an axe-core check of every page it is asked to look at.

#![allow(dead_code)] // each test binary uses its own part

use crate::cdp::{Browser, Tab};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use watchlight_agent::harness::CameraProcess;

pub use watchlight_agent::harness::{TEST_SSID as SSID, TEST_WIFI_PASS as PASS};

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_watchlight"))
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// axe-core, installed by `.ci/run` from the committed `tests/web/package.json`.
pub fn axe_source() -> String {
    let path = repo().join("tests/web/node_modules/axe-core/axe.min.js");
    std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "{} is missing: run `npm ci --prefix tests/web`",
            path.display()
        )
    })
}

/// JS string literal.
pub fn js(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The browser, its tab, and what the checks found.
pub struct App {
    pub b: Browser,
    pub tab: Tab,
    axe: String,
    shots: PathBuf,
    pub a11y: Vec<String>,
}

const SIZES: [(&str, u32, u32, bool); 2] =
    [("desktop", 1440, 900, false), ("phone", 390, 844, true)];

impl App {
    /// Chromium with one desktop-sized tab; screenshots go to `target/screenshots/`.
    pub fn start() -> App {
        let axe = axe_source();
        let mut b = Browser::start().unwrap_or_else(|e| panic!("{e}"));
        let tab = b.tab(1440, 900, false).unwrap_or_else(|e| panic!("{e}"));
        App {
            b,
            tab,
            axe,
            shots: repo().join("target/screenshots"),
            a11y: Vec::new(),
        }
    }

    /// Logs in through the login page and waits for the dashboard.
    pub fn login(&mut self, url: &str, user: &str, password: &str) {
        self.goto(&format!("{url}/"));
        self.wait("location.pathname === '/login'", 20);
        self.submit_login(user, password);
        self.wait("!!document.getElementById('cards')", 20);
    }

    /// Fills and submits the login form shown, once its script is ready.
    pub fn submit_login(&mut self, user: &str, password: &str) {
        self.wait(
            "document.getElementById('login')?.dataset.ready === 'true'",
            20,
        );
        self.fill("username", user);
        self.fill("password", password);
        self.eval("document.getElementById('login').requestSubmit(); true");
    }

    /// Fails with every serious or critical axe-core finding of the pages looked at.
    pub fn assert_accessible(&self) {
        assert!(
            self.a11y.is_empty(),
            "accessibility (axe-core, serious or critical):\n{}",
            self.a11y.join("\n")
        );
    }

    pub fn eval(&mut self, expr: &str) -> Value {
        self.b
            .eval(&self.tab, expr)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits for `expr` to be truthy; a timeout names the page it was on.
    pub fn wait(&mut self, expr: &str, secs: u64) -> Value {
        match self.b.wait(&self.tab, expr, secs) {
            Ok(v) => v,
            Err(e) => {
                let at = self.b.eval(&self.tab, "location.href").unwrap_or_default();
                panic!("{e} (the page: {at})")
            }
        }
    }

    pub fn goto(&mut self, url: &str) {
        self.b
            .goto(&self.tab, url)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    pub fn fill(&mut self, id: &str, value: &str) {
        self.eval(&format!(
            "(() => {{ const e = document.getElementById({}); e.value = {}; \
             e.dispatchEvent(new Event('input', {{bubbles: true}})); return true; }})()",
            js(id),
            js(value)
        ));
    }

    pub fn text(&mut self, selector: &str) -> String {
        self.eval(&format!(
            "(document.querySelector({}) || {{}}).textContent || ''",
            js(selector)
        ))
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// Screenshots at both sizes and an axe-core run at each; serious or critical
    /// violations are collected (reported together at the end).
    pub fn check_page(&mut self, name: &str) {
        for (size, w, h, mobile) in SIZES {
            self.b
                .viewport(&self.tab, w, h, mobile)
                .unwrap_or_else(|e| panic!("{e}"));
            // From the top (a sticky header would otherwise sit mid-page in a full
            // capture), after two animation frames: the layout at this size is painted.
            self.eval("window.scrollTo(0, 0); true");
            self.eval("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))");
            let path = self.shots.join(format!("{name}-{size}.png"));
            self.b
                .screenshot(&self.tab, &path)
                .unwrap_or_else(|e| panic!("{e}"));
            if self.eval("typeof axe === 'undefined'") == json!(true) {
                let src = self.axe.clone();
                self.eval(&format!("{src};true"));
            }
            let found = self.eval(
                "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations\
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')\
                 .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' + \
                 v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))",
            );
            for v in found.as_array().into_iter().flatten() {
                self.a11y
                    .push(format!("{name} ({size}): {}", v.as_str().unwrap_or("")));
            }
        }
        self.b
            .viewport(&self.tab, 1440, 900, false)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

pub fn step(name: &str) {
    println!("step: {name}");
}

pub fn camera(dir: &Path, profile: &str, serial: &str) -> CameraProcess {
    CameraProcess::start_for_test(&bin(), dir, profile, serial, true).expect("camera starts")
}
