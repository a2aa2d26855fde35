//! Upload progress: a progress bar (indicatif) when standard error is a terminal, plain log
//! lines otherwise (at most one every five seconds, and at the end).

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The progress of one publication's upload, in rows.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    label: String,
    total: u64,
    log: Mutex<(u64, Instant)>,
}

const LOG_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    /// Starts reporting the upload of `total` rows of `label`.
    pub fn new(label: &str, total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new(total);
            b.set_style(
                indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, eta {eta}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            b.set_prefix(label.to_owned());
            b
        });
        Progress { bar, label: label.to_owned(), total, log: Mutex::new((0, Instant::now())) }
    }

    /// `rows` more rows were handed to the connection.
    pub fn advance(&self, rows: u64) {
        if let Some(b) = &self.bar {
            b.inc(rows);
            return;
        }
        let mut l = self.log.lock().expect("not poisoned");
        l.0 += rows;
        if l.1.elapsed() >= LOG_EVERY {
            l.1 = Instant::now();
            tracing::info!(publication = %self.label, rows_sent = l.0, rows = self.total, "uploading");
        }
    }

    /// Every row was handed over.
    pub fn done(&self) {
        match &self.bar {
            Some(b) => b.finish_and_clear(),
            None => tracing::info!(publication = %self.label, rows = self.total, "upload complete, awaiting the acknowledgement"),
        }
    }
}
