//! Statistical disclosure control of aggregated cells, before anything leaves the ministry.
//!
//! A **cell** is one output row: its breakdown codes (`_T` for a total), its value and the
//! count of respondents (or records) behind it. The rules, configured per dataset:
//!
//! 1. **Primary suppression, threshold**: a cell whose count is below `k` (default 5) is
//!    suppressed. A cell with count 0 is an empty cell, not a disclosure: it is published.
//! 2. **Primary suppression, dominance (n, k%)** (optional): a cell is suppressed when its `n`
//!    largest contributors hold more than `k` percent of its total (`top_share` > k/100).
//! 3. **Secondary suppression**: cells that share every code but one, where that one is `_T` in
//!    one cell (the total) and a code in the others, form a *one-dimensional breakdown*. If
//!    exactly one cell of such a breakdown (total included) is suppressed, it could be derived
//!    from the others (total − sum of the rest), so a further cell is suppressed: the published
//!    component with the smallest non-zero count (then an empty one; the total only if no
//!    component is left). This repeats
//!    until no breakdown has exactly one suppressed cell.
//!
//! A suppressed cell is published with `obs_value` null and `conf_status` `C`; counts never
//! leave the agent unless the dataset publishes them as a measure.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

/// The rules of one dataset.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SdcConfig {
    /// Minimum count of a published cell.
    pub k: u64,
    /// The dominance rule, if on.
    pub dominance: Option<Dominance>,
}

impl Default for SdcConfig {
    fn default() -> Self {
        SdcConfig { k: 5, dominance: None }
    }
}

/// The (n, k) dominance rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dominance {
    /// How many largest contributors.
    pub n: u32,
    /// The share, in percent, they may hold at most.
    pub k: f64,
}

/// Why a cell was suppressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Count below the threshold.
    Threshold,
    /// Dominated by its largest contributors.
    Dominance,
    /// Suppressed so that another suppressed cell cannot be derived.
    Secondary,
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    /// Breakdown codes, one per dimension, in the same order for every cell; `_T` is a total.
    pub key: Vec<String>,
    /// The value.
    pub value: Option<f64>,
    /// Respondents or records behind the value.
    pub count: u64,
    /// Share of the cell's total held by its `n` largest contributors (dominance rule).
    pub top_share: Option<f64>,
    /// Set when the cell is suppressed.
    pub suppressed: Option<Reason>,
}

/// The code of a total.
pub const TOTAL: &str = "_T";

/// What suppression did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SdcSummary {
    /// Cells examined.
    pub cells: usize,
    /// Suppressed for each reason.
    pub suppressed: BTreeMap<Reason, usize>,
}

/// Applies the rules to `cells` in place and says what was suppressed.
pub fn apply(cells: &mut [Cell], config: &SdcConfig) -> SdcSummary {
    for c in cells.iter_mut() {
        c.suppressed = None;
        if c.count > 0 && c.count < config.k {
            c.suppressed = Some(Reason::Threshold);
        } else if let (Some(d), Some(share)) = (config.dominance, c.top_share)
            && c.count > 0
            && share * 100.0 > d.k
        {
            c.suppressed = Some(Reason::Dominance);
        }
    }
    secondary(cells);
    let mut summary = SdcSummary { cells: cells.len(), ..Default::default() };
    for r in cells.iter().filter_map(|c| c.suppressed) {
        *summary.suppressed.entry(r).or_default() += 1;
    }
    summary
}

/// The one-dimensional breakdowns of `cells`: for each dimension d and each combination of the
/// other codes, the total cell (code `_T` at d) and its components (other codes at d). Only
/// groups with a total and at least one component.
pub fn breakdowns(cells: &[Cell]) -> Vec<(usize, Vec<usize>)> {
    let dims = cells.first().map_or(0, |c| c.key.len());
    let mut out = Vec::new();
    for d in 0..dims {
        let mut groups: HashMap<Vec<&str>, (Option<usize>, Vec<usize>)> = HashMap::new();
        for (i, c) in cells.iter().enumerate() {
            let rest: Vec<&str> = c.key.iter().enumerate().filter(|(j, _)| *j != d).map(|(_, s)| s.as_str()).collect();
            let g = groups.entry(rest).or_default();
            if c.key[d] == TOTAL {
                g.0 = Some(i);
            } else {
                g.1.push(i);
            }
        }
        let mut found: Vec<(usize, Vec<usize>)> =
            groups.into_values().filter_map(|(t, comps)| Some((t?, comps)).filter(|(_, c)| !c.is_empty())).collect();
        found.sort();
        out.extend(found);
    }
    out
}

fn secondary(cells: &mut [Cell]) {
    let groups = breakdowns(cells);
    loop {
        let mut changed = false;
        for (total, comps) in &groups {
            let members = std::iter::once(*total).chain(comps.iter().copied());
            if members.clone().filter(|&i| cells[i].suppressed.is_some()).count() != 1 {
                continue;
            }
            // Suppress the published component with the smallest non-zero count (an empty cell
            // is often known to be empty, so it protects nothing), then an empty one; the total
            // only when no component is left.
            let pick = comps
                .iter()
                .copied()
                .filter(|&i| cells[i].suppressed.is_none())
                .min_by_key(|&i| (cells[i].count == 0, cells[i].count, i))
                .unwrap_or(*total);
            cells[pick].suppressed = Some(Reason::Secondary);
            changed = true;
        }
        if !changed {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cell(key: &[&str], count: u64) -> Cell {
        Cell { key: key.iter().map(|s| s.to_string()).collect(), value: Some(count as f64), count, top_share: None, suppressed: None }
    }

    #[test]
    fn a_small_cell_and_its_complement_are_suppressed() {
        // sex: total 20 = F 3 + M 17. F is below 5; M would give it away (20 - 17), so M goes too.
        let mut cells = vec![cell(&["_T"], 20), cell(&["F"], 3), cell(&["M"], 17)];
        let s = apply(&mut cells, &SdcConfig::default());
        assert_eq!(cells.iter().map(|c| c.suppressed).collect::<Vec<_>>(), [None, Some(Reason::Threshold), Some(Reason::Secondary)]);
        assert_eq!(s.suppressed[&Reason::Threshold], 1);
        assert_eq!(s.suppressed[&Reason::Secondary], 1);
    }

    #[test]
    fn dominance_and_empty_cells() {
        let mut cells = vec![cell(&["_T"], 40), cell(&["A"], 20), cell(&["B"], 20), cell(&["C"], 0)];
        cells[1].top_share = Some(0.9);
        cells[2].top_share = Some(0.5);
        let cfg = SdcConfig { k: 5, dominance: Some(Dominance { n: 1, k: 85.0 }) };
        apply(&mut cells, &cfg);
        // A is dominated; C is empty (published); B goes with A so A is not total - B - C.
        assert_eq!(cells.iter().map(|c| c.suppressed).collect::<Vec<_>>(), [None, Some(Reason::Dominance), Some(Reason::Secondary), None]);
    }

    #[test]
    fn two_dimensions_propagate_until_no_cell_is_derivable() {
        // sex x age with margins. F/Y15 is small.
        let mut cells = vec![
            cell(&["_T", "_T"], 100),
            cell(&["F", "_T"], 50),
            cell(&["M", "_T"], 50),
            cell(&["_T", "Y15"], 40),
            cell(&["_T", "Y25"], 60),
            cell(&["F", "Y15"], 2),
            cell(&["F", "Y25"], 48),
            cell(&["M", "Y15"], 38),
            cell(&["M", "Y25"], 12),
        ];
        apply(&mut cells, &SdcConfig::default());
        assert_no_cell_derivable(&cells);
        // F/Y15 needs a partner in its row (F/Y25) and its column (M/Y15), which needs M/Y25.
        let s: Vec<bool> = cells.iter().map(|c| c.suppressed.is_some()).collect();
        assert_eq!(s, [false, false, false, false, false, true, true, true, true]);
    }

    /// The property the rules promise, checked directly: in every one-dimensional breakdown
    /// whose total is published, no suppressed component equals the total minus the published
    /// components; and a suppressed total is not the sum of wholly published components.
    fn assert_no_cell_derivable(cells: &[Cell]) {
        for (t, comps) in breakdowns(cells) {
            let hidden: Vec<usize> = std::iter::once(t).chain(comps.iter().copied()).filter(|&i| cells[i].suppressed.is_some()).collect();
            assert_ne!(hidden.len(), 1, "cell {:?} is derivable from its breakdown", cells[hidden[0]].key);
        }
    }

    fn table() -> impl Strategy<Value = Vec<Cell>> {
        // A full 2-D table with margins: rows x cols of counts 0..30.
        (1usize..4, 1usize..4).prop_flat_map(|(r, c)| proptest::collection::vec(0u64..30, r * c).prop_map(move |v| {
            let mut cells = Vec::new();
            let (rows, cols): (Vec<String>, Vec<String>) = ((0..r).map(|i| format!("R{i}")).collect(), (0..c).map(|j| format!("C{j}")).collect());
            let at = |i: usize, j: usize| v[i * c + j];
            cells.push(cell(&["_T", "_T"], v.iter().sum()));
            for (i, ri) in rows.iter().enumerate() {
                cells.push(cell(&[ri, "_T"], (0..c).map(|j| at(i, j)).sum()));
            }
            for (j, cj) in cols.iter().enumerate() {
                cells.push(cell(&["_T", cj], (0..r).map(|i| at(i, j)).sum()));
            }
            for (i, ri) in rows.iter().enumerate() {
                for (j, cj) in cols.iter().enumerate() {
                    cells.push(cell(&[ri, cj], at(i, j)));
                }
            }
            cells
        }))
    }

    proptest! {
        #[test]
        fn no_published_cell_is_below_k(mut cells in table(), k in 1u64..10) {
            apply(&mut cells, &SdcConfig { k, dominance: None });
            for c in &cells {
                prop_assert!(c.suppressed.is_some() || c.count == 0 || c.count >= k, "{:?} published with count {}", c.key, c.count);
            }
        }

        #[test]
        fn no_suppressed_cell_equals_its_total_minus_the_published_cells(mut cells in table(), k in 1u64..10) {
            apply(&mut cells, &SdcConfig { k, dominance: None });
            for (t, comps) in breakdowns(&cells) {
                if cells[t].suppressed.is_some() {
                    continue;
                }
                let hidden: Vec<usize> = comps.iter().copied().filter(|&i| cells[i].suppressed.is_some()).collect();
                if hidden.len() == 1 {
                    let published: u64 = comps.iter().filter(|&&i| cells[i].suppressed.is_none()).map(|&i| cells[i].count).sum();
                    prop_assert!(false, "{:?} = {} - {} is derivable", cells[hidden[0]].key, cells[t].count, published);
                }
            }
            assert_no_cell_derivable(&cells);
        }
    }
}
