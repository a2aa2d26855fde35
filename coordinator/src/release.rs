//! Official releases as events: the serving coordinator looks at its official view every
//! `release_poll_ms` and, whenever the publications it holds have changed (an approval, an
//! un-approval, an embargo that ended: the view changes at the release time without any
//! commit), hands the new view to what follows releases, in this order:
//! 1. the coordinator's own derived dataset, the headline per year ([`crate::derived`]), which
//!    it publishes and approves itself (so the view changes once more, and the next look finds
//!    the same headline: a duplicate);
//! 2. the relay upstream ([`crate::upstream`]), with the official view as it is after 1, so
//!    the derived dataset goes up with the release that changed it.
//!
//! A look costs a pass over the in-memory log; nothing is read from the store unless the view
//! changed.
//!
//! The first look happens at start, so what was released while the coordinator was down is
//! relayed then. A look that fails (the upstream's framework cannot be had, a disk error) is
//! logged and the view is looked at again, as if it had just changed, after a wait that doubles
//! with each failure in a row (from `release_poll_ms` up to a minute).

use std::sync::Arc;
use std::time::Duration;

use crate::catalog::{Catalog, Pinned, Read};
use crate::error::Result;
use crate::signoff::View;
use crate::upstream::Upstream;
use sdgx_schemas::ValidationOptions;

/// The derived dataset's settings: who publishes it, validated how.
pub struct Derived {
    /// The coordinator's reserved agency id (`derived_agency`).
    pub agency: String,
    /// Validation options of its publications.
    pub options: ValidationOptions,
}

/// What follows official releases.
pub struct Followers {
    /// The derived dataset, when the framework names a headline indicator.
    pub derived: Option<Derived>,
    /// The relay upstream, when `[upstream]` is configured.
    pub upstream: Option<Arc<Upstream>>,
}

impl Followers {
    /// Whether anything follows releases (else no watch is started).
    pub fn any(&self) -> bool {
        self.derived.is_some() || self.upstream.is_some()
    }

    /// Hands `official` to each follower (see the [module docs](self) for the order).
    pub async fn released(&self, catalog: &Catalog, official: &Pinned) -> Result<()> {
        let mut official = std::borrow::Cow::Borrowed(official);
        if let Some(d) = &self.derived
            && let Some(p) = crate::derived::publish(catalog, d.options.clone(), &d.agency).await?
            && (!p.duplicate || p.approval.is_some())
        {
            tracing::info!(store_version = p.entry.store_version, years = p.years.len(), "the headline per year published as the derived dataset");
            official = std::borrow::Cow::Owned(catalog.pin(&Read::current(View::Official)).await?);
        }
        if let Some(u) = &self.upstream {
            u.sync(catalog, &official).await?;
        }
        Ok(())
    }
}

/// The longest wait between two looks after failures.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// The publications of a view, as the watch compares them.
fn ids(p: &Pinned) -> Vec<String> {
    p.publications.iter().map(|e| e.publication_id.clone()).collect()
}

/// Watches the official view of `catalog` every `every` until `shutdown`, handing each new
/// state to `followers`.
pub async fn watch(catalog: Arc<Catalog>, followers: Followers, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut seen: Option<Vec<String>> = None;
    let mut failures = 0u32;
    let mut first = true;
    loop {
        let wait = if std::mem::take(&mut first) { Duration::ZERO } else { every.saturating_mul(1 << failures.min(16)).min(MAX_WAIT.max(every)) };
        tokio::select! {
            _ = &mut shutdown => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let official = match catalog.pin(&Read::current(View::Official)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "the official view could not be read; looking again at the next tick");
                continue;
            }
        };
        let now = ids(&official);
        if seen.as_ref() == Some(&now) {
            continue;
        }
        match followers.released(&catalog, &official).await {
            Ok(()) => {
                seen = Some(now);
                failures = 0;
            }
            Err(e) => {
                failures += 1;
                tracing::warn!(store_version = official.version, failures, error = %e, "an official release was not followed yet; trying again later");
            }
        }
    }
}
