#!/usr/bin/env python3
"""Generates the SYNTHETIC example federation (examples/federation/<agency>/).

Every number here is invented. The agencies, indicators and breakdowns are modelled on the
Armenia case study (IOM, "Monitoring Progress in Achieving Migration Targets of 2030 Agenda"),
so the demo looks like a real national federation, but no value is a real statistic.

Run from the repository root: python3 examples/federation/generate.py
"""
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
COLS = ["indicator", "series", "ref_area", "time_period", "sex", "age", "education_lev", "cust_breakdown",
        "composite_breakdown", "migratory_status", "obs_value", "unit_measure", "obs_status", "conf_status",
        "nature", "comment_obs"]
YEARS = ["2021", "2022", "2023"]
rng = random.Random(2030)


def row(indicator, series, year, value, unit, **kw):
    r = {c: "" for c in COLS}
    r.update(indicator=indicator, series=series, ref_area="AM", time_period=year, unit_measure=unit,
             obs_value="" if value is None else f"{value:.1f}", nature="C")
    for c in ["sex", "age", "education_lev", "cust_breakdown", "composite_breakdown", "migratory_status"]:
        r[c] = kw.pop(c, "_T")
    r.update(kw)
    return r


def jitter(base, spread):
    return base + rng.uniform(-spread, spread)


AGENCIES = {}

# Statistical Committee: ILCS returned migrants (10.7.p1) and poverty (1.1.1 totals, 1.2.1 by migrant status).
rows = []
for y in YEARS:
    b = jitter(58, 3)
    rows.append(row("10.7.p1", "AM_RET_PAIDWORK", y, b, "PT", migratory_status="NMS_RETURNED"))
    for s, d in (("F", -11), ("M", 8)):
        rows.append(row("10.7.p1", "AM_RET_PAIDWORK", y, b + d, "PT", sex=s, migratory_status="NMS_RETURNED"))
    for c in ("NRF_RU", "NRF_EU", "NRF_OTHER", "NRF_MARZ"):
        if y == "2023" and c == "NRF_OTHER":
            rows.append(row("10.7.p1", "AM_RET_PAIDWORK", y, None, "PT", cust_breakdown=c, migratory_status="NMS_RETURNED",
                            conf_status="C", comment_obs="Suppressed: fewer than 5 respondents"))
        else:
            rows.append(row("10.7.p1", "AM_RET_PAIDWORK", y, jitter(b, 6), "PT", cust_breakdown=c, migratory_status="NMS_RETURNED"))
    for c in ("NRR_JOBEND", "NRR_FAMILY", "NRR_SEASON", "NRR_OTHER"):
        rows.append(row("10.7.p1", "AM_RET_PAIDWORK", y, jitter(b, 9), "PT", composite_breakdown=c, migratory_status="NMS_RETURNED"))
AGENCIES[("armstat", "ilcs-returned-migrants")] = (rows, ["10.7.p1"], "Returned migrants who undertook paid work in the last 7 days (ILCS)", "Integrated Living Conditions Survey (ILCS)")
rows = []
for y in YEARS:
    rows.append(row("1.1.1", "SI_POV_DAY1", y, jitter(1.2, 0.3), "PT"))
    p = jitter(26, 1.5)
    rows.append(row("1.2.1", "SI_POV_NAHC", y, p, "PT"))
    rows.append(row("1.2.1", "SI_POV_NAHC", y, p + 4.1, "PT", migratory_status="MS_MIGRANT"))
    rows.append(row("1.2.1", "SI_POV_NAHC", y, p - 0.4, "PT", migratory_status="MS_NOMIGRANT"))
    rows.append(row("1.2.1", "SI_POV_NAHC", y, p + 1.3, "PT", sex="F"))
    rows.append(row("1.2.1", "SI_POV_NAHC", y, p - 1.5, "PT", sex="M"))
AGENCIES[("armstat", "ilcs-poverty")] = (rows, ["1.1.1", "1.2.1"], "Poverty rates (ILCS)", "Integrated Living Conditions Survey (ILCS)")

# State Migration Service: asylum decisions (10.7.p2) and refugees per 100,000 (10.7.4, totals).
rows = []
for y in YEARS:
    g = jitter(38, 6)
    rows.append(row("10.7.p2", "AM_ASY_GRANTED", y, g, "PT", migratory_status="NMS_ASYLUM_SEEKER"))
    for s, d in (("F", 5), ("M", -4)):
        rows.append(row("10.7.p2", "AM_ASY_GRANTED", y, g + d, "PT", sex=s, migratory_status="NMS_ASYLUM_SEEKER"))
    for a in ("Y0T17", "Y_GE18"):
        rows.append(row("10.7.p2", "AM_ASY_GRANTED", y, jitter(g, 7), "PT", age=a, migratory_status="NMS_ASYLUM_SEEKER"))
    for c in ("NCIT_SY", "NCIT_IQ", "NCIT_IR", "NCIT_UA", "NCIT_OTHER"):
        rows.append(row("10.7.p2", "AM_ASY_GRANTED", y, jitter(g, 15), "PT", cust_breakdown=c, migratory_status="NMS_ASYLUM_SEEKER"))
    rows.append(row("10.7.4", "SM_POP_REFG_OR", y, jitter(4.5, 1), "PER_100000_POP"))
AGENCIES[("sms", "asylum-decisions")] = (rows, ["10.7.p2", "10.7.4"], "Asylum decisions and refugees (SMS register)", "State Migration Service asylum seekers registration database")

# Education: scholarships abroad (4.b.p1) and early-learning participation by migrant status (4.2.2).
rows = []
for y in YEARS:
    n = rng.randint(380, 460)
    rows.append(row("4.b.p1", "AM_SCH_ABROAD", y, n, "NUMBER"))
    for s, share in (("F", 0.56), ("M", 0.44)):
        rows.append(row("4.b.p1", "AM_SCH_ABROAD", y, round(n * share), "NUMBER", sex=s))
    for e, share in (("ISCED11_6", 0.35), ("ISCED11_7", 0.5), ("ISCED11_8", 0.15)):
        rows.append(row("4.b.p1", "AM_SCH_ABROAD", y, round(n * share), "NUMBER", education_lev=e))
    p = jitter(62, 3)
    rows.append(row("4.2.2", "SE_PRE_PARTN", y, p, "PT"))
    rows.append(row("4.2.2", "SE_PRE_PARTN", y, p - 9.5, "PT", migratory_status="MS_MIGRANT"))
    rows.append(row("4.2.2", "SE_PRE_PARTN", y, p + 0.6, "PT", migratory_status="MS_NOMIGRANT"))
AGENCIES[("moes", "scholarships-and-early-learning")] = (rows, ["4.b.p1", "4.2.2"], "Scholarships abroad and early-learning participation", "MoES records; AGBU; school census")

# Diaspora office: development initiatives with nationals abroad (17.16.p1), by type.
rows = []
for y in YEARS:
    parts = {c: rng.randint(8, 30) for c in ("NDI_KNOW", "NDI_INVEST", "NDI_PHIL")}
    rows.append(row("17.16.p1", "AM_DIASPORA_INIT", y, sum(parts.values()), "NUMBER"))
    for c, v in parts.items():
        rows.append(row("17.16.p1", "AM_DIASPORA_INIT", y, v, "NUMBER", cust_breakdown=c))
AGENCIES[("diaspora", "diaspora-initiatives")] = (rows, ["17.16.p1"], "Development initiatives with nationals abroad as partners", "SMS, Ministry of Diaspora, ADA, AGBU, universities")

# Labour: unemployment (8.5.2) and injuries (8.8.1) by migrant status; labour-rights score (8.8.2, totals).
rows = []
for y in YEARS:
    u = jitter(13, 1.5)
    rows.append(row("8.5.2", "SL_TLF_UEM", y, u, "PT", age="Y_GE15"))
    rows.append(row("8.5.2", "SL_TLF_UEM", y, u + 3.2, "PT", age="Y_GE15", migratory_status="MS_MIGRANT"))
    rows.append(row("8.5.2", "SL_TLF_UEM", y, u - 0.2, "PT", age="Y_GE15", migratory_status="MS_NOMIGRANT"))
    rows.append(row("8.5.2", "SL_TLF_UEM", y, u + 1.1, "PT", age="Y_GE15", sex="F"))
    rows.append(row("8.5.2", "SL_TLF_UEM", y, u - 0.9, "PT", age="Y_GE15", sex="M"))
    i = jitter(2.1, 0.4)
    rows.append(row("8.8.1", "SL_EMP_FTLINJUR", y, i, "PER_100000_EMP"))
    rows.append(row("8.8.1", "SL_EMP_FTLINJUR", y, i * 0.97, "PER_100000_EMP", migratory_status="MS_NOMIGRANT"))
    if y == "2023":
        rows.append(row("8.8.1", "SL_EMP_FTLINJUR", y, None, "PER_100000_EMP", migratory_status="MS_MIGRANT",
                        conf_status="C", comment_obs="Suppressed: fewer than 5 cases"))
    else:
        rows.append(row("8.8.1", "SL_EMP_FTLINJUR", y, i * 1.6, "PER_100000_EMP", migratory_status="MS_MIGRANT"))
    rows.append(row("8.8.2", "SL_LBR_NTLCPL", y, jitter(3.4, 0.3), "SCORE"))
AGENCIES[("labour", "labour-market")] = (rows, ["8.5.2", "8.8.1", "8.8.2"], "Labour market and labour rights", "Labour Force Survey; Health and Labour Inspection Body")

# Central Bank: remittance costs (10.c.1) and personal remittances received (17.3.2), totals only.
rows = []
for y in YEARS:
    rows.append(row("10.c.1", "SI_RMT_COST", y, jitter(2.4, 0.3), "PT"))
    rows.append(row("17.3.2", "BX_TRF_PWKR", y, jitter(11.5, 1.5), "PT"))
AGENCIES[("cba", "remittances")] = (rows, ["10.c.1", "17.3.2"], "Remittance costs and inflows", "Central Bank of Armenia balance of payments")

# Health: UHC index (3.8.1), HIV incidence by migrant status (3.3.1); maternal mortality not
# available (3.1.1 published with obs_status M only, so it is not produced).
rows = []
for y in YEARS:
    rows.append(row("3.8.1", "SH_ACS_UNHC", y, jitter(69, 1), "IX"))
    h = jitter(0.12, 0.02)
    rows.append(row("3.3.1", "SH_HIV_INCD", y, h, "PER_1000_UNINFECTED_POP"))
    rows.append(row("3.3.1", "SH_HIV_INCD", y, h * 1.8, "PER_1000_UNINFECTED_POP", migratory_status="MS_MIGRANT"))
    rows.append(row("3.3.1", "SH_HIV_INCD", y, h * 0.9, "PER_1000_UNINFECTED_POP", migratory_status="MS_NOMIGRANT"))
    rows.append(row("3.1.1", "SH_STA_MORT", y, None, "PER_100000_LIVE_BIRTHS", obs_status="M",
                    comment_obs="Not computed: civil registration linkage pending"))
AGENCIES[("moh", "health")] = (rows, ["3.8.1", "3.3.1", "3.1.1"], "Health coverage and HIV incidence", "DHIS2 national health information system")


def fmt(v):
    return f'"{v}"' if ("," in v or '"' in v) else v


def main():
    for (agency, dataset), (rows, indicators, title, sources) in AGENCIES.items():
        d = os.path.join(HERE, agency)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{dataset}.csv"), "w") as f:
            f.write(",".join(COLS) + "\n")
            for r in rows:
                f.write(",".join(fmt(r[c]) for c in COLS) + "\n")
        inds = ", ".join(f'"{i}"' for i in indicators)
        with open(os.path.join(d, f"{dataset}.manifest.toml"), "w") as f:
            f.write(f'''# SYNTHETIC example data: invented numbers, not official statistics.
agency = "{agency}"
dataset = "{dataset}"
title = "{title} (synthetic)"
indicators = [{inds}]
periodicity = "A"

[reference_period]
start = "2021"
end = "2023"

[metadata]
data_sources = "{sources}"
periodicity = "Annual"
lead_actor = "{agency}"
comments = "Synthetic example generated by examples/federation/generate.py"
''')
    for agency in sorted({a for a, _ in AGENCIES}):
        datasets = [d for a, d in AGENCIES if a == agency]
        with open(os.path.join(HERE, agency, "agent.toml"), "w") as f:
            f.write(f'''# sdgx agent for agency "{agency}" (synthetic example federation).
# Every setting can also be set as an SDGX_* environment variable, e.g. SDGX_COORDINATOR.
agency = "{agency}"
# The coordinator's Flight endpoint (mutual TLS).
coordinator = "https://localhost:50051"
# The national contract: must be the same files the coordinator loads.
national_framework = "../../armenia/framework.toml"
national_codelists = "../../armenia/codelists.csv"
# Rows per batch read from the file and sent over the wire.
batch_size = 65536
# At most this many validation problems are printed per dataset.
max_problems = 100

# Mutual TLS: the national CA, and this agency's certificate, which names it in a SAN URI
# sdgx:agency:{agency}. scripts/demo.sh creates them with sdgx-coordinator ca init / ca issue-agent.
[tls]
ca = "../pki/ca.pem"
cert = "../pki/agents/{agency}.pem"
key = "../pki/agents/{agency}.key"
''')
            for d in datasets:
                f.write(f'''
[[dataset]]
manifest = "{d}.manifest.toml"
source = "{d}.csv"
format = "csv"
''')


if __name__ == "__main__":
    main()
