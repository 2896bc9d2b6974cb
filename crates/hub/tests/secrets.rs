//! Secrets on the hub's disk: a Reconnect Wi-Fi passphrase is kept only until the camera
//! has it, and never in a file (database, broker queue) under the data folder.

mod common;

use common::*;
use serde_json::json;

/// Every file under `dir` whose bytes contain `needle`.
fn files_containing(dir: &std::path::Path, needle: &[u8]) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if std::fs::read(&path)
                .is_ok_and(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wifi_passphrase_for_a_sleeping_camera_never_reaches_the_disk() {
    const PASSPHRASE: &str = "pw-never-on-disk-7f3a9c";
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN-S1", "indoor").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    eventually(5, "online", || async {
        t.availability(&id).await == "online"
    })
    .await;
    // The camera goes to sleep; its persistent session stays in the broker.
    dev.say("sleeping").await;
    eventually(5, "sleeping", || async {
        t.availability(&id).await == "sleeping"
    })
    .await;
    dev.client.disconnect().await.unwrap();
    dev.task.abort();

    let r = t
        .post(
            &format!("/cameras/{id}/wifi"),
            json!({"ssid": "new-net", "passphrase": PASSPHRASE}),
        )
        .await;
    assert_eq!(r.status(), 202);
    let cmd: serde_json::Value = r.json().await.unwrap();
    let cmd_id = cmd["id"].as_str().unwrap().to_string();
    assert_eq!(cmd["status"], "waiting", "{cmd}");
    let on_disk = files_containing(t.dir.path(), PASSPHRASE.as_bytes());
    assert!(on_disk.is_empty(), "the passphrase is in {on_disk:?}");

    // The camera wakes: it gets the passphrase at once, then answers.
    let mut dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    let wifi = dev.expect("/cmd/wifi").await;
    assert_eq!(wifi["args"]["passphrase"], PASSPHRASE);
    assert_eq!(wifi["args"]["ssid"], "new-net");
    dev.publish(
        "cmd_result",
        json!({"v": 1, "ts": 2, "id": cmd_id, "ok": true}).to_string(),
    )
    .await;
    eventually(5, "result recorded", || async {
        t.get_json(&format!("/commands/{cmd_id}")).await["status"] == "ok"
    })
    .await;
    let on_disk = files_containing(t.dir.path(), PASSPHRASE.as_bytes());
    assert!(on_disk.is_empty(), "the passphrase is in {on_disk:?}");
    t.hub.shutdown().await;
}

/// The data folder and everything the hub, its store and its broker put in it are the
/// hub user's alone; `hub fsck` finds anything else and `--repair` restricts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_folder_is_private_and_fsck_checks_it() {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::PermissionsExt;
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN-P1", "mini").await;
    let dev = connect_device(&t, &id, &token).await;
    dev.say("online").await;
    let clip = format!("{id}-1800000000000-1");
    for (suffix, body) in [
        ("", b"not really an mp4".to_vec()),
        ("/thumbnail", b"jpeg".to_vec()),
    ] {
        let r = t
            .http
            .put(t.url(&format!("/devices/{id}/clips/{clip}{suffix}")))
            .bearer_auth(&token)
            .header("x-watchlight-sha256", hex::encode(Sha256::digest(&body)))
            .body(body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{suffix}: {}", r.status());
    }
    dev.publish(
        "event",
        json!({"v":1,"ts":5,"seq":1,"event":"clip_recorded","data":{"clip_id":clip}}).to_string(),
    )
    .await;
    eventually(5, "the event stored", || async {
        t.get_json(&format!("/cameras/{id}/events")).await["events"]
            .as_array()
            .is_some_and(|e| e.len() == 1)
    })
    .await;
    let data = t.dir.path();
    assert!(
        data.join("clips")
            .join(&id)
            .join(format!("{clip}.mp4"))
            .is_file()
    );
    let open = watchlight_store::private::open_to_others(data);
    assert!(open.is_empty(), "readable by others: {open:?}");
    let report = watchlight_hub::admin::fsck(data, false).unwrap();
    assert!(report.is_clean(), "{report}");

    // An old hub's loose modes: fsck names them, --repair restricts them.
    let mp4 = data.join("clips").join(&id).join(format!("{clip}.mp4"));
    std::fs::set_permissions(&mp4, std::fs::Permissions::from_mode(0o644)).unwrap();
    let clips = data.join("clips");
    std::fs::set_permissions(&clips, std::fs::Permissions::from_mode(0o755)).unwrap();
    let report = watchlight_hub::admin::fsck(data, false).unwrap();
    let said = report.to_string();
    assert_eq!(report.findings.len(), 2, "{said}");
    assert!(
        said.contains("readable by others") && said.contains("0644"),
        "{said}"
    );
    let report = watchlight_hub::admin::fsck(data, true).unwrap();
    assert!(report.not_repaired.is_empty(), "{report}");
    assert_eq!(
        std::fs::metadata(&mp4).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(watchlight_hub::admin::fsck(data, false).unwrap().is_clean());
    t.hub.shutdown().await;
}
