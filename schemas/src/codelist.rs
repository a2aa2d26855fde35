//! Codelists: the codes each coded column may take.
//!
//! The global codelists are derived from the UN SDG DSD (see `schemas/data/codelists.csv` and
//! `scripts/derive-catalogue.py`) and compiled in. sdgx adds two of its own:
//! `CL_MIGRATORY_STATUS` (the global `MS_*` codes plus national `NMS_*` extension codes for the
//! classifications recommended by the UN expert group) and `CL_CONF_STATUS`.
//! A national codelist file (`codelist,code,name`) can add codes; redefining an existing code
//! with another name is an error naming the file, line and code.

use std::path::Path;

use rustc_hash::FxHashMap;

use crate::error::{Error, Result};

const GLOBAL: &str = include_str!("../data/codelists.csv");

/// One codelist: code -> English name, in file order.
#[derive(Debug, Clone, Default)]
pub struct Codelist {
    names: FxHashMap<String, String>,
    order: Vec<String>,
}

impl Codelist {
    /// Whether `code` is in the list.
    pub fn contains(&self, code: &str) -> bool {
        self.names.contains_key(code)
    }

    /// The English name of `code`.
    pub fn name(&self, code: &str) -> Option<&str> {
        self.names.get(code).map(String::as_str)
    }

    /// The codes, in the order they were defined.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.order.iter().map(String::as_str)
    }

    /// The number of codes.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the list has no codes.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    fn insert(&mut self, code: &str, name: &str) {
        if self.names.insert(code.to_owned(), name.to_owned()).is_none() {
            self.order.push(code.to_owned());
        }
    }
}

/// Every codelist of the contract, by id (`CL_SEX`, `CL_MIGRATORY_STATUS`, ...).
#[derive(Debug, Clone)]
pub struct Codelists {
    lists: FxHashMap<String, Codelist>,
}

/// Reads `codelist,code,name` rows, calling `f(line, codelist, code, name)` for each.
fn read_rows(
    file: &str,
    text: &str,
    mut f: impl FnMut(usize, &str, &str, &str) -> Result<()>,
) -> Result<()> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| catalogue_err(file, 1, e))?.clone();
    if headers.iter().collect::<Vec<_>>() != ["codelist", "code", "name"] {
        return Err(Error::Catalogue {
            file: file.into(),
            line: 1,
            message: format!(
                "header must be `codelist,code,name`, found `{}`",
                headers.iter().collect::<Vec<_>>().join(",")
            ),
        });
    }
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| catalogue_err(file, line, e))?;
        if record.len() != 3 {
            return Err(catalogue_err(file, line, "expected 3 fields"));
        }
        let (cl, code, name) = (record[0].trim(), record[1].trim(), record[2].trim());
        if cl.is_empty() || code.is_empty() {
            return Err(catalogue_err(file, line, "codelist and code must not be empty"));
        }
        f(line, cl, code, name)?;
    }
    Ok(())
}

fn catalogue_err(file: &str, line: usize, e: impl std::fmt::Display) -> Error {
    Error::Catalogue { file: file.into(), line, message: e.to_string() }
}

impl Codelists {
    /// The global codelists compiled into this build.
    pub fn global() -> Self {
        let mut lists: FxHashMap<String, Codelist> = FxHashMap::default();
        read_rows("schemas/data/codelists.csv", GLOBAL, |_, cl, code, name| {
            lists.entry(cl.to_owned()).or_default().insert(code, name);
            Ok(())
        })
        .expect("embedded codelists are well-formed");
        Codelists { lists }
    }

    /// Adds the codes of a national codelist file (`codelist,code,name`).
    pub fn extend_from_file(&mut self, path: &Path) -> Result<()> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| Error::Io { path: path.to_owned(), source })?;
        self.extend_from_str(&path.display().to_string(), &text)
    }

    /// Adds the codes of a national codelist given as text; `file` names it in errors.
    ///
    /// Fails, changing nothing, when a row names an unknown codelist or redefines an existing
    /// code with a different name. A row that repeats an existing code with the same name is
    /// accepted and has no effect.
    pub fn extend_from_str(&mut self, file: &str, text: &str) -> Result<()> {
        let mut added: Vec<(String, String, String)> = Vec::new();
        read_rows(file, text, |line, cl, code, name| {
            let Some(list) = self.lists.get(cl) else {
                return Err(catalogue_err(file, line, format!("unknown codelist {cl}")));
            };
            let earlier = added.iter().find(|(c, k, _)| c == cl && k == code).map(|a| a.2.as_str());
            match list.name(code).or(earlier) {
                Some(existing) if existing != name => Err(Error::CodelistConflict {
                    file: file.into(),
                    line,
                    codelist: cl.into(),
                    code: code.into(),
                    existing: existing.into(),
                    proposed: name.into(),
                }),
                Some(_) => Ok(()),
                None => {
                    added.push((cl.into(), code.into(), name.into()));
                    Ok(())
                }
            }
        })?;
        for (cl, code, name) in added {
            self.lists.get_mut(&cl).expect("checked above").insert(&code, &name);
        }
        Ok(())
    }

    /// The codelist with this id.
    pub fn get(&self, id: &str) -> Option<&Codelist> {
        self.lists.get(id)
    }

    /// Whether `code` is in codelist `id` (false for an unknown list).
    pub fn contains(&self, id: &str, code: &str) -> bool {
        self.lists.get(id).is_some_and(|l| l.contains(code))
    }

    /// Adds a code programmatically (used for national series and indicator-defined units).
    pub(crate) fn add(&mut self, id: &str, code: &str, name: &str) {
        self.lists.entry(id.to_owned()).or_default().insert(code, name);
    }

    /// The ids of every codelist.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.lists.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_lists_have_totals_and_migratory_status() {
        let c = Codelists::global();
        for id in ["CL_SEX", "CL_AGE", "CL_COMP_BREAKDOWN", "CL_MIGRATORY_STATUS", "CL_DISABILITY"] {
            assert!(c.contains(id, "_T"), "{id} lacks _T");
            assert!(c.contains(id, "_Z"), "{id} lacks _Z");
        }
        for code in ["MS_MIGRANT", "MS_NOMIGRANT", "MS_EUMIGRANT", "MS_NONEUMIGRANT", "NMS_REFUGEE", "NMS_IDP"] {
            assert!(c.contains("CL_MIGRATORY_STATUS", code), "{code}");
        }
        assert!(c.contains("CL_AREA", "AM"));
        assert!(c.contains("CL_SERIES", "SD_SDG_AVLB"));
        assert!(c.contains("CL_CONF_STATUS", "C"));
        assert_eq!(c.get("CL_SEX").unwrap().name("F"), Some("Female"));
        assert!(!c.contains("CL_SEX", "X"));
    }

    #[test]
    fn national_extension_adds_codes() {
        let mut c = Codelists::global();
        c.extend_from_str("nat.csv", "codelist,code,name\nCL_AREA,AM-ER,Yerevan\nCL_SEX,F,Female\n")
            .unwrap();
        assert!(c.contains("CL_AREA", "AM-ER"));
    }

    #[test]
    fn national_conflict_is_an_error_and_changes_nothing() {
        let mut c = Codelists::global();
        let err = c
            .extend_from_str("nat.csv", "codelist,code,name\nCL_AREA,AM-ER,Yerevan\nCL_SEX,F,Women\n")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("nat.csv: line 3"), "{msg}");
        assert!(msg.contains("code F of CL_SEX"), "{msg}");
        assert!(msg.contains("\"Female\""), "{msg}");
        assert!(!c.contains("CL_AREA", "AM-ER"), "a failed extension must change nothing");
    }

    #[test]
    fn national_unknown_list_and_bad_header() {
        let mut c = Codelists::global();
        let e = c.extend_from_str("n.csv", "codelist,code,name\nCL_NOPE,X,Y\n").unwrap_err();
        assert!(e.to_string().contains("unknown codelist CL_NOPE"), "{e}");
        let e = c.extend_from_str("n.csv", "list,code\nCL_SEX,X\n").unwrap_err();
        assert!(e.to_string().contains("header must be"), "{e}");
    }
}
