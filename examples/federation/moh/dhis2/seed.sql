-- A SYNTHETIC stand-in for the Ministry of Health's DHIS2 analytics database: new HIV
-- diagnoses and the uninfected population, by year, marz (region), sex and migratory status.
-- Invented, deterministic numbers, not official statistics. Load with:
--   psql -d dhis2 -f seed.sql
CREATE SCHEMA IF NOT EXISTS analytics;
DROP TABLE IF EXISTS analytics.hiv_new_cases;
CREATE TABLE analytics.hiv_new_cases (
    year integer NOT NULL,
    marz text NOT NULL,
    sex char(1) NOT NULL,
    migrant boolean NOT NULL,
    new_cases integer NOT NULL,
    uninfected_population integer NOT NULL
);
-- new_cases = (3y + 2d + s + 4m) mod 7 + 1 and population = 40000 + 10000d - 30000m + 500y,
-- with y = year - 2021, d the marz (0 ER, 1 SH, 2 LO), s (0 F, 1 M), m (0 non-migrant, 1 migrant).
INSERT INTO analytics.hiv_new_cases
SELECT 2021 + y, (ARRAY['AM-ER', 'AM-SH', 'AM-LO'])[d + 1], (ARRAY['F', 'M'])[s + 1], m = 1,
       (3 * y + 2 * d + s + 4 * m) % 7 + 1, 40000 + 10000 * d - 30000 * m + 500 * y
FROM generate_series(0, 2) y, generate_series(0, 2) d, generate_series(0, 1) s, generate_series(0, 1) m;
