# The annex's messages (en). Placeables: $page, $pages, $view, $version, $number, $title,
# $areas, $count.

annex-title = SDG data disaggregated by migratory status: statistical annex
annex-subtitle = The indicators of the national framework, the figures computed from the data the agencies published, and the definitions of those figures.
annex-page-of = Page { $page } of { $pages }
annex-footer = Store version { $version } ({ $view } view)
annex-goal-heading = { $number }: { $title }
annex-suppressed = Confidential
annex-all-goals = All goals

## Sheet names (at most 31 characters).
annex-sheet-summary = Summary
annex-sheet-definitions = Definitions
annex-sheet-areas = Areas
annex-sheet-publications = Publications

## The summary.
annex-store-version = Store version
annex-view = View of the store
annex-committed = Store version committed
annex-framework-version = Framework version
annex-generated = Annex generated
annex-headline-produced = Of the indicators produced (headline)
annex-summary-note = Each goal has a sheet listing its indicators; the Definitions sheet says what each figure means. Columns whose name ends in "code" hold the codes machines read.
annex-col-measured-against = Measured against
annex-col-with-migration = With migration disaggregation
annex-col-out-of = Out of
annex-col-share = Share
annex-col-goal = Goal
annex-col-in-scope = In scope
annex-col-indicators = Indicators

## The definitions.
annex-definitions-title = What the figures mean
annex-definitions-note = The plain-language definition is for readers. The technical definition is the exact rule each figure is computed by, in English as every result publishes it (see also docs/figures.md).
annex-col-figure = Figure
annex-col-plain = Plain-language definition
annex-col-technical = Technical definition
annex-col-figure-name = Figure name (API)

## The goal sheets.
annex-col-indicator-code = Indicator code
annex-col-indicator = Indicator
annex-col-disaggregation-status = Disaggregation status
annex-col-series = Series of the latest value
annex-col-latest-value = Latest value (national)
annex-col-unit = Unit
annex-col-year = Year
annex-col-source = Source
annex-col-breakdowns = Breakdowns with data
annex-col-migrants = Migrants
annex-col-non-migrants = Non-migrants
annex-col-gap-year = Year of the gap
annex-col-series-code = Series code
annex-col-unit-code = Unit code
annex-col-agency-code = Agency code

## The areas.
annex-col-area = Area
annex-col-area-code = Area code
annex-col-produced = Produced
annex-col-headline = Headline
annex-col-reported = Reported
annex-col-reporting-share = Reporting share
annex-areas-with-data = Areas with data on migration-relevant indicators
annex-areas-without = Without: { $areas }
annex-headline-across-areas = The headline across areas
annex-areas-with-share = { $count ->
    [one] { $count } area with a share
   *[other] { $count } areas with a share
}
annex-minimum = Minimum
annex-lower-quartile = Lower quartile
annex-median = Median
annex-upper-quartile = Upper quartile
annex-maximum = Maximum
annex-col-band = Headline band
annex-col-areas-count = Areas
annex-col-areas = Which areas
annex-band-no-data = Nothing produced (no share)
annex-band-0 = 0%
annex-band-0-25 = Above 0%, under 25%
annex-band-25-50 = 25% to under 50%
annex-band-50-75 = 50% to under 75%
annex-band-75-100 = 75% to under 100%
annex-band-100 = 100%
annex-col-areas-producing = Areas producing it
annex-across-left-out = { $count } of { $total } indicators are produced in no area compared and are left out of this table.
annex-col-areas-with-migration = Areas with migration disaggregation
annex-col-areas-compared = Areas compared
annex-col-areas-with-migration-names = Which areas disaggregate by migratory status

## The publications.
annex-publications-title = The publications read
annex-col-agency = Agency
annex-col-dataset = Dataset
annex-col-dataset-title = Title
annex-col-rows = Rows
annex-col-received = Received
annex-col-store-version = Store version
annex-col-publication = Publication
annex-col-content-hash = Content hash
