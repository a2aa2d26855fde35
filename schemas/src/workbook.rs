//! Reading a spreadsheet (XLSX, XLS, XLSB or ODS, by calamine) into one Arrow batch: the first
//! row names the columns. The agent reads XLSX sources with it ([`Cells::Typed`]); the
//! coordinator's upload page reads contract files with it ([`Cells::Text`]) to feed a
//! [`crate::Normalizer`], as [`crate::normalize::read_csv`] does for CSV.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use calamine::{Data, Reader};

use crate::error::{Error, Result};

/// How the cells become Arrow columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cells {
    /// A column whose cells are all numbers (or empty) is Float64, any other Utf8.
    Typed,
    /// Every column is Utf8 (as a contract CSV is read): a whole number is written without a
    /// decimal point (`2023`, not `2023.0`), so codes and periods typed as numbers stay codes.
    Text,
}

/// `A1` → (row 0, column 0).
pub fn cell_ref(s: &str) -> Option<(u32, u32)> {
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    if letters.is_empty() || !letters.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    let col = letters.to_ascii_uppercase().bytes().try_fold(0u32, |acc, b| acc.checked_mul(26)?.checked_add(u32::from(b - b'A' + 1)))?;
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col - 1))
}

/// Reads sheet `sheet` (the first when `None`) of the workbook at `path`, or only its `range`
/// (`A1:F500`), into one batch: the first row names the columns (trimmed; none may be empty),
/// an empty cell is null. The format is taken from the extension, or detected without one.
pub fn read_sheet(path: &Path, sheet: Option<&str>, range: Option<&str>, cells: Cells) -> Result<RecordBatch> {
    let fail = |message: String| Error::Workbook { path: path.display().to_string(), message };
    let mut book = calamine::open_workbook_auto(path).map_err(|e| fail(format!("not a readable workbook: {e}")))?;
    let names = book.sheet_names();
    let name = match sheet {
        Some(s) if names.iter().any(|n| n == s) => s.to_owned(),
        Some(s) => return Err(fail(format!("no sheet {s:?}; the workbook has {names:?}"))),
        None => names.first().cloned().ok_or_else(|| fail("the workbook has no sheet".into()))?,
    };
    let mut data = book.worksheet_range(&name).map_err(|e| fail(format!("sheet {name:?}: {e}")))?;
    if let Some(r) = range {
        let (a, b) = r.split_once(':').ok_or_else(|| fail(format!("range {r:?} is not like A1:F500")))?;
        let start = cell_ref(a).ok_or_else(|| fail(format!("bad cell {a:?} in range {r:?}")))?;
        let end = cell_ref(b).ok_or_else(|| fail(format!("bad cell {b:?} in range {r:?}")))?;
        data = data.range(start, end);
    }
    let mut rows = data.rows();
    let header: Vec<String> = rows.next().ok_or_else(|| fail(format!("sheet {name:?} is empty")))?.iter().map(|c| c.to_string().trim().to_owned()).collect();
    if let Some(i) = header.iter().position(String::is_empty) {
        return Err(fail(format!("sheet {name:?}: header cell {} (column {}) is empty", i + 1, i + 1)));
    }
    let body: Vec<&[Data]> = rows.collect();
    let numeric = |j: usize| cells == Cells::Typed && body.iter().all(|r| matches!(r.get(j), None | Some(Data::Empty | Data::Int(_) | Data::Float(_))));
    let mut fields = Vec::with_capacity(header.len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(header.len());
    for (j, h) in header.iter().enumerate() {
        if numeric(j) {
            fields.push(Field::new(h, DataType::Float64, true));
            let values = body.iter().map(|r| match r.get(j) {
                Some(Data::Int(i)) => Some(*i as f64),
                Some(Data::Float(f)) => Some(*f),
                _ => None,
            });
            columns.push(Arc::new(values.collect::<Float64Array>()));
        } else {
            fields.push(Field::new(h, DataType::Utf8, true));
            let values = body.iter().map(|r| match r.get(j) {
                None | Some(Data::Empty) => None,
                Some(Data::Float(f)) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
                Some(c) => Some(c.to_string()),
            });
            columns.push(Arc::new(values.collect::<StringArray>()));
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_references() {
        assert_eq!(cell_ref("A1"), Some((0, 0)));
        assert_eq!(cell_ref("F500"), Some((499, 5)));
        assert_eq!(cell_ref("AA10"), Some((9, 26)));
        assert_eq!(cell_ref("10"), None);
        assert_eq!(cell_ref("A0"), None);
    }

    #[test]
    fn a_file_that_is_not_a_workbook_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.xlsx");
        std::fs::write(&p, "indicator,ref_area\n").unwrap();
        let e = read_sheet(&p, None, None, Cells::Text).unwrap_err().to_string();
        assert!(e.contains("x.xlsx") && e.contains("not a readable workbook"), "{e}");
    }
}
