//! The embedded default: with no `DATABASE_URL` the service keeps everything in `./data/` — the
//! SQLite database, the JWT key generated on first start (`jwt.key`, beside the database file) and
//! the media — and prints a ready-to-paste token and curl example, so a fresh clone serves with
//! nothing installed and nothing configured. `serve --demo` imports the demo data set
//! (examples/demo.json) so that every action can be tried at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use uuid::Uuid;

use crate::auth::TokenKeys;

/// The demo data set, built in so `serve --demo` works from any directory.
pub const DEMO_DATA: &str = include_str!("../examples/demo.json");
/// The demo doctor's user, legal entity, patient and entities (examples/demo.json).
pub const DEMO_USER: Uuid = Uuid::from_u128(0x33333333_3333_4333_8333_333333333333);
pub const DEMO_LEGAL_ENTITY: Uuid = Uuid::from_u128(0x11111111_1111_4111_8111_111111111111);
pub const DEMO_PATIENT: Uuid = Uuid::from_u128(0x55555555_5555_4555_8555_555555555555);
pub const DEMO_SERVICE_REQUEST: Uuid = Uuid::from_u128(0x66666666_6666_4666_8666_666666666666);
/// Every scope the service knows (the demo token carries them all).
pub const ALL_SCOPES: &str = "service_request:use service_request:recall service_request:read \
merge_request:write merge_request:read device_dispense:stop device_dispense:read approval:create \
approval:read job:read event:read care_plan:read";
/// How long the printed demo token is valid.
pub const DEMO_TOKEN_TTL: i64 = 24 * 3600;

/// The key file of a SQLite database URL: `jwt.key` in the database file's folder.
pub fn key_file(database_url: &str) -> Option<PathBuf> {
    let path = database_url.strip_prefix("sqlite:")?;
    let path = path.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    let dir = Path::new(path).parent().unwrap_or(Path::new("."));
    Some(dir.join("jwt.key"))
}

/// The JWT secret to use: the configured one; on SQLite without one, the key kept beside the
/// database (generated now if missing; then `true`). PostgreSQL needs a configured secret: its
/// instances must share one key, which a key generated on one machine would not be.
pub fn jwt_secret(
    database_url: &str,
    configured: Option<String>,
    generate: bool,
) -> anyhow::Result<(String, bool)> {
    if let Some(secret) = configured {
        return Ok((secret, false));
    }
    let Some(file) = key_file(database_url) else {
        anyhow::bail!(
            "EHEALTH_JWT_SECRET is not set (it is required with DATABASE_URL={}; \
             only the embedded SQLite default generates its own key)",
            redact(database_url)
        );
    };
    if file.exists() {
        let secret = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the JWT key {}", file.display()))?;
        let secret = secret.trim().to_string();
        if secret.is_empty() {
            anyhow::bail!("the JWT key file {} is empty", file.display());
        }
        return Ok((secret, false));
    }
    if !generate {
        anyhow::bail!(
            "EHEALTH_JWT_SECRET is not set and there is no generated key at {} (start `serve` once)",
            file.display()
        );
    }
    let secret = hex::encode(rand::random::<[u8; 32]>());
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    write_private(&file, &secret)
        .with_context(|| format!("cannot write the JWT key {}", file.display()))?;
    Ok((secret, true))
}

#[cfg(unix)]
fn write_private(file: &Path, secret: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    f.write_all(secret.as_bytes())?;
    f.write_all(b"\n")?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(file: &Path, secret: &str) -> std::io::Result<()> {
    std::fs::write(file, format!("{secret}\n"))
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_string(),
    }
}

/// What `serve` prints on the first start of the embedded default (or with `--demo`): a token for
/// the demo doctor and curl commands that work against the demo data.
pub fn banner(addr: SocketAddr, secret: &str, demo_loaded: bool) -> String {
    let token = TokenKeys::new(secret.as_bytes()).mint(
        DEMO_USER,
        DEMO_LEGAL_ENTITY,
        ALL_SCOPES,
        DEMO_TOKEN_TTL,
    );
    let base = format!("http://{addr}");
    let mut text = format!(
        "\nA token for the demo doctor (user {DEMO_USER}, legal entity {DEMO_LEGAL_ENTITY}), valid 24 h:\n\n  \
         export TOKEN={token}\n\n"
    );
    if demo_loaded {
        text.push_str(&format!(
            "Read the demo service request:\n\n  \
             curl -s -H \"Authorization: Bearer $TOKEN\" {base}/api/patients/{DEMO_PATIENT}/service_requests/{DEMO_SERVICE_REQUEST}\n\n\
             Release it (202 and a job; a second release answers 409):\n\n  \
             curl -s -X PATCH -H \"Authorization: Bearer $TOKEN\" {base}/api/service_requests/{DEMO_SERVICE_REQUEST}/actions/release\n\n"
        ));
    } else {
        text.push_str(&format!(
            "List the service requests of the demo legal entity (none yet: restart with `serve --demo`\n\
             to load the demo data set, or load yours with `import FILE`):\n\n  \
             curl -s -H \"Authorization: Bearer $TOKEN\" {base}/api/service_requests\n\n"
        ));
    }
    text.push_str("More tokens: `ehealth-es token --user U --client C --scope \"…\"`.\n");
    text
}
