//! Languages: how a reader's language preferences choose among texts given in several
//! languages (indicator and goal titles, national metadata).
//!
//! Tags are BCP 47 (`en`, `hy`, `zh-Hans`, `nb-NO`). A preference matches a text's tag when the
//! two are equal, ignoring case, or when their primary subtags are (`zh` matches `zh-Hans`).
//! Preferences are tried in order; a text with no match is read in its base language.

use std::collections::BTreeMap;

/// The language of the global catalogue's own texts (the UN lists are in English).
pub const BASE: &str = "en";

/// The primary subtag of a tag, lower case: `zh` for `zh-Hans`.
pub fn primary(tag: &str) -> String {
    tag.split(['-', '_']).next().unwrap_or_default().to_ascii_lowercase()
}

/// Whether a text tagged `tag` serves a reader who asked for `wanted`.
pub fn matches(tag: &str, wanted: &str) -> bool {
    tag.eq_ignore_ascii_case(wanted) || (!wanted.is_empty() && primary(tag) == primary(wanted))
}

/// Whether a language is written right to left (Arabic, Hebrew, Persian, Urdu and others).
pub fn is_rtl(tag: &str) -> bool {
    matches!(primary(tag).as_str(), "ar" | "he" | "fa" | "ur" | "ps" | "sd" | "ug" | "yi" | "dv" | "ckb")
}

/// Chooses among a value in `base_lang` and its translations (keyed by tag) the one the
/// preferences ask for first; the base value when none matches. Returns the value and its tag.
pub fn choose<'a, T>(prefs: &[&str], base_lang: &'a str, base: &'a T, others: &'a BTreeMap<String, T>) -> (&'a T, &'a str) {
    for want in prefs {
        if matches(base_lang, want) {
            return (base, base_lang);
        }
        if let Some((tag, v)) = others.iter().find(|(tag, _)| tag.eq_ignore_ascii_case(want)) {
            return (v, tag);
        }
        if let Some((tag, v)) = others.iter().find(|(tag, _)| matches(tag, want)) {
            return (v, tag);
        }
    }
    (base, base_lang)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_preference_with_a_text_wins_and_the_base_serves_the_rest() {
        let others: BTreeMap<String, &str> =
            [("fr".into(), "Bonjour"), ("zh-Hans".into(), "你好"), ("nb-NO".into(), "Hei")].into();
        assert_eq!(choose(&["de", "fr", "en"], "en", &"Hello", &others), (&"Bonjour", "fr"));
        assert_eq!(choose(&["en", "fr"], "en", &"Hello", &others), (&"Hello", "en"));
        assert_eq!(choose(&["zh"], "en", &"Hello", &others), (&"你好", "zh-Hans"));
        assert_eq!(choose(&["NB-no"], "en", &"Hello", &others), (&"Hei", "nb-NO"));
        assert_eq!(choose(&["de"], "en", &"Hello", &others), (&"Hello", "en"));
        assert_eq!(choose(&[], "en", &"Hello", &others), (&"Hello", "en"));
        // The base language may be any language (a national file written in Armenian).
        assert_eq!(choose(&["hy"], "hy", &"Բարեւ", &others), (&"Բարեւ", "hy"));
    }

    #[test]
    fn right_to_left_scripts_are_known_by_their_primary_subtag() {
        assert!(is_rtl("ar") && is_rtl("ar-EG") && is_rtl("he") && is_rtl("fa"));
        assert!(!is_rtl("en") && !is_rtl("hy") && !is_rtl("ru") && !is_rtl("arn"));
    }
}
