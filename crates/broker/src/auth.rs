//! The one mqtt5 hook that covers login, publish, subscribe and last wills, wired to
//! [`crate::acl`] (policy) and [`crate::registry`] (credentials).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Instant;

use mqtt5::broker::auth::{AuthProvider, AuthResult};
use mqtt5::packet::connect::ConnectPacket;
use mqtt5::protocol::v5::reason_codes::ReasonCode;
use subtle::ConstantTimeEq;
use tracing::{debug, warn};

use crate::acl::{self, HUB_USER, Identity};
use crate::guesses::{GuessLimiter, Verdict};
use crate::registry::{DeviceRegistry, token_matches};

/// Why a CONNECT was refused; logged, and mapped to an MQTT reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginRefusal {
    Anonymous,
    BadCredentials,
    /// A device's client id must be its device id, so it cannot take over (and kick off)
    /// another device's session.
    ClientIdMismatch,
    ForbiddenWill,
}

pub(crate) struct WatchlightAuth {
    pub home: String,
    pub hub_token_sha256: [u8; 32],
    pub devices: DeviceRegistry,
    /// Wrong credentials per source address ([`crate::guesses`]), on `started`'s clock.
    pub guesses: Mutex<GuessLimiter>,
    pub started: Instant,
    /// Connections not logged in yet ([`crate::front`]); a CONNECT ends the wait.
    pub waiting: crate::front::SharedWaiting,
}

impl WatchlightAuth {
    /// Decides a CONNECT: who it is, or why not.
    pub(crate) fn login(&self, connect: &ConnectPacket) -> Result<String, LoginRefusal> {
        let (Some(user), Some(password)) = (&connect.username, &connect.password) else {
            return Err(LoginRefusal::Anonymous);
        };
        let identity = if user == HUB_USER {
            if !token_matches(password, &self.hub_token_sha256) {
                return Err(LoginRefusal::BadCredentials);
            }
            Identity::Hub
        } else {
            if !self.devices.verify(user, password) {
                return Err(LoginRefusal::BadCredentials);
            }
            if !bool::from(connect.client_id.as_bytes().ct_eq(user.as_bytes())) {
                return Err(LoginRefusal::ClientIdMismatch);
            }
            Identity::Device(user)
        };
        if let Some(will) = &connect.will
            && !acl::may_leave_will(&self.home, &identity, &will.topic)
        {
            return Err(LoginRefusal::ForbiddenWill);
        }
        Ok(user.clone())
    }

    /// The identity behind a session's user, if it may still act: a removed device may not.
    fn identity<'a>(&self, user_id: Option<&'a str>) -> Option<Identity<'a>> {
        let identity = Identity::from_user(user_id?);
        match identity {
            Identity::Hub => Some(identity),
            Identity::Device(id) => self.devices.contains(id).then_some(identity),
        }
    }
}

impl AuthProvider for WatchlightAuth {
    fn authenticate<'a>(
        &'a self,
        connect: &'a ConnectPacket,
        client_addr: SocketAddr,
    ) -> Pin<Box<dyn Future<Output = mqtt5::error::Result<AuthResult>> + Send + 'a>> {
        Box::pin(async move {
            crate::front::lock(&self.waiting).done(client_addr);
            let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let ip = client_addr.ip();
            let mut guesses = self.guesses.lock().unwrap_or_else(|p| p.into_inner());
            if let Verdict::LockedOut { retry_in_ms } = guesses.check(ip, now_ms) {
                debug!(%client_addr, retry_in_ms, "mqtt login refused unseen: too many wrong credentials from this address");
                // Mapped to "server unavailable" for MQTT 3.1.1: a camera whose own token is
                // right but shares the address retries later instead of counting a refusal.
                return Ok(AuthResult::fail(ReasonCode::ConnectionRateExceeded));
            }
            let outcome = self.login(connect);
            match outcome {
                Ok(_) => guesses.record(ip, true, now_ms),
                Err(LoginRefusal::Anonymous | LoginRefusal::BadCredentials) => {
                    guesses.record(ip, false, now_ms);
                    if matches!(guesses.check(ip, now_ms), Verdict::LockedOut { .. }) {
                        let limits = guesses.limits();
                        warn!(
                            %client_addr,
                            failures = limits.max_failures,
                            lockout_secs = limits.lockout_ms / 1000,
                            "mqtt logins from this address refused for a while: too many wrong credentials"
                        );
                    }
                }
                Err(_) => {}
            }
            drop(guesses);
            Ok(match outcome {
                Ok(user) => {
                    debug!(%user, %client_addr, "mqtt login");
                    AuthResult::success_with_user(user)
                }
                Err(refusal) => {
                    warn!(
                        user = connect.username.as_deref().unwrap_or("<anonymous>"),
                        client_id = %connect.client_id,
                        %client_addr,
                        ?refusal,
                        "mqtt login refused"
                    );
                    let code = match refusal {
                        LoginRefusal::Anonymous | LoginRefusal::BadCredentials => {
                            ReasonCode::BadUsernameOrPassword
                        }
                        LoginRefusal::ClientIdMismatch => ReasonCode::ClientIdentifierNotValid,
                        LoginRefusal::ForbiddenWill => ReasonCode::NotAuthorized,
                    };
                    AuthResult::fail(code)
                }
            })
        })
    }

    fn authorize_publish<'a>(
        &'a self,
        client_id: &str,
        user_id: Option<&'a str>,
        topic: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        let allowed = self
            .identity(user_id)
            .is_some_and(|identity| acl::may_publish(&self.home, &identity, topic));
        if !allowed {
            warn!(client_id, user = ?user_id, topic, "mqtt publish refused");
        }
        Box::pin(std::future::ready(allowed))
    }

    fn authorize_subscribe<'a>(
        &'a self,
        client_id: &str,
        user_id: Option<&'a str>,
        topic_filter: &'a str,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        let allowed = self
            .identity(user_id)
            .is_some_and(|identity| acl::may_subscribe(&self.home, &identity, topic_filter));
        if !allowed {
            warn!(client_id, user = ?user_id, topic_filter, "mqtt subscribe refused");
        }
        Box::pin(std::future::ready(allowed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::token_sha256;
    use mqtt5::WillMessage;
    use watchlight_protocol::topics::{DeviceTopic, DeviceTopics};

    fn auth() -> WatchlightAuth {
        let devices = DeviceRegistry::new();
        devices.insert("cam-a", token_sha256("token-a")).unwrap();
        WatchlightAuth {
            home: "home1".into(),
            hub_token_sha256: token_sha256("hub-token"),
            devices,
            guesses: Mutex::new(GuessLimiter::new(crate::guesses::Limits::MQTT)),
            started: Instant::now(),
            waiting: std::sync::Arc::new(Mutex::new(crate::front::WaitingLogins::new(
                crate::ConnectionLimits::default(),
            ))),
        }
    }

    fn connect(client_id: &str, user: Option<&str>, password: Option<&str>) -> ConnectPacket {
        ConnectPacket {
            protocol_version: 4,
            clean_start: false,
            keep_alive: 5,
            client_id: client_id.to_string(),
            username: user.map(str::to_string),
            password: password.map(|p| p.as_bytes().to_vec()),
            will: None,
            properties: Default::default(),
            will_properties: Default::default(),
        }
    }

    #[test]
    fn logins() {
        let auth = auth();
        assert_eq!(
            auth.login(&connect("cam-a", Some("cam-a"), Some("token-a"))),
            Ok("cam-a".to_string())
        );
        assert_eq!(
            auth.login(&connect("hub-main", Some("hub"), Some("hub-token"))),
            Ok("hub".to_string())
        );
        assert_eq!(
            auth.login(&connect("x", None, None)),
            Err(LoginRefusal::Anonymous)
        );
        assert_eq!(
            auth.login(&connect("cam-a", Some("cam-a"), None)),
            Err(LoginRefusal::Anonymous)
        );
        assert_eq!(
            auth.login(&connect("cam-a", Some("cam-a"), Some("token-b"))),
            Err(LoginRefusal::BadCredentials)
        );
        assert_eq!(
            auth.login(&connect("hub", Some("hub"), Some("token-a"))),
            Err(LoginRefusal::BadCredentials)
        );
        assert_eq!(
            auth.login(&connect("cam-b", Some("cam-a"), Some("token-a"))),
            Err(LoginRefusal::ClientIdMismatch)
        );
    }

    #[test]
    fn a_will_on_another_devices_topic_refuses_the_login() {
        let auth = auth();
        let mut c = connect("cam-a", Some("cam-a"), Some("token-a"));
        let b = DeviceTopics::new("home1", "cam-b").topic(DeviceTopic::Availability);
        c.will = Some(WillMessage::new(b, b"offline".to_vec()));
        assert_eq!(auth.login(&c), Err(LoginRefusal::ForbiddenWill));
        let a = DeviceTopics::new("home1", "cam-a").topic(DeviceTopic::Availability);
        c.will = Some(WillMessage::new(a, b"offline".to_vec()));
        assert!(auth.login(&c).is_ok());
    }

    #[test]
    fn a_removed_device_loses_its_open_session_rights() {
        let auth = auth();
        let state = DeviceTopics::new("home1", "cam-a").topic(DeviceTopic::State);
        let allowed = |a: &WatchlightAuth| {
            futures_lite_block_on(a.authorize_publish("cam-a", Some("cam-a"), &state))
        };
        assert!(allowed(&auth));
        auth.devices.remove("cam-a");
        assert!(!allowed(&auth));
        assert!(!futures_lite_block_on(
            auth.authorize_publish("x", None, &state)
        ));
    }

    fn futures_lite_block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}
