-- 10.7.p1: % of returned migrants who undertook paid work during the last 7 days.
-- Returned migrants: respondents who migrated and returned less than 3 months ago or 3-12
-- months ago. Of those, the share who did paid work in the last 7 days (unweighted), in
-- percent to one decimal, by year: in total, by sex, by country or region returned from
-- (cust_breakdown NRF_*) and by reason for return (composite_breakdown NRR_*).
-- sdc_count: the returned migrants behind each cell, for disclosure control (never published).
WITH returned AS (
    SELECT * FROM lcs
    WHERE migrated = 'yes' AND returned_after IN ('lt3m', '3to12m')
)
SELECT
    '10.7.p1' AS indicator,
    'AM_RET_PAIDWORK' AS series,
    'AM' AS ref_area,
    CAST(year AS VARCHAR) AS time_period,
    CASE WHEN grouping(sex) = 1 THEN '_T' ELSE sex END AS sex,
    CASE WHEN grouping(returned_from) = 1 THEN '_T' ELSE returned_from END AS cust_breakdown,
    CASE WHEN grouping(reason) = 1 THEN '_T' ELSE reason END AS composite_breakdown,
    'NMS_RETURNED' AS migratory_status,
    round(100.0 * SUM(CASE WHEN paid_work_7d = 'yes' THEN 1 ELSE 0 END) / COUNT(*), 1) AS obs_value,
    'PT' AS unit_measure,
    'C' AS nature,
    COUNT(*) AS sdc_count
FROM returned
GROUP BY GROUPING SETS ((year), (year, sex), (year, returned_from), (year, reason))
