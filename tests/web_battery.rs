//! A battery camera from the browser (`tests/web_app.rs` covers a mains camera): a
//! saved setting shown as applied once the camera reports it, live view that wakes it,
//! counts its session down and extends it, and the maintenance the guide sends an owner
//! to (reconnect Wi-Fi, reboot, a factory reset confirmed by typing the camera's name),
//! each reaching the simulated camera. Screenshots under `target/screenshots/battery-*`.

#[path = "web/app.rs"]
mod app;
#[path = "web/cdp.rs"]
#[allow(dead_code)] // the keyboard is driven in tests/web_app.rs
mod cdp;

use app::{App, PASS, SSID, bin, camera, js, step};
use serde_json::{Value, json};
use std::time::Duration;
use watchlight_agent::harness::{
    HubOptions, HubProcess, TEST_OWNER, TEST_PASSWORD, scratch_dir, wait_until,
};

/// Long enough to read the countdown, short enough that a session of the test's is
/// capped well before its 60 s timeouts.
const CAP_S: u64 = 40;

#[test]
fn the_owner_looks_after_a_battery_camera_from_the_browser() {
    let dir = scratch_dir("web-battery").unwrap();
    let mut app = App::start();
    let hub = HubProcess::start_with(
        &bin(),
        &dir.path().join("hub"),
        &HubOptions {
            insecure: true,
            extra: vec!["--live-cap-s".into(), CAP_S.to_string()],
            ..HubOptions::default()
        },
        TEST_OWNER,
        TEST_PASSWORD,
    )
    .expect("hub starts");
    let url = hub.http_url.clone();

    // Paired with a 2 s check-in set before it first connects, so it wakes often.
    let cam = camera(dir.path(), "indoor", "yard1");
    cam.wait_light("red_slow_blink", 30);
    let (status, body) = hub.pair(&cam, "Yard", SSID, PASS).unwrap();
    assert_eq!(status, 202, "{body}");
    let base = format!("/api/v1/cameras/{}", cam.device_id);
    let (status, body) = hub
        .api
        .call(
            "PATCH",
            &format!("{base}/settings"),
            Some(&json!({"checkin_interval": 2})),
        )
        .unwrap();
    assert_eq!(status, 200, "{body}");
    hub.wait_availability(&cam, "online", 60);

    step("battery: the card shows the charge, the camera page its forecast");
    app.login(&url, TEST_OWNER, TEST_PASSWORD);
    let card = format!("#cam-{}", cam.device_id);
    app.wait(
        &format!(
            "/\\d+ %/.test((document.querySelector({}) || {{}}).textContent || '')",
            js(&card)
        ),
        30,
    );
    app.eval(&format!(
        "location.hash = '#/camera/{}'; true",
        cam.device_id
    ));
    app.wait("!!document.getElementById('settings')", 20);
    app.wait(
        "(document.getElementById('charts') || {}).textContent?.includes('Battery')",
        20,
    );
    app.check_page("battery-camera");

    step("battery: a saved setting shows as applied once the camera reports it");
    let saved_before = hub.api.get(&base).unwrap()["settings"]["version"]
        .as_u64()
        .unwrap();
    app.eval(
        "(() => { const f = document.getElementById('settings'); \
         f.motion_indicator.checked = !f.motion_indicator.checked; f.requestSubmit(); return true; })()",
    );
    app.wait(
        &format!(
            "document.getElementById('settings-status').textContent.includes('Applied on the camera ✓ (version {})')",
            saved_before + 1
        ),
        60,
    );
    let applied: Value = hub.api.get(&base).unwrap();
    assert_eq!(
        applied["state"]["settings_version"], applied["settings"]["version"],
        "the page said applied: the camera reported the version saved ({applied})"
    );

    step("battery live view: it wakes, counts down its session, and extends");
    app.eval("document.getElementById('live').click(); true");
    app.wait(
        "document.getElementById('live-status').textContent.startsWith('Waking the camera')",
        10,
    );
    app.wait("document.getElementById('live-img')?.naturalWidth > 0", 60);
    app.wait(
        "/left · 1 watching/.test(document.getElementById('live-status').textContent)",
        20,
    );
    cam.wait_light("blue_solid", 10);
    let before = hub.api.get(&format!("{base}/live")).unwrap();
    let ends_before = before["ends_at_ms"].as_u64().expect("a capped session");
    let left = app.text("#live-status");
    app.check_page("battery-live");
    app.eval("document.getElementById('extend').click(); true");
    let extended = wait_until(Duration::from_secs(10), || {
        let now = hub.api.get(&format!("{base}/live")).ok()?;
        let ends = now["ends_at_ms"].as_u64()?;
        (ends > ends_before).then_some(ends)
    })
    .expect("Extend moves the session's end");
    assert_eq!(
        extended,
        ends_before + CAP_S * 1000,
        "extending gives another cap"
    );
    // The page's countdown follows: more time left than before the press.
    let minutes_seconds = |s: &str| -> Option<u64> {
        let t = s.split(" left").next()?.rsplit(' ').next()?;
        let (m, s) = t.split_once(':')?;
        Some(m.parse::<u64>().ok()? * 60 + s.parse::<u64>().ok()?)
    };
    let left_before = minutes_seconds(&left).unwrap_or_else(|| panic!("countdown in {left:?}"));
    wait_until(Duration::from_secs(10), || {
        let now = app.text("#live-status");
        (minutes_seconds(&now)? > left_before + CAP_S / 2).then_some(())
    })
    .expect("the countdown shows the extended session");
    app.eval(
        "[...document.querySelectorAll('#view button')].find(b => b.textContent === 'Close live view').click(); true",
    );
    wait_until(Duration::from_secs(15), || {
        (hub.api.get(&format!("{base}/live")).ok()?["state"] == "idle").then_some(())
    })
    .expect("closing the page's live view ends the session");

    step("battery: reboot from the page reaches the camera (its boot is in the events)");
    let boots = |hub: &HubProcess| {
        hub.events(&cam.device_id)
            .iter()
            .filter(|e| e["event"] == "boot")
            .count()
    };
    let boots_before = boots(&hub);
    app.eval("document.getElementById('cmd-reboot').click(); true");
    app.wait(
        "/Sent|restarting/.test((document.querySelector('.toast') || {}).textContent || '')",
        10,
    );
    wait_until(Duration::from_secs(60), || {
        (boots(&hub) > boots_before).then_some(())
    })
    .expect("the camera rebooted");
    app.wait(
        "[...document.querySelectorAll('#events li')].some(li => li.textContent.includes('boot'))",
        30,
    );

    step("battery: reconnect Wi-Fi from the page; the camera rejoins");
    let joins_before = cam
        .light_history()
        .iter()
        .filter(|l| l.as_str() == "green_blink")
        .count();
    app.fill("wifi-ssid", SSID);
    app.fill("wifi-pass", PASS);
    app.eval("document.getElementById('wifi-form').requestSubmit(); true");
    wait_until(Duration::from_secs(60), || {
        let joins = cam
            .light_history()
            .iter()
            .filter(|l| l.as_str() == "green_blink")
            .count();
        (joins > joins_before).then_some(())
    })
    .expect("the camera rejoined the Wi-Fi");
    hub.wait_availability(&cam, "online", 60);

    step("battery: factory reset asks for the camera's name, then resets it");
    app.eval("document.getElementById('factory-reset').click(); true");
    app.wait("document.getElementById('reset-dialog')?.open === true", 10);
    app.fill("reset-name", "Yrad");
    assert_eq!(
        app.eval("document.getElementById('reset-confirm').disabled"),
        json!(true),
        "a name that is not the camera's does not unlock the reset"
    );
    app.check_page("battery-reset-confirm");
    app.fill("reset-name", "Yard");
    app.eval("document.getElementById('reset-confirm').click(); true");
    app.wait("!document.getElementById('reset-dialog')", 10);
    cam.wait_light("red_slow_blink", 60);

    app.assert_accessible();
}
