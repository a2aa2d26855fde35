//! The languages of what people read: the HTML report, the XLSX annex, the dashboard and the
//! plain-language figure definitions.
//!
//! Interface texts are [Fluent](https://projectfluent.org) messages, one folder per language
//! under `coordinator/locales/` (compiled in), one file per surface:
//!
//! | file | messages |
//! | --- | --- |
//! | `common.ftl` | language names, numbers, dates, status words, breakdown and code names |
//! | `figures.ftl` | each figure's title and plain-language definition |
//! | `report.ftl` | the HTML report |
//! | `annex.ftl` | the XLSX annex |
//! | `dashboard.ftl` | the dashboard |
//!
//! A reader's languages come from `?lang=`, else `Accept-Language`, else the coordinator's
//! default (English). The **interface language** is the first of them sdgx has messages in
//! ([`LANGUAGES`]); a message missing in it is read in English. **Content** (indicator and
//! goal titles, national metadata) follows the reader's whole list, so an Armenian reader gets
//! the Armenian titles of sdg-translations and the national framework even though the interface
//! has no Armenian: each such text carries its own language ([`Text`]), which the HTML outputs
//! mark with `lang` (and `dir="rtl"` for right-to-left scripts).

pub mod labels;

use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use sdgx_schemas::language;

pub use labels::Labels;

/// The interface languages sdgx ships: (BCP 47 tag, the language's name in itself).
pub const LANGUAGES: &[(&str, &str)] = &[("en", "English"), ("fr", "Français"), ("es", "Español"), ("ru", "Русский")];

/// The surfaces' message files of one language, in [`LANGUAGES`] order.
macro_rules! locale {
    ($lang:literal) => {
        [
            include_str!(concat!("../../locales/", $lang, "/common.ftl")),
            include_str!(concat!("../../locales/", $lang, "/figures.ftl")),
            include_str!(concat!("../../locales/", $lang, "/report.ftl")),
            include_str!(concat!("../../locales/", $lang, "/annex.ftl")),
            include_str!(concat!("../../locales/", $lang, "/dashboard.ftl")),
        ]
    };
}

/// The message files, by language (the order of [`LANGUAGES`]).
const SOURCES: [[&str; 5]; 4] = [locale!("en"), locale!("fr"), locale!("es"), locale!("ru")];

/// The file names of [`SOURCES`]' columns, for error messages and tests.
pub const FILES: [&str; 5] = ["common.ftl", "figures.ftl", "report.ftl", "annex.ftl", "dashboard.ftl"];

fn bundles() -> &'static [FluentBundle<FluentResource>] {
    static BUNDLES: OnceLock<Vec<FluentBundle<FluentResource>>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        LANGUAGES
            .iter()
            .zip(SOURCES)
            .map(|((tag, _), files)| {
                let id: unic_langid::LanguageIdentifier = tag.parse().expect("LANGUAGES holds valid tags");
                let mut bundle = FluentBundle::new_concurrent(vec![id]);
                // Texts go into HTML and spreadsheets, where the isolation marks Fluent puts
                // around placeables would show; the HTML marks foreign-language text itself.
                bundle.set_use_isolating(false);
                for (file, text) in FILES.iter().zip(files) {
                    // The files are compiled in and checked by the tests below: a syntax
                    // error or a duplicate id is a build defect, not a runtime condition.
                    let resource = FluentResource::try_new(text.to_owned())
                        .unwrap_or_else(|(_, e)| panic!("locales/{tag}/{file} does not parse: {e:?}"));
                    bundle.add_resource(resource).unwrap_or_else(|e| panic!("locales/{tag}/{file}: {e:?}"));
                }
                bundle
            })
            .collect()
    })
}

/// A message argument: text or a number (numbers choose plural forms).
#[derive(Debug, Clone)]
pub enum Arg<'a> {
    /// Text, inserted as it is.
    Text(std::borrow::Cow<'a, str>),
    /// A number, formatted by the message (and used for plural selection).
    Number(f64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Self {
        Arg::Text(s.into())
    }
}
impl From<String> for Arg<'_> {
    fn from(s: String) -> Self {
        Arg::Text(s.into())
    }
}
macro_rules! number_arg {
    ($($t:ty),*) => { $(impl From<$t> for Arg<'_> { fn from(n: $t) -> Self { Arg::Number(n as f64) } })* };
}
number_arg!(i32, i64, u32, u64, usize, f64);

/// A text in a known language: an interface message, or content such as an indicator title.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The text.
    pub text: String,
    /// Its language's tag.
    pub lang: String,
}

impl Text {
    /// The text escaped for HTML, wrapped in a `<span lang=… dir=…>` when its language is not
    /// the page's.
    pub fn html(&self, tr: &Tr) -> String {
        let text = crate::export::html::esc(&self.text);
        if language::matches(&self.lang, tr.lang()) {
            text
        } else {
            let dir = if language::is_rtl(&self.lang) { "rtl" } else { "ltr" };
            format!("<span lang=\"{}\" dir=\"{dir}\">{text}</span>", crate::export::html::esc(&self.lang))
        }
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// A reader's languages, resolved: the interface language and the content preferences.
#[derive(Debug, Clone)]
pub struct Tr {
    ui: usize,
    prefs: Vec<String>,
}

impl Default for Tr {
    fn default() -> Self {
        Tr::new("en")
    }
}

/// Parses an `Accept-Language` header into tags by descending quality (`q=0` left out).
pub fn parse_accept_language(header: &str) -> Vec<String> {
    let mut tags: Vec<(f32, usize, String)> = header
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut it = part.split(';');
            let tag = it.next()?.trim();
            if tag.is_empty() || tag == "*" || !tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return None;
            }
            let q = it
                .find_map(|p| p.trim().strip_prefix("q=").map(|q| q.trim().parse::<f32>().unwrap_or(0.0)))
                .unwrap_or(1.0);
            (q > 0.0).then(|| (q, i, tag.to_owned()))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.into_iter().map(|(_, _, t)| t).collect()
}

impl Tr {
    /// The reader of one language tag (or a comma-separated list of them, first preferred).
    pub fn new(lang: &str) -> Tr {
        Tr::from_prefs(lang.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect())
    }

    /// The reader whose preferences are these tags, first preferred.
    pub fn from_prefs(mut prefs: Vec<String>) -> Tr {
        prefs.retain(|t| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') && t.len() <= 35);
        let ui = prefs
            .iter()
            .find_map(|want| LANGUAGES.iter().position(|(tag, _)| language::matches(tag, want)))
            .unwrap_or(0);
        prefs.push(LANGUAGES[ui].0.to_owned());
        if ui != 0 {
            prefs.push(language::BASE.to_owned());
        }
        Tr { ui, prefs }
    }

    /// The reader of an HTTP request: `?lang=` when given, else `Accept-Language`, else
    /// `default` (the coordinator's configured language).
    pub fn negotiate(query: Option<&str>, accept_language: Option<&str>, default: &str) -> Tr {
        match (query.filter(|q| !q.trim().is_empty()), accept_language) {
            (Some(q), _) => Tr::new(q),
            (None, Some(h)) if !parse_accept_language(h).is_empty() => {
                let mut prefs = parse_accept_language(h);
                prefs.push(default.to_owned());
                Tr::from_prefs(prefs)
            }
            _ => Tr::new(default),
        }
    }

    /// Whether `tag` names a language sdgx has interface messages in.
    pub fn is_interface_language(tag: &str) -> bool {
        LANGUAGES.iter().any(|(t, _)| language::matches(t, tag))
    }

    /// The interface language's tag (`en`, `fr`, …).
    pub fn lang(&self) -> &'static str {
        LANGUAGES[self.ui].0
    }

    /// The interface language's writing direction: `ltr` or `rtl`.
    pub fn dir(&self) -> &'static str {
        if language::is_rtl(self.lang()) { "rtl" } else { "ltr" }
    }

    /// The content preferences: the reader's tags, then the interface language, then English.
    pub fn prefs(&self) -> Vec<&str> {
        self.prefs.iter().map(String::as_str).collect()
    }

    /// The message `id` in the interface language (English when that language lacks it).
    pub fn t(&self, id: &str) -> String {
        self.ta(id, &[])
    }

    /// The message `id` with arguments.
    pub fn ta(&self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        self.lookup(id, args).unwrap_or_else(|| {
            tracing::warn!(message = id, lang = self.lang(), "no such interface message");
            id.to_owned()
        })
    }

    /// The message `id` if some bundle has it (the interface language's, else English's).
    pub fn lookup(&self, id: &str, args: &[(&str, Arg<'_>)]) -> Option<String> {
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            match v {
                Arg::Text(s) => fargs.set(*k, FluentValue::from(s.to_string())),
                Arg::Number(n) => fargs.set(*k, FluentValue::from(*n)),
            }
        }
        [self.ui, 0].into_iter().find_map(|i| {
            let bundle = &bundles()[i];
            let pattern = bundle.get_message(id)?.value()?;
            let mut errors = vec![];
            let s = bundle.format_pattern(pattern, (!args.is_empty()).then_some(&fargs), &mut errors);
            if !errors.is_empty() {
                tracing::warn!(message = id, lang = LANGUAGES[i].0, ?errors, "an interface message did not format");
            }
            Some(s.into_owned())
        })
    }

    /// The message `id` as HTML: its text and the `text` arguments escaped, the `markup`
    /// arguments (HTML already, such as `<strong>…</strong>`) inserted as they are.
    pub fn markup(&self, id: &str, text: &[(&str, Arg<'_>)], markup: &[(&str, &str)]) -> String {
        // Each markup argument goes in as a private-use placeholder, which escaping keeps.
        let slot = |i: usize| format!("\u{e000}{i}\u{e001}");
        let mut args = text.to_vec();
        args.extend(markup.iter().enumerate().map(|(i, (k, _))| (*k, Arg::Text(slot(i).into()))));
        let mut s = crate::export::html::esc(&self.ta(id, &args));
        for (i, (_, html)) in markup.iter().enumerate() {
            s = s.replace(&slot(i), html);
        }
        s
    }

    /// The message as a [`Text`] in the interface language.
    pub fn text(&self, id: &str) -> Text {
        Text { text: self.t(id), lang: self.lang().to_owned() }
    }

    /// A number with `decimals` decimals, in the interface language's notation
    /// (`12,345.6` in English, `12 345,6` in French).
    pub fn number(&self, value: f64, decimals: usize) -> String {
        let s = format!("{:.*}", decimals, value.abs());
        let (int, frac) = s.split_once('.').map_or((s.as_str(), ""), |(i, f)| (i, f));
        let (group, point, min_grouped) = match self.lang() {
            "fr" => ('\u{202f}', ',', 4),
            "ru" => ('\u{a0}', ',', 4),
            "es" => ('.', ',', 5),
            _ => (',', '.', 4),
        };
        let mut out = String::new();
        if value < 0.0 && value.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
            out.push('-');
        }
        if int.len() >= min_grouped {
            for (i, c) in int.chars().enumerate() {
                if i > 0 && (int.len() - i) % 3 == 0 {
                    out.push(group);
                }
                out.push(c);
            }
        } else {
            out.push_str(int);
        }
        if !frac.is_empty() {
            out.push(point);
            out.push_str(frac);
        }
        out
    }

    /// A share as a percentage with one decimal (`46.7%`, `46,7 %`), or the "not available"
    /// word when the share is undefined (0/0).
    pub fn percent(&self, share: Option<f64>) -> String {
        match share {
            None => self.t("not-available"),
            Some(v) => self.ta("percent", &[("value", Arg::Text(self.number(v * 100.0, 1).into()))]),
        }
    }

    /// A date for people: `2 December 2026`, `2 décembre 2026`, `2 декабря 2026 г.`.
    pub fn date(&self, d: NaiveDate) -> String {
        let month = self.t(&format!("month-{}", d.month()));
        self.ta("date-long", &[("day", Arg::Text(d.day().to_string().into())), ("month", month.into()), ("year", Arg::Text(d.year().to_string().into()))])
    }

    /// A moment for people, in UTC: `2 December 2026, 14:05 UTC`.
    pub fn datetime(&self, t: DateTime<Utc>) -> String {
        let date = self.date(t.date_naive());
        self.ta("datetime-long", &[("date", date.into()), ("time", t.format("%H:%M").to_string().into())])
    }

    /// An RFC 3339 time (as the store records them) for people; the text as given when it does
    /// not parse.
    pub fn datetime_str(&self, rfc3339: &str) -> String {
        DateTime::parse_from_rfc3339(rfc3339).map_or_else(|_| rfc3339.to_owned(), |t| self.datetime(t.with_timezone(&Utc)))
    }

    /// The links to the same page in every interface language: (tag, name, whether current).
    pub fn choices(&self) -> impl Iterator<Item = (&'static str, &'static str, bool)> + '_ {
        LANGUAGES.iter().map(move |(tag, name)| (*tag, *name, *tag == self.lang()))
    }
}

#[cfg(test)]
mod tests;
