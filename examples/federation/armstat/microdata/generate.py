"""Synthetic living-conditions-survey microdata for the worked indicator (10.7.p1).

SYNTHETIC: invented respondents, not official data. Seeded, so the file is reproducible:
    python3 generate.py > lcs.csv
Each row is a respondent: whether they ever migrated abroad, when they returned (less than 3
months ago, 3-12 months ago, more than 12 months ago, or not returned), the country or region
returned from, the reason for return, and whether they did paid work in the last 7 days.
"""
import csv
import random
import sys

rng = random.Random(20261122)
FROM = [("NRF_RU", 0.55), ("NRF_EU", 0.2), ("NRF_OTHER", 0.17), ("NRF_MARZ", 0.08)]
REASON = [("NRR_JOBEND", 0.45), ("NRR_SEASON", 0.3), ("NRR_FAMILY", 0.22), ("NRR_OTHER", 0.03)]


def pick(options):
    r, acc = rng.random(), 0.0
    for code, p in options:
        acc += p
        if r < acc:
            return code
    return options[-1][0]


w = csv.writer(sys.stdout, lineterminator="\n")
w.writerow(["respondent_id", "year", "sex", "migrated", "returned_after", "returned_from", "reason", "paid_work_7d"])
rid = 0
for year, n in [(2022, 1400), (2023, 1500)]:
    for _ in range(n):
        rid += 1
        sex = "F" if rng.random() < 0.52 else "M"
        migrated = rng.random() < 0.23
        if migrated:
            returned_after = rng.choice(["lt3m", "3to12m", "3to12m", "gt12m", "none"])
            frm, reason = pick(FROM), pick(REASON)
            base = 0.62 if sex == "M" else 0.44
            if reason == "NRR_SEASON":
                base += 0.1
            paid = "yes" if rng.random() < base else "no"
        else:
            returned_after, frm, reason = "", "", ""
            paid = "yes" if rng.random() < 0.5 else "no"
        w.writerow([rid, year, sex, "yes" if migrated else "no", returned_after, frm, reason, paid])
