//! What the web app relies on from the hub: the app served at the root with its
//! security headers, the setup page's status, the Origin check on state-changing calls,
//! the light each camera shows, chart readings, and arming that follows new cameras.

mod common;

use common::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_is_served_at_the_root_with_a_policy_that_forbids_inline_script() {
    let t = start_hub(None).await;
    for path in ["/", "/login", "/setup", "/app/js/app.js", "/app/lights.css"] {
        let r = t
            .http
            .get(format!("{}{path}", t.hub.http_url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(r.headers()["x-frame-options"], "DENY", "{path}");
    }
    let r = t
        .http
        .get(format!("{}/app/nothing.js", t.hub.http_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // The hub has an owner: the setup page must not offer the form.
    let s: serde_json::Value = t
        .http
        .get(t.url("/setup"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(s, json!({"owner_exists": true, "link_open": false}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_sites_page_cannot_post_with_the_owners_session() {
    let t = start_hub(None).await;
    let host = t.hub.http_url.trim_start_matches("http://").to_string();
    let post = |origin: String| {
        t.http
            .post(t.url("/disarm"))
            .header("cookie", &t.cookie)
            .header("origin", origin)
            .json(&json!({}))
            .send()
    };
    let r = post("http://evil.example".into()).await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.text().await.unwrap().contains("another site"));
    let r = post(format!("http://{host}")).await.unwrap();
    assert_eq!(r.status(), 200, "the hub's own pages may");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_shows_the_setup_lights_while_pairing_and_is_armed_like_the_others() {
    let t = start_hub(None).await;
    assert_eq!(t.post("/arm", json!({"mode": "away"})).await.status(), 200);
    let (url, prov) = stand_in_camera("424242").await;
    let r = t
        .post(
            "/cameras",
            json!({"serial": "SN7", "pairing_code": "424242", "name": "Shed", "profile": "outdoor",
                   "wifi": {"ssid": "home", "passphrase": "typo"}, "provision_url": url}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let cam = t.get_json("/cameras/cam-SN7").await;
    assert_eq!(cam["light"]["light_id"], "green_blink", "{cam}");
    assert_eq!(cam["settings"]["armed"], true, "added while away: armed");

    prov.lock().unwrap().status = json!({"state": "setup", "last_error": "wifi_rejected"});
    eventually(5, "the refused password's solid red", || async {
        t.get_json("/cameras/cam-SN7").await["light"]["light_id"] == "red_solid"
    })
    .await;
    let cam = t.get_json("/cameras/cam-SN7").await;
    assert_eq!(
        cam["light"]["meaning"],
        "The Wi-Fi network refused the password given during setup."
    );

    let r = t.get("/cameras/cam-SN7/telemetry?hours=0").await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("hours must be 1 to"));
    let readings = t.get_json("/cameras/cam-SN7/telemetry").await;
    assert_eq!(readings["readings"], json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doctor_speaks_in_words() {
    let t = start_hub(None).await;
    let (id, _) = pair(&t, "SN9", "mini").await;
    let d = t.get_json(&format!("/cameras/{id}/diagnosis")).await;
    let first = &d["causes"][0];
    assert!(
        first["title"].as_str().is_some_and(|s| !s.is_empty()),
        "{d}"
    );
    for step in d["plan"].as_array().unwrap() {
        assert!(
            step["text"].as_str().is_some_and(|s| !s.is_empty()),
            "{step}"
        );
        if step["kind"] == "question" {
            let field = step["field"].as_str().unwrap();
            assert!(step["action"].as_str().unwrap().ends_with(field), "{step}");
            assert!(step["answers"]["type"].is_string(), "{step}");
        }
    }
}
