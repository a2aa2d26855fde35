//! Labels for codes: what a person reads instead of `PT`, `SI_POV_NAHC`, `armstat`,
//! `not_started` or `income_wealth_quantile`.
//!
//! | what | from |
//! | --- | --- |
//! | breakdown (column) names | `common.ftl` `dim-<column>` |
//! | codes of a column | `common.ftl` `code-<column>-<code>`, then `code-any-<code>` (`_T`, `_Z`), then the codelist's name (the DSD's English names, national codelists' own) |
//! | units | as codes of `unit_measure` |
//! | series | the series' name in the framework (English: the UN gives no other) |
//! | indicator and goal titles | the framework ([`sdgx_schemas::Indicator::title_in`], [`sdgx_schemas::framework::goal_title`]) |
//! | agencies | the registry's display names |
//! | status words | `common.ftl` `status-<word>` |
//!
//! Codes stay in the machine-readable exports; these are for the report, annex and dashboard.

use std::collections::BTreeMap;

use sdgx_schemas::observation::COLUMNS;
use sdgx_schemas::{framework, Contract, Indicator};

use super::{Text, Tr};

/// Labels in one reader's languages.
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    /// The reader's languages.
    pub tr: &'a Tr,
    /// The contract in force (codelists and framework).
    pub contract: &'a Contract,
    /// Agency display names by id (the registry's).
    pub agencies: &'a BTreeMap<String, String>,
}

/// A code as part of a Fluent message id: characters Fluent ids cannot hold become `-`.
fn id_part(code: &str) -> String {
    code.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' }).collect()
}

/// The name of `code` in the codelist of contract column `column` (the DSD's English name, or a
/// national codelist's own), when the column is coded and the list names the code.
pub fn codelist_name<'c>(contract: &'c Contract, column: &str, code: &str) -> Option<&'c str> {
    COLUMNS
        .iter()
        .find(|c| c.name == column)
        .and_then(|c| c.codelist)
        .and_then(|cl| contract.codelists.get(cl))
        .and_then(|cl| cl.name(code))
        .filter(|n| !n.is_empty())
}

impl<'a> Labels<'a> {
    /// Labels for `tr` over `contract`, with the registry's agency names.
    pub fn new(tr: &'a Tr, contract: &'a Contract, agencies: &'a BTreeMap<String, String>) -> Self {
        Labels { tr, contract, agencies }
    }

    /// A breakdown or attribute column's name: `Migratory status` for `migratory_status`.
    pub fn dimension(&self, column: &str) -> String {
        self.tr.lookup(&format!("dim-{}", id_part(column)), &[]).unwrap_or_else(|| {
            let mut s = column.replace('_', " ");
            if let Some(first) = s.get(0..1) {
                s.replace_range(0..1, &first.to_uppercase());
            }
            s
        })
    }

    /// A code of a column (`sex`, `migratory_status`, `unit_measure`, …), as a label.
    pub fn code(&self, column: &str, code: &str) -> Text {
        let (tr, part) = (self.tr, id_part(code));
        if let Some(t) = tr.lookup(&format!("code-{}-{part}", id_part(column)), &[]).or_else(|| tr.lookup(&format!("code-any-{part}"), &[])) {
            return Text { text: t, lang: tr.lang().to_owned() };
        }
        let name = codelist_name(self.contract, column, code);
        Text { text: name.unwrap_or(code).to_owned(), lang: sdgx_schemas::language::BASE.to_owned() }
    }

    /// A unit of measure's label (`Percent` for `PT`).
    pub fn unit(&self, code: &str) -> Text {
        self.code("unit_measure", code)
    }

    /// A series' name (`Proportion of population living below the national poverty line` for
    /// `SI_POV_NAHC`), the code itself when the framework does not know it.
    pub fn series(&self, code: &str) -> Text {
        let name = self.contract.framework.series(code).map(|s| s.name.as_str()).filter(|n| !n.is_empty()).unwrap_or(code);
        Text { text: name.to_owned(), lang: sdgx_schemas::language::BASE.to_owned() }
    }

    /// An indicator's title in the reader's languages.
    pub fn indicator(&self, ind: &Indicator) -> Text {
        let (text, lang) = ind.title_in(&self.tr.prefs());
        Text { text: text.to_owned(), lang: lang.to_owned() }
    }

    /// The title of the indicator with this code (the code itself when the framework lacks it).
    pub fn indicator_code(&self, code: &str) -> Text {
        self.contract.framework.indicator(code).map_or_else(
            || Text { text: code.to_owned(), lang: self.tr.lang().to_owned() },
            |i| self.indicator(i),
        )
    }

    /// A goal's short title (`No poverty`) in the reader's languages.
    pub fn goal(&self, goal: u8) -> Text {
        framework::goal_title(goal, &self.tr.prefs()).map_or_else(
            || Text { text: goal.to_string(), lang: self.tr.lang().to_owned() },
            |(g, lang)| Text { text: g.short.clone(), lang: lang.to_owned() },
        )
    }

    /// "Goal 1" in the interface language.
    pub fn goal_number(&self, goal: u8) -> String {
        self.tr.ta("goal-number", &[("goal", super::Arg::Text(goal.to_string().into()))])
    }

    /// An agency's display name from the registry (its id when the registry gives no name).
    pub fn agency(&self, id: &str) -> String {
        self.agencies.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }

    /// A status word (`complete`, `in_progress`, `not_started`, `not_applicable`, `reported`,
    /// `no_data`, …) as a label.
    pub fn status(&self, word: &str) -> String {
        self.tr.lookup(&format!("status-{}", id_part(word)), &[]).unwrap_or_else(|| word.replace('_', " "))
    }
}
