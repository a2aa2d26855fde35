# Each figure's title and its plain-language definition, for readers of the report, the annex
# and the dashboard. The technical definitions (the exact rules) stay in docs/figures.md and
# in the machine-readable outputs.

figure-migration-disaggregation-share-title = Proportion of SDG indicators produced with migration disaggregation
figure-migration-disaggregation-share-plain = Of the SDG indicators the country produces, the share that can be broken down by migratory status, so that figures for migrants can be told apart from figures for everyone else. An indicator counts as produced when at least one value of it has been published for the years shown; hidden (confidential) values count too, missing values do not. Indicators the country does not monitor are left out.
figure-migration-disaggregation-share-variants = The same count, measured against two other totals
figure-migration-disaggregation-share-variant-relevant = Of the indicators where migratory status matters
figure-migration-disaggregation-share-variant-all = Of all the indicators in the national framework (national coverage)
figure-reporting-status-title = Reporting status
figure-reporting-status-plain = How many of the indicators in the national framework have any published data for the years shown, overall and for each goal.
figure-disaggregation-status-title = Disaggregation status
figure-disaggregation-status-plain = For each indicator, whether its data are broken down in every way the framework asks for (for example by sex, age or migratory status): completely, in part, not yet, or not applicable when no breakdown is asked for.
figure-coverage-matrix-title = Coverage of breakdowns
figure-coverage-matrix-plain = For each indicator with data, which breakdowns its published data contain: sex, age, migratory status, disability, urban or rural area, income or wealth group, and areas below the national level.
figure-migrant-gap-title = Migrant / non-migrant gap
figure-migrant-gap-plain = Where the same source publishes a value for migrants and one for non-migrants, for the same indicator, year and area and with no other breakdown, the two values side by side, their difference (migrants minus non-migrants) and their ratio.
figure-agency-completeness-title = Agency completeness and timeliness
figure-agency-completeness-plain = For each agency, the share of the reports it owes under the reporting calendar that have arrived (completeness), and the share that arrived by the end of their due day (timeliness). Reports not yet due are not counted.
figure-area-figures-title = Figures by area
figure-area-figures-plain = The headline, the reporting status and the disaggregation status computed for each area separately, counting only the data about that area.
figure-cross-area-title = Figures across areas
figure-cross-area-plain = How the areas compare: for each indicator, in how many areas it is broken down by migratory status; how many areas have any data on migration indicators; and how the areas' headline shares are spread.
