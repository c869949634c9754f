//! Bearer tokens: HS256 JWTs whose `sub` is the user, `client_id` the legal entity and `scope`
//! the space-separated scopes. Failures answer with the API gateway's texts.

use chrono::Utc;
use ehealth_aggregates::ids::{LegalEntityId, UserId};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const NO_BEARER: &str = "Authorization header is not set or doesn't contain Bearer token";
pub const INVALID_TOKEN: &str = "Invalid access token";

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
}

/// Who is calling: the authenticated identity behind a request.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user_id: Uuid,
    pub client_id: Uuid,
    pub scopes: Vec<String>,
}

impl Identity {
    /// The legal entity the user acts for (`client_id`), as the domain takes it.
    pub fn legal_entity(&self) -> LegalEntityId {
        self.client_id.into()
    }

    /// The user (`sub`), as the domain takes it.
    pub fn user(&self) -> UserId {
        self.user_id.into()
    }

    /// The scopes of `required` the token lacks, in order; empty when all are granted.
    pub fn missing_scopes(&self, required: &[&str]) -> Vec<String> {
        required
            .iter()
            .filter(|s| !self.scopes.iter().any(|g| g == *s))
            .map(|s| s.to_string())
            .collect()
    }
}

#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl TokenKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn mint(&self, user: Uuid, client: Uuid, scope: &str, ttl_seconds: i64) -> String {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user.to_string(),
            client_id: client.to_string(),
            scope: scope.to_string(),
            iat: now,
            exp: now + ttl_seconds,
            nbf: None,
        };
        encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing cannot fail")
    }

    /// Validates a token: HS256 only, signature, `exp` and `nbf` (no leeway), uuid claims.
    pub fn verify(&self, token: &str) -> Option<Identity> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = decode::<Claims>(token, &self.decoding, &validation).ok()?;
        let claims = data.claims;
        let scopes: Vec<String> = claims
            .scope
            .split_whitespace()
            .map(str::to_string)
            .collect();
        if scopes.is_empty() {
            return None;
        }
        Some(Identity {
            user_id: Uuid::parse_str(&claims.sub).ok()?,
            client_id: Uuid::parse_str(&claims.client_id).ok()?,
            scopes,
        })
    }
}

/// The bearer token of an `Authorization` header value, if it is one.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_verifies_and_carries_the_identity() {
        let keys = TokenKeys::new(b"secret");
        let (u, c) = (Uuid::new_v4(), Uuid::new_v4());
        let id = keys.verify(&keys.mint(u, c, "a:b c:d", 60)).unwrap();
        assert_eq!((id.user_id, id.client_id), (u, c));
        assert_eq!(
            id.missing_scopes(&["a:b", "x:y", "c:d", "z"]),
            vec!["x:y", "z"]
        );
    }

    #[test]
    fn expired_foreign_and_malformed_tokens_are_refused() {
        let keys = TokenKeys::new(b"secret");
        let (u, c) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(keys.verify(&keys.mint(u, c, "a", -10)).is_none());
        assert!(TokenKeys::new(b"other")
            .verify(&keys.mint(u, c, "a", 60))
            .is_none());
        assert!(keys.verify("not.a.token").is_none());
    }

    #[test]
    fn bearer_headers_are_recognised() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
