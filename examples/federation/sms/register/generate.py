"""Writes applications.csv: a SYNTHETIC extract of the State Migration Service's asylum
register (one row per individual application decided), seeded so that it is reproducible.
Invented records, not official statistics. Usage: python3 generate.py"""
import csv
import random

rng = random.Random(17_18)
CITIZENSHIP = [("SY", 0.40), ("IQ", 0.25), ("IR", 0.15), ("UA", 0.15), ("OTHER", 0.05)]
GRANT_RATE = {"SY": 0.55, "IQ": 0.45, "IR": 0.30, "UA": 0.60, "OTHER": 0.20}

with open("applications.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["application_id", "decided_year", "sex", "age", "citizenship", "decision"])
    n = 0
    for year, count in [(2021, 180), (2022, 210), (2023, 240)]:
        for _ in range(count):
            n += 1
            cit = rng.choices([c for c, _ in CITIZENSHIP], [p for _, p in CITIZENSHIP])[0]
            sex = rng.choice(["F", "M"])
            age = rng.randint(0, 17) if rng.random() < 0.3 else rng.randint(18, 75)
            p = GRANT_RATE[cit] + (0.05 if sex == "F" else 0)
            r = rng.random()
            decision = "refugee_status" if r < p * 0.7 else "complementary" if r < p else "rejected"
            w.writerow([f"A{year}-{n:05d}", year, sex, age, cit, decision])
