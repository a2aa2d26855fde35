//! The coordinator's configuration: one struct with defaults, loaded from a TOML file and
//! `SDGX_*` environment variables (for example `SDGX_HTTP_ADDR=0.0.0.0:8080`,
//! `SDGX_STORE_URL=s3://bucket/sdgx`), then overridden by command-line flags.
//! Every setting is documented in `examples/federation/coordinator.toml`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::calendar::CalendarEntry;
use crate::storage::StoreOptions;
use crate::upstream::UpstreamConfig;
pub use sdgx_schemas::flight::TransportConfig;

use crate::auth::{AgencyEntry, TokenEntry};

/// Mutual TLS for agents' publications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The coordinator's certificate chain (PEM).
    pub cert: PathBuf,
    /// The coordinator's private key (PEM).
    pub key: PathBuf,
    /// The CA bundle (PEM) that agents' client certificates must chain to.
    pub client_ca: PathBuf,
    /// SHA-256 fingerprints (hex of the DER) of revoked client certificates.
    #[serde(default)]
    pub revoked: Vec<String>,
}

/// TLS on the HTTP port (the API and the dashboard): the server's certificate and key. No
/// client certificate is asked for: bearer tokens and dashboard sessions authenticate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpTlsConfig {
    /// The certificate chain (PEM) browsers and API clients see, leaf first: the coordinator's
    /// `server.pem`, or one from a CA the analysts' browsers already trust.
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// The coordinator's own signing key, with which it signs every entry of its log (see
/// [`sdgx_schemas::evidence`]). Its certificate is issued by the national CA with the extended
/// key usage document signing (`sdgx-coordinator ca issue-signer`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningConfig {
    /// The signing certificate (PEM; the first certificate is the signer's).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
}

/// The HTTP port: TLS, HSTS and the dashboard's sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// TLS on `http_addr`. Unset: plain HTTP, for local development or behind a TLS-terminating
    /// proxy (the coordinator warns at start when plain HTTP listens beyond loopback).
    pub tls: Option<HttpTlsConfig>,
    /// `Strict-Transport-Security: max-age=<this>` on every answer when `tls` is set (0: no
    /// header). Browsers then refuse plain HTTP to this host for that long.
    pub hsts_max_age_secs: u64,
    /// A dashboard session unused for this many seconds ends (the next page asks to log in).
    pub session_idle_timeout_secs: u64,
    /// A dashboard session ends this many seconds after its login, however busy (at least the
    /// idle timeout).
    pub session_lifetime_secs: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { tls: None, hsts_max_age_secs: 31_536_000, session_idle_timeout_secs: 1800, session_lifetime_secs: 8 * 3600 }
    }
}

impl HttpConfig {
    /// Checks the session timeouts.
    pub fn validate(&self) -> Result<()> {
        if self.session_idle_timeout_secs == 0 || self.session_lifetime_secs < self.session_idle_timeout_secs {
            return Err(Error::Config(format!(
                "http.session_idle_timeout_secs ({}) must be at least 1 and http.session_lifetime_secs ({}) at least the idle timeout",
                self.session_idle_timeout_secs, self.session_lifetime_secs
            )));
        }
        Ok(())
    }
}

/// Who may do what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SecurityConfig {
    /// TOML file of `[[token]]` entries (`name`, `role`, `sha256`), written by `token create`.
    pub token_file: Option<PathBuf>,
    /// Tokens given inline, as hashes.
    #[serde(rename = "token")]
    pub tokens: Vec<TokenEntry>,
    /// Failed authentications (invalid credentials; missing ones and CORS preflights do not
    /// count) one client address may make at once before it is refused (429 with
    /// `Retry-After`, gRPC `ResourceExhausted`). The allowance refills at this many per
    /// `auth_window_secs`. Valid tokens are never refused.
    pub auth_max_failures: u32,
    /// The window of the failed-authentication limit, in seconds (see `auth_max_failures`).
    pub auth_window_secs: u64,
    /// The agency registry: each agency and the datasets it may publish. Empty: nobody may.
    #[serde(rename = "agency")]
    pub agencies: Vec<AgencyEntry>,
    /// Mutual TLS on the Flight port (required for publications unless the next setting is on).
    pub tls: Option<TlsConfig>,
    /// The coordinator's log-signing key (required with `tls`; without it, in development,
    /// entries are not signed).
    pub signing: Option<SigningConfig>,
    /// CA certificates (PEM) `audit verify` checks the signers' certificates against: the
    /// agencies' and the coordinator's signing certificate. Empty: `tls.client_ca`.
    pub audit_ca: Vec<PathBuf>,
    /// Accept publications over plaintext, trusting the manifest's agency id. Development and
    /// tests only; off by default.
    pub insecure_plaintext_publish: bool,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        SecurityConfig {
            token_file: None,
            tokens: vec![],
            auth_max_failures: 10,
            auth_window_secs: 300,
            agencies: vec![],
            tls: None,
            signing: None,
            audit_ca: vec![],
            insecure_plaintext_publish: false,
        }
    }
}

/// The coordinator's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Directory for the store (when `store_url` is unset) and for staging files.
    pub data_dir: PathBuf,
    /// Store location: any object-store URL deltalake understands (`file:///...`, `s3://...`).
    /// Default: `<data_dir>/store`.
    pub store_url: Option<String>,
    /// Options of the object store behind `store_url` (endpoint, region, credentials; see
    /// [`crate::storage`]). `AWS_*`, `GOOGLE_*` and `AZURE_*` environment variables are read too.
    pub store_options: StoreOptions,
    /// Serve as a read-only replica of the store at `store_url`: figures, Flight SQL, exports
    /// and the dashboard, following the writer's commits; no publications, decisions or
    /// uploads (see docs/store.md, "Read replicas"). `serve --read-only` sets it too.
    pub read_only: bool,
    /// How often a read-only replica looks for the writer's new commits, in milliseconds (it
    /// may lag the writer by up to this much).
    pub follow_interval_ms: u64,
    /// Arrow Flight listen address (port 0 picks a free port).
    pub flight_addr: SocketAddr,
    /// Analysts' Flight listen address (token authentication; TLS without client certificates
    /// when `security.tls` is set). Unset: no analysts' Flight port.
    pub analyst_flight_addr: Option<SocketAddr>,
    /// HTTP API and dashboard listen address (port 0 picks a free port).
    pub http_addr: SocketAddr,
    /// The HTTP port's TLS, HSTS and dashboard sessions.
    pub http: HttpConfig,
    /// National framework TOML file; unset means the global framework.
    pub national_framework: Option<PathBuf>,
    /// National codelist CSV file; unset means the global codelists.
    pub national_codelists: Option<PathBuf>,
    /// At most this many validation problems are reported per publication.
    pub max_problems: usize,
    /// At most this many Flight messages (the schema and every record batch) per publication:
    /// a stream of millions of tiny batches is refused once it passes the limit.
    pub max_publication_messages: u64,
    /// A publication whose stream sends nothing for this many seconds is abandoned (a stalled
    /// or malicious peer holds no connection forever).
    pub publish_idle_timeout_secs: u64,
    /// A publication still arriving this many seconds after its `do_put` began is abandoned,
    /// however steadily it trickles (the idle timeout bounds each wait, this the whole).
    pub publish_deadline_secs: u64,
    /// At most this many publications are received at once, from all agencies together.
    pub max_concurrent_publications: usize,
    /// At most this many publications are received at once from one agency.
    pub max_publications_per_agency: usize,
    /// Memory limit of all queries together (analysts' SQL, figures and exports share one
    /// pool), in bytes: operators, result batches and HTTP responses while they are encoded.
    pub query_memory_limit: usize,
    /// Time limit of one analyst query, in seconds.
    pub query_timeout_secs: u64,
    /// At most this many rows are returned by one analyst query.
    pub query_max_rows: usize,
    /// At most this many bytes of JSON are returned by one HTTP query; rows past it are cut and
    /// the result says so (Flight SQL streams with backpressure and has no byte cap).
    pub query_max_response_bytes: usize,
    /// Threads that run analysts' queries, apart from ingest and HTTP (0: one fewer than the
    /// cores, at least 1). DataFusion's `target_partitions` matches.
    pub query_threads: usize,
    /// Stack of each query thread, in bytes (reserved address space; used as deep SQL needs).
    pub query_stack_bytes: usize,
    /// Longest SQL text accepted, in bytes.
    pub query_max_sql_bytes: usize,
    /// Deepest expression nesting accepted (`1+1+...+1` of N terms, or a chain of N `OR`s, is N
    /// deep); deeper statements are refused before planning.
    pub query_max_expression_depth: usize,
    /// Analysts' queries running at once; more wait in a queue.
    pub query_max_concurrent: usize,
    /// Analysts' queries waiting at most; more are refused (HTTP 429, gRPC ResourceExhausted).
    pub query_max_queued: usize,
    /// Largest Flight SQL parameter binding (every message of one DoPut, or a handle's
    /// parameters), in bytes.
    pub query_max_parameter_bytes: usize,
    /// The `ref_area` code of the whole country; other codes count as geography below
    /// national in the coverage matrix.
    pub national_area: String,
    /// The language people read when they ask for none (`?lang=`, `Accept-Language`, the
    /// export's `--lang`): a BCP 47 tag; interface texts exist in the languages of
    /// [`crate::i18n::LANGUAGES`], titles in more (see [`crate::i18n`]).
    pub language: String,
    /// The maintenance agency of the national SDMX structures (the national dataflow
    /// `<agency>:DF_SDG_<AREA>` and its structure, codelists and concepts): the statistical
    /// office's id in the SDMX registry it reports to, e.g. `ARMSTAT`. `NSO_<national_area>`
    /// when unset.
    pub sdmx_agency: Option<String>,
    /// The agency id of the coordinator's own derived dataset (the headline per reference year
    /// as observations of the framework's `headline_indicator`, see [`crate::derived`]).
    /// Reserved: the registry refuses it to every agent and token, and no `[[security.agency]]`
    /// may use it.
    pub derived_agency: String,
    /// Whether the release watch publishes the derived dataset after each official release
    /// (when the framework names a `headline_indicator`). On by default; tests that count
    /// store versions turn it off.
    pub publish_derived: bool,
    /// The `ref_area` codes (CL_AREA) the per-area and cross-area figures compare, for a
    /// coordinator over several areas (a region over countries, a nation over provinces). A
    /// listed area with no data counts in every denominator. Empty: the areas observed (with
    /// an observation that counts, in the window), other than `national_area`.
    pub areas: Vec<String>,
    /// The reporting calendar: which datasets each agency owes, and when (see
    /// [`crate::calendar`]).
    pub calendar: Vec<CalendarEntry>,
    /// Tokens, agency registry and TLS.
    pub security: SecurityConfig,
    /// Flight transport settings.
    pub transport: TransportConfig,
    /// Bounds on every listener's connections (see [`crate::listener`]).
    pub connections: ConnectionLimits,
    /// How often the official view is looked at for releases (approvals, embargoes ending),
    /// in milliseconds: what follows releases ([`crate::release`]) sees each within this.
    pub release_poll_ms: u64,
    /// Publishing this coordinator's official datasets to another coordinator, as one of its
    /// agencies (see [`crate::upstream`]). Unset: nothing goes up.
    pub upstream: Option<UpstreamConfig>,
}

/// Bounds on the connections of each listener (the agents' Flight port, the analysts' Flight
/// SQL port and the HTTP port count separately), applied before any request is read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConnectionLimits {
    /// At most this many open connections per listener from one client address (an IPv6
    /// client counts by its /64); more are closed as soon as they are accepted.
    pub max_per_address: usize,
    /// At most this many open connections per listener in all. The process holds up to three
    /// times this many sockets, plus the store's files: keep the open-file limit above that.
    pub max_total: usize,
    /// A TLS handshake not complete within this many seconds closes the connection.
    pub tls_handshake_timeout_secs: u64,
    /// A connection must start its first request (an HTTP/2 connection preface) within this
    /// many seconds; on HTTP/1 every request head must arrive within it, the wait for the next
    /// request on a kept-alive connection included.
    pub header_timeout_secs: u64,
    /// At most this many concurrent HTTP/2 streams (requests) per connection.
    pub max_streams_per_connection: u32,
    /// Every this many seconds an HTTP/2 connection is pinged; one whose peer does not answer
    /// within 20 s is closed (a vanished peer holds no slot).
    pub keepalive_interval_secs: u64,
    /// HTTP port: a request not answered within this many seconds (its body read included,
    /// an upload's too) is answered 408 and its work dropped.
    pub request_timeout_secs: u64,
    /// HTTP port: the largest request body, in bytes, outside the dashboard's upload page (which
    /// takes forms of up to 50 MB); a larger one is answered 413 before it is read. At least
    /// twice `query_max_sql_bytes`, so that a query's JSON body (escapes included) reaches the
    /// SQL limit, whose refusal names the setting to raise.
    pub max_request_body_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            max_per_address: 64,
            max_total: 256,
            tls_handshake_timeout_secs: 10,
            header_timeout_secs: 10,
            max_streams_per_connection: 100,
            keepalive_interval_secs: 60,
            request_timeout_secs: 300,
            max_request_body_bytes: 4 << 20,
        }
    }
}

impl ConnectionLimits {
    /// Checks the limits for consistency.
    pub fn validate(&self) -> Result<()> {
        let c = self;
        if c.max_per_address == 0 || c.max_total < c.max_per_address {
            return Err(Error::Config("connections.max_per_address must be at least 1 and connections.max_total at least max_per_address".into()));
        }
        if c.tls_handshake_timeout_secs == 0 || c.header_timeout_secs == 0 || c.keepalive_interval_secs == 0 {
            return Err(Error::Config(
                "connections.tls_handshake_timeout_secs, header_timeout_secs and keepalive_interval_secs must be at least 1".into(),
            ));
        }
        if c.max_streams_per_connection == 0 {
            return Err(Error::Config("connections.max_streams_per_connection must be at least 1".into()));
        }
        if c.request_timeout_secs == 0 || c.max_request_body_bytes == 0 {
            return Err(Error::Config("connections.request_timeout_secs and max_request_body_bytes must be at least 1".into()));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("sdgx-data"),
            store_url: None,
            store_options: StoreOptions::default(),
            read_only: false,
            follow_interval_ms: 1000,
            flight_addr: "127.0.0.1:50051".parse().expect("valid"),
            analyst_flight_addr: Some("127.0.0.1:50052".parse().expect("valid")),
            http_addr: "127.0.0.1:8080".parse().expect("valid"),
            http: HttpConfig::default(),
            national_framework: None,
            national_codelists: None,
            max_problems: 100,
            max_publication_messages: 100_000,
            publish_idle_timeout_secs: 300,
            publish_deadline_secs: 3600,
            max_concurrent_publications: 16,
            max_publications_per_agency: 4,
            query_memory_limit: 2 << 30,
            query_timeout_secs: 30,
            query_max_rows: 1_000_000,
            query_max_response_bytes: 256 << 20,
            query_threads: 0,
            query_stack_bytes: 64 << 20,
            query_max_sql_bytes: 1 << 20,
            query_max_expression_depth: 1000,
            query_max_concurrent: 4,
            query_max_queued: 16,
            query_max_parameter_bytes: 1 << 20,
            national_area: "AM".into(),
            language: "en".into(),
            sdmx_agency: None,
            derived_agency: "sdgx".into(),
            publish_derived: true,
            areas: vec![],
            calendar: vec![],
            security: SecurityConfig::default(),
            transport: TransportConfig::default(),
            connections: ConnectionLimits::default(),
            release_poll_ms: 1000,
            upstream: None,
        }
    }
}

impl Config {
    /// Loads defaults, then the TOML file (if any), then `SDGX_*` environment variables
    /// (`__` separates nested keys: `SDGX_TRANSPORT__MAX_MESSAGE_SIZE`). Relative paths in the
    /// file are resolved against the file's directory.
    pub fn load(file: Option<&Path>) -> Result<Config> {
        let (settings, ignored) = sdgx_schemas::settings::environment(&Config::default(), std::env::vars());
        if !ignored.is_empty() {
            tracing::warn!(variables = ?ignored, "SDGX_ variables that name no coordinator setting are ignored");
        }
        let mut b = config::Config::builder()
            .add_source(config::Config::try_from(&Config::default()).map_err(|e| Error::Internal(e.to_string()))?);
        if let Some(f) = file {
            b = b.add_source(config::File::from(f).format(config::FileFormat::Toml));
        }
        b = b.add_source(config::Environment::with_prefix("SDGX").prefix_separator("_").separator("__").try_parsing(true).source(Some(settings)));
        let mut c: Config = b
            .build()
            .and_then(|c| c.try_deserialize())
            .map_err(|e| Error::Config(format!("{}: {e}", file.map_or("defaults".into(), |f| f.display().to_string()))))?;
        if let Some(base) = file.and_then(Path::parent) {
            let tls = c.security.tls.as_mut().map(|t| [&mut t.cert, &mut t.key, &mut t.client_ca]);
            let http_tls = c.http.tls.as_mut().map(|t| [&mut t.cert, &mut t.key]);
            let tls_paths = tls.into_iter().flatten().chain(http_tls.into_iter().flatten()).map(Some);
            let up = c.upstream.as_mut().map(|u| {
                let tls = u.tls.as_mut().map(|t| [&mut t.ca, &mut t.cert, &mut t.key]);
                tls.into_iter().flatten().chain(u.outbox.as_mut())
            });
            let up_paths = up.into_iter().flatten().map(Some);
            let signing = c.security.signing.as_mut().map(|s| [&mut s.cert, &mut s.key]);
            let signing_paths = signing.into_iter().flatten().chain(c.security.audit_ca.iter_mut()).map(Some);
            for p in [c.national_framework.as_mut(), c.national_codelists.as_mut(), c.security.token_file.as_mut()]
                .into_iter()
                .chain(tls_paths)
                .chain(signing_paths)
                .chain(up_paths)
                .flatten()
            {
                if p.is_relative() {
                    *p = base.join(&*p);
                }
            }
            if c.data_dir.is_relative() && file.is_some() && std::env::var_os("SDGX_DATA_DIR").is_none() {
                c.data_dir = base.join(&c.data_dir);
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// The CA files the audit checks signers' certificates against: `security.audit_ca`, or
    /// else `security.tls.client_ca`.
    pub fn audit_trust(&self) -> Vec<PathBuf> {
        match (&self.security.audit_ca[..], &self.security.tls) {
            ([], Some(tls)) => vec![tls.client_ca.clone()],
            (files, _) => files.to_vec(),
        }
    }

    /// Checks the settings for consistency.
    pub fn validate(&self) -> Result<()> {
        if self.security.tls.is_some() && self.security.signing.is_none() && !self.read_only {
            return Err(Error::Config(
                "security.signing (cert, key) is required with security.tls: the coordinator signs every log entry with a key whose certificate the national CA issues (`sdgx-coordinator ca issue-signer --dir <ca dir>`)".into(),
            ));
        }
        if self.max_problems == 0 {
            return Err(Error::Config("max_problems must be at least 1".into()));
        }
        if self.transport.max_message_size < 1 << 20 {
            return Err(Error::Config("transport.max_message_size must be at least 1 MiB".into()));
        }
        if self.query_memory_limit < 16 << 20 {
            return Err(Error::Config("query_memory_limit must be at least 16 MiB".into()));
        }
        if self.max_publication_messages < 2 || self.publish_idle_timeout_secs == 0 {
            return Err(Error::Config("max_publication_messages must be at least 2 and publish_idle_timeout_secs at least 1".into()));
        }
        if self.publish_deadline_secs < self.publish_idle_timeout_secs {
            return Err(Error::Config(format!(
                "publish_deadline_secs ({}) must be at least publish_idle_timeout_secs ({})",
                self.publish_deadline_secs, self.publish_idle_timeout_secs
            )));
        }
        if self.max_publications_per_agency == 0
            || self.max_concurrent_publications < self.max_publications_per_agency
            || self.max_concurrent_publications > 100_000
        {
            return Err(Error::Config(format!(
                "max_publications_per_agency ({}) must be at least 1 and at most max_concurrent_publications ({}), itself at most 100000",
                self.max_publications_per_agency, self.max_concurrent_publications
            )));
        }
        if self.query_timeout_secs == 0 || self.query_max_rows == 0 {
            return Err(Error::Config("query_timeout_secs and query_max_rows must be at least 1".into()));
        }
        if self.security.auth_max_failures == 0 || self.security.auth_window_secs == 0 {
            return Err(Error::Config("security.auth_max_failures and security.auth_window_secs must be at least 1".into()));
        }
        self.connections.validate()?;
        self.http.validate()?;
        if self.query_max_response_bytes < 1 << 10 || self.query_max_sql_bytes < 1 << 10 || self.query_max_parameter_bytes < 1 << 10 {
            return Err(Error::Config("query_max_response_bytes, query_max_sql_bytes and query_max_parameter_bytes must be at least 1 KiB".into()));
        }
        if self.connections.max_request_body_bytes < self.query_max_sql_bytes.saturating_mul(2) {
            return Err(Error::Config(format!(
                "connections.max_request_body_bytes ({}) must be at least twice query_max_sql_bytes ({}): a query's JSON body would be cut off before the SQL limit could name itself",
                self.connections.max_request_body_bytes, self.query_max_sql_bytes
            )));
        }
        if self.query_stack_bytes < 2 << 20 {
            return Err(Error::Config("query_stack_bytes must be at least 2 MiB".into()));
        }
        // About 1,800 terms of `1+1+...` overflowed a 2 MiB stack: keep a wide margin.
        if !(1..=self.query_stack_bytes / (16 << 10)).contains(&self.query_max_expression_depth) {
            return Err(Error::Config(format!(
                "query_max_expression_depth must be between 1 and query_stack_bytes / 16 KiB ({})",
                self.query_stack_bytes / (16 << 10)
            )));
        }
        if self.query_max_concurrent == 0 {
            return Err(Error::Config("query_max_concurrent must be at least 1".into()));
        }
        if self.follow_interval_ms < 10 {
            return Err(Error::Config("follow_interval_ms must be at least 10".into()));
        }
        let mut areas = std::collections::HashSet::new();
        if let Some(a) = self.areas.iter().find(|a| a.trim().is_empty() || a.trim() != a.as_str() || !areas.insert(a.as_str())) {
            return Err(Error::Config(format!("areas: {a:?} is empty, padded or listed twice")));
        }
        crate::calendar::expand(&self.calendar)?;
        if self.release_poll_ms == 0 {
            return Err(Error::Config("release_poll_ms must be at least 1".into()));
        }
        if let Some(u) = &self.upstream {
            u.validate()?;
        }
        if let Some(a) = &self.sdmx_agency
            && !crate::export::sdmx::valid_agency_id(a) {
                return Err(Error::Config(format!(
                    "sdmx_agency {a:?} must be an SDMX agency id: a letter, then letters, digits, '_' or '-', with '.' between nested agencies (e.g. ARMSTAT or UN.ESCAP)"
                )));
            }
        if !sdgx_schemas::manifest::valid_id(&self.derived_agency) {
            return Err(Error::Config(format!("derived_agency {:?} must be an agency id ([a-z0-9][a-z0-9_-]*, at most 64 characters)", self.derived_agency)));
        }
        if self.security.agencies.iter().any(|a| a.id == self.derived_agency) {
            return Err(Error::Config(format!(
                "security.agency {:?} is the coordinator's own derived_agency: no agent may publish as it; choose another id for one of them",
                self.derived_agency
            )));
        }
        // TLS files are read (with errors naming them) when the coordinator starts serving.
        for p in [&self.national_framework, &self.national_codelists].into_iter().flatten() {
            if !p.is_file() {
                return Err(Error::Config(format!("{} does not exist", p.display())));
            }
        }
        Ok(())
    }

    /// The store URL in force.
    pub fn store_url(&self) -> Result<url::Url> {
        match &self.store_url {
            Some(u) => url::Url::parse(u)
                .or_else(|_| url::Url::from_directory_path(std::path::absolute(u).map_err(|e| Error::Config(e.to_string()))?)
                    .map_err(|_| Error::Config(format!("store_url {u:?} is neither a URL nor a path"))))
                .map_err(|e| Error::Config(format!("store_url {u:?}: {e}"))),
            None => {
                let dir = std::path::absolute(self.data_dir.join("store")).map_err(|e| Error::Config(e.to_string()))?;
                url::Url::from_directory_path(&dir).map_err(|_| Error::Config(format!("bad data_dir {}", dir.display())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdmx_agency_must_be_an_sdmx_agency_id() {
        assert!(Config::default().validate().is_ok());
        let with = |a: &str| Config { sdmx_agency: Some(a.into()), ..Config::default() }.validate();
        assert!(with("ARMSTAT").is_ok() && with("UN.ESCAP").is_ok());
        let e = with("NSO:AM").unwrap_err().to_string();
        assert!(e.contains("sdmx_agency \"NSO:AM\" must be an SDMX agency id"), "{e}");
    }

    #[test]
    fn the_request_body_limit_leaves_room_for_the_longest_query() {
        let with = |body: usize, sql: usize| {
            let mut c = Config { query_max_sql_bytes: sql, ..Config::default() };
            c.connections.max_request_body_bytes = body;
            c.validate()
        };
        assert!(with(2 << 20, 1 << 20).is_ok(), "twice the SQL limit is enough");
        let e = with((2 << 20) - 1, 1 << 20).unwrap_err().to_string();
        assert!(e.contains("connections.max_request_body_bytes (2097151) must be at least twice query_max_sql_bytes (1048576)"), "{e}");
        assert!(with(usize::MAX - 1, usize::MAX / 2 + 1).is_err(), "no overflow on huge settings");
    }
}
