//! The registry: migrations, accounts, devices, settings, availability, events,
//! commands, notices, hub state, and two handles on one database.

mod common;

use common::{T0, fixture};
use serde_json::json;
use watchlight_protocol::SettingsPatch;
use watchlight_protocol::messages::{Availability, CmdResultMsg, EventMsg};
use watchlight_protocol::{EventKind, ProfileId};
use watchlight_store::*;

#[test]
fn migrations_apply_from_empty_and_reopen_is_a_no_op() {
    let f = fixture();
    assert_eq!(f.store.schema_version().unwrap(), SCHEMA_VERSION);
    let dev = f.add_device("A1");
    drop(f.store);
    let again = Store::open(f.dir.path(), f.clock.clone()).unwrap();
    assert_eq!(again.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(again.device(&dev).unwrap().unwrap().serial, "A1");
    let mode: String = rusqlite::Connection::open(f.dir.path().join(DB_FILE))
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let path = f.dir.path().join(format!("{DB_FILE}{suffix}"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} is mode {mode:o}", path.display());
    }
}

#[test]
fn a_database_from_a_newer_version_is_refused_with_a_clear_error() {
    let f = fixture();
    drop(f.store);
    let conn = rusqlite::Connection::open(f.dir.path().join(DB_FILE)).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_ms) VALUES (?1, 0)",
        [SCHEMA_VERSION + 1],
    )
    .unwrap();
    drop(conn);
    let err = Store::open(f.dir.path(), f.clock.clone()).unwrap_err();
    assert!(matches!(err, StoreError::SchemaTooNew { found, .. } if found == SCHEMA_VERSION + 1));
    let msg = err.to_string();
    assert!(msg.contains("newer watchlight"), "{msg}");
    assert!(msg.contains(DB_FILE), "{msg}");
}

#[test]
fn owner_account_is_single_and_a_password_reset_ends_sessions() {
    let f = fixture();
    assert!(f.store.owner().unwrap().is_none());
    f.store.create_owner("alice", "$argon2id$v=19$a").unwrap();
    assert!(matches!(
        f.store.create_owner("mallory", "$argon2id$x"),
        Err(StoreError::OwnerExists)
    ));
    let session = TokenDigest::of_token("session-1");
    f.store.create_session(&session, 60_000).unwrap();
    assert!(f.store.check_session(&session).unwrap().is_some());
    f.store.set_owner_password("$argon2id$v=19$b").unwrap();
    assert_eq!(
        f.store.owner().unwrap().unwrap().password_hash,
        "$argon2id$v=19$b"
    );
    assert!(f.store.check_session(&session).unwrap().is_none());
}

#[test]
fn sessions_expire_on_the_injected_clock_and_only_digests_are_stored() {
    let f = fixture();
    let token = "very-secret-session-token";
    let digest = TokenDigest::of_token(token);
    f.store.create_session(&digest, 10_000).unwrap();
    f.clock.advance(9_999);
    assert!(f.store.check_session(&digest).unwrap().is_some());
    f.clock.advance(1);
    assert!(f.store.check_session(&digest).unwrap().is_none());
    assert!(
        !f.store.delete_session(&digest).unwrap(),
        "expired session was deleted"
    );

    f.store
        .create_api_token("ha", &TokenDigest::of_token("api-secret"))
        .unwrap();
    let raw = std::fs::read(f.dir.path().join(DB_FILE)).unwrap();
    let wal = std::fs::read(f.dir.path().join(format!("{DB_FILE}-wal"))).unwrap_or_default();
    for needle in [token.as_bytes(), b"api-secret".as_slice()] {
        assert!(!raw.windows(needle.len()).any(|w| w == needle));
        assert!(!wal.windows(needle.len()).any(|w| w == needle));
    }
}

#[test]
fn api_tokens_are_checked_by_digest_and_revocable() {
    let f = fixture();
    let t = f
        .store
        .create_api_token("ha", &TokenDigest::of_token("tok"))
        .unwrap();
    f.clock.advance(5);
    let found = f
        .store
        .check_api_token(&TokenDigest::of_token("tok"))
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.last_used_ms), (t.id, Some(T0 + 5)));
    assert!(
        f.store
            .check_api_token(&TokenDigest::of_token("tok2"))
            .unwrap()
            .is_none()
    );
    assert!(f.store.revoke_api_token(t.id).unwrap());
    assert!(
        f.store
            .check_api_token(&TokenDigest::of_token("tok"))
            .unwrap()
            .is_none()
    );
    assert!(f.store.list_api_tokens().unwrap().is_empty());
}

#[test]
fn pairing_allows_five_tries_a_minute_per_serial() {
    let f = fixture();
    for i in 1..=5 {
        assert_eq!(
            f.store.pairing_attempt("S1").unwrap(),
            PairingAttempt::Allowed { attempt: i }
        );
        f.clock.advance(1_000);
    }
    // The first try was at T0; it leaves the window at T0 + 60 s.
    assert_eq!(
        f.store.pairing_attempt("S1").unwrap(),
        PairingAttempt::RateLimited {
            retry_after_ms: 55_000
        }
    );
    assert_eq!(
        f.store.pairing_attempt("S2").unwrap(),
        PairingAttempt::Allowed { attempt: 1 }
    );
    f.clock.set(T0 + 60_000);
    assert_eq!(
        f.store.pairing_attempt("S1").unwrap(),
        PairingAttempt::Allowed { attempt: 5 }
    );

    assert!(!f.store.pairing_code_used("S1").unwrap());
    assert!(f.store.use_pairing_code("S1").unwrap());
    assert!(!f.store.use_pairing_code("S1").unwrap());
    assert!(f.store.pairing_code_used("S1").unwrap());
    f.store.reset_pairing_code("S1").unwrap();
    assert!(!f.store.pairing_code_used("S1").unwrap());
}

#[test]
fn devices_are_created_once_removed_softly_and_can_be_paired_again() {
    let f = fixture();
    let id = f.add_device("A1");
    let d = f.store.device(&id).unwrap().unwrap();
    assert_eq!((d.profile, d.created_ms), (ProfileId::Indoor, T0));
    assert!(d.token.unwrap().verify("token-A1"));
    assert!(matches!(
        f.store.create_device(&NewDevice {
            id: id.clone(),
            serial: "A1".into(),
            name: "x".into(),
            profile: ProfileId::Mini,
            token: TokenDigest::of_token("t"),
        }),
        Err(StoreError::DeviceExists(_))
    ));
    assert!(matches!(
        f.store.create_device(&NewDevice {
            id: "cam-other".into(),
            serial: "A1".into(),
            name: "x".into(),
            profile: ProfileId::Mini,
            token: TokenDigest::of_token("t"),
        }),
        Err(StoreError::SerialInUse(_))
    ));
    assert!(matches!(
        f.store.create_device(&NewDevice {
            id: "../etc".into(),
            serial: "Z".into(),
            name: "x".into(),
            profile: ProfileId::Mini,
            token: TokenDigest::of_token("t"),
        }),
        Err(StoreError::InvalidDeviceId(_))
    ));
    assert!(f.store.mark_device_connected(&id).unwrap());
    assert!(!f.store.mark_device_connected(&id).unwrap());
    assert_eq!(f.store.device_by_serial("A1").unwrap().unwrap().id, id);

    assert!(f.store.remove_device(&id).unwrap());
    assert!(f.store.devices().unwrap().is_empty());
    let removed = f.store.device(&id).unwrap().unwrap();
    assert!(removed.removed_ms.is_some() && removed.token.is_none());

    // Pairing again brings it back with a new token; its settings version keeps rising.
    let v_before = f.store.settings(&id).unwrap().version;
    f.clock.advance(10);
    let again = f
        .store
        .create_device(&NewDevice {
            id: id.clone(),
            serial: "A1".into(),
            name: "Porch".into(),
            profile: ProfileId::Outdoor,
            token: TokenDigest::of_token("new"),
        })
        .unwrap();
    assert!(again.removed_ms.is_none() && again.first_connected_ms.is_none());
    assert!(again.token.unwrap().verify("new"));
    assert_eq!(f.store.settings(&id).unwrap().version, v_before + 1);
}

#[test]
fn settings_versions_bump_and_bad_patches_change_nothing() {
    let f = fixture();
    let id = f.add_device("A1");
    let s1 = f.store.settings(&id).unwrap();
    assert_eq!((s1.version, s1.name.as_str()), (1, "Camera A1"));
    let s2 = f
        .store
        .update_settings(
            &id,
            &SettingsPatch {
                sensitivity: Some(8),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!((s2.version, s2.sensitivity), (2, 8));
    let s3 = f
        .store
        .update_settings(
            &id,
            &SettingsPatch {
                name: Some("Porch".into()),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (s3.version, s3.sensitivity, s3.name.as_str()),
        (3, 8, "Porch")
    );
    assert_eq!(f.store.device(&id).unwrap().unwrap().name, "Porch");
    assert_eq!(f.store.settings_version(&id, 2).unwrap().unwrap(), s2);

    let err = f
        .store
        .update_settings(
            &id,
            &SettingsPatch {
                sensitivity: Some(11),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(
        err.to_string().contains("sensitivity") && err.to_string().contains(&id),
        "{err}"
    );
    assert_eq!(f.store.settings(&id).unwrap(), s3);
    assert!(matches!(
        f.store
            .update_settings("cam-nobody", &SettingsPatch::default()),
        Err(StoreError::UnknownDevice(_))
    ));
}

#[test]
fn availability_history_records_changes_only() {
    let f = fixture();
    let id = f.add_device("A1");
    assert!(
        f.store
            .set_availability(&id, Availability::Online, "connected")
            .unwrap()
    );
    f.clock.advance(1_000);
    assert!(
        !f.store
            .set_availability(&id, Availability::Online, "connected")
            .unwrap()
    );
    f.clock.advance(1_000);
    f.store.note_seen(&id).unwrap();
    f.clock.advance(6_500);
    assert!(
        f.store
            .set_availability(&id, Availability::Offline, "keepalive_missed")
            .unwrap()
    );
    let now = f.store.availability(&id).unwrap().unwrap();
    assert_eq!(now.availability, Availability::Offline);
    assert_eq!(
        (now.since_ms, now.last_seen_ms),
        (T0 + 8_500, Some(T0 + 2_000))
    );
    let hist = f.store.availability_history(&id, 0, u64::MAX).unwrap();
    let seq: Vec<_> = hist
        .iter()
        .map(|h| (h.ts_ms - T0, h.availability, h.reason.as_str()))
        .collect();
    assert_eq!(
        seq,
        vec![
            (0, Availability::Online, "connected"),
            (8_500, Availability::Offline, "keepalive_missed")
        ]
    );
    assert!(matches!(
        f.store
            .set_availability("cam-ghost", Availability::Online, "x"),
        Err(StoreError::UnknownDevice(_))
    ));
}

fn event(seq: u64, kind: EventKind, data: serde_json::Value) -> EventMsg {
    EventMsg {
        v: 1,
        ts: T0 + seq * 1_000,
        seq,
        event: kind,
        data: data.as_object().cloned().unwrap_or_default(),
    }
}

#[test]
fn duplicate_events_are_ignored() {
    let f = fixture();
    let id = f.add_device("A1");
    let e = event(7, EventKind::MotionStart, json!({"score": 0.5}));
    assert_eq!(
        f.store.insert_event(&id, &e).unwrap(),
        EventInsert::Inserted
    );
    let mut redelivered = e.clone();
    redelivered.data.insert("score".into(), json!(0.9));
    assert_eq!(
        f.store.insert_event(&id, &redelivered).unwrap(),
        EventInsert::Duplicate
    );
    assert_eq!(
        f.store.insert_event("cam-B2", &e).unwrap(),
        EventInsert::Inserted,
        "the same seq from another device is another event"
    );
    f.store
        .insert_event(&id, &event(8, EventKind::MotionEnd, json!({})))
        .unwrap();
    let stored = f.store.events(Some(&id), 0, u64::MAX, 10).unwrap();
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![8, 7]);
    assert_eq!(
        stored[1].data["score"],
        json!(0.5),
        "the first delivery stands"
    );
    assert_eq!(stored[1].kind(), EventKind::MotionStart);
    assert_eq!(f.store.last_event_seq(&id).unwrap(), Some(8));
    assert_eq!(f.store.events(None, 0, u64::MAX, 10).unwrap().len(), 3);
}

#[test]
fn commands_get_results_once_and_expire_on_the_clock() {
    let f = fixture();
    let id = f.add_device("A1");
    let new = |cid: &str, expires: Option<u64>| NewCommand {
        id: cid.into(),
        device_id: id.clone(),
        name: "snapshot".into(),
        args: Default::default(),
        expires_ms: expires,
    };
    f.store
        .insert_command(&new("c1", Some(T0 + COMMAND_EXPIRY_MS)))
        .unwrap();
    f.clock.advance(1);
    f.store
        .insert_command(&new("c2", Some(T0 + 1 + COMMAND_EXPIRY_MS)))
        .unwrap();
    assert!(matches!(
        f.store.insert_command(&new("c1", None)),
        Err(StoreError::CommandExists(_))
    ));
    f.store.mark_command_sent("c1").unwrap();
    let ok = CmdResultMsg {
        v: 1,
        ts: 0,
        id: "c1".into(),
        ok: true,
        error: None,
    };
    assert_eq!(
        f.store.record_command_result("cam-other", &ok).unwrap(),
        CommandResultOutcome::UnknownCommand,
        "only the addressed device may answer"
    );
    assert_eq!(
        f.store.record_command_result(&id, &ok).unwrap(),
        CommandResultOutcome::Recorded
    );
    assert_eq!(
        f.store.record_command_result(&id, &ok).unwrap(),
        CommandResultOutcome::Duplicate
    );
    assert_eq!(
        f.store.command("c1").unwrap().unwrap().status,
        CommandStatus::Ok { at_ms: T0 + 1 }
    );
    assert_eq!(
        f.store
            .pending_commands(&id)
            .unwrap()
            .iter()
            .map(|c| c.id.as_str())
            .collect::<Vec<_>>(),
        vec!["c2"]
    );
    f.clock.set(T0 + 1 + COMMAND_EXPIRY_MS);
    assert!(f.store.pending_commands(&id).unwrap().is_empty());
    assert_eq!(
        f.store.command("c2").unwrap().unwrap().status,
        CommandStatus::Expired
    );
    assert_eq!(f.store.commands(&id, 10).unwrap().len(), 2);
}

#[test]
fn notices_hub_state_and_config() {
    let f = fixture();
    let n = f
        .store
        .add_notice("test", None, "hello", &json!({"a": 1}))
        .unwrap();
    assert_eq!(f.store.notices(10, true).unwrap()[0].message, "hello");
    assert!(f.store.mark_notice_read(n).unwrap());
    assert!(f.store.notices(10, true).unwrap().is_empty());
    assert_eq!(f.store.notices(10, false).unwrap().len(), 1);

    assert_eq!(
        f.store.arming().unwrap().mode,
        ArmMode::Disarmed,
        "disarmed until armed"
    );
    f.store
        .set_home_cameras(&["cam-b".into(), "cam-a".into(), "cam-b".into()])
        .unwrap();
    let s = f.store.set_arm_mode(ArmMode::Home).unwrap();
    assert!(s.arms("cam-a") && !s.arms("cam-c"));
    let reopened = f.reopen();
    assert_eq!(
        reopened.arming().unwrap().home_cameras,
        vec!["cam-a", "cam-b"]
    );

    assert_eq!(f.store.config_get("k").unwrap(), None);
    f.store.config_set("k", "v1").unwrap();
    f.store.config_set("k", "v2").unwrap();
    assert_eq!(reopened.config_get("k").unwrap().as_deref(), Some("v2"));
    assert!(f.store.config_delete("k").unwrap());
    assert_eq!(
        f.store.retention_policy().unwrap(),
        RetentionPolicy::default()
    );
}

#[test]
fn two_handles_on_one_database_both_read_and_write() {
    let f = fixture();
    let other = f.reopen();
    let a = f.add_device("A1");
    // The second handle sees the first one's commit and writes too.
    assert_eq!(other.device(&a).unwrap().unwrap().serial, "A1");
    other
        .update_settings(
            &a,
            &SettingsPatch {
                sensitivity: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(f.store.settings(&a).unwrap().sensitivity, 3);

    // Concurrent writers from two threads, one per handle: every event lands once.
    std::thread::scope(|s| {
        for (h, store) in [&f.store, &other].into_iter().enumerate() {
            let a = a.clone();
            s.spawn(move || {
                for seq in 0..200u64 {
                    // Both handles deliver all seqs: the duplicates must be no-ops.
                    let kind = if h == 0 {
                        EventKind::Button
                    } else {
                        EventKind::Boot
                    };
                    store
                        .insert_event(&a, &event(seq, kind, json!({})))
                        .unwrap();
                }
            });
        }
    });
    assert_eq!(
        f.store.events(Some(&a), 0, u64::MAX, 1000).unwrap().len(),
        200
    );
}

#[test]
fn a_store_is_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn an_unusable_data_folder_is_refused_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-folder");
    std::fs::write(&file, b"x").unwrap();
    let err = Store::open(&file, ManualClock::new(T0)).unwrap_err();
    assert!(err.to_string().contains("not-a-folder"), "{err}");

    // A file that is not a SQLite database.
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join(DB_FILE), vec![0x42; 4096]).unwrap();
    let err = Store::open(&data, ManualClock::new(T0)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(DB_FILE), "{msg}");
}

#[test]
fn a_tampered_row_gives_an_error_naming_it_not_a_panic() {
    let f = fixture();
    let id = f.add_device("A1");
    let conn = rusqlite::Connection::open(f.dir.path().join(DB_FILE)).unwrap();
    conn.execute(
        "UPDATE settings SET doc = '{not json' WHERE device_id = ?1",
        [&id],
    )
    .unwrap();
    conn.execute(
        "UPDATE devices SET profile = 'toaster' WHERE id = ?1",
        [&id],
    )
    .unwrap();
    let err = f.store.settings(&id).unwrap_err().to_string();
    assert!(
        err.contains("settings of cam-A1") && err.contains("not valid JSON"),
        "{err}"
    );
    let err = f
        .store
        .update_settings(&id, &SettingsPatch::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("settings of cam-A1"), "{err}");
    let err = f.store.device(&id).unwrap_err().to_string();
    assert!(
        err.contains("profile of cam-A1") && err.contains("toaster"),
        "{err}"
    );
}
