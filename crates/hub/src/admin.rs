//! Offline administration of a hub's data folder (the hub stopped or running): fsck,
//! the owner account, and the hub reset of SPEC §4.3.

use crate::secrets::{SecretError, hash_password};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use watchlight_store::{DB_FILE, FsckReport, Store, StoreError, SystemClock};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0} holds no hub database (start 'watchlight hub --data {0}' once first)")]
    NoDatabase(String),
    #[error("the hub already has an owner; use 'watchlight hub owner reset-password'")]
    OwnerExists,
    #[error("the hub has no owner yet; use 'watchlight hub owner create'")]
    NoOwner,
    #[error("the username must be 1 to 64 printable characters")]
    BadUsername,
    #[error(transparent)]
    Password(#[from] SecretError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Mosquitto configuration: {0}")]
    Mosquitto(String),
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl AdminError {
    /// Whether the user asked for something impossible (exit status 2) rather than the
    /// machine failing.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            AdminError::NoDatabase(_)
                | AdminError::OwnerExists
                | AdminError::NoOwner
                | AdminError::BadUsername
                | AdminError::Password(SecretError::PasswordTooShort)
        )
    }
}

fn open_existing(data: &Path) -> Result<Store, AdminError> {
    if !data.join(DB_FILE).exists() {
        return Err(AdminError::NoDatabase(data.display().to_string()));
    }
    Ok(Store::open(data, Arc::new(SystemClock))?)
}

pub fn fsck(data: &Path, repair: bool) -> Result<FsckReport, AdminError> {
    Ok(open_existing(data)?.fsck(repair)?)
}

pub fn owner_create(data: &Path, username: &str, password: &str) -> Result<(), AdminError> {
    if username.trim().is_empty() || username.len() > 64 || username.chars().any(char::is_control) {
        return Err(AdminError::BadUsername);
    }
    std::fs::create_dir_all(data).map_err(|source| AdminError::Io {
        what: "creating",
        path: data.to_path_buf(),
        source,
    })?;
    let store = Store::open(data, Arc::new(SystemClock))?;
    if store.owner()?.is_some() {
        return Err(AdminError::OwnerExists);
    }
    let hash = hash_password(password)?;
    match store.create_owner(username, &hash) {
        Err(StoreError::OwnerExists) => Err(AdminError::OwnerExists),
        r => Ok(r.map(|_| ())?),
    }
}

pub fn owner_reset_password(data: &Path, password: &str) -> Result<(), AdminError> {
    let store = open_existing(data)?;
    let hash = hash_password(password)?;
    match store.set_owner_password(&hash) {
        Err(StoreError::NoOwner) => Err(AdminError::NoOwner),
        r => Ok(r?),
    }
}

/// What a reset did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetReport {
    /// Where the replaced database was moved.
    pub backup: Option<PathBuf>,
    /// Where the clips were kept (without `--purge`).
    pub clips_kept_in: Option<PathBuf>,
    pub clips_purged: bool,
}

impl fmt::Display for ResetReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "hub reset: every camera and the owner are forgotten")?;
        match &self.backup {
            Some(b) => writeln!(f, "database backup: {}", b.display())?,
            None => writeln!(f, "there was no database to back up")?,
        }
        if let Some(c) = &self.clips_kept_in {
            writeln!(f, "clips kept in: {}", c.display())?;
        }
        if self.clips_purged {
            writeln!(f, "clips purged")?;
        }
        write!(
            f,
            "start 'watchlight hub' to get a new setup link; cameras fall back to setup by themselves"
        )
    }
}

/// Forgets every camera and the owner: the database (with its WAL) moves to a backup
/// folder, the broker's retained state goes, the certificate stays. Clips are kept
/// aside (not in the new index) unless `purge`. Run it with the hub stopped.
pub fn reset(data: &Path, purge: bool) -> Result<ResetReport, AdminError> {
    let io = |what: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| AdminError::Io { what, path, source }
    };
    let stamp = SystemClock.now_ms_string();
    let mut report = ResetReport {
        backup: None,
        clips_kept_in: None,
        clips_purged: false,
    };
    let db = data.join(DB_FILE);
    if db.exists() {
        // Fold the WAL into the main file first so the backup is one consistent file.
        {
            let store = Store::open(data, Arc::new(SystemClock))?;
            drop(store);
        }
        let backup_dir = data.join(format!("backup-{stamp}"));
        std::fs::create_dir_all(&backup_dir).map_err(io("creating", &backup_dir))?;
        for suffix in ["", "-wal", "-shm"] {
            let from = data.join(format!("{DB_FILE}{suffix}"));
            if from.exists() {
                let to = backup_dir.join(format!("{DB_FILE}{suffix}"));
                std::fs::rename(&from, &to).map_err(io("moving", &from))?;
            }
        }
        report.backup = Some(backup_dir.join(DB_FILE));
    }
    let mqtt = data.join("mqtt");
    if mqtt.exists() {
        std::fs::remove_dir_all(&mqtt).map_err(io("removing", &mqtt))?;
    }
    let clips = data.join(watchlight_store::CLIPS_DIR);
    if clips.exists() {
        if purge {
            std::fs::remove_dir_all(&clips).map_err(io("removing", &clips))?;
            report.clips_purged = true;
        } else {
            let kept = data.join(format!("clips-before-reset-{stamp}"));
            std::fs::rename(&clips, &kept).map_err(io("moving", &clips))?;
            report.clips_kept_in = Some(kept);
        }
    }
    Ok(report)
}

/// Writes a Mosquitto configuration for this hub into `out` (`mosquitto.conf`,
/// `mosquitto.passwd` with the hub's own user, `mosquitto.acl` with the per-device
/// patterns of SPEC §5), listening on `listen`. Without `insecure` the listener uses the
/// hub's certificate, which cameras pin at pairing. Camera lines of an existing password
/// file are kept, so running it again does not lock paired cameras out.
pub fn mosquitto_config(
    data: &Path,
    out: &Path,
    listen: std::net::SocketAddr,
    home: &str,
    insecure: bool,
) -> Result<watchlight_broker::external::MosquittoFiles, AdminError> {
    use watchlight_broker::external::{MosquittoSetup, MosquittoUser, PASSWORD_FILE, TlsFiles};
    std::fs::create_dir_all(data).map_err(|source| AdminError::Io {
        what: "creating",
        path: data.to_path_buf(),
        source,
    })?;
    let hub_token = crate::runtime::load_or_create_token(&data.join(crate::HUB_TOKEN_FILE))
        .map_err(|e| AdminError::Mosquitto(e.to_string()))?;
    let mut users = vec![MosquittoUser::new("hub", &hub_token)];
    let existing = out.join(PASSWORD_FILE);
    if let Ok(text) = std::fs::read_to_string(&existing) {
        users.extend(text.lines().filter_map(|l| {
            let (name, hash) = l.split_once(':')?;
            (name != "hub").then(|| MosquittoUser {
                name: name.to_string(),
                password_hash: hash.to_string(),
            })
        }));
    }
    let tls = if insecure {
        None
    } else {
        let cert = watchlight_broker::tls::HubCertificate::load_or_create(data)
            .map_err(|e| AdminError::Mosquitto(e.to_string()))?;
        Some(TlsFiles {
            cert: cert.cert_path,
            key: cert.key_path,
        })
    };
    let setup = MosquittoSetup {
        home: home.to_string(),
        listen,
        tls,
        users,
        persistence_dir: Some(out.join("persistence")),
    };
    let persistence = out.join("persistence");
    std::fs::create_dir_all(&persistence).map_err(|source| AdminError::Io {
        what: "creating",
        path: persistence,
        source,
    })?;
    setup
        .write(out)
        .map_err(|e| AdminError::Mosquitto(e.to_string()))
}

trait Stamp {
    fn now_ms_string(&self) -> String;
}

impl Stamp for SystemClock {
    fn now_ms_string(&self) -> String {
        use watchlight_store::Clock;
        self.now_ms().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owner_create_then_reset_password_then_hub_reset() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path();
        assert!(matches!(
            owner_reset_password(data, "whatever123"),
            Err(AdminError::NoDatabase(_))
        ));
        assert!(matches!(
            owner_create(data, "ann", "short"),
            Err(AdminError::Password(SecretError::PasswordTooShort))
        ));
        owner_create(data, "ann", "a good password").unwrap();
        assert!(matches!(
            owner_create(data, "bob", "another password"),
            Err(AdminError::OwnerExists)
        ));
        owner_reset_password(data, "a new password").unwrap();
        let store = Store::open(data, Arc::new(SystemClock)).unwrap();
        let owner = store.owner().unwrap().unwrap();
        assert!(crate::secrets::verify_password(
            "a new password",
            &owner.password_hash
        ));
        drop(store);

        std::fs::create_dir_all(data.join("clips/cam-1")).unwrap();
        std::fs::write(data.join("clips/cam-1/cam-1-1-1.mp4"), b"x").unwrap();
        let report = reset(data, false).unwrap();
        let backup = report.backup.clone().unwrap();
        assert!(backup.exists(), "the old database is kept");
        let old = Store::open(backup.parent().unwrap(), Arc::new(SystemClock)).unwrap();
        assert!(
            old.owner().unwrap().is_some(),
            "the backup is the old database"
        );
        let kept = report.clips_kept_in.clone().unwrap();
        assert!(kept.join("cam-1/cam-1-1-1.mp4").exists(), "clips kept");
        let fresh = Store::open(data, Arc::new(SystemClock)).unwrap();
        assert!(fresh.owner().unwrap().is_none(), "the owner is forgotten");
        drop(fresh);

        let report = reset(data, true).unwrap();
        assert!(report.clips_purged);
        assert!(!data.join("clips").exists());
    }
}
