//! The owner's web app (SPEC §9): a few HTML pages, hand-written ES modules and one
//! style sheet, embedded in the binary at build time, so a hub with the internet down
//! serves all of it. The pages talk only to the hub's public API (`/api/v1`) and its
//! event stream; there is no build step and nothing is fetched from elsewhere.
//!
//! The crate does no I/O: the hub asks [`asset`] for a path and serves what it gets
//! with [`SECURITY_HEADERS`]. The status light's animations ([`lights::css`]) are
//! generated from `watchlight_protocol::light`, so the app blinks exactly as the device.

pub mod lights;

use std::borrow::Cow;

/// A file the app serves.
pub struct Asset {
    pub content_type: &'static str,
    pub body: Cow<'static, [u8]>,
}

/// Headers every page and file of the app carries. The policy allows scripts, styles
/// and fetches from the hub itself only: no inline script, no inline style attribute,
/// no framing (clickjacking), no form posting elsewhere.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
         media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
         form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
    ("cache-control", "no-cache"),
];

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The pages, by the URL path the hub serves them at.
const PAGES: &[(&str, &str)] = &[
    ("/", include_str!("../assets/app.html")),
    ("/login", include_str!("../assets/login.html")),
    ("/setup", include_str!("../assets/setup.html")),
];

/// Scripts, styles and pictures under `/app/`.
const FILES: &[(&str, &str, &str)] = &[
    ("app.css", CSS, include_str!("../assets/app.css")),
    ("icon.svg", SVG, include_str!("../assets/icon.svg")),
    ("js/api.js", JS, include_str!("../assets/js/api.js")),
    ("js/app.js", JS, include_str!("../assets/js/app.js")),
    ("js/ui.js", JS, include_str!("../assets/js/ui.js")),
    (
        "js/dashboard.js",
        JS,
        include_str!("../assets/js/dashboard.js"),
    ),
    ("js/camera.js", JS, include_str!("../assets/js/camera.js")),
    ("js/charts.js", JS, include_str!("../assets/js/charts.js")),
    ("js/doctor.js", JS, include_str!("../assets/js/doctor.js")),
    ("js/add.js", JS, include_str!("../assets/js/add.js")),
    ("js/hub.js", JS, include_str!("../assets/js/hub.js")),
    ("js/login.js", JS, include_str!("../assets/js/login.js")),
    ("js/setup.js", JS, include_str!("../assets/js/setup.js")),
];

/// The URL paths of the app's pages (the hub routes each to [`asset`]).
pub fn page_paths() -> impl Iterator<Item = &'static str> {
    PAGES.iter().map(|(p, _)| *p)
}

/// The file at a URL path (`/`, `/login`, `/app/js/app.js`, ...), or `None`.
pub fn asset(path: &str) -> Option<Asset> {
    if let Some((_, html)) = PAGES.iter().find(|(p, _)| *p == path) {
        return Some(Asset {
            content_type: HTML,
            body: Cow::Borrowed(html.as_bytes()),
        });
    }
    let rest = path.strip_prefix("/app/")?;
    if rest == "lights.css" {
        return Some(Asset {
            content_type: CSS,
            body: Cow::Owned(lights::css().into_bytes()),
        });
    }
    if rest == "profiles.json" {
        return Some(Asset {
            content_type: "application/json",
            body: Cow::Owned(profiles_json().into_bytes()),
        });
    }
    FILES
        .iter()
        .find(|(p, _, _)| *p == rest)
        .map(|(_, content_type, body)| Asset {
            content_type,
            body: Cow::Borrowed(body.as_bytes()),
        })
}

/// The camera models the add-camera wizard offers, from the shipped profiles.
fn profiles_json() -> String {
    let items: Vec<String> = watchlight_protocol::Profile::all()
        .iter()
        .map(|p| {
            let power = if p.on_battery() { "battery" } else { "mains" };
            format!(r#"{{"id":"{}","power":"{power}"}}"#, p.id.as_str())
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_loads_only_its_own_scripts() {
        for path in page_paths() {
            let page = asset(path).unwrap();
            let html = std::str::from_utf8(&page.body).unwrap();
            assert!(!html.contains("<script>"), "{path} has an inline script");
            assert!(!html.contains("style="), "{path} has an inline style");
            assert!(
                !html.contains("http://") && !html.contains("https://"),
                "{path} links outside the hub"
            );
            for src in html.split("src=\"").skip(1) {
                let src = &src[..src.find('"').unwrap()];
                assert!(
                    asset(src).is_some(),
                    "{path} loads {src}, which is not served"
                );
            }
        }
    }

    #[test]
    fn every_module_import_is_served() {
        for (name, _, body) in FILES.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            for rest in body.split(" from '").skip(1) {
                let from = &rest[..rest.find('\'').unwrap()];
                let target = from.strip_prefix("./").expect("relative import");
                assert!(
                    asset(&format!("/app/js/{target}")).is_some(),
                    "{name} imports {from}, which is not served"
                );
            }
        }
    }

    #[test]
    fn the_wizard_offers_every_shipped_profile() {
        let json =
            String::from_utf8(asset("/app/profiles.json").unwrap().body.into_owned()).unwrap();
        for p in watchlight_protocol::Profile::all() {
            assert!(
                json.contains(&format!(r#""id":"{}""#, p.id.as_str())),
                "{json}"
            );
        }
        assert!(json.contains(r#"{"id":"mini","power":"mains"}"#), "{json}");
    }

    #[test]
    fn unknown_paths_are_not_served() {
        assert!(asset("/app/nothing.js").is_none());
        assert!(asset("/app/../Cargo.toml").is_none());
        assert!(asset("/api/v1/cameras").is_none());
    }

    #[test]
    fn the_policy_forbids_inline_script() {
        let csp = SECURITY_HEADERS[0].1;
        assert!(csp.contains("script-src 'self';"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
