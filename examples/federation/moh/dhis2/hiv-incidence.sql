-- 3.3.1: new HIV infections per 1,000 uninfected population, from the DHIS2 analytics table
-- (source "dhis2"), to two decimals, by year: in total, by sex and by migratory status
-- (MS_MIGRANT, MS_NOMIGRANT).
-- sdc_count: the new diagnoses behind each cell (never published).
WITH cases AS (
    SELECT *, CASE WHEN migrant THEN 'MS_MIGRANT' ELSE 'MS_NOMIGRANT' END AS ms FROM dhis2
)
SELECT
    '3.3.1' AS indicator,
    'SH_HIV_INCD' AS series,
    'AM' AS ref_area,
    CAST(year AS VARCHAR) AS time_period,
    CASE WHEN grouping(sex) = 1 THEN '_T' ELSE sex END AS sex,
    CASE WHEN grouping(ms) = 1 THEN '_T' ELSE ms END AS migratory_status,
    round(1000.0 * SUM(new_cases) / SUM(uninfected_population), 2) AS obs_value,
    'PER_1000_UNINFECTED_POP' AS unit_measure,
    'C' AS nature,
    SUM(new_cases) AS sdc_count
FROM cases
GROUP BY GROUPING SETS ((year), (year, sex), (year, ms))
