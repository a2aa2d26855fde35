//! The durable outbox: every publication is written here, synced to disk, before it is sent,
//! and stays until the coordinator acknowledges it or refuses it for good.
//!
//! Layout of the outbox directory (`outbox` in the agent config):
//!
//! ```text
//! <outbox>/.lock                   held by the process that stages or delivers
//! <outbox>/.staging/               publications being written (removed at the next start)
//! <outbox>/<id>/entry.json         the manifest, the state and the coordinator's last reply
//! <outbox>/<id>/data.parquet       the normalised rows, exactly as validated (while pending)
//! <outbox>/.framework/             the coordinator's framework, cached (crate::framework)
//! <outbox>/head.json               the newest log entry the coordinator acknowledged, signed
//!                                  (crate::evidence): store version and entry hash
//! ```
//!
//! Each sent entry keeps the coordinator's acknowledgement in `entry.json` (`ack`), with the
//! log entry as committed and the coordinator's signature of it: the agency's proof of what was
//! acknowledged, and at which store version.
//!
//! An entry whose `entry.json` cannot be read or parsed (a damaged disk, a hand edit) is
//! *corrupt*: it is skipped, left on disk untouched for the operator, and reported by
//! [`Outbox::scan`] (`sdgx-agent status` and `health` list it); every other entry is served as
//! usual.
//!
//! `<id>` is a UUIDv7, so entries sort in the order they were made. An entry becomes visible
//! only by renaming its complete directory into place; every file and directory is fsync'd
//! first, so a crash leaves either no entry or a whole one. A state change rewrites
//! `entry.json` the same way (write, sync, rename, sync the directory).

use std::path::{Path, PathBuf};

use sdgx_schemas::evidence::ChainHead;
use sdgx_schemas::flight::Ack;
use sdgx_schemas::{FrameworkRef, Manifest};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::publish::Prepared;

/// Finished (sent, failed or superseded) entries kept for `status`; older ones are removed.
const KEEP_FINISHED: usize = 200;

/// Where a publication is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Waiting to be sent, or to be sent again.
    Pending,
    /// Acknowledged by the coordinator.
    Sent,
    /// Refused for good (invalid, or not allowed); not retried.
    Failed,
    /// A newer publication of the same dataset was staged before this one was delivered.
    Superseded,
}

impl State {
    /// The state's name as `status` prints it.
    pub fn name(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Sent => "sent",
            State::Failed => "failed",
            State::Superseded => "superseded",
        }
    }
}

/// One publication in the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// UUIDv7: sorts by creation time.
    pub id: String,
    /// When it was staged (RFC 3339).
    pub created: String,
    /// The manifest, with its `content_hash`.
    pub manifest: Manifest,
    /// Rows in the publication.
    pub rows: u64,
    /// Where it is in its delivery.
    pub state: State,
    /// Attempts to send it so far.
    pub attempts: u32,
    /// When it was last sent (RFC 3339).
    pub last_attempt: Option<String>,
    /// When it will be sent again, while pending after a failed attempt (RFC 3339).
    pub next_attempt: Option<String>,
    /// The coordinator's last reply, or why it could not be reached.
    pub last_reply: Option<String>,
    /// The acknowledgement, once sent.
    pub ack: Option<Ack>,
    /// The framework it was validated against (absent in entries of older agents).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub framework: Option<FrameworkRef>,
}

impl Entry {
    /// `agency/dataset`.
    pub fn label(&self) -> String {
        format!("{}/{}", self.manifest.agency, self.manifest.dataset)
    }

    /// The content hash the entry carries.
    pub fn content_hash(&self) -> &str {
        self.manifest.content_hash.as_deref().unwrap_or_default()
    }
}

/// An outbox entry that cannot be read: skipped by every operation, left on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Corrupt {
    /// The entry's directory name (its id, if it was one).
    pub id: String,
    /// The file that could not be read.
    pub path: PathBuf,
    /// Why.
    pub error: String,
}

/// Everything in the outbox: the entries that can be read, oldest first, and those that
/// cannot.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// The readable entries, oldest first.
    pub entries: Vec<Entry>,
    /// The corrupt entries, by id.
    pub corrupt: Vec<Corrupt>,
}

/// What staging a publication did.
#[derive(Debug, Clone, PartialEq)]
pub enum Staged {
    /// A new entry.
    Added(Entry),
    /// The same content was already pending: that entry is kept, nothing is added.
    AlreadyPending(Entry),
    /// The same content was the dataset's last delivery: nothing to send.
    Unchanged(Entry),
}

impl Staged {
    /// The entry concerned.
    pub fn entry(&self) -> &Entry {
        match self {
            Staged::Added(e) | Staged::AlreadyPending(e) | Staged::Unchanged(e) => e,
        }
    }
}

/// The outbox directory.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

/// The exclusive hold on an outbox, released on drop.
#[derive(Debug)]
pub struct Lock(#[allow(dead_code)] std::fs::File);

fn io(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Outbox { path: path.display().to_string(), message: e.to_string() }
}

/// Syncs a directory, so that the renames and creations inside it are durable.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))
}

/// Writes `bytes` to `path` atomically and durably (a temporary file beside it, synced, renamed
/// into place, the directory synced).
pub fn write_durable(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io(path, e))?;
    sync_dir(path.parent().expect("an entry file is inside a directory"))
}

impl Outbox {
    /// Opens (creating) the outbox at `dir`.
    pub fn open(dir: &Path) -> Result<Outbox> {
        std::fs::create_dir_all(dir.join(".staging")).map_err(|e| io(dir, e))?;
        Ok(Outbox { dir: dir.to_owned() })
    }

    /// The outbox directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Waits for the exclusive hold on the outbox (another agent process may be staging or
    /// delivering), then removes what a crashed process left half-staged.
    pub async fn lock(&self) -> Result<Lock> {
        let path = self.dir.join(".lock");
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).map_err(|e| io(&path, e))?;
        let file = tokio::task::spawn_blocking(move || file.lock().map(|_| file))
            .await
            .map_err(|e| io(&path, e))?
            .map_err(|e| io(&path, e))?;
        let staging = self.dir.join(".staging");
        for leftover in std::fs::read_dir(&staging).map_err(|e| io(&staging, e))?.flatten() {
            let p = leftover.path();
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
        Ok(Lock(file))
    }

    /// A fresh path to write a publication's normalised rows to before [`stage`](Self::stage).
    pub fn staging_file(&self) -> PathBuf {
        self.dir.join(".staging").join(format!("{}.parquet", uuid::Uuid::now_v7()))
    }

    /// The normalised rows of a pending entry.
    pub fn data(&self, e: &Entry) -> PathBuf {
        self.dir.join(&e.id).join("data.parquet")
    }

    /// Every entry, oldest first, and every corrupt one. Fails only when the outbox directory
    /// itself cannot be listed.
    pub fn scan(&self) -> Result<Listing> {
        let mut out = Listing::default();
        for d in std::fs::read_dir(&self.dir).map_err(|e| io(&self.dir, e))? {
            let d = d.map_err(|e| io(&self.dir, e))?;
            if d.file_name().to_string_lossy().starts_with('.') || !d.path().is_dir() {
                continue;
            }
            let path = d.path().join("entry.json");
            let read = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| serde_json::from_str::<Entry>(&text).map_err(|e| format!("not a valid outbox entry: {e}")));
            match read {
                Ok(e) => out.entries.push(e),
                Err(error) => out.corrupt.push(Corrupt { id: d.file_name().to_string_lossy().into_owned(), path, error }),
            }
        }
        out.entries.sort_by(|a, b| a.id.cmp(&b.id));
        out.corrupt.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Every readable entry, oldest first (corrupt ones are skipped: see [`scan`](Self::scan)).
    pub fn entries(&self) -> Result<Vec<Entry>> {
        Ok(self.scan()?.entries)
    }

    /// Logs a warning for each corrupt entry; returns how many there are.
    pub fn warn_corrupt(&self) -> Result<usize> {
        let corrupt = self.scan()?.corrupt;
        for c in &corrupt {
            tracing::warn!(entry = %c.id, path = %c.path.display(), error = %c.error,
                "corrupt outbox entry skipped; the others are delivered (move it away or delete it once inspected)");
        }
        Ok(corrupt.len())
    }

    /// The entries waiting to be sent, oldest first.
    pub fn pending(&self) -> Result<Vec<Entry>> {
        Ok(self.entries()?.into_iter().filter(|e| e.state == State::Pending).collect())
    }

    /// Makes a validated publication durable: moves `staged` (its normalised rows, already
    /// synced) into a new entry. A pending entry of the same dataset is superseded, or kept
    /// instead of a new one when its content is the same. With `skip_unchanged`, content equal
    /// to the dataset's last delivery is not staged again.
    pub fn stage(&self, p: &Prepared, staged: &Path, skip_unchanged: bool) -> Result<Staged> {
        let hash = p.manifest.content_hash.as_deref().unwrap_or_default();
        let same_dataset: Vec<Entry> = self
            .entries()?
            .into_iter()
            .filter(|e| e.manifest.agency == p.manifest.agency && e.manifest.dataset == p.manifest.dataset)
            .collect();
        let discard = || std::fs::remove_file(staged).map_err(|e| io(staged, e));
        if let Some(e) = same_dataset.iter().find(|e| e.state == State::Pending && e.content_hash() == hash) {
            discard()?;
            return Ok(Staged::AlreadyPending(e.clone()));
        }
        let last = same_dataset.iter().rev().find(|e| matches!(e.state, State::Sent | State::Pending));
        if let Some(e) = last.filter(|e| skip_unchanged && e.state == State::Sent && e.content_hash() == hash) {
            discard()?;
            return Ok(Staged::Unchanged(e.clone()));
        }
        let id = uuid::Uuid::now_v7().to_string();
        let entry = Entry {
            id: id.clone(),
            created: now(),
            manifest: p.manifest.clone(),
            rows: p.summary.rows,
            state: State::Pending,
            attempts: 0,
            last_attempt: None,
            next_attempt: None,
            last_reply: None,
            ack: None,
            framework: Some(p.framework.clone()),
        };
        let building = self.dir.join(".staging").join(&id);
        std::fs::create_dir(&building).map_err(|e| io(&building, e))?;
        std::fs::rename(staged, building.join("data.parquet")).map_err(|e| io(staged, e))?;
        write_durable(&building.join("entry.json"), &serde_json::to_vec_pretty(&entry).expect("an entry serialises"))?;
        let target = self.dir.join(&id);
        std::fs::rename(&building, &target).map_err(|e| io(&target, e))?;
        sync_dir(&self.dir)?;
        for mut old in same_dataset.into_iter().filter(|e| e.state == State::Pending) {
            old.state = State::Superseded;
            old.next_attempt = None;
            old.last_reply = Some(format!("superseded by {id} before it was delivered"));
            self.update(&old)?;
        }
        Ok(Staged::Added(entry))
    }

    /// The newest log entry the coordinator acknowledged to this agent, if any.
    pub fn head(&self) -> Result<Option<ChainHead>> {
        let path = self.dir.join("head.json");
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| Error::Outbox { path: path.display().to_string(), message: format!("unreadable: {e}") }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Outbox { path: path.display().to_string(), message: e.to_string() }),
        }
    }

    /// Records `head` as the newest entry acknowledged, unless a newer one is recorded.
    pub fn record_head(&self, head: &ChainHead) -> Result<()> {
        if self.head()?.is_some_and(|h| h.store_version >= head.store_version) {
            return Ok(());
        }
        write_durable(&self.dir.join("head.json"), &serde_json::to_vec_pretty(head).expect("a head serialises"))
    }

    /// Records a changed entry durably. A finished entry's rows are removed, and only the
    /// newest finished entries are kept.
    pub fn update(&self, e: &Entry) -> Result<()> {
        let dir = self.dir.join(&e.id);
        write_durable(&dir.join("entry.json"), &serde_json::to_vec_pretty(e).expect("an entry serialises"))?;
        if e.state != State::Pending {
            let data = dir.join("data.parquet");
            if data.exists() {
                std::fs::remove_file(&data).map_err(|err| io(&data, err))?;
            }
            let finished: Vec<Entry> = self.entries()?.into_iter().filter(|e| e.state != State::Pending).collect();
            for old in finished.iter().take(finished.len().saturating_sub(KEEP_FINISHED)) {
                let d = self.dir.join(&old.id);
                std::fs::remove_dir_all(&d).map_err(|err| io(&d, err))?;
            }
        }
        Ok(())
    }
}

/// The current time, RFC 3339 in UTC to the second.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(hash: &str) -> Prepared {
        let mut manifest = Manifest::from_toml(
            "agency = \"cba\"\ndataset = \"remittances\"\ntitle = \"t\"\nindicators = [\"10.c.1\"]\nperiodicity = \"A\"\n[reference_period]\nstart = \"2021\"\nend = \"2023\"\n",
        )
        .unwrap();
        manifest.content_hash = Some(hash.to_owned());
        let summary = sdgx_schemas::ImportSummary {
            agency: "cba".into(),
            dataset: "remittances".into(),
            rows: 6,
            periods: Default::default(),
            indicators: Default::default(),
            content_hash: hash.to_owned(),
            warnings: vec![],
        };
        Prepared { manifest, summary, framework: sdgx_schemas::Contract::global().bundle.reference() }
    }

    fn stage(o: &Outbox, hash: &str, skip_unchanged: bool) -> Staged {
        let f = o.staging_file();
        std::fs::write(&f, b"rows").unwrap();
        o.stage(&prepared(hash), &f, skip_unchanged).unwrap()
    }

    #[test]
    fn staging_keeps_one_pending_version_per_dataset_and_skips_unchanged_content() {
        let dir = tempfile::tempdir().unwrap();
        let o = Outbox::open(dir.path()).unwrap();
        let Staged::Added(first) = stage(&o, "sha256:a", true) else { panic!("a new entry") };
        assert!(o.data(&first).exists(), "the rows are in the entry");
        // The same content again while pending: the pending entry is kept.
        assert!(matches!(stage(&o, "sha256:a", false), Staged::AlreadyPending(e) if e.id == first.id));
        // Other content while pending: the older one is superseded and its rows removed.
        let Staged::Added(second) = stage(&o, "sha256:b", true) else { panic!("a new entry") };
        let states: Vec<(String, State)> = o.entries().unwrap().into_iter().map(|e| (e.id, e.state)).collect();
        assert_eq!(states, vec![(first.id.clone(), State::Superseded), (second.id.clone(), State::Pending)]);
        assert!(!o.data(&first).exists());
        // Once sent, the same content is unchanged for the daemon, but staged again by publish.
        let mut sent = second.clone();
        sent.state = State::Sent;
        o.update(&sent).unwrap();
        assert!(matches!(stage(&o, "sha256:b", true), Staged::Unchanged(e) if e.id == second.id));
        assert!(matches!(stage(&o, "sha256:b", false), Staged::Added(_)));
        // Nothing was left half-staged.
        assert_eq!(std::fs::read_dir(dir.path().join(".staging")).unwrap().count(), 0);
    }
}
