//! Clip upload and download over real HTTP with real MP4 files from
//! `../shared/data/video`: idempotent by id, SHA-256 checked before acknowledging,
//! served with byte ranges so a browser can seek.

mod common;

use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const VIDEO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/video/highway-cctv-320x240-25fps.mp4"
);

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clip_put_is_idempotent_digest_checked_and_served_with_ranges() {
    let t = start_hub(None).await;
    let (id, token) = pair(&t, "SN7", "mini").await;
    let (other, other_token) = pair(&t, "SN8", "mini").await;
    let video = std::fs::read(VIDEO).unwrap_or_else(|e| {
        panic!(
            "missing {VIDEO} ({e}): the tests read real footage from ../shared/data beside the repository (not in it; see ../shared/data/SOURCES.md and the README's Tests section)"
        )
    });
    let len = video.len() as u64;
    let clip = format!("{id}-1800000000000-1");
    let put_url = t.url(&format!("/devices/{id}/clips/{clip}"));
    let put = |token: &str, digest: &str, body: Vec<u8>| {
        t.http
            .put(&put_url)
            // A refused upload is answered before its body is read; the hub then
            // closes the connection, so do not reuse it.
            .header("connection", "close")
            .bearer_auth(token)
            .header("content-type", "video/mp4")
            .header("x-watchlight-sha256", digest)
            .body(body)
            .send()
    };

    // No token, another camera's token, the owner's cookie: refused.
    let r = t
        .http
        .put(&put_url)
        .header("connection", "close")
        .header("x-watchlight-sha256", sha(&video))
        .body(video.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = put(&other_token, &sha(&video), video.clone())
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // A clip id that is not this camera's.
    let r = t
        .http
        .put(t.url(&format!("/devices/{other}/clips/{clip}")))
        .bearer_auth(&other_token)
        .header("connection", "close")
        .header("x-watchlight-sha256", sha(&video))
        .body(video.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // A digest that does not match: 400, nothing kept.
    let r = put(&token, &"ab".repeat(32), video.clone()).await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("nothing was kept"));
    assert!(
        t.get_json(&format!("/cameras/{id}/clips")).await["clips"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let r = put(&token, "not-hex", video.clone()).await.unwrap();
    assert_eq!(r.status(), 400);

    // New: 201; again: 200; same id, other content: 409.
    let r = put(&token, &sha(&video), video.clone()).await.unwrap();
    assert_eq!(r.status(), 201);
    let r = put(&token, &sha(&video), video.clone()).await.unwrap();
    assert_eq!(r.status(), 200);
    let r = put(&token, &sha(b"other"), b"other".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 409);

    let clips = t.get_json(&format!("/cameras/{id}/clips")).await;
    let listed = &clips["clips"][0];
    assert_eq!(listed["clip_id"], json!(clip));
    assert_eq!(listed["video"]["bytes"], json!(len));
    assert_eq!(listed["video"]["sha256"], json!(sha(&video)));

    // Whole file.
    let vurl = format!("/clips/{clip}/video");
    let r = t.get(&vurl).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &video[..]);

    // The three range forms, and one past the end.
    let ranged = |range: &'static str| {
        t.http
            .get(t.url(&vurl))
            .header("cookie", &t.cookie)
            .header("range", range)
            .send()
    };
    let r = ranged("bytes=0-99").await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes 0-99/{len}")
    );
    assert_eq!(r.bytes().await.unwrap().as_ref(), &video[..100]);
    let r = ranged("bytes=1000-").await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &video[1000..]);
    let r = ranged("bytes=-500").await.unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes {}-{}/{len}", len - 500, len - 1)
    );
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        &video[video.len() - 500..]
    );
    let r = t
        .http
        .get(t.url(&vurl))
        .header("cookie", &t.cookie)
        .header("range", format!("bytes={len}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"].to_str().unwrap(),
        format!("bytes */{len}")
    );

    // Thumbnail and metadata (the clip_recorded event), then delete.
    let jpeg = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9".to_vec();
    let r = t
        .http
        .put(t.url(&format!("/devices/{id}/clips/{clip}/thumbnail")))
        .header("connection", "close")
        .bearer_auth(&token)
        .header("x-watchlight-sha256", sha(&jpeg))
        .body(jpeg.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let r = t.get(&format!("/clips/{clip}/thumbnail")).await;
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &jpeg[..]);
    let dev = connect_device(&t, &id, &token).await;
    dev.publish("event", json!({"v":1,"ts":5,"seq":1,"event":"clip_recorded","data":{
        "clip_id": clip, "start_ts": 1_800_000_000_000u64, "end_ts": 1_800_000_012_000u64,
        "trigger": "pixel", "peak_score": 0.7, "boxes": [[0.1,0.2,0.3,0.4]], "bytes": len, "sha256": sha(&video)}}).to_string()).await;
    eventually(5, "metadata merged", || async {
        let c: Value = t.get_json(&format!("/cameras/{id}/clips")).await;
        c["clips"][0]["meta"]["trigger"] == "pixel"
    })
    .await;
    let r = t
        .http
        .delete(t.url(&format!("/clips/{clip}")))
        .header("cookie", &t.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(t.get(&vurl).await.status(), 404);
    t.hub.shutdown().await;
}
