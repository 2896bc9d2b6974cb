//! The live view chapter: the owner opens live view on the mains camera, frames
//! arrive, the camera shows the recording/live light, the viewer leaves and the stream
//! stops.

use super::Story;
use crate::demo::DemoError;
use crate::demo::watch::in_words;
use crate::mjpeg::MjpegReader;
use serde_json::Value;
use std::time::{Duration, Instant};

/// Live frames the owner watches before leaving.
const LIVE_FRAMES: usize = 20;
/// The stream stops this soon after the last viewer leaves (SPEC §9).
const LIVE_STOPS_WITHIN: Duration = Duration::from_secs(5);

impl Story<'_> {
    /// Live view of the front door: frames arrive, the camera shows blue, the viewer
    /// leaves and the stream stops.
    pub(crate) fn live_view(&mut self) -> Result<(), DemoError> {
        self.chapter("Live view: the owner watches the front door");
        let front = self.cam("front-door");
        let path = format!("/api/v1/cameras/{}/live.mjpeg", front.process.device_id);
        self.say(format_args!(
            "look: the front-door camera page, Live: GET {path} (MJPEG)"
        ));
        let asked = Instant::now();
        let resp = self.hub.api.get_response(&path)?;
        if resp.status() != 200 {
            return Err(DemoError::Story(format!(
                "GET {path} answered {}",
                resp.status()
            )));
        }
        let boundary = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .and_then(MjpegReader::<&[u8]>::boundary_of)
            .map(str::to_string)
            .ok_or_else(|| DemoError::Story(format!("GET {path}: not an MJPEG stream")))?;
        let mut reader = MjpegReader::new(resp, &boundary);
        let mut bytes = 0;
        let mut first_ms = None;
        for _ in 0..LIVE_FRAMES {
            if self.bounded(60).is_zero() {
                return Err(self.failed(format!("{LIVE_FRAMES} live frames")));
            }
            match reader.next_part() {
                Ok(Some(part)) => {
                    first_ms.get_or_insert(asked.elapsed().as_millis());
                    bytes += part.body.len();
                    self.seen.live_frames += 1;
                }
                Ok(None) => break,
                Err(e) => return Err(DemoError::Story(format!("live view: {e}"))),
            }
        }
        if self.seen.live_frames == 0 {
            return Err(DemoError::Story("live view gave no frame".into()));
        }
        self.say(format_args!(
            "{} JPEG frames ({bytes} bytes), the first {} ms after the owner asked",
            self.seen.live_frames,
            first_ms.unwrap_or(0)
        ));
        self.wait_light(front, "blue_solid", 5)?;
        self.wait(
            5,
            || "the hub showing the front door's blue light".into(),
            || {
                let v = self.hub_camera(front)?;
                (v["state"]["light"]["light_id"] == "blue_solid").then_some(())
            },
        )?;
        self.say(format_args!(
            "the camera shows {} while anyone watches; the hub shows it too",
            in_words("blue_solid")
        ));
        let live = self
            .hub
            .api
            .get(&format!("/api/v1/cameras/{}/live", front.process.device_id))
            .unwrap_or(Value::Null);
        self.say(format_args!(
            "GET .../live: state {}, viewers {}",
            live["state"], live["viewers"]
        ));
        self.pause(3);
        drop(reader);
        let left = Instant::now();
        self.say("the owner leaves the page");
        self.wait(
            LIVE_STOPS_WITHIN.as_secs() + 5,
            || "the front door to stop streaming after the viewer left".into(),
            || {
                let s = front.process.status().ok()?;
                (s["live"] == false && s["light_id"] != "blue_solid").then_some(())
            },
        )?;
        let stopped_after = left.elapsed();
        self.seen.live_stopped = stopped_after <= LIVE_STOPS_WITHIN + Duration::from_secs(1);
        self.say(format_args!(
            "the stream stopped {:.1} s after the viewer left (SPEC §9: within 5 s); the light is {}",
            stopped_after.as_secs_f64(),
            in_words(&front.process.field("light_id").unwrap_or_default())
        ));
        Ok(())
    }
}
