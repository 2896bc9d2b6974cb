//! Delivery of the offline queue: the hub's acknowledgement, re-sends, clips.

use super::*;

#[test]
fn an_event_the_hub_does_not_acknowledge_is_published_again_and_its_ack_frees_it() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(BOOT_MS + HUB_ACK_WAIT_MS - 1);
    assert_eq!(
        rig.events_sent(),
        [(BOOT_MS, 0)],
        "one at a time, oldest first"
    );
    // The broker's PUBACK is not the hub's acknowledgement.
    let session = rig.session.unwrap();
    rig.input(Input::Acked { session, tag: 0 });

    let again = BOOT_MS + HUB_ACK_WAIT_MS + DELIVERY_RETRY_MS;
    rig.step_to(again);
    assert_eq!(rig.events_sent(), [(BOOT_MS, 0), (again, 0)]);
    assert_eq!(rig.queue.len(), 2, "boot and connected still queued");

    rig.hub_message("cmd/ack", r#"{"v":1,"ts":0,"seq":0}"#);
    rig.drain();
    assert!(
        rig.log
            .iter()
            .any(|(_, o)| *o == Output::DeleteItem { seq: 0 })
    );
    assert_eq!(
        rig.events_sent().last(),
        Some(&(again, 1)),
        "then the next one"
    );
}

#[test]
fn an_event_in_flight_when_the_link_drops_is_published_again_on_the_next_connection() {
    let mut rig = Rig::new(MAINS, 1);
    rig.step_to(3_000);
    assert_eq!(rig.events_sent(), [(BOOT_MS, 0)]);
    rig.lose_link();
    rig.step_to(10_000);
    let connects = rig.connects();
    assert_eq!(connects.len(), 2, "reconnected once: {connects:?}");
    let t = connects[1];
    let sent = rig.events_sent();
    assert_eq!(
        sent.iter().find(|(at, _)| *at >= t),
        Some(&(t, 0)),
        "the first event on the new connection is the one in flight: {sent:?}"
    );
}

#[test]
fn a_clip_is_uploaded_before_its_event_and_a_failed_upload_is_tried_again() {
    let mut rig = Rig::new(MAINS, 1);
    rig.hub_acks = true;
    rig.step_to(3_000);
    assert!(rig.queue.is_empty(), "boot and connected delivered");
    let mut meta = Map::new();
    meta.insert("clip_id".into(), "cam-t1-5-0".into());
    meta.insert("end_ts".into(), 123.into());
    meta.insert("_thumbnail_bytes".into(), 10.into());
    rig.queue_item(HeadBody::Clip { meta });
    rig.drain();
    let seq = rig.queue[0].seq;
    let uploads = |rig: &Rig| rig.times(|o| *o == Output::Upload { seq });
    assert_eq!(uploads(&rig), [3_000]);

    rig.input(Input::UploadDone {
        seq,
        result: Err("PUT: 503".into()),
    });
    assert!(
        rig.events_sent().iter().all(|(_, s)| *s != seq),
        "no clip_recorded before the hub has the video"
    );
    rig.step_to(3_000 + DELIVERY_RETRY_MS);
    assert_eq!(
        uploads(&rig),
        [3_000, 3_000 + DELIVERY_RETRY_MS],
        "tried again"
    );

    rig.input(Input::UploadDone {
        seq,
        result: Ok(()),
    });
    let (_, _, payload, tag) = rig.published(DeviceTopic::Event).pop().unwrap();
    let msg = decode::<EventMsg>(&payload).unwrap();
    assert_eq!(
        (msg.seq, msg.event, tag),
        (seq, EventKind::ClipRecorded, Some(seq))
    );
    assert_eq!(msg.ts, 123, "the clip's end");
    assert_eq!(
        msg.data.get("clip_id").and_then(Value::as_str),
        Some("cam-t1-5-0")
    );
    assert!(
        !msg.data.contains_key("_thumbnail_bytes"),
        "private meta stays on the camera"
    );
    assert!(rig.queue.is_empty(), "the hub's ack freed it");
}

#[test]
fn the_hubs_ack_of_a_clip_still_uploading_does_not_free_it() {
    let mut rig = Rig::new(MAINS, 1);
    rig.hub_acks = true;
    rig.step_to(3_000);
    let mut meta = Map::new();
    meta.insert("clip_id".into(), "cam-t1-5-0".into());
    rig.queue_item(HeadBody::Clip { meta });
    rig.drain();
    let seq = rig.queue[0].seq;
    assert!(rig.log.iter().any(|(_, o)| *o == Output::Upload { seq }));
    // An ack of the previous connection's clip_recorded event comes in mid-upload.
    rig.hub_message("cmd/ack", &format!(r#"{{"v":1,"ts":0,"seq":{seq}}}"#));
    rig.drain();
    assert_eq!(rig.queue.len(), 1, "kept until its upload ends");
    // Any other item the hub says it stored leaves the queue, even late.
    rig.queue_item(HeadBody::Event(QueuedEvent {
        kind: EventKind::Boot,
        ts: 1,
        data: Map::new(),
    }));
    let late = rig.queue[1].seq;
    rig.hub_message("cmd/ack", &format!(r#"{{"v":1,"ts":0,"seq":{late}}}"#));
    rig.drain();
    assert_eq!(rig.queue.iter().map(|h| h.seq).collect::<Vec<_>>(), [seq]);
}
