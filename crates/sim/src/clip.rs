//! Clips in a run: the one clip every simulated camera uploads, and what the owner's API
//! lists at the end.
//!
//! The clip is real: an H.264 MP4 and a JPEG thumbnail made by the project's clip
//! recorder (`watchlight_media`, as a battery camera records: no pre-roll, a forced
//! keyframe at the trigger) from two seconds of synthetic frames, once per run. Every
//! recording of every camera uploads these same bytes under its own clip id, with the
//! SHA-256 the hub checks: an encoder per camera does not fit two cores next to
//! thousands of cameras, and the hub stores and serves the same bytes whatever they show.
//! The bytes are shared (`Bytes`), so an upload copies no video.

use crate::hubproc::Api;
use crate::report::{self, ClipFigures};
use crate::scenario::CameraSpec;
use crate::shared::Ledger;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use watchlight_hw::Frame;
use watchlight_media::{
    ClipMeta, ClipRecorder, ClipTrigger, MediaError, MotionSample, RecorderConfig, probe_mp4,
};

/// The sample clip's picture: small, as the hub's cost is per byte and per request, not
/// per pixel.
const WIDTH: u32 = 320;
const HEIGHT: u32 = 240;
const FPS: f32 = 10.0;
/// Two seconds.
const FRAMES: u32 = 20;
/// The walker in the scene, in pixels.
const WALKER: (u32, u32) = (40, 100);

/// The clip the fleet uploads.
#[derive(Debug, Clone)]
pub struct SampleClip {
    pub mp4: Bytes,
    pub thumbnail: Bytes,
    /// The recorder's metadata; each recording gets its own times and trigger.
    pub meta: ClipMeta,
    /// SHA-256 of the thumbnail, lowercase hex (the MP4's is `meta.sha256`).
    pub thumbnail_sha256: String,
    /// How long making it took.
    pub made_in_ms: u64,
}

impl SampleClip {
    /// Records the sample clip: a person crossing a grey yard, left to right.
    pub fn make() -> Result<SampleClip, MediaError> {
        let started = std::time::Instant::now();
        let mut recorder = ClipRecorder::new(RecorderConfig::new(WIDTH, HEIGHT, FPS, 0))?;
        recorder.start(ClipTrigger::Pir, 0)?;
        for i in 0..FRAMES {
            let (frame, motion) = scene(i);
            recorder.push_frame(&frame, &motion)?;
        }
        let clip = recorder.finish()?;
        // What the hub would refuse to serve is refused here, before any camera uploads it.
        probe_mp4(&clip.mp4)?;
        let thumbnail_sha256 = hex(&Sha256::digest(&clip.thumbnail_jpeg));
        Ok(SampleClip {
            mp4: Bytes::from(clip.mp4),
            thumbnail: Bytes::from(clip.thumbnail_jpeg),
            meta: clip.meta,
            thumbnail_sha256,
            made_in_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The `clip_recorded` event's data for a recording that began at hub time
    /// `start_ts`: the clip's metadata with these times and trigger, and its id (as the
    /// agent sends it).
    pub fn event_data(
        &self,
        clip_id: &str,
        start_ts: u64,
        trigger: ClipTrigger,
    ) -> Map<String, Value> {
        let mut meta = self.meta.clone();
        meta.start_ts = start_ts;
        meta.end_ts = start_ts + meta.duration_ms;
        meta.trigger = trigger;
        let mut data = match serde_json::to_value(&meta) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        data.insert("clip_id".into(), json!(clip_id));
        data
    }

    /// Bytes a camera holds for one clip (video and thumbnail).
    pub fn len(&self) -> u64 {
        (self.mp4.len() + self.thumbnail.len()) as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Frame `i` of the scene and the motion a detector would measure on it: a bright
/// walker on a textured ground, most in view halfway through (the thumbnail's frame).
fn scene(i: u32) -> (Frame, MotionSample) {
    let (w, h) = (WIDTH, HEIGHT);
    let x0 = (w - WALKER.0) * i / (FRAMES - 1);
    let y0 = h - WALKER.1 - 20;
    let mut y = Vec::with_capacity((w * h) as usize);
    for row in 0..h {
        for col in 0..w {
            let walker = (x0..x0 + WALKER.0).contains(&col) && (y0..y0 + WALKER.1).contains(&row);
            // Sky above, paving below: texture gives the encoder something to code.
            let ground = if row < h / 3 {
                200 - row / 2
            } else {
                90 + ((col / 8 + row / 8) % 2) * 30
            };
            y.push(if walker { 235 } else { ground as u8 });
        }
    }
    let frame = Frame::from_luma(w, h, u64::from(i) * 100, y);
    let middle = (FRAMES - 1) as f32 / 2.0;
    let motion = MotionSample {
        score: 1.0 - (i as f32 - middle).abs() / FRAMES as f32,
        boxes: vec![MotionSample::normalise_box(
            (x0, y0, WALKER.0, WALKER.1),
            w,
            h,
        )],
    };
    (frame, motion)
}

/// One clip as the owner's API lists it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Listed {
    pub video: Option<(u64, String)>,
    pub thumbnail: Option<(u64, String)>,
    /// Its metadata (from `clip_recorded`) is there.
    pub meta: bool,
}

impl Listed {
    /// What is wrong with the clip as listed, against what was uploaded; `None`: the
    /// owner can play it.
    pub fn fault(&self, sample: &SampleClip) -> Option<String> {
        let want_video = (sample.mp4.len() as u64, sample.meta.sha256.clone());
        let want_thumb = (
            sample.thumbnail.len() as u64,
            sample.thumbnail_sha256.clone(),
        );
        match (&self.video, &self.thumbnail) {
            (None, _) => Some("listed without its video".into()),
            (Some(v), _) if *v != want_video => Some(format!(
                "video listed as {} bytes, SHA-256 {}; uploaded {} bytes, {}",
                v.0, v.1, want_video.0, want_video.1
            )),
            (_, None) => Some("listed without its thumbnail".into()),
            (_, Some(t)) if *t != want_thumb => Some(format!(
                "thumbnail listed as {} bytes; uploaded {}",
                t.0, want_thumb.0
            )),
            _ if !self.meta => Some("listed without its clip_recorded metadata".into()),
            _ => None,
        }
    }

    fn of(v: &Value) -> Listed {
        let file = |f: &Value| {
            Some((
                f.get("bytes")?.as_u64()?,
                f.get("sha256")?.as_str()?.to_string(),
            ))
        };
        Listed {
            video: v.get("video").and_then(file),
            thumbnail: v.get("thumbnail").and_then(file),
            meta: v.get("meta").is_some_and(|m| m.get("clip_id").is_some()),
        }
    }
}

/// Every clip the API lists for the cameras that recorded clips, by `(camera, clip id)`,
/// as often as it is listed; and whether the first delivered clip, downloaded whole as a
/// browser would, is the uploaded MP4 and a playable one.
pub async fn check(
    api: &Api,
    specs: &[CameraSpec],
    ledger: &Ledger,
    sample: &SampleClip,
) -> ClipFigures {
    let mut cams: Vec<usize> = ledger.clips.keys().map(|k| k.0).collect();
    cams.sort_unstable();
    cams.dedup();
    let gate = Arc::new(Semaphore::new(8));
    let mut jobs = Vec::new();
    for c in cams {
        let device = specs[c].device_id();
        let api = api.clone();
        let gate = gate.clone();
        jobs.push(tokio::spawn(async move {
            let _permit = gate.acquire().await;
            for _ in 0..3 {
                if let Ok(v) = api.get(&format!("/api/v1/cameras/{device}/clips")).await {
                    let clips = v["clips"].as_array().cloned().unwrap_or_default();
                    return Ok((c, clips));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(device)
        }));
    }
    let mut listed: HashMap<(usize, String), Vec<Listed>> = HashMap::new();
    let mut unlisted_cameras = Vec::new();
    for j in jobs {
        match j.await {
            Ok(Ok((c, clips))) => {
                for v in &clips {
                    if let Some(id) = v["clip_id"].as_str() {
                        listed
                            .entry((c, id.to_string()))
                            .or_default()
                            .push(Listed::of(v));
                    }
                }
            }
            Ok(Err(device)) => unlisted_cameras.push(device),
            Err(e) => unlisted_cameras.push(e.to_string()),
        }
    }
    let mut figures = report::clips(ledger, &listed, sample, specs);
    figures.unlisted_cameras = unlisted_cameras;
    if let Some(played) = play_one(api, &listed, sample).await {
        figures.played_back = Some(played.is_ok());
        figures.playback_error = played.err();
    }
    figures
}

/// Downloads one delivered clip and checks it is the uploaded MP4 and playable; `None`
/// when no clip was delivered.
async fn play_one(
    api: &Api,
    listed: &HashMap<(usize, String), Vec<Listed>>,
    sample: &SampleClip,
) -> Option<Result<(), String>> {
    let (_, id) = listed
        .iter()
        .filter(|(_, l)| l.len() == 1 && l[0].fault(sample).is_none())
        .map(|(k, _)| k)
        .min()?;
    let url = format!("{}/api/v1/clips/{id}/video", api.base);
    let got = async {
        let resp = api
            .client
            .get(&url)
            .bearer_auth(api.token())
            .send()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))?;
        if !resp.status().is_success() {
            return Err(format!("GET {url}: {}", resp.status()));
        }
        resp.bytes()
            .await
            .map_err(|e| format!("GET {url}: {}", e.without_url()))
    }
    .await;
    Some(got.and_then(|body| {
        if body != sample.mp4 {
            return Err(format!(
                "clip {id}: {} bytes served, not the {} uploaded",
                body.len(),
                sample.mp4.len()
            ));
        }
        probe_mp4(&body)
            .map(|_| ())
            .map_err(|e| format!("clip {id}: {e}"))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_clip_is_a_playable_h264_mp4_with_a_thumbnail() {
        let clip = SampleClip::make().expect("the sample clip");
        let info = probe_mp4(&clip.mp4).expect("playable");
        assert_eq!((info.width, info.height), (WIDTH, HEIGHT));
        assert_eq!(info.frame_count, FRAMES);
        assert!(info.fast_start);
        assert_eq!(clip.meta.bytes, clip.mp4.len() as u64);
        assert_eq!(clip.meta.sha256, hex(&Sha256::digest(&clip.mp4)));
        assert!(clip.thumbnail.starts_with(&[0xff, 0xd8]), "a JPEG");
        // The thumbnail is the frame with the walker in the middle.
        assert!(clip.meta.peak_score > 0.9, "{:?}", clip.meta);
    }

    #[test]
    fn each_recording_gets_its_own_id_times_and_trigger() {
        let clip = SampleClip::make().expect("the sample clip");
        let data = clip.event_data(
            "cam-1-1700000000000-4",
            1_700_000_000_000,
            ClipTrigger::Pixel,
        );
        assert_eq!(data["clip_id"], "cam-1-1700000000000-4");
        assert_eq!(data["start_ts"], 1_700_000_000_000u64);
        assert_eq!(data["end_ts"], 1_700_000_000_000u64 + clip.meta.duration_ms);
        assert_eq!(data["trigger"], "pixel");
        assert_eq!(data["sha256"], clip.meta.sha256);
    }

    #[test]
    fn a_listed_clip_is_playable_only_with_the_uploaded_files_and_its_metadata() {
        let clip = SampleClip::make().expect("the sample clip");
        let good = Listed {
            video: Some((clip.mp4.len() as u64, clip.meta.sha256.clone())),
            thumbnail: Some((clip.thumbnail.len() as u64, clip.thumbnail_sha256.clone())),
            meta: true,
        };
        assert_eq!(good.fault(&clip), None);
        let mut short = good.clone();
        short.video = Some((10, clip.meta.sha256.clone()));
        assert!(short.fault(&clip).unwrap().contains("10 bytes"));
        let bare = Listed {
            meta: true,
            ..Listed::default()
        };
        assert!(bare.fault(&clip).unwrap().contains("without its video"));
        let no_meta = Listed {
            meta: false,
            ..good
        };
        assert!(no_meta.fault(&clip).unwrap().contains("metadata"));
    }
}
