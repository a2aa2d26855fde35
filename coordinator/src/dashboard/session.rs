//! The dashboard's server-side sessions. Logging in with a token opens a session; the browser
//! holds only its random id, in the `sdgx_session` cookie (`HttpOnly`, `SameSite=Strict`,
//! `Path=/dashboard`, and `Secure` when the HTTP port serves TLS), never the token. A session
//! ends when it has been unused for the idle timeout, at its lifetime after the login however
//! busy, or at logout, which forgets it here: an old cookie then leads to the login page.
//!
//! Ids are two UUID v4s (244 random bits from the operating system's generator), so they cannot
//! be guessed; the table keys sessions by the SHA-256 of their id, so a lookup's timing says
//! nothing about the ids held. Sessions live in the coordinator's memory: a restart ends them
//! all, and each replica has its own. Times come from the coordinator's [`Clock`].

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, TimeDelta, Utc};
use sha2::{Digest, Sha256};

use crate::auth::Role;
use crate::clock::Clock;
use crate::error::Result;

/// The session cookie's name.
pub const COOKIE_NAME: &str = "sdgx_session";

/// At most this many sessions are held; a login past it ends the least recently used one.
pub const MAX_SESSIONS: usize = 10_000;

/// Who a session is for, as its login's token said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The token's name.
    pub name: String,
    /// The token's role.
    pub role: Role,
}

#[derive(Debug)]
struct Session {
    holder: Holder,
    opened: DateTime<Utc>,
    seen: DateTime<Utc>,
}

/// The open sessions, with their timeouts and the cookie that carries their ids.
#[derive(Debug)]
pub struct Sessions {
    idle: TimeDelta,
    lifetime: TimeDelta,
    secure: bool,
    clock: Clock,
    open: Mutex<HashMap<[u8; 32], Session>>,
}

fn key(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

fn seconds(s: u64) -> TimeDelta {
    i64::try_from(s).ok().and_then(TimeDelta::try_seconds).unwrap_or(TimeDelta::MAX)
}

impl Sessions {
    /// Sessions ending after `idle_secs` unused or `lifetime_secs` after their login, timed by
    /// `clock`; `secure` marks their cookie `Secure` (the HTTP port serves TLS).
    pub fn new(idle_secs: u64, lifetime_secs: u64, secure: bool, clock: Clock) -> Sessions {
        Sessions { idle: seconds(idle_secs), lifetime: seconds(lifetime_secs), secure, clock, open: Mutex::default() }
    }

    /// Whether `s` is still open at `now`.
    fn live(&self, s: &Session, now: DateTime<Utc>) -> bool {
        now - s.seen < self.idle && now - s.opened < self.lifetime
    }

    /// Opens a session for `holder` and returns its id (for the cookie only: never log it).
    /// Ended sessions are dropped first; past [`MAX_SESSIONS`] the least recently used ends.
    pub fn open(&self, holder: Holder) -> Result<String> {
        let now = self.clock.now()?;
        let id = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let mut open = self.open.lock().expect("sessions lock");
        open.retain(|_, s| self.live(s, now));
        if open.len() >= MAX_SESSIONS
            && let Some(oldest) = open.iter().min_by_key(|(_, s)| s.seen).map(|(k, _)| *k)
        {
            open.remove(&oldest);
        }
        open.insert(key(&id), Session { holder, opened: now, seen: now });
        Ok(id)
    }

    /// The holder of the open session `id`, whose idle time starts again; `None` when no
    /// session has that id or it has ended (an ended one is dropped).
    pub fn find(&self, id: &str) -> Result<Option<Holder>> {
        let now = self.clock.now()?;
        let k = key(id);
        let mut open = self.open.lock().expect("sessions lock");
        let Some(s) = open.get_mut(&k) else { return Ok(None) };
        if !self.live(s, now) {
            open.remove(&k);
            return Ok(None);
        }
        s.seen = now;
        Ok(Some(s.holder.clone()))
    }

    /// Ends the session `id` (logout); whether it was open.
    pub fn close(&self, id: &str) -> bool {
        self.open.lock().expect("sessions lock").remove(&key(id)).is_some()
    }

    /// How many sessions are held (ended ones included until the next login drops them).
    pub fn len(&self) -> usize {
        self.open.lock().expect("sessions lock").len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `Set-Cookie` value carrying session `id`; the browser keeps it at most the
    /// session's lifetime.
    pub fn cookie(&self, id: &str) -> String {
        format!("{COOKIE_NAME}={id}; {}; Max-Age={}", self.attributes(), self.lifetime.num_seconds())
    }

    /// The `Set-Cookie` value that removes the session cookie from the browser.
    pub fn removal(&self) -> String {
        format!("{COOKIE_NAME}=; {}; Max-Age=0", self.attributes())
    }

    fn attributes(&self) -> &'static str {
        if self.secure {
            "HttpOnly; SameSite=Strict; Path=/dashboard; Secure"
        } else {
            "HttpOnly; SameSite=Strict; Path=/dashboard"
        }
    }
}

/// The session id in a request's `Cookie` headers, if any.
pub fn id_of(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers.get_all(axum::http::header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|kv| {
        let (k, v) = kv.trim().split_once('=')?;
        (k == COOKIE_NAME && !v.is_empty()).then_some(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn reader() -> Holder {
        Holder { name: "ana".into(), role: Role::Reader }
    }

    #[test]
    fn a_session_ends_when_idle_and_at_its_lifetime_however_busy() {
        let clock = Clock::manual(t("2026-01-01T08:00:00Z"));
        let s = Sessions::new(1800, 8 * 3600, true, clock.clone());
        let id = s.open(reader()).unwrap();
        assert_eq!(s.find(&id).unwrap(), Some(reader()));
        // Used every 29 minutes, it stays open ...
        for m in [29, 58, 87] {
            clock.set(t("2026-01-01T08:00:00Z") + TimeDelta::minutes(m));
            assert!(s.find(&id).unwrap().is_some(), "used after {m} min");
        }
        // ... until 30 minutes pass unused.
        clock.set(t("2026-01-01T08:00:00Z") + TimeDelta::minutes(87 + 30));
        assert_eq!(s.find(&id).unwrap(), None, "idle for 30 min");
        assert!(s.is_empty(), "the ended session is dropped");
        // A busy session ends at its lifetime.
        let start = t("2026-01-02T08:00:00Z");
        clock.set(start);
        let id = s.open(reader()).unwrap();
        let mut m = 0;
        while m < 8 * 60 - 20 {
            m += 20;
            clock.set(start + TimeDelta::minutes(m));
            assert!(s.find(&id).unwrap().is_some(), "busy at {m} min");
        }
        clock.set(start + TimeDelta::hours(8));
        assert_eq!(s.find(&id).unwrap(), None, "8 h after the login");
    }

    #[test]
    fn logout_ends_only_its_session_and_ids_are_random() {
        let s = Sessions::new(60, 60, false, Clock::manual(t("2026-01-01T08:00:00Z")));
        let (a, b) = (s.open(reader()).unwrap(), s.open(reader()).unwrap());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(s.close(&a));
        assert!(!s.close(&a), "closed once");
        assert_eq!(s.find(&a).unwrap(), None);
        assert_eq!(s.find(&b).unwrap(), Some(reader()));
        assert_eq!(s.find("").unwrap(), None);
    }

    #[test]
    fn the_cookie_is_secure_only_over_tls_and_the_table_is_bounded() {
        let clock = Clock::manual(t("2026-01-01T08:00:00Z"));
        let tls = Sessions::new(60, 120, true, clock.clone());
        assert_eq!(tls.cookie("x"), "sdgx_session=x; HttpOnly; SameSite=Strict; Path=/dashboard; Secure; Max-Age=120");
        assert_eq!(tls.removal(), "sdgx_session=; HttpOnly; SameSite=Strict; Path=/dashboard; Secure; Max-Age=0");
        assert!(!Sessions::new(60, 120, false, clock.clone()).cookie("x").contains("Secure"));
        let first = tls.open(reader()).unwrap();
        for i in 1..MAX_SESSIONS {
            clock.set(t("2026-01-01T08:00:00Z") + TimeDelta::milliseconds(i as i64));
            tls.open(reader()).unwrap();
        }
        assert_eq!(tls.len(), MAX_SESSIONS);
        tls.open(reader()).unwrap();
        assert_eq!(tls.len(), MAX_SESSIONS, "one more ends the least recently used");
        assert_eq!(tls.find(&first).unwrap(), None, "the first one, unused since");
    }

    #[test]
    fn the_id_is_read_from_any_cookie_header() {
        let mut h = axum::http::HeaderMap::new();
        h.append(axum::http::header::COOKIE, "a=1; sdgx_session=abc".parse().unwrap());
        assert_eq!(id_of(&h), Some("abc"));
        let mut h = axum::http::HeaderMap::new();
        h.append(axum::http::header::COOKIE, "sdgx_session=".parse().unwrap());
        assert_eq!(id_of(&h), None);
    }
}
