use std::collections::BTreeSet;

use fluent_syntax::ast::Entry;

use super::*;

/// The message ids of one file of one language.
fn ids(lang: usize, file: usize) -> BTreeSet<String> {
    let text = SOURCES[lang][file];
    let resource = fluent_syntax::parser::parse(text)
        .unwrap_or_else(|(_, e)| panic!("locales/{}/{} does not parse: {e:?}", LANGUAGES[lang].0, FILES[file]));
    resource
        .body
        .into_iter()
        .filter_map(|e| match e {
            Entry::Message(m) => Some(m.id.name.to_owned()),
            _ => None,
        })
        .collect()
}

#[test]
fn every_language_has_every_message_of_every_file_and_no_other() {
    assert!(!bundles().is_empty());
    for (file, name) in FILES.iter().enumerate() {
        let en = ids(0, file);
        for (lang, (tag, _)) in LANGUAGES.iter().enumerate().skip(1) {
            let other = ids(lang, file);
            let missing: Vec<_> = en.difference(&other).collect();
            let extra: Vec<_> = other.difference(&en).collect();
            assert!(missing.is_empty() && extra.is_empty(), "locales/{tag}/{name}: missing {missing:?}, not in English {extra:?}");
        }
    }
}

/// Every message id written as a literal in the coordinator's code (`t("…")`, `ta("…"`,
/// `markup("…"`, `text("…")`, `lookup("…"`) is in the English files, so no reader ever sees an id.
#[test]
fn every_message_the_code_names_exists_in_english() {
    let all: BTreeSet<String> = (0..FILES.len()).flat_map(|f| ids(0, f)).collect();
    let mut missing = vec![];
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("i18n/tests.rs") {
                continue;
            }
            let src = std::fs::read_to_string(&path).unwrap();
            for call in [".t(\"", ".ta(\"", ".markup(\"", ".text(\"", ".lookup(\""] {
                for (i, _) in src.match_indices(call) {
                    let rest = &src[i + call.len()..];
                    let id = &rest[..rest.find('"').unwrap()];
                    if !all.contains(id) {
                        missing.push(format!("{}: {id}", path.display()));
                    }
                }
            }
        }
    }
    assert!(missing.is_empty(), "messages named in code but not in locales/en: {missing:#?}");
}

#[test]
fn the_reader_gets_the_first_interface_language_asked_for_and_content_follows_the_whole_list() {
    let tr = Tr::negotiate(None, Some("hy-AM,hy;q=0.9,ru;q=0.8,en;q=0.5"), "en");
    assert_eq!(tr.lang(), "ru");
    assert_eq!(&tr.prefs()[..3], ["hy-AM", "hy", "ru"]);
    // ?lang= wins over the header; a list is allowed.
    assert_eq!(Tr::negotiate(Some("fr"), Some("ru"), "en").lang(), "fr");
    assert_eq!(Tr::negotiate(Some("hy,es"), None, "en").lang(), "es");
    // Nothing asked, or nothing sdgx has: the configured default, then English.
    assert_eq!(Tr::negotiate(None, None, "es").lang(), "es");
    assert_eq!(Tr::negotiate(None, Some("de, *;q=0.1"), "en").lang(), "en");
    assert_eq!(Tr::negotiate(Some(" "), Some("ru;q=0"), "en").lang(), "en");
    assert_eq!(Tr::new("fr-CA").lang(), "fr");
    // Junk in a header is ignored, not echoed into pages.
    assert_eq!(parse_accept_language("en;q=0.2, <script>, fr;q=0.9"), ["fr", "en"]);
    assert!(Tr::new("\"><b>").prefs().iter().all(|p| p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')));
}

#[test]
fn messages_fall_back_to_english_and_plurals_and_arguments_format() {
    let fr = Tr::new("fr");
    assert_eq!(fr.t("status-not_started"), "Non commencée");
    assert_eq!(fr.ta("goal-number", &[("goal", "17".into())]), "Objectif 17");
    assert_eq!(Tr::new("ru").t("code-migratory_status-MS_MIGRANT"), "Мигранты");
    assert_eq!(Tr::default().t("no-such-message"), "no-such-message");
    assert!(fr.lookup("no-such-message", &[]).is_none());
}

#[test]
fn numbers_percentages_and_dates_are_written_as_each_language_writes_them() {
    let (en, fr, es, ru) = (Tr::new("en"), Tr::new("fr"), Tr::new("es"), Tr::new("ru"));
    assert_eq!(en.percent(Some(7.0 / 15.0)), "46.7%");
    assert_eq!(fr.percent(Some(7.0 / 15.0)), "46,7\u{a0}%");
    assert_eq!(ru.percent(Some(0.028)), "2,8\u{a0}%");
    assert_eq!(en.percent(None), "n/a");
    assert_eq!(fr.percent(None), "n.d.");
    assert_eq!(en.number(12345.678, 1), "12,345.7");
    assert_eq!(fr.number(12345.678, 1), "12\u{202f}345,7");
    assert_eq!(es.number(1234.0, 0), "1234");
    assert_eq!(es.number(12345.0, 0), "12.345");
    assert_eq!(en.number(-0.04, 1), "0.0");
    assert_eq!(en.number(-3.25, 2), "-3.25");
    assert_eq!(en.number(999.0, 0), "999");
    let d = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
    assert_eq!(en.date(d), "2 December 2026");
    assert_eq!(fr.date(d), "2 décembre 2026");
    assert_eq!(es.date(d), "2 de diciembre de 2026");
    assert_eq!(ru.date(d), "2 декабря 2026 г.");
    assert_eq!(en.datetime_str("2026-12-02T14:05:09.123Z"), "2 December 2026, 14:05 UTC");
    assert_eq!(en.datetime_str("not a time"), "not a time");
}

#[test]
fn foreign_language_text_is_marked_in_html_and_right_to_left_text_gets_its_direction() {
    let en = Tr::new("en");
    assert_eq!(Text { text: "a<b".into(), lang: "en".into() }.html(&en), "a&lt;b");
    assert_eq!(Text { text: "Բարեւ".into(), lang: "hy".into() }.html(&en), "<span lang=\"hy\" dir=\"ltr\">Բարեւ</span>");
    assert_eq!(Text { text: "مرحبا".into(), lang: "ar".into() }.html(&en), "<span lang=\"ar\" dir=\"rtl\">مرحبا</span>");
}

#[test]
fn labels_name_codes_units_series_agencies_goals_and_titles() {
    let contract = sdgx_schemas::Contract::global();
    let agencies = [("armstat".to_owned(), "Statistical Committee of the Republic of Armenia".to_owned())].into();
    let (en, ru, hy) = (Tr::new("en"), Tr::new("ru"), Tr::new("hy"));
    let l = Labels::new(&en, &contract, &agencies);
    assert_eq!(l.unit("PT").text, "Percent");
    // A code with no message reads as its codelist's name.
    assert_eq!(l.unit("PER_100000_LIVE_BIRTHS").text, "Per 100,000 live births");
    assert_eq!(l.code("sex", "_T").text, "Both sexes");
    assert_eq!(l.code("age", "_T").text, "Total");
    assert_eq!(l.code("age", "Y15T24").text, contract.codelists.get("CL_AGE").unwrap().name("Y15T24").unwrap());
    assert_eq!(l.code("sex", "NOPE").text, "NOPE");
    assert_eq!(l.series("SI_POV_NAHC").text, "Proportion of population living below the national poverty line");
    assert_eq!(l.agency("armstat"), "Statistical Committee of the Republic of Armenia");
    assert_eq!(l.agency("sms"), "sms");
    assert_eq!(l.dimension("income_wealth_quantile"), "Income or wealth quantile");
    assert_eq!(l.status("not_started"), "Not started");
    assert_eq!(l.goal(1).text, "No poverty");
    assert_eq!(l.goal_number(1), "Goal 1");
    let r = Labels::new(&ru, &contract, &agencies);
    assert_eq!(r.dimension("migratory_status"), "Миграционный статус");
    assert_eq!(r.indicator_code("10.7.2").lang, "ru");
    // Armenian: no Armenian interface, but the Armenian titles of sdg-translations.
    let h = Labels::new(&hy, &contract, &agencies);
    assert_eq!(hy.lang(), "en");
    assert_eq!(h.indicator_code("10.7.2").lang, "hy");
    assert_eq!(h.goal(1).lang, "hy");
    assert_eq!(h.status("complete"), "Complete");
}

#[test]
fn a_message_as_html_escapes_its_text_and_keeps_its_markup() {
    let (en, fr) = (Tr::new("en"), Tr::new("fr"));
    let reason = [("reason", "<b>x</b> & y".into())];
    assert_eq!(
        en.markup("dashboard-review-status-reason", &reason, &[("status", "<strong>returned</strong>")]),
        "Status: <strong>returned</strong> (&lt;b&gt;x&lt;/b&gt; &amp; y)."
    );
    assert_eq!(fr.markup("dashboard-review-status", &[], &[("status", "<em>soumise</em>")]), "État : <em>soumise</em>.");
}
