//! The owner account, sessions, API tokens and pairing attempts (SPEC §4.1, §5).
//! Password hashing is the hub's job: the store keeps the argon2id string it is given.

use crate::error::{Result, SqlContext, StoreError};
use crate::{Store, TokenDigest, ms};
use rusqlite::{OptionalExtension, params};

/// Tries a serial may make in [`PAIRING_WINDOW_MS`] (SPEC §4.1: 5 a minute).
pub const PAIRING_TRIES_PER_WINDOW: u32 = 5;
pub const PAIRING_WINDOW_MS: u64 = 60_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub name: String,
    /// The PHC string (`$argon2id$...`) as the hub made it.
    pub password_hash: String,
    pub created_ms: u64,
    pub updated_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub created_ms: u64,
    pub expires_ms: u64,
    pub last_seen_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub created_ms: u64,
    pub last_used_ms: Option<u64>,
}

/// The answer to "may this serial try pairing now?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingAttempt {
    /// Recorded; this is try number `attempt` in the current window.
    Allowed { attempt: u32 },
    /// Not recorded: too many tries; the next one is allowed after `retry_after_ms`.
    RateLimited { retry_after_ms: u64 },
}

impl Store {
    /// The owner account, if one was created.
    pub fn owner(&self) -> Result<Option<Owner>> {
        self.conn()
            .query_row(
                "SELECT name, password_hash, created_ms, updated_ms FROM owner WHERE id = 1",
                [],
                |r| {
                    Ok(Owner {
                        name: r.get(0)?,
                        password_hash: r.get(1)?,
                        created_ms: r.get::<_, i64>(2)? as u64,
                        updated_ms: r.get::<_, i64>(3)? as u64,
                    })
                },
            )
            .optional()
            .ctx(|| "read the owner account".into())
    }

    /// Creates the owner account; there is only ever one ([`StoreError::OwnerExists`]).
    pub fn create_owner(&self, name: &str, password_hash: &str) -> Result<Owner> {
        let now = self.now_ms();
        let conn = self.conn();
        let n = conn
            .execute(
                "INSERT INTO owner (id, name, password_hash, created_ms, updated_ms)
                 VALUES (1, ?1, ?2, ?3, ?3) ON CONFLICT (id) DO NOTHING",
                params![name, password_hash, ms(now)],
            )
            .ctx(|| "create the owner account".into())?;
        if n == 0 {
            return Err(StoreError::OwnerExists);
        }
        Ok(Owner {
            name: name.to_owned(),
            password_hash: password_hash.to_owned(),
            created_ms: now,
            updated_ms: now,
        })
    }

    /// Replaces the owner's password hash and ends every session (a reset password must
    /// lock out whoever had the old one). API tokens stay: revoke them one by one.
    pub fn set_owner_password(&self, password_hash: &str) -> Result<()> {
        let now = self.now_ms();
        let mut conn = self.conn();
        let tx = conn.transaction().ctx(|| "start a transaction".into())?;
        let n = tx
            .execute(
                "UPDATE owner SET password_hash = ?1, updated_ms = ?2 WHERE id = 1",
                params![password_hash, ms(now)],
            )
            .ctx(|| "update the owner's password".into())?;
        if n == 0 {
            return Err(StoreError::NoOwner);
        }
        tx.execute("DELETE FROM sessions", [])
            .ctx(|| "end all sessions".into())?;
        tx.commit().ctx(|| "commit the password change".into())
    }

    /// Deletes the owner account, its sessions and API tokens (hub reset).
    pub fn delete_owner(&self) -> Result<()> {
        self.conn()
            .execute_batch("DELETE FROM owner; DELETE FROM sessions; DELETE FROM api_tokens;")
            .ctx(|| "delete the owner account".into())
    }

    /// Records a new session that lasts `ttl_ms` from now.
    pub fn create_session(&self, digest: &TokenDigest, ttl_ms: u64) -> Result<Session> {
        self.check_room(|| "store an owner session".into())?;
        let now = self.now_ms();
        let s = Session {
            created_ms: now,
            expires_ms: now.saturating_add(ttl_ms),
            last_seen_ms: now,
        };
        self.conn()
            .execute(
                "INSERT INTO sessions (token_sha256, created_ms, expires_ms, last_seen_ms)
                 VALUES (?1, ?2, ?3, ?2)",
                params![&digest.0[..], ms(now), ms(s.expires_ms)],
            )
            .ctx(|| "create a session".into())?;
        Ok(s)
    }

    /// The session with this digest if it has not expired; marks it seen now.
    /// Expired sessions are deleted here and by [`Store::compact`].
    pub fn check_session(&self, digest: &TokenDigest) -> Result<Option<Session>> {
        let now = self.now_ms();
        let conn = self.conn();
        let found = conn
            .query_row(
                "SELECT created_ms, expires_ms FROM sessions WHERE token_sha256 = ?1",
                params![&digest.0[..]],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
            )
            .optional()
            .ctx(|| "look up a session".into())?;
        match found {
            Some((created_ms, expires_ms)) if expires_ms > now => {
                let seen = self
                    .check_room(|| "mark a session seen".into())
                    .and_then(|()| {
                        conn.execute(
                            "UPDATE sessions SET last_seen_ms = ?2 WHERE token_sha256 = ?1",
                            params![&digest.0[..], ms(now)],
                        )
                        .ctx(|| "mark a session seen".into())
                    });
                // On a full disk the owner stays logged in; only "last seen" is not kept.
                match seen {
                    Err(e) if !e.is_storage_full() => return Err(e),
                    _ => {}
                }
                Ok(Some(Session {
                    created_ms,
                    expires_ms,
                    last_seen_ms: now,
                }))
            }
            Some(_) => {
                conn.execute(
                    "DELETE FROM sessions WHERE token_sha256 = ?1",
                    params![&digest.0[..]],
                )
                .ctx(|| "delete an expired session".into())?;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    /// Ends one session (logout). Returns whether it existed.
    pub fn delete_session(&self, digest: &TokenDigest) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "DELETE FROM sessions WHERE token_sha256 = ?1",
                params![&digest.0[..]],
            )
            .ctx(|| "delete a session".into())?;
        Ok(n > 0)
    }

    /// Records an API token (the hub shows the token once and keeps only this digest).
    pub fn create_api_token(&self, name: &str, digest: &TokenDigest) -> Result<ApiToken> {
        let now = self.now_ms();
        let conn = self.conn();
        conn.execute(
            "INSERT INTO api_tokens (name, token_sha256, created_ms) VALUES (?1, ?2, ?3)",
            params![name, &digest.0[..], ms(now)],
        )
        .ctx(|| format!("create API token {name:?}"))?;
        Ok(ApiToken {
            id: conn.last_insert_rowid(),
            name: name.to_owned(),
            created_ms: now,
            last_used_ms: None,
        })
    }

    /// The API token with this digest, marked used now.
    pub fn check_api_token(&self, digest: &TokenDigest) -> Result<Option<ApiToken>> {
        let now = self.now_ms();
        let conn = self.conn();
        let found = conn
            .query_row(
                "UPDATE api_tokens SET last_used_ms = ?2 WHERE token_sha256 = ?1
                 RETURNING id, name, created_ms, last_used_ms",
                params![&digest.0[..], ms(now)],
                api_token_row,
            )
            .optional()
            .ctx(|| "look up an API token".into())?;
        Ok(found)
    }

    pub fn list_api_tokens(&self) -> Result<Vec<ApiToken>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare("SELECT id, name, created_ms, last_used_ms FROM api_tokens ORDER BY id")
            .ctx(|| "list API tokens".into())?;
        let rows = stmt
            .query_map([], api_token_row)
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .ctx(|| "list API tokens".into())?;
        Ok(rows)
    }

    /// Revokes an API token. Returns whether it existed.
    pub fn revoke_api_token(&self, id: i64) -> Result<bool> {
        let n = self
            .conn()
            .execute("DELETE FROM api_tokens WHERE id = ?1", params![id])
            .ctx(|| format!("revoke API token {id}"))?;
        Ok(n > 0)
    }

    /// Counts a pairing try for `serial`, unless it already had
    /// [`PAIRING_TRIES_PER_WINDOW`] in the last minute. Atomic across handles.
    pub fn pairing_attempt(&self, serial: &str) -> Result<PairingAttempt> {
        let now = self.now_ms();
        let since = now.saturating_sub(PAIRING_WINDOW_MS);
        let mut conn = self.conn();
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx(|| "start a transaction".into())?;
        let (count, oldest): (u32, Option<i64>) = tx
            .query_row(
                "SELECT COUNT(*), MIN(ts_ms) FROM pairing_attempts WHERE serial = ?1 AND ts_ms > ?2",
                params![serial, ms(since)],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ctx(|| format!("count pairing tries of serial {serial}"))?;
        if count >= PAIRING_TRIES_PER_WINDOW {
            let oldest = oldest.unwrap_or(ms(now)) as u64;
            return Ok(PairingAttempt::RateLimited {
                retry_after_ms: (oldest + PAIRING_WINDOW_MS).saturating_sub(now).max(1),
            });
        }
        tx.execute(
            "INSERT INTO pairing_attempts (serial, ts_ms) VALUES (?1, ?2)",
            params![serial, ms(now)],
        )
        .ctx(|| format!("record a pairing try of serial {serial}"))?;
        tx.commit().ctx(|| "commit a pairing try".into())?;
        Ok(PairingAttempt::Allowed { attempt: count + 1 })
    }

    /// Marks the pairing code of `serial` used up (its camera reached the hub). Returns
    /// false if it already was.
    pub fn use_pairing_code(&self, serial: &str) -> Result<bool> {
        let n = self
            .conn()
            .execute(
                "INSERT INTO pairing_codes_used (serial, used_ms) VALUES (?1, ?2)
                 ON CONFLICT (serial) DO NOTHING",
                params![serial, ms(self.now_ms())],
            )
            .ctx(|| format!("use up the pairing code of serial {serial}"))?;
        Ok(n > 0)
    }

    pub fn pairing_code_used(&self, serial: &str) -> Result<bool> {
        self.conn()
            .query_row(
                "SELECT 1 FROM pairing_codes_used WHERE serial = ?1",
                params![serial],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .ctx(|| format!("read the pairing code state of serial {serial}"))
    }

    /// Makes the pairing code of `serial` usable again (the camera was factory reset).
    pub fn reset_pairing_code(&self, serial: &str) -> Result<()> {
        self.conn()
            .execute(
                "DELETE FROM pairing_codes_used WHERE serial = ?1",
                params![serial],
            )
            .ctx(|| format!("reset the pairing code of serial {serial}"))?;
        Ok(())
    }
}

fn api_token_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: r.get(0)?,
        name: r.get(1)?,
        created_ms: r.get::<_, i64>(2)? as u64,
        last_used_ms: r.get::<_, Option<i64>>(3)?.map(|v| v as u64),
    })
}
