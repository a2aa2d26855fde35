-- 10.7.p2: proportion of individual asylum applications granted, from the State Migration
-- Service's register (one row per application decided). Granted: refugee status or
-- complementary protection. In percent to one decimal, by year of decision: in total, by sex,
-- by age group (Y0T17, Y_GE18) and by citizenship (cust_breakdown NCIT_*).
-- sdc_count: the applications decided behind each cell (never published).
WITH decided AS (
    SELECT *,
           CASE WHEN age < 18 THEN 'Y0T17' ELSE 'Y_GE18' END AS age_group,
           'NCIT_' || citizenship AS ncit
    FROM register
)
SELECT
    '10.7.p2' AS indicator,
    'AM_ASY_GRANTED' AS series,
    'AM' AS ref_area,
    CAST(decided_year AS VARCHAR) AS time_period,
    CASE WHEN grouping(sex) = 1 THEN '_T' ELSE sex END AS sex,
    CASE WHEN grouping(age_group) = 1 THEN '_T' ELSE age_group END AS age,
    CASE WHEN grouping(ncit) = 1 THEN '_T' ELSE ncit END AS cust_breakdown,
    'NMS_ASYLUM_SEEKER' AS migratory_status,
    round(100.0 * SUM(CASE WHEN decision IN ('refugee_status', 'complementary') THEN 1 ELSE 0 END) / COUNT(*), 1) AS obs_value,
    'PT' AS unit_measure,
    'C' AS nature,
    COUNT(*) AS sdc_count
FROM decided
GROUP BY GROUPING SETS ((decided_year), (decided_year, sex), (decided_year, age_group), (decided_year, ncit))
