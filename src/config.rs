//! Configuration from the environment (the README's configuration table); flags of `serve` may override.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

/// The database when `DATABASE_URL` is not set: an embedded SQLite file.
pub const EMBEDDED_DATABASE_URL: &str = "sqlite://./data/ehealth.db";

#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `postgres://…`, or `sqlite://PATH` for the embedded backend; unset: `sqlite://./data/ehealth.db`.
    #[arg(long, env = "DATABASE_URL", default_value = EMBEDDED_DATABASE_URL)]
    pub database_url: String,
    /// Largest number of pooled connections.
    #[arg(long, env = "EHEALTH_DB_POOL_SIZE", default_value_t = 32)]
    pub db_pool_size: u32,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Listen address.
    #[arg(long, env = "EHEALTH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// HS256 key for bearer tokens (must not be empty: anyone could sign with an empty key).
    /// Required with PostgreSQL; on SQLite a generated key is kept beside the database file.
    #[arg(long, env = "EHEALTH_JWT_SECRET", hide_env_values = true, value_parser = non_empty_secret)]
    pub jwt_secret: Option<String>,
    /// Import the built-in demo data set (examples/demo.json) at start, so every action can be
    /// tried at once; importing it again changes nothing.
    #[arg(long)]
    pub demo: bool,
    /// How recall's digital signatures are verified (docs/signatures.md).
    #[command(flatten)]
    pub signature: SignatureArgs,
    /// Where signed content is stored.
    #[arg(long, env = "EHEALTH_MEDIA_DIR", default_value = "./data/media")]
    pub media_dir: PathBuf,
    /// `log`, or the URL of an HTTP SMS gateway.
    #[arg(long, env = "EHEALTH_SMS_GATEWAY", default_value = "log")]
    pub sms_gateway: String,
    /// Key from which OTP codes are derived; defaults to one derived from the JWT secret.
    #[arg(long, env = "EHEALTH_OTP_SECRET", hide_env_values = true)]
    pub otp_secret: Option<String>,
    /// Seconds an OTP SMS may keep failing at the gateway before it is given up (never sent
    /// later) and its resend's job fails with `Failed to initialize otp verification`.
    #[arg(long, env = "EHEALTH_OTP_SEND_TIMEOUT", default_value_t = 60)]
    pub otp_send_timeout: u64,
    /// Seconds within which a second resend to the same phone is refused with 429 (the OTP
    /// service's `INIT_VERIFICATION_LIMIT`); 0 turns the limit off.
    #[arg(long, env = "EHEALTH_OTP_INIT_LIMIT", default_value_t = 60)]
    pub otp_init_limit: u64,
    /// Run the background workers (effects, SMS) in this process; `false` makes an API-only node.
    #[arg(long, env = "EHEALTH_WORKERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub workers: bool,
    /// `/health/ready` answers 503 when the effects worker is more events behind than this.
    #[arg(long, env = "EHEALTH_READY_MAX_LAG", default_value_t = 10_000)]
    pub ready_max_lag: i64,
    /// Seconds a request may take (a fraction is allowed): past it the client gets 503 with
    /// `Retry-After`. Every statement, lock wait and pool wait on PostgreSQL is bounded by it too.
    #[arg(long, env = "EHEALTH_REQUEST_TIMEOUT", default_value = "5", value_parser = seconds)]
    pub request_timeout: std::time::Duration,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "EHEALTH_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
}

/// Digital signature verification: the built-in verifier's trust, time and revocation settings,
/// or an external signature service (docs/signatures.md).
#[derive(Debug, Clone, Args)]
pub struct SignatureArgs {
    /// CA certificates signer certificates must chain to, RSA, ECDSA and DSTU 4145 alike: a PEM or
    /// DER file, a CMS bundle (`CACertificates.p7b`), or a folder of such files.
    #[arg(long, env = "EHEALTH_TRUST_ANCHORS")]
    pub trust_anchors: Option<PathBuf>,
    /// TSA certificates trusted as configured (a file or folder, as the anchors); a TSA whose
    /// certificate chains to an anchor with the timeStamping purpose needs no entry.
    #[arg(long, env = "EHEALTH_TSA_CERTIFICATES")]
    pub tsa_certificates: Option<PathBuf>,
    /// Folder of CRLs (`.crl`, `.pem`, `.der`), read at start and again at every refresh.
    #[arg(long, env = "EHEALTH_CRL_DIR")]
    pub crl_dir: Option<PathBuf>,
    /// CRL addresses (comma-separated) fetched at start and at every refresh.
    #[arg(long, env = "EHEALTH_CRL_URLS", value_delimiter = ',')]
    pub crl_urls: Vec<String>,
    /// Seconds between refreshes of the CRL folder and addresses.
    #[arg(long, env = "EHEALTH_CRL_REFRESH", default_value = "3600", value_parser = seconds_up_to_a_day)]
    pub crl_refresh: std::time::Duration,
    /// An OCSP responder asked when a certificate has no fresh CRL; `aia` asks the responder each
    /// certificate names (its authority information access).
    #[arg(long, env = "EHEALTH_OCSP_URL")]
    pub ocsp_url: Option<String>,
    /// Whether a signature must carry an RFC 3161 timestamp (as eHealth requires); `false` takes
    /// the request's time as the signing time.
    #[arg(long = "signature-timestamp-required", env = "EHEALTH_SIGNATURE_TIMESTAMP_REQUIRED", default_value_t = true, action = clap::ArgAction::Set)]
    pub timestamp_required: bool,
    /// An external signature service (eHealth's DS API: `POST {url}` with `signed_content`)
    /// instead of the built-in verifier; excludes the settings above.
    #[arg(long = "signature-service-url", env = "EHEALTH_SIGNATURE_SERVICE_URL")]
    pub service_url: Option<String>,
}

impl Default for SignatureArgs {
    /// Nothing configured (recall answers 503), with the binary's defaults.
    fn default() -> SignatureArgs {
        SignatureArgs {
            trust_anchors: None,
            tsa_certificates: None,
            crl_dir: None,
            crl_urls: Vec::new(),
            crl_refresh: std::time::Duration::from_secs(3600),
            ocsp_url: None,
            timestamp_required: true,
            service_url: None,
        }
    }
}

/// A positive number of seconds up to a day (`60`, `3600`).
pub fn seconds_up_to_a_day(value: &str) -> Result<std::time::Duration, String> {
    match value.trim().parse::<u64>() {
        Ok(s) if (1..=86_400).contains(&s) => Ok(std::time::Duration::from_secs(s)),
        _ => Err(format!(
            "expected a whole number of seconds between 1 and 86400, got `{value}`"
        )),
    }
}

/// A positive number of seconds, possibly with a fraction (`5`, `0.5`).
pub fn seconds(value: &str) -> Result<std::time::Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 3600.0 => {
            Ok(std::time::Duration::from_secs_f64(s))
        }
        _ => Err(format!(
            "expected a number of seconds between 0 and 3600, got `{value}`"
        )),
    }
}

/// Refuses an empty (or blank) secret: a token signed with it could be forged by anyone.
pub fn non_empty_secret(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("the secret must not be empty".into())
    } else {
        Ok(value.to_string())
    }
}

/// Refuses a scope list with no scope: the service answers 401 to such a token.
pub fn non_empty_scope(value: &str) -> Result<String, String> {
    if value.split_whitespace().next().is_none() {
        Err("name at least one scope".into())
    } else {
        Ok(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::ServeArgs;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    #[test]
    fn the_otp_limits_are_on_by_default_and_can_be_set() {
        let defaults = Serve::parse_from(["serve"]).args;
        assert_eq!(defaults.otp_send_timeout, 60);
        assert_eq!(defaults.otp_init_limit, 60);
        let set =
            Serve::parse_from(["serve", "--otp-send-timeout", "5", "--otp-init-limit", "0"]).args;
        assert_eq!((set.otp_send_timeout, set.otp_init_limit), (5, 0));
    }

    #[test]
    fn signatures_need_a_timestamp_unless_configured_otherwise_and_crl_urls_are_a_list() {
        let defaults = Serve::parse_from(["serve"]).args.signature;
        assert!(defaults.timestamp_required);
        assert_eq!(defaults.crl_refresh, std::time::Duration::from_secs(3600));
        assert!(defaults.trust_anchors.is_none() && defaults.service_url.is_none());
        let set = Serve::parse_from([
            "serve",
            "--signature-timestamp-required",
            "false",
            "--crl-urls",
            "http://a/1.crl,http://b/2.crl",
            "--crl-refresh",
            "60",
        ])
        .args
        .signature;
        assert!(!set.timestamp_required);
        assert_eq!(set.crl_urls, ["http://a/1.crl", "http://b/2.crl"]);
        assert_eq!(set.crl_refresh, std::time::Duration::from_secs(60));
        for bad in ["0", "86401", "soon"] {
            assert!(Serve::try_parse_from(["serve", "--crl-refresh", bad]).is_err());
        }
    }

    #[test]
    fn the_request_deadline_is_five_seconds_unless_set_and_must_be_positive() {
        let defaults = Serve::parse_from(["serve"]).args;
        assert_eq!(defaults.request_timeout, std::time::Duration::from_secs(5));
        let set = Serve::parse_from(["serve", "--request-timeout", "0.25"]).args;
        assert_eq!(set.request_timeout, std::time::Duration::from_millis(250));
        for bad in ["0", "-1", "soon", "NaN"] {
            assert!(Serve::try_parse_from(["serve", "--request-timeout", bad]).is_err());
        }
    }
}
