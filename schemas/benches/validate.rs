//! Validation throughput: 1,000,000 observation rows through [`Validator`], against a baseline
//! measured in the same run: encoding the same batches as Arrow IPC (what putting them on the
//! wire costs at least). Run with `cargo bench -p sdgx-schemas --bench validate`.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::ipc::writer::StreamWriter;
use sdgx_schemas::observation::{idx, COLUMNS};
use sdgx_schemas::{observation_schema, Contract, Manifest, ValidationOptions, Validator};

const ROWS: usize = 1_000_000;
const BATCH: usize = 65_536;

/// Observation-shaped synthetic rows: 8.5.2 unemployment by area, year, sex, age and migratory
/// status, all distinct keys.
fn batches() -> Vec<RecordBatch> {
    let areas: Vec<String> = ["AM", "AM-ER", "AM-AG", "AM-AR", "AM-AV", "AM-GR", "AM-KT", "AM-LO", "AM-SH", "AM-SU", "AM-TV", "AM-VD"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let sexes = ["_T", "F", "M"];
    let ages = ["_T", "Y15T24", "Y25T54", "Y55T64", "Y_GE65", "Y15T64", "Y_GE15", "Y25T64"];
    let ms = ["_T", "MS_MIGRANT", "MS_NOMIGRANT", "NMS_RETURNED", "NMS_REFUGEE"];
    let mut out = Vec::new();
    let mut i = 0usize;
    while i < ROWS {
        let n = BATCH.min(ROWS - i);
        let key = |r: usize| {
            let k = i + r;
            (k % 5, (k / 5) % 8, (k / 40) % 3, (k / 120) % 12, 1000 + k / 1440)
        };
        let mut cols: Vec<ArrayRef> = Vec::new();
        for (c, col) in COLUMNS.iter().enumerate() {
            let a: ArrayRef = match c {
                idx::INDICATOR => Arc::new(StringArray::from_iter_values((0..n).map(|_| "8.5.2"))),
                idx::SERIES => Arc::new(StringArray::from_iter_values((0..n).map(|_| "SL_TLF_UEM"))),
                idx::REF_AREA => Arc::new(StringArray::from_iter_values((0..n).map(|r| areas[key(r).3].as_str()))),
                idx::TIME_PERIOD => Arc::new(StringArray::from_iter_values((0..n).map(|r| key(r).4.to_string()))),
                idx::MIGRATORY_STATUS => Arc::new(StringArray::from_iter_values((0..n).map(|r| ms[key(r).0]))),
                c if COLUMNS[c].name == "age" => Arc::new(StringArray::from_iter_values((0..n).map(|r| ages[key(r).1]))),
                c if COLUMNS[c].name == "sex" => Arc::new(StringArray::from_iter_values((0..n).map(|r| sexes[key(r).2]))),
                idx::OBS_VALUE => Arc::new(Float64Array::from_iter_values((0..n).map(|r| ((i + r) % 997) as f64 / 10.0))),
                idx::UNIT_MEASURE => Arc::new(StringArray::from_iter_values((0..n).map(|_| "PT"))),
                idx::UNIT_MULT => Arc::new(Int32Array::from_iter_values((0..n).map(|_| 0))),
                idx::LOWER_BOUND | idx::UPPER_BOUND => Arc::new(Float64Array::new_null(n)),
                idx::NATURE | idx::COMMENT_OBS => Arc::new(StringArray::new_null(n)),
                _ => Arc::new(StringArray::from_iter_values((0..n).map(|_| col.default.unwrap_or("_T")))),
            };
            cols.push(a);
        }
        out.push(RecordBatch::try_new(observation_schema(), cols).expect("valid batch"));
        i += n;
    }
    out
}

fn main() {
    let mut contract = Contract::global();
    contract
        .codelists
        .extend_from_str("bench", "codelist,code,name\nCL_AREA,AM-ER,a\nCL_AREA,AM-AG,a\nCL_AREA,AM-AR,a\nCL_AREA,AM-AV,a\nCL_AREA,AM-GR,a\nCL_AREA,AM-KT,a\nCL_AREA,AM-LO,a\nCL_AREA,AM-SH,a\nCL_AREA,AM-SU,a\nCL_AREA,AM-TV,a\nCL_AREA,AM-VD,a\n")
        .expect("bench areas");
    let manifest = Manifest::from_toml(
        "agency='labour'\ndataset='lfs'\ntitle='bench'\nindicators=['8.5.2']\nperiodicity='A'\n[reference_period]\nstart='1000'\nend='9999'\n",
    )
    .expect("manifest");
    let data = batches();
    let mut best_validate = f64::MAX;
    let mut best_ipc = f64::MAX;
    for round in 0..3 {
        let t = Instant::now();
        let mut v = Validator::new(&contract, manifest.clone(), ValidationOptions::default());
        for b in &data {
            v.push(b);
        }
        let summary = v.finish().expect("hashes read back").unwrap_or_else(|r| panic!("bench data must be valid:\n{r}"));
        let validate = t.elapsed().as_secs_f64();
        assert_eq!(summary.rows as usize, ROWS);

        let t = Instant::now();
        let mut buf = Vec::with_capacity(256 << 20);
        let mut w = StreamWriter::try_new(&mut buf, &observation_schema()).expect("writer");
        for b in &data {
            w.write(b).expect("ipc");
        }
        w.finish().expect("ipc");
        let ipc = t.elapsed().as_secs_f64();
        println!("round {round}: validate {validate:.3}s  ipc-encode {ipc:.3}s  ({} IPC bytes)", buf.len());
        best_validate = best_validate.min(validate);
        best_ipc = best_ipc.min(ipc);
    }
    println!(
        "validate 1,000,000 rows: {:.3} s ({:.2} M rows/s); baseline Arrow IPC encode: {:.3} s; ratio validate/ipc = {:.2}",
        best_validate,
        ROWS as f64 / best_validate / 1e6,
        best_ipc,
        best_validate / best_ipc
    );
}
