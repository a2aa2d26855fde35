#!/usr/bin/env python3
"""Derive sdgx's own catalogue files (schemas/data/*.csv) from the UN SDG reference material.

Maintainer's tool, run by hand when the global framework changes:

    python3 scripts/derive-catalogue.py <reference-dir> schemas/data [<sdg-translations-dir>]

The optional third argument is the `translations/` folder of open-sdg/sdg-translations (one
sub-folder per language); when given, the goal and indicator titles in every language it has
are derived too (goals.csv, indicator-titles.csv).

It is never run at build or test time: the derived files are committed and compiled into
`sdgx-schemas`. What it derives, and how, is documented in schemas/README.md.
"""
import csv
import os
import sys
import xml.etree.ElementTree as ET
from collections import defaultdict

BREAKDOWN_LISTS = {
    "CL_SEX", "CL_AGE", "CL_URBANISATION", "CL_QUANTILE", "CL_EDUCATION_LEV", "CL_OCCUPATION",
    "CL_CUST_BREAKDOWN", "CL_COMP_BREAKDOWN", "CL_DISABILITY", "CL_ACTIVITY", "CL_PRODUCT",
}
# DSD dimension (allowed-codes column) -> sdgx column name.
DIMENSIONS = [
    ("SEX", "sex"), ("AGE", "age"), ("URBANISATION", "urbanisation"),
    ("INCOME_WEALTH_QUANTILE", "income_wealth_quantile"), ("EDUCATION_LEV", "education_lev"),
    ("OCCUPATION", "occupation"), ("DISABILITY_STATUS", "disability_status"),
    ("ACTIVITY", "activity"), ("PRODUCT", "product"),
]
MS_CODES = {"MS_MIGRANT", "MS_NOMIGRANT", "MS_EUMIGRANT", "MS_NONEUMIGRANT"}

# sdgx's own codelists (not in the global DSD).
MIGRATORY_STATUS = [
    ("_T", "Total (no breakdown by migratory status)"),
    ("_Z", "Not applicable"),
    ("MS_MIGRANT", "Migrant"),
    ("MS_NOMIGRANT", "Non-migrant"),
    ("MS_EUMIGRANT", "EU migrant"),
    ("MS_NONEUMIGRANT", "Non-EU migrant"),
    ("NMS_FOREIGN_BORN", "Foreign-born"),
    ("NMS_NATIVE_BORN", "Native-born"),
    ("NMS_NONCITIZEN", "Non-citizen (foreign citizen or stateless)"),
    ("NMS_CITIZEN", "Citizen"),
    ("NMS_RETURNED", "Returned migrant"),
    ("NMS_INTERNAL", "Internal migrant"),
    ("NMS_IDP", "Internally displaced person"),
    ("NMS_REFUGEE", "Refugee"),
    ("NMS_ASYLUM_SEEKER", "Asylum seeker"),
    ("NMS_STATELESS", "Stateless person"),
]
CONF_STATUS = [
    ("F", "Free (may be published)"),
    ("C", "Confidential (primary suppression)"),
    ("D", "Secondary confidentiality (suppressed to protect another cell)"),
    ("N", "Not for publication, restricted for internal use only"),
]


STR = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure}"
COM = "{http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common}"
# The DSD dimensions a per-series content constraint restricts (columns of the allowed-codes file).
CONSTRAINED = ["SEX", "AGE", "URBANISATION", "INCOME_WEALTH_QUANTILE", "EDUCATION_LEV", "OCCUPATION",
               "COMPOSITE_BREAKDOWN", "DISABILITY_STATUS", "ACTIVITY", "PRODUCT"]


def write(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def ref_text(el):
    """`AGENCY:ID(VERSION)` of the first maintainable reference below `el`."""
    r = el.find(".//Ref")
    return f"{r.get('agencyID')}:{r.get('id')}({r.get('version')})"


def derive_sdmx(ref, out, added):
    """The global DSD's artefacts, components and per-series content constraint (schemas/README.md,
    "The SDMX structures")."""
    tree = ET.parse(os.path.join(ref, "sdg_dsd_1.14.xml"))
    artefacts = []
    dsd = next(tree.iter(STR + "DataStructure"))
    artefacts.append(["datastructure", dsd.get("agencyID"), dsd.get("id"), dsd.get("version"), dsd.find(COM + "Name").text, ""])
    concepts = {}
    for cs in tree.iter(STR + "ConceptScheme"):
        artefacts.append(["conceptscheme", cs.get("agencyID"), cs.get("id"), cs.get("version"), cs.find(COM + "Name").text, ""])
        for c in cs.findall(STR + "Concept"):
            concepts[c.get("id")] = c.find(COM + "Name").text
    for cl in tree.iter(STR + "Codelist"):
        artefacts.append(["codelist", cl.get("agencyID"), cl.get("id"), cl.get("version"), cl.find(COM + "Name").text,
                          ";".join(added.get(cl.get("id"), []))])
    write(os.path.join(out, "sdmx-artefacts.csv"), ["kind", "agency", "id", "version", "name", "sdgx_added"], artefacts)

    components = []
    comps = dsd.find(STR + "DataStructureComponents")
    for el in comps.iter():
        kind = {STR + "Dimension": "dimension", STR + "TimeDimension": "time", STR + "Attribute": "attribute"}.get(el.tag)
        if el.tag == STR + "PrimaryMeasure" and el.get("id"):
            kind = "measure"
        if kind is None or el.get("id") is None:  # skip the references inside relationships
            continue
        rep = el.find(STR + "LocalRepresentation")
        if rep is not None and rep.find(STR + "Enumeration") is not None:
            representation = "codelist:" + ref_text(rep.find(STR + "Enumeration"))
        elif rep is not None and rep.find(STR + "TextFormat") is not None:
            representation = "text:" + rep.find(STR + "TextFormat").get("textType")
        else:
            representation = ""
        attachment = ""
        if kind == "attribute":
            rel = el.find(STR + "AttributeRelationship")
            attachment = "series" if rel.find(STR + "Dimension") is not None else "observation"
        components.append([el.get("id"), kind, concepts[el.get("id")], representation, el.get("assignmentStatus", ""), attachment])
    write(os.path.join(out, "sdmx-dsd.csv"), ["component", "kind", "concept", "representation", "usage", "attachment"], components)

    rows = []
    for r in read(os.path.join(ref, "sdg_series_allowed_codes.csv")):
        for dim in CONSTRAINED:
            codes = [c.strip() for c in r[dim].split(";") if c.strip()]
            if codes and codes != ["ALL"]:  # a blank: no information, so not constrained
                rows.append([r["SERIES"], dim, ";".join(codes)])
    write(os.path.join(out, "sdmx-constraints.csv"), ["series", "dimension", "codes"], rows)


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(ref, out):
    lists = defaultdict(dict)
    for r in read(os.path.join(ref, "codelists.csv")):
        lists[r["codelist"]][r["code"]] = r["name_en"]
    with open(os.path.join(out, "codelists.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["codelist", "code", "name"])
        added = {}
        for cl in sorted(lists):
            codes = dict(lists[cl])
            if cl in BREAKDOWN_LISTS and "_Z" not in codes:
                codes["_Z"] = "Not applicable"
                added[cl] = ["_Z"]
            for code, name in codes.items():
                w.writerow([cl, code, name])
        for code, name in MIGRATORY_STATUS:
            w.writerow(["CL_MIGRATORY_STATUS", code, name])
        for code, name in CONF_STATUS:
            w.writerow(["CL_CONF_STATUS", code, name])

    derive_sdmx(ref, out, added)

    allowed = {r["SERIES"]: r for r in read(os.path.join(ref, "sdg_series_allowed_codes.csv"))}
    series_rows = read(os.path.join(ref, "sdg_series.csv"))
    by_indicator = defaultdict(list)
    with open(os.path.join(out, "series.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["series", "indicators", "unit_measure", "unit_mult", "name"])
        for r in series_rows:
            a = allowed.get(r["series"], {})
            unit = a.get("UNIT_MEASURE", "")
            mult = a.get("UNIT_MULT", "")
            unit = "" if unit in ("ALL", "_T") or ";" in unit else unit
            mult = "" if mult in ("ALL",) or ";" in mult else mult
            w.writerow([r["series"], r["indicators"], unit, mult, r["name"]])
            for ind in filter(None, r["indicators"].split(";")):
                by_indicator[ind].append(r["series"])

    migration = {r["indicator"] for r in read(os.path.join(ref, "migration_ms_indicators.csv"))}
    with open(os.path.join(out, "indicators.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["indicator", "goal", "target", "title", "series", "migration_relevant",
                    "expected_disaggregations"])
        for r in read(os.path.join(ref, "sdg_indicators.csv")):
            code = r["indicator"]
            series = by_indicator.get(code, [])
            expected = []
            for dim, col in DIMENSIONS:
                vals = [allowed[s][dim] for s in series if s in allowed]
                if any(v == "ALL" or any(c not in ("_T", "_Z") for c in v.split(";")) for v in vals):
                    expected.append(col)
            comp = [c for s in series if s in allowed
                    for c in allowed[s]["COMPOSITE_BREAKDOWN"].split(";")]
            if code in migration or any(c in MS_CODES for c in comp):
                expected.append("migratory_status")
            if any(c not in ("_T", "_Z", "ALL") and c not in MS_CODES for c in comp):
                expected.append("composite_breakdown")
            w.writerow([code, r["goal"], r["target"], r["title"], ";".join(series),
                        "true" if code in migration else "false", ";".join(expected)])


def derive_titles(translations, out):
    """Goal titles (every language, English included) and indicator titles (every language but
    English, whose titles come from the UN list in indicators.csv) from sdg-translations'
    `global_goals.yml` and `global_indicators.yml` (keys `1-title`, `1-short`, `1-1-1-title`)."""
    import yaml  # only this step needs PyYAML

    english = {r["indicator"]: " ".join(r["title"].split()) for r in read(os.path.join(out, "indicators.csv"))}
    goals, titles = [], []
    for lang in sorted(os.listdir(translations)):
        folder = os.path.join(translations, lang)
        if not os.path.isdir(folder):
            continue
        code = lang.replace("_", "-")  # BCP 47: nb_NO -> nb-NO
        with open(os.path.join(folder, "global_goals.yml"), encoding="utf-8") as f:
            g = yaml.safe_load(f) or {}
        for n in range(1, 18):
            title, short = g.get(f"{n}-title"), g.get(f"{n}-short")
            if title:
                goals.append([n, code, " ".join(str(short or "").split()), " ".join(str(title).split())])
        if code == "en":
            continue
        with open(os.path.join(folder, "global_indicators.yml"), encoding="utf-8") as f:
            t = yaml.safe_load(f) or {}
        for key, value in t.items():
            if not key.endswith("-title") or not value:
                continue
            indicator, text = key[: -len("-title")].replace("-", "."), " ".join(str(value).split())
            # An entry still in English is untranslated: the reader falls back to English anyway.
            if indicator in english and text != english[indicator]:
                titles.append([indicator, code, text])
    write(os.path.join(out, "goals.csv"), ["goal", "lang", "short", "title"], goals)
    titles.sort(key=lambda r: (r[1], [(0, int(x), "") if x.isdigit() else (1, 0, x) for x in r[0].split(".")]))
    write(os.path.join(out, "indicator-titles.csv"), ["indicator", "lang", "title"], titles)


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
    if len(sys.argv) == 4:
        derive_titles(sys.argv[3], sys.argv[2])
