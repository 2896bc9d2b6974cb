//! SHA-256 digests: of clip files (hex, as on the wire) and of secrets (raw bytes, so
//! that the database never holds a token or session id that could be replayed).

use crate::StoreError;
use sha2::{Digest, Sha256};
use std::fmt;

/// A SHA-256 digest of a file body, shown and parsed as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sha256Hex(pub [u8; 32]);

impl Sha256Hex {
    /// Parses 64 hex digits (either case), as sent in `X-Watchlight-Sha256`.
    pub fn parse(s: &str) -> Result<Sha256Hex, StoreError> {
        let bad = || StoreError::InvalidDigest(s.chars().take(80).collect());
        if s.len() != 64 {
            return Err(bad());
        }
        let mut out = [0u8; 32];
        for (i, pair) in s.as_bytes().chunks(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or_else(bad)?;
            let lo = hex_val(pair[1]).ok_or_else(bad)?;
            out[i] = hi << 4 | lo;
        }
        Ok(Sha256Hex(out))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Sha256Hex {
        Sha256Hex(Sha256::digest(bytes).into())
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sha256Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Hex({self})")
    }
}

/// The SHA-256 of a secret token (device token, session id, API token). Only this is
/// stored; [`TokenDigest::verify`] compares in constant time.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenDigest(pub [u8; 32]);

impl TokenDigest {
    /// The digest of `token` as presented by a client.
    pub fn of_token(token: &str) -> TokenDigest {
        TokenDigest(Sha256::digest(token.as_bytes()).into())
    }

    /// Whether `token` is the one this digest was made from, in time independent of
    /// where the digests differ.
    pub fn verify(&self, token: &str) -> bool {
        let other = TokenDigest::of_token(token);
        let mut diff = 0u8;
        for (a, b) in self.0.iter().zip(other.0.iter()) {
            diff |= a ^ b;
        }
        std::hint::black_box(diff) == 0
    }

    pub(crate) fn from_blob(blob: Vec<u8>) -> Option<TokenDigest> {
        <[u8; 32]>::try_from(blob).ok().map(TokenDigest)
    }
}

impl fmt::Debug for TokenDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print even a digest of a secret in full.
        write!(f, "TokenDigest({:02x}{:02x}…)", self.0[0], self.0[1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_bad_input() {
        let d = Sha256Hex::of(b"abc");
        let s = d.to_string();
        assert_eq!(
            s,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(Sha256Hex::parse(&s.to_uppercase()).unwrap(), d);
        assert!(Sha256Hex::parse(&s[1..]).is_err());
        let mut bad = s.clone();
        bad.replace_range(0..1, "g");
        let err = Sha256Hex::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("64 hex digits"), "{err}");
    }

    #[test]
    fn token_digest_verifies_only_its_token() {
        let d = TokenDigest::of_token("secret-1");
        assert!(d.verify("secret-1"));
        assert!(!d.verify("secret-2"));
        assert!(!format!("{d:?}").contains(&Sha256Hex(d.0).to_string()));
    }
}
