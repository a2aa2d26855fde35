//! The indicator framework: which indicators exist, what they measure and how they should be
//! disaggregated.
//!
//! The global framework (every indicator of the UN global indicator framework, with its SDMX
//! series, whether migratory-status disaggregation is relevant, and the expected
//! disaggregations) is compiled in from `schemas/data/indicators.csv` and
//! `schemas/data/series.csv`. A national framework file (TOML) overrides and extends it: it
//! adds proxy or national indicators, changes entries, and marks indicators out of scope.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::codelist::Codelists;
use crate::error::{Error, Result};
use crate::language;
use crate::manifest::Metadata;
use crate::observation::{self, Role};
use crate::quality::QualityRules;

const INDICATORS: &str = include_str!("../data/indicators.csv");
const SERIES: &str = include_str!("../data/series.csv");
/// Indicator titles in other languages than English (derived from open-sdg/sdg-translations).
const TITLES: &str = include_str!("../data/indicator-titles.csv");
/// Goal titles and short titles in every language sdg-translations has, English included.
const GOALS: &str = include_str!("../data/goals.csv");

/// The unit the headline indicator is published in: percent (`CL_UNIT_MEASURE` `PT`).
pub const HEADLINE_UNIT: &str = "PT";

/// One indicator of the framework in force.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Indicator {
    /// Indicator code: `10.7.1` for a global indicator, e.g. `10.7.p1` for a national proxy.
    pub code: String,
    /// Goal number, 1 to 17.
    pub goal: u8,
    /// Target code, e.g. `10.7` or `4.b`.
    pub target: String,
    /// Title, in the language `title_lang`.
    pub title: String,
    /// The language of `title` (`en` for the global catalogue).
    pub title_lang: String,
    /// The title in other languages, by BCP 47 tag (see [`Indicator::title_in`]).
    pub titles: BTreeMap<String, String>,
    /// The SDMX SERIES codes that measure it (may be empty for national indicators).
    pub series: Vec<String>,
    /// Whether disaggregation by migratory status is relevant.
    pub migration_relevant: bool,
    /// Breakdown columns the indicator is expected to be disaggregated by.
    pub expected_disaggregations: Vec<String>,
    /// False when the national framework marks it out of scope (excluded from every figure).
    pub in_scope: bool,
    /// True for indicators added by the national framework (proxies and national indicators).
    pub national: bool,
    /// The unit of measure, when the indicator (rather than its series) fixes it.
    pub unit_measure: Option<String>,
    /// National metadata template, when the national framework gives one.
    pub metadata: Option<Metadata>,
    /// The language of `metadata`.
    pub metadata_lang: String,
    /// The metadata template in other languages, by tag.
    pub metadata_translations: BTreeMap<String, Metadata>,
}

impl Indicator {
    /// The title in the first of the preferred languages it has, and that language's tag; the
    /// title in its own language when none matches.
    pub fn title_in<'a>(&'a self, prefs: &[&str]) -> (&'a str, &'a str) {
        let (t, lang) = language::choose(prefs, &self.title_lang, &self.title, &self.titles);
        (t.as_str(), lang)
    }

    /// The national metadata in the first of the preferred languages it has, and its tag.
    pub fn metadata_in<'a>(&'a self, prefs: &[&str]) -> Option<(&'a Metadata, &'a str)> {
        let base = self.metadata.as_ref()?;
        Some(language::choose(prefs, &self.metadata_lang, base, &self.metadata_translations))
    }

    /// Each field of the national metadata, field by field in the first preferred language
    /// that gives it (a translation may give only some fields): (key, text, its language tag),
    /// in the template's order. Empty without metadata.
    pub fn metadata_fields_in<'a>(&'a self, prefs: &[&str]) -> Vec<(&'static str, &'a str, &'a str)> {
        let Some(base) = self.metadata.as_ref() else { return vec![] };
        let translated: Vec<(&'a str, MetadataFields<'a>)> =
            self.metadata_translations.iter().map(|(tag, m)| (tag.as_str(), m.fields())).collect();
        base.fields()
            .into_iter()
            .map(|(key, _, text)| {
                let given: BTreeMap<String, &'a str> = translated
                    .iter()
                    .filter_map(|(tag, fields)| fields.iter().find(|(k, _, _)| *k == key).map(|(_, _, v)| ((*tag).to_owned(), *v)))
                    .collect();
                let (v, lang) = language::choose(prefs, &self.metadata_lang, &text, &given);
                let lang = self.metadata_translations.keys().find(|t| *t == lang).map_or(self.metadata_lang.as_str(), String::as_str);
                (key, *v, lang)
            })
            .collect()
    }
}

/// A goal's titles in one language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoalTitle {
    /// The short title, e.g. `No poverty`.
    pub short: String,
    /// The full title, e.g. `End poverty in all its forms everywhere`.
    pub title: String,
}

/// Each goal's English titles and its titles in other languages, by tag.
type GoalTitles = BTreeMap<u8, (GoalTitle, BTreeMap<String, GoalTitle>)>;

/// The set fields of a metadata template: (key, English label, text).
type MetadataFields<'a> = Vec<(&'static str, &'static str, &'a str)>;

fn goal_titles() -> &'static GoalTitles {
    static GOAL_TITLES: OnceLock<GoalTitles> = OnceLock::new();
    GOAL_TITLES.get_or_init(|| {
        let mut by_lang: BTreeMap<u8, BTreeMap<String, GoalTitle>> = BTreeMap::new();
        for rec in csv::Reader::from_reader(GOALS.as_bytes()).records() {
            let rec = rec.expect("embedded goals.csv is well-formed");
            let goal: u8 = rec[0].parse().expect("goal is a number");
            by_lang.entry(goal).or_default().insert(rec[1].into(), GoalTitle { short: rec[2].into(), title: rec[3].into() });
        }
        by_lang
            .into_iter()
            .map(|(goal, mut langs)| {
                let en = langs.remove(language::BASE).expect("goals.csv has every goal in English");
                (goal, (en, langs))
            })
            .collect()
    })
}

/// A goal's titles in the first of the preferred languages that has them (English otherwise),
/// and that language's tag; `None` for a number that is not a goal (1 to 17).
pub fn goal_title(goal: u8, prefs: &[&str]) -> Option<(&'static GoalTitle, &'static str)> {
    let (en, others) = goal_titles().get(&goal)?;
    Some(language::choose(prefs, language::BASE, en, others))
}

/// The languages the global catalogue has indicator titles in (English first).
pub fn title_languages() -> Vec<&'static str> {
    static LANGS: OnceLock<Vec<String>> = OnceLock::new();
    let langs = LANGS.get_or_init(|| {
        let mut set = BTreeSet::new();
        for rec in csv::Reader::from_reader(TITLES.as_bytes()).records() {
            set.insert(rec.expect("embedded indicator-titles.csv is well-formed")[1].to_owned());
        }
        set.into_iter().collect()
    });
    std::iter::once(language::BASE).chain(langs.iter().map(String::as_str)).collect()
}

/// One SDMX series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// SERIES code, e.g. `SD_SDG_AVLB`.
    pub code: String,
    /// Indicators the series measures.
    pub indicators: Vec<String>,
    /// The series' unit of measure, when the global structure fixes one.
    pub unit_measure: Option<String>,
    /// English name.
    pub name: String,
}

/// The indicator framework in force: global, optionally overridden by a national file.
#[derive(Debug, Clone)]
pub struct Framework {
    /// Name of the framework (global, or the national file's `name`).
    pub name: String,
    /// Version string, e.g. `global-2025` or the national file's `version`.
    pub version: String,
    indicators: Vec<Indicator>,
    by_code: FxHashMap<String, usize>,
    series: FxHashMap<String, Series>,
    quality: QualityRules,
    headline: Option<String>,
}

/// The national framework file (TOML).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalFramework {
    /// Name of the national framework.
    pub name: String,
    /// Its version.
    pub version: String,
    /// ISO 3166 alpha-2 code of the country.
    pub country: Option<String>,
    /// When true, the national file replaces the global catalogue instead of extending it:
    /// only the indicators it lists exist (each then needs a target and a title).
    #[serde(default)]
    pub replace_global: bool,
    /// Indicator codes marked out of scope nationally.
    #[serde(default)]
    pub out_of_scope: Vec<String>,
    /// Indicators added or overridden.
    #[serde(default, rename = "indicator")]
    pub indicators: Vec<NationalIndicator>,
    /// The quality rules (`[quality]`); the defaults of [`QualityRules`] when absent.
    #[serde(default)]
    pub quality: QualityRules,
    /// The language the file's titles and metadata are written in (a BCP 47 tag; `en` when
    /// absent). Translations go under each indicator's `[indicator.translations.<tag>]`.
    #[serde(default)]
    pub language: Option<String>,
    /// The national proxy for 17.18 that the coordinator derives from its own headline figure
    /// and publishes on each release (see [`Framework::headline_indicator`]). Absent: no
    /// derived dataset is published.
    #[serde(default)]
    pub headline_indicator: Option<String>,
}

/// An indicator entry of the national framework file. For an existing code, every field given
/// replaces the global value; for a new code, `target` and `title` are required.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NationalIndicator {
    /// Indicator code.
    pub code: String,
    /// Target code, e.g. `10.7`.
    pub target: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Series codes (national series are added to the series codelist).
    pub series: Option<Vec<String>>,
    /// Whether migratory-status disaggregation is relevant.
    pub migration_relevant: Option<bool>,
    /// Expected breakdown columns.
    pub expected_disaggregations: Option<Vec<String>>,
    /// Unit of measure (a `CL_UNIT_MEASURE` code).
    pub unit_measure: Option<String>,
    /// National metadata template.
    pub metadata: Option<Metadata>,
    /// The title and metadata in other languages than the file's, by BCP 47 tag.
    #[serde(default)]
    pub translations: BTreeMap<String, IndicatorTranslation>,
}

/// An indicator's title and metadata in one more language (`[indicator.translations.hy]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndicatorTranslation {
    /// The title in this language.
    pub title: Option<String>,
    /// The metadata template in this language.
    pub metadata: Option<Metadata>,
}

fn err(file: &str, line: usize, message: impl Into<String>) -> Error {
    Error::Catalogue { file: file.into(), line, message: message.into() }
}

fn split(s: &str) -> Vec<String> {
    s.split(';').filter(|x| !x.is_empty()).map(str::to_owned).collect()
}

fn goal_of(code: &str) -> Option<u8> {
    code.split('.').next()?.parse().ok().filter(|g| (1..=17).contains(g))
}

impl Framework {
    /// The global framework compiled into this build.
    pub fn global() -> Self {
        let mut series = FxHashMap::default();
        let mut r = csv::Reader::from_reader(SERIES.as_bytes());
        for rec in r.records() {
            let rec = rec.expect("embedded series.csv is well-formed");
            let unit = Some(rec[2].to_owned()).filter(|u| !u.is_empty());
            series.insert(
                rec[0].to_owned(),
                Series { code: rec[0].into(), indicators: split(&rec[1]), unit_measure: unit, name: rec[4].into() },
            );
        }
        let mut titles: FxHashMap<String, BTreeMap<String, String>> = FxHashMap::default();
        for rec in csv::Reader::from_reader(TITLES.as_bytes()).records() {
            let rec = rec.expect("embedded indicator-titles.csv is well-formed");
            titles.entry(rec[0].to_owned()).or_default().insert(rec[1].to_owned(), rec[2].to_owned());
        }
        let mut indicators = Vec::new();
        let mut r = csv::Reader::from_reader(INDICATORS.as_bytes());
        for rec in r.records() {
            let rec = rec.expect("embedded indicators.csv is well-formed");
            indicators.push(Indicator {
                code: rec[0].into(),
                goal: rec[1].parse().expect("goal is a number"),
                target: rec[2].into(),
                title: rec[3].into(),
                title_lang: language::BASE.into(),
                titles: titles.remove(&rec[0]).unwrap_or_default(),
                series: split(&rec[4]),
                migration_relevant: &rec[5] == "true",
                expected_disaggregations: split(&rec[6]),
                in_scope: true,
                national: false,
                unit_measure: None,
                metadata: None,
                metadata_lang: language::BASE.into(),
                metadata_translations: BTreeMap::new(),
            });
        }
        let by_code = indicators.iter().enumerate().map(|(i, x)| (x.code.clone(), i)).collect();
        Framework {
            name: "UN global indicator framework".into(),
            version: "global".into(),
            indicators,
            by_code,
            series,
            quality: QualityRules::default(),
            headline: None,
        }
    }

    /// Reads a national framework file and applies it (see [`Framework::apply`]).
    pub fn apply_file(&mut self, path: &Path, codelists: &mut Codelists) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { path: path.to_owned(), source })?;
        self.apply_str(&path.display().to_string(), &text, codelists)
    }

    /// Parses national framework TOML and applies it; `file` names it in errors.
    pub fn apply_str(&mut self, file: &str, text: &str, codelists: &mut Codelists) -> Result<()> {
        let national: NationalFramework = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1).unwrap_or(0);
            err(file, line, e.message().to_owned())
        })?;
        self.apply(file, national, codelists)
    }

    /// Applies a national framework. Checks everything first, so a failure changes nothing.
    pub fn apply(&mut self, file: &str, n: NationalFramework, codelists: &mut Codelists) -> Result<()> {
        let mut next = self.clone();
        next.name = n.name;
        next.version = n.version;
        if n.replace_global {
            next.indicators.clear();
            next.by_code.clear();
        }
        let lang = n.language.clone().unwrap_or_else(|| language::BASE.to_owned());
        if lang.is_empty() || !lang.split('-').all(|p| !p.is_empty() && p.len() <= 8 && p.bytes().all(|b| b.is_ascii_alphanumeric())) {
            return Err(err(file, 0, format!("language {lang:?} is not a BCP 47 language tag (e.g. \"hy\" or \"en\")")));
        }
        let breakdowns: BTreeSet<&str> =
            observation::COLUMNS.iter().filter(|c| c.role == Role::Breakdown).map(|c| c.name).collect();
        for ni in n.indicators {
            let code = ni.code.trim().to_owned();
            if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
                return Err(err(file, 0, format!("indicator code {code:?} must be letters, digits, '.', '_' or '-'")));
            }
            let goal = goal_of(&code)
                .ok_or_else(|| err(file, 0, format!("indicator {code}: the code must start with a goal number 1-17")))?;
            if let Some(d) = ni.expected_disaggregations.iter().flatten().find(|d| !breakdowns.contains(d.as_str())) {
                return Err(err(file, 0, format!("indicator {code}: expected disaggregation {d:?} is not a breakdown column")));
            }
            if let Some(u) = &ni.unit_measure
                && !codelists.contains("CL_UNIT_MEASURE", u) {
                    return Err(err(file, 0, format!("indicator {code}: unit_measure {u:?} is not in CL_UNIT_MEASURE")));
                }
            let i = match next.by_code.get(&code) {
                Some(&i) => i,
                None => {
                    let (Some(target), Some(title)) = (ni.target.clone(), ni.title.clone()) else {
                        return Err(err(file, 0, format!("new indicator {code} needs a target and a title")));
                    };
                    next.indicators.push(Indicator {
                        code: code.clone(),
                        goal,
                        target,
                        title,
                        title_lang: lang.clone(),
                        titles: BTreeMap::new(),
                        series: vec![],
                        migration_relevant: false,
                        expected_disaggregations: vec![],
                        in_scope: true,
                        national: true,
                        unit_measure: None,
                        metadata: None,
                        metadata_lang: lang.clone(),
                        metadata_translations: BTreeMap::new(),
                    });
                    next.by_code.insert(code.clone(), next.indicators.len() - 1);
                    next.indicators.len() - 1
                }
            };
            let ind = &mut next.indicators[i];
            if let Some(t) = ni.target { ind.target = t; }
            if let Some(t) = ni.title {
                // A national title replaces the global one, and with it the global translations.
                ind.title = t;
                ind.title_lang = lang.clone();
                ind.titles.clear();
            }
            if let Some(m) = ni.migration_relevant { ind.migration_relevant = m; }
            if let Some(d) = ni.expected_disaggregations { ind.expected_disaggregations = d; }
            if let Some(u) = ni.unit_measure { ind.unit_measure = Some(u); }
            if let Some(m) = ni.metadata {
                ind.metadata = Some(m);
                ind.metadata_lang = lang.clone();
                ind.metadata_translations.clear();
            }
            for (tag, t) in ni.translations {
                if tag.eq_ignore_ascii_case(&lang) {
                    return Err(err(file, 0, format!("indicator {code}: translations.{tag} is the file's own language; give the text in the entry itself")));
                }
                if let Some(title) = t.title {
                    ind.titles.insert(tag.clone(), title);
                }
                if let Some(m) = t.metadata {
                    if ind.metadata.is_none() {
                        return Err(err(file, 0, format!("indicator {code}: translations.{tag}.metadata needs the metadata in the file's language ([indicator.metadata]) first")));
                    }
                    ind.metadata_translations.insert(tag, m);
                }
            }
            if let Some(series) = ni.series {
                for s in &series {
                    next.series.entry(s.clone()).or_insert_with(|| Series {
                        code: s.clone(),
                        indicators: vec![code.clone()],
                        unit_measure: ind.unit_measure.clone(),
                        name: ind.title.clone(),
                    });
                }
                ind.series = series;
            }
        }
        for code in &n.out_of_scope {
            let Some(&i) = next.by_code.get(code) else {
                return Err(err(file, 0, format!("out_of_scope names unknown indicator {code}")));
            };
            next.indicators[i].in_scope = false;
        }
        n.quality
            .check(codelists, |code| next.series.contains_key(code))
            .map_err(|message| err(file, 0, message))?;
        next.quality = n.quality;
        next.headline = match n.headline_indicator {
            None => None,
            Some(code) => {
                let ind = next.indicator(&code).ok_or_else(|| err(file, 0, format!("headline_indicator names unknown indicator {code}")))?;
                if !ind.in_scope {
                    return Err(err(file, 0, format!("headline_indicator {code} is out of scope")));
                }
                if ind.series.len() != 1 {
                    return Err(err(file, 0, format!("headline_indicator {code} must have exactly one series (it has {})", ind.series.len())));
                }
                if let Some(unit) = next.expected_unit(ind, Some(&ind.series[0])).filter(|u| *u != HEADLINE_UNIT) {
                    return Err(err(file, 0, format!("headline_indicator {code} has unit {unit}; the headline is published in {HEADLINE_UNIT} (percent)")));
                }
                Some(code)
            }
        };
        for s in next.series.values() {
            if !codelists.contains("CL_SERIES", &s.code) {
                codelists.add("CL_SERIES", &s.code, &s.name);
            }
        }
        *self = next;
        Ok(())
    }

    /// Every indicator, global first, then national additions.
    pub fn indicators(&self) -> &[Indicator] {
        &self.indicators
    }

    /// The indicator with this code.
    pub fn indicator(&self, code: &str) -> Option<&Indicator> {
        self.by_code.get(code).map(|&i| &self.indicators[i])
    }

    /// The series with this code.
    pub fn series(&self, code: &str) -> Option<&Series> {
        self.series.get(code)
    }

    /// The indicator the coordinator derives from its headline figure (the national file's
    /// `headline_indicator`): an in-scope indicator with exactly one series whose unit is
    /// [`HEADLINE_UNIT`] or unset. The figures never count it, so publishing it cannot change
    /// the headline (docs/figures.md, "The headline's own indicator").
    pub fn headline_indicator(&self) -> Option<&Indicator> {
        self.headline.as_deref().and_then(|c| self.indicator(c))
    }

    /// The quality rules in force (the national file's `[quality]`, or the defaults).
    pub fn quality(&self) -> &QualityRules {
        &self.quality
    }

    /// The unit an observation of `indicator` (and optionally `series`) must carry, if fixed.
    pub fn expected_unit<'a>(&'a self, indicator: &'a Indicator, series: Option<&str>) -> Option<&'a str> {
        series
            .and_then(|s| self.series.get(s))
            .and_then(|s| s.unit_measure.as_deref())
            .or(indicator.unit_measure.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The global framework with the national file `text` applied, and the codelists it extended.
    fn national(text: &str) -> (Framework, Codelists) {
        let (mut f, mut c) = (Framework::global(), Codelists::global());
        f.apply_str("nat.toml", text, &mut c).unwrap();
        (f, c)
    }

    #[test]
    fn global_framework_is_complete() {
        let f = Framework::global();
        assert_eq!(f.indicators().len(), 252);
        assert_eq!(f.indicators().iter().filter(|i| i.migration_relevant).count(), 82);
        let i = f.indicator("17.18.1").unwrap();
        assert_eq!((i.goal, i.target.as_str()), (17, "17.18"));
        assert_eq!(i.series, vec!["SD_SDG_AVLB"]);
        assert!(f.indicators().iter().all(|i| i.in_scope && !i.national));
        assert_eq!(f.series("SI_POV_DAY1").unwrap().unit_measure.as_deref(), Some("PT"));
    }

    #[test]
    fn migration_flags_match_a_sample_of_the_reference_list() {
        // Sampled by hand from the reference list of the 82 indicators whose series can carry MS_*.
        let f = Framework::global();
        for code in ["1.1.1", "1.2.1", "3.8.2", "4.2.1", "5.2.1", "8.5.2", "8.7.1", "10.7.1", "16.9.1", "17.8.1"] {
            let i = f.indicator(code).unwrap();
            assert!(i.migration_relevant, "{code} should be migration-relevant");
            assert!(i.expected_disaggregations.iter().any(|d| d == "migratory_status"), "{code}");
        }
        for code in ["10.7.2", "17.18.1", "4.b.1", "3.8.1", "17.3.2"] {
            assert!(!f.indicator(code).unwrap().migration_relevant, "{code} is not in the list");
        }
    }

    #[test]
    fn national_file_adds_overrides_and_scopes() {
        let (f, c) = national(
            r#"
name = "Test"
version = "1"
out_of_scope = ["14.1.1"]
[[indicator]]
code = "10.7.p1"
target = "10.7"
title = "Returned migrants in paid work"
unit_measure = "PT"
series = ["AM_RET_PAIDWORK"]
migration_relevant = true
expected_disaggregations = ["sex", "migratory_status"]
[[indicator]]
code = "8.8.2"
migration_relevant = true
"#,
        );
        let p = f.indicator("10.7.p1").unwrap();
        assert!(p.national && p.migration_relevant && p.goal == 10);
        assert!(c.contains("CL_SERIES", "AM_RET_PAIDWORK"));
        assert_eq!(f.expected_unit(p, Some("AM_RET_PAIDWORK")), Some("PT"));
        assert!(f.indicator("8.8.2").unwrap().migration_relevant);
        assert!(!f.indicator("14.1.1").unwrap().in_scope);
        assert_eq!(f.version, "1");
    }

    #[test]
    fn global_titles_come_in_the_languages_of_sdg_translations() {
        let f = Framework::global();
        let i = f.indicator("10.7.2").unwrap();
        assert_eq!(i.title_in(&["en"]).1, "en");
        let (fr, lang) = i.title_in(&["fr"]);
        assert_eq!(lang, "fr");
        assert!(fr.starts_with("Nombre de pays") && fr.contains("politiques migratoires"), "{fr}");
        assert_eq!(i.title_in(&["ru"]).1, "ru");
        assert_eq!(i.title_in(&["ar"]).1, "ar");
        // A language sdg-translations lacks falls back to English.
        assert_eq!(i.title_in(&["xx"]), (i.title.as_str(), "en"));
        let langs = title_languages();
        assert_eq!(langs[0], "en");
        for l in ["fr", "es", "ru", "hy", "ar", "zh-Hans"] {
            assert!(langs.contains(&l), "{l}");
        }
        let (g, lang) = goal_title(1, &["es"]).unwrap();
        assert_eq!((g.short.as_str(), lang), ("Fin de la Pobreza", "es"));
        assert_eq!(goal_title(17, &["en"]).unwrap().0.short, "Partnerships for the goals");
        assert!(goal_title(18, &["en"]).is_none());
    }

    #[test]
    fn national_titles_and_metadata_come_per_language() {
        let (f, _) = national(
            r#"
name = "Test"
version = "1"
language = "en"
[[indicator]]
code = "10.7.p1"
target = "10.7"
title = "Returned migrants in paid work"
[indicator.metadata]
definitions = "Paid work in the last 7 days."
[indicator.translations.hy]
title = "Վերադարձած միգրանտներ"
[indicator.translations.hy.metadata]
definitions = "Վճարովի աշխատանք"
[indicator.translations.ru]
title = "Вернувшиеся мигранты"
[[indicator]]
code = "10.7.2"
title = "National wording of 10.7.2"
"#,
        );
        let p = f.indicator("10.7.p1").unwrap();
        assert_eq!(p.title_in(&["hy", "en"]), ("Վերադարձած միգրանտներ", "hy"));
        assert_eq!(p.title_in(&["ru"]), ("Вернувшиеся мигранты", "ru"));
        assert_eq!(p.title_in(&["fr"]), ("Returned migrants in paid work", "en"));
        let (m, lang) = p.metadata_in(&["hy"]).unwrap();
        assert_eq!((m.definitions.as_deref(), lang), (Some("Վճարովի աշխատանք"), "hy"));
        // Russian has a title but no metadata: the metadata stays in the file's language.
        assert_eq!(p.metadata_in(&["ru"]).unwrap().1, "en");
        assert_eq!(p.metadata_fields_in(&["hy"]), vec![("definitions", "Վճարովի աշխատանք", "hy")]);
        assert_eq!(p.metadata_fields_in(&["ru", "en"]), vec![("definitions", "Paid work in the last 7 days.", "en")]);
        assert!(f.indicator("10.7.2").unwrap().metadata_fields_in(&["hy"]).is_empty());
        // A national title replaces the global translations, which translate another text.
        assert_eq!(f.indicator("10.7.2").unwrap().title_in(&["fr"]), ("National wording of 10.7.2", "en"));

        let mut g = Framework::global();
        let bad = "name = \"T\"\nversion = \"1\"\nlanguage = \"hy\"\n[[indicator]]\ncode = \"10.7.2\"\n[indicator.translations.hy]\ntitle = \"x\"\n";
        let e = g.apply_str("nat.toml", bad, &mut Codelists::global()).unwrap_err().to_string();
        assert!(e.contains("translations.hy is the file's own language"), "{e}");
        let bad = "name = \"T\"\nversion = \"1\"\n[[indicator]]\ncode = \"10.7.2\"\n[indicator.translations.ru.metadata]\ncomments = \"x\"\n";
        let e = g.apply_str("nat.toml", bad, &mut Codelists::global()).unwrap_err().to_string();
        assert!(e.contains("needs the metadata in the file's language"), "{e}");
        let e = g.apply_str("nat.toml", "name = \"T\"\nversion = \"1\"\nlanguage = \"en us\"\n", &mut Codelists::global()).unwrap_err().to_string();
        assert!(e.contains("not a BCP 47 language tag"), "{e}");
    }

    #[test]
    fn national_file_errors_change_nothing() {
        let mut f = Framework::global();
        let mut c = Codelists::global();
        for (text, needle) in [
            ("name='x'\nversion='1'\nout_of_scope=['99.9.9']", "unknown indicator 99.9.9"),
            ("name='x'\nversion='1'\n[[indicator]]\ncode='10.7.p9'", "needs a target and a title"),
            ("name='x'\nversion='1'\n[[indicator]]\ncode='30.1.p1'\ntarget='x'\ntitle='y'", "goal number"),
            ("name='x'\nversion='1'\n[[indicator]]\ncode='1.1.1'\nexpected_disaggregations=['colour']", "not a breakdown"),
            ("name='x'\nversion='1'\n[[indicator]]\ncode='1.1.1'\nunit_measure='FURLONG'", "CL_UNIT_MEASURE"),
            ("name='x'\nversion='1'\nbogus=1", "unknown field"),
        ] {
            let e = f.apply_str("nat.toml", text, &mut c).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
        }
        assert_eq!(f.version, "global");
        assert!(f.indicator("1.1.1").unwrap().unit_measure.is_none());
    }

    #[test]
    fn the_headline_indicator_must_be_an_in_scope_indicator_with_one_percent_series() {
        let base = "name='x'\nversion='1'\n[[indicator]]\ncode='17.18.p1'\ntarget='17.18'\ntitle='Share'\nseries=['AM_SDG_MIGDIS']\nunit_measure='PT'\n";
        let mut f = Framework::global();
        let mut c = Codelists::global();
        assert!(f.headline_indicator().is_none(), "the global framework names none");
        f.apply_str("n.toml", &format!("headline_indicator='17.18.p1'\n{base}"), &mut c).unwrap();
        let h = f.headline_indicator().unwrap();
        assert_eq!((h.code.as_str(), h.series.as_slice()), ("17.18.p1", ["AM_SDG_MIGDIS".to_owned()].as_slice()));
        for (text, needle) in [
            (format!("headline_indicator='17.18.p9'\n{base}"), "unknown indicator 17.18.p9"),
            (format!("headline_indicator='17.18.p1'\nout_of_scope=['17.18.p1']\n{base}"), "out of scope"),
            (format!("headline_indicator='1.1.1'\n{base}"), "exactly one series"),
            (format!("headline_indicator='17.18.p1'\n{}", base.replace("'PT'", "'NUMBER'")), "unit NUMBER"),
        ] {
            let mut f = Framework::global();
            let e = f.apply_str("n.toml", &text, &mut Codelists::global()).unwrap_err().to_string();
            assert!(e.contains(needle), "{e} should mention {needle}");
            assert!(f.headline_indicator().is_none());
        }
    }

    #[test]
    fn national_file_can_replace_the_global_catalogue() {
        let mut f = Framework::global();
        let mut c = Codelists::global();
        f.apply_str("n.toml", "name='x'\nversion='1'\nreplace_global=true\n[[indicator]]\ncode='1.1.1'\ntarget='1.1'\ntitle='Poverty'\n", &mut c).unwrap();
        assert_eq!(f.indicators().len(), 1);
        assert!(f.indicator("1.2.1").is_none());
        assert!(f.indicator("1.1.1").unwrap().national);
    }
}
