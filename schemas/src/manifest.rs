//! The dataset manifest that travels with every publication.

use serde::{Deserialize, Serialize};

use crate::contract::Contract;
use crate::report::{Problem, Rule};
use crate::time::TimePeriod;

/// The national metadata template for an indicator or dataset, as used in the Armenia
/// proxy-indicator exercise. Every field is free text and optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Definitions of the terms used.
    pub definitions: Option<String>,
    /// Goal and target addressed, e.g. `10.7, also 8.8`.
    pub goal_and_target: Option<String>,
    /// Unit of measurement, in words.
    pub unit_of_measurement: Option<String>,
    /// Relevant international standards.
    pub international_standards: Option<String>,
    /// Data sources.
    pub data_sources: Option<String>,
    /// Methodology: how the value is computed.
    pub methodology: Option<String>,
    /// Periodicity of measurement, in words.
    pub periodicity: Option<String>,
    /// Disaggregation, in words.
    pub disaggregation: Option<String>,
    /// Lead actor.
    pub lead_actor: Option<String>,
    /// Other actors involved.
    pub other_actors: Option<String>,
    /// Comments.
    pub comments: Option<String>,
}

impl Metadata {
    /// The fields that are set, in the template's order: (key, English label, text).
    pub fn fields(&self) -> Vec<(&'static str, &'static str, &str)> {
        [
            ("definitions", "Definition", &self.definitions),
            ("goal_and_target", "Goal and target", &self.goal_and_target),
            ("unit_of_measurement", "Unit of measurement", &self.unit_of_measurement),
            ("international_standards", "International standards", &self.international_standards),
            ("data_sources", "Data sources", &self.data_sources),
            ("methodology", "Methodology", &self.methodology),
            ("periodicity", "Periodicity", &self.periodicity),
            ("disaggregation", "Disaggregation", &self.disaggregation),
            ("lead_actor", "Lead actor", &self.lead_actor),
            ("other_actors", "Other actors", &self.other_actors),
            ("comments", "Comments", &self.comments),
        ]
        .into_iter()
        .filter_map(|(k, l, v)| v.as_deref().map(|v| (k, l, v)))
        .collect()
    }
}

/// The reference period a dataset covers: SDMX time periods, both inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferencePeriod {
    /// First period, e.g. `2019`.
    pub start: String,
    /// Last period, e.g. `2023-Q4`.
    pub end: String,
}

/// Where a publication relayed by a coordinator came from: one publication of the coordinator
/// below (see `docs/upstream.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Origin {
    /// The agency that published it there.
    pub agency: String,
    /// Its dataset id there.
    pub dataset: String,
    /// Its publication id there.
    pub publication_id: String,
    /// The store version of its commit there.
    pub store_version: i64,
    /// Its content hash there (of every row it had, before any row was left out on the way
    /// up).
    pub content_hash: String,
}

/// The manifest of one dataset publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The publishing agency's id (`[a-z0-9][a-z0-9_-]*`, at most 64 characters).
    pub agency: String,
    /// The dataset id, unique within the agency (same rule).
    pub dataset: String,
    /// Human-readable title.
    pub title: String,
    /// The indicator codes the dataset covers.
    pub indicators: Vec<String>,
    /// The reference period every observation must fall in.
    pub reference_period: ReferencePeriod,
    /// Periodicity: a `CL_FREQ` code (`A`, `S`, `Q`, `M`, ...).
    pub periodicity: String,
    /// `sha256:<hex>` of the canonical content; filled in by the agent, checked by the
    /// coordinator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
    /// Methodology metadata following the national template.
    #[serde(default)]
    pub metadata: Metadata,
    /// The publication withdraws the dataset: it carries no rows, and the dataset's current
    /// version becomes empty. Without it, a publication without rows is refused (rule
    /// `no_rows`); with it, any row is refused (rule `withdrawal_with_rows`). Left out of the
    /// JSON when false, so manifests (and the log entries that hash them) are unchanged.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdraw: bool,
    /// For a publication relayed upstream by a coordinator: where it came from, nearest first
    /// (the coordinator's own publication, then where that one came from, down to the agency
    /// that first published it). As the sending coordinator states it. Left out of the JSON
    /// when empty, so other manifests (and the log entries that hash them) are unchanged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub provenance: Vec<Origin>,
}

/// Whether `id` is a valid agency or dataset id.
pub fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
}

impl Manifest {
    /// Parses a manifest from TOML (the agent's form).
    pub fn from_toml(text: &str) -> Result<Manifest, crate::Error> {
        toml::from_str(text).map_err(|e| crate::Error::Manifest(e.to_string()))
    }

    /// Checks the manifest against the contract; every problem found is returned.
    pub fn check(&self, contract: &Contract) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut p = |rule, column: &str, value: &str, message: String| {
            out.push(Problem::new(rule, None, Some(column), Some(value), message));
        };
        for (field, id) in [("manifest.agency", &self.agency), ("manifest.dataset", &self.dataset)] {
            if !valid_id(id) {
                p(Rule::ManifestInvalidId, field, id,
                  "ids are 1-64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit".into());
            }
        }
        if self.title.trim().is_empty() {
            p(Rule::ManifestMissingField, "manifest.title", "", "the title must not be empty".into());
        }
        if self.indicators.is_empty() {
            p(Rule::ManifestMissingField, "manifest.indicators", "", "list at least one indicator".into());
        }
        for code in &self.indicators {
            if contract.framework.indicator(code).is_none() {
                p(Rule::ManifestUnknownIndicator, "manifest.indicators", code,
                  format!("indicator {code} is not in the framework in force ({})", contract.framework.version));
            }
        }
        if !["A", "S", "Q", "M", "W", "D", "B"].contains(&self.periodicity.as_str()) {
            p(Rule::ManifestBadPeriodicity, "manifest.periodicity", &self.periodicity,
              "periodicity must be a CL_FREQ code with a time-period form: A, S, Q, M, W, D or B".into());
        }
        let start = TimePeriod::parse(&self.reference_period.start);
        let end = TimePeriod::parse(&self.reference_period.end);
        for (field, v, t) in [("manifest.reference_period.start", &self.reference_period.start, start),
                              ("manifest.reference_period.end", &self.reference_period.end, end)] {
            if t.is_none() {
                p(Rule::ManifestBadReferencePeriod, field, v, "not an SDMX time period".into());
            }
        }
        if let (Some(s), Some(e)) = (start, end)
            && s.first_day > e.last_day {
                p(Rule::ManifestBadReferencePeriod, "manifest.reference_period", &self.reference_period.start,
                  format!("start {} is after end {}", self.reference_period.start, self.reference_period.end));
            }
        if let Some(h) = &self.content_hash
            && !crate::hash::is_well_formed(h) {
                p(Rule::ManifestContentHashMismatch, "manifest.content_hash", h,
                  "content_hash must be sha256: followed by 64 lowercase hex digits".into());
            }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["armstat", "sms", "a1", "moh-dhis2", "x_y"] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "ArmStat", "-a", "a b", "a/b", "é", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn toml_roundtrip_and_unknown_field() {
        let m = Manifest::from_toml(
            "agency='a'\ndataset='d'\ntitle='t'\nindicators=['1.1.1']\nperiodicity='A'\n\
             [reference_period]\nstart='2020'\nend='2023'\n[metadata]\nlead_actor='ArmStat'\n",
        )
        .unwrap();
        assert_eq!(m.metadata.lead_actor.as_deref(), Some("ArmStat"));
        let e = Manifest::from_toml("agency='a'\nwho='x'").unwrap_err();
        assert!(e.to_string().contains("unknown field"), "{e}");
    }
}
