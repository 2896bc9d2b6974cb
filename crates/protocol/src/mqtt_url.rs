//! `mqtt://host:port` and `mqtts://host:port` addresses, as the hub prints them, hands
//! them to cameras at pairing and accepts them for an external broker.

/// A parsed broker address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUrl {
    /// `mqtts://`: TLS.
    pub tls: bool,
    /// Host name or address, without the brackets of an IPv6 literal.
    pub host: String,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an MQTT address of the form mqtt://host:port or mqtts://host:port")]
pub struct BadMqttUrl(pub String);

impl MqttUrl {
    pub fn parse(url: &str) -> Result<MqttUrl, BadMqttUrl> {
        let bad = || BadMqttUrl(url.to_string());
        let (tls, rest) = if let Some(r) = url.strip_prefix("mqtts://") {
            (true, r)
        } else if let Some(r) = url.strip_prefix("mqtt://") {
            (false, r)
        } else {
            return Err(bad());
        };
        let (host, port) = rest
            .trim_end_matches('/')
            .rsplit_once(':')
            .ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port: u16 = port.parse().map_err(|_| bad())?;
        if host.is_empty() {
            return Err(bad());
        }
        Ok(MqttUrl {
            tls,
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_bad_ones_are_named() {
        let u = MqttUrl::parse("mqtts://hub.local:8883/").unwrap();
        assert_eq!(
            u,
            MqttUrl {
                tls: true,
                host: "hub.local".into(),
                port: 8883
            }
        );
        let u = MqttUrl::parse("mqtt://[::1]:1883").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (false, "::1", 1883));
        for bad in ["http://x:1", "mqtt://x", "mqtt://:1", "mqtt://x:port"] {
            let err = MqttUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }
}
