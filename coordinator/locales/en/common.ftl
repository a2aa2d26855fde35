# Common interface messages (English, the reference language: every other language has the
# same message ids). Placeables: $value, $day, $month, $year, $date, $time, $goal.

language-name = English
not-available = n/a
percent = { $value }%
goal-number = Goal { $goal }

## Dates, as people write them: "2 December 2026".
month-1 = January
month-2 = February
month-3 = March
month-4 = April
month-5 = May
month-6 = June
month-7 = July
month-8 = August
month-9 = September
month-10 = October
month-11 = November
month-12 = December
date-long = { $day } { $month } { $year }
datetime-long = { $date }, { $time } UTC

## The two views of the store.
view-official = official
view-provisional = provisional

## Status words.
status-complete = Complete
status-in_progress = In progress
status-not_started = Not started
status-not_applicable = Not applicable
status-reported = Reported
status-not_reported = Not reported
status-out_of_scope = Out of scope
status-no_data = No data
status-received_on_time = Received on time
status-received_late = Received late
status-overdue = Overdue
status-upcoming = Upcoming
status-submitted = Awaiting approval
status-approved = Approved
status-rejected = Rejected
status-released = Released
status-withdrawn = Withdrawn

## Columns: breakdowns and attributes.
dim-indicator = Indicator
dim-series = Series
dim-ref_area = Area
dim-time_period = Year
dim-freq = Frequency
dim-reporting_type = Reporting type
dim-sex = Sex
dim-age = Age
dim-urbanisation = Urbanisation
dim-income_wealth_quantile = Income or wealth quantile
dim-education_lev = Level of education
dim-occupation = Occupation
dim-cust_breakdown = Custom breakdown
dim-composite_breakdown = Composite breakdown
dim-disability_status = Disability status
dim-activity = Economic activity
dim-product = Product
dim-migratory_status = Migratory status
dim-obs_value = Value
dim-unit_measure = Unit
dim-unit_mult = Unit multiplier
dim-obs_status = Observation status
dim-conf_status = Confidentiality
dim-nature = Nature
dim-lower_bound = Lower bound
dim-upper_bound = Upper bound

## Codes people meet most; every other code reads as its codelist's name.
code-any-_T = Total
code-any-_Z = Not applicable
code-sex-F = Female
code-sex-M = Male
code-sex-_T = Both sexes
code-migratory_status-_T = All persons
code-migratory_status-MS_MIGRANT = Migrants
code-migratory_status-MS_NOMIGRANT = Non-migrants
code-migratory_status-MS_EUMIGRANT = EU migrants
code-migratory_status-MS_NONEUMIGRANT = Non-EU migrants
code-migratory_status-NMS_FOREIGN_BORN = Foreign-born
code-migratory_status-NMS_NATIVE_BORN = Native-born
code-migratory_status-NMS_NONCITIZEN = Non-citizens
code-migratory_status-NMS_CITIZEN = Citizens
code-migratory_status-NMS_RETURNED = Returned migrants
code-migratory_status-NMS_INTERNAL = Internal migrants
code-migratory_status-NMS_IDP = Internally displaced persons
code-migratory_status-NMS_REFUGEE = Refugees
code-migratory_status-NMS_ASYLUM_SEEKER = Asylum seekers
code-migratory_status-NMS_STATELESS = Stateless persons
code-freq-A = Annual
code-freq-S = Half-yearly, semester
code-freq-Q = Quarterly
code-freq-M = Monthly
code-urbanisation-U = Urban
code-urbanisation-R = Rural
code-unit_measure-PT = Percent
code-unit_measure-NUMBER = Number
code-unit_measure-PER_100000_POP = Per 100,000 population
code-unit_measure-USD = US dollars
code-obs_status-A = Normal value
code-obs_status-E = Estimated value
code-obs_status-M = Missing value
code-obs_status-P = Provisional value
code-conf_status-F = Free for publication
code-conf_status-C = Confidential
code-conf_status-D = Suppressed to protect another cell
code-conf_status-N = Not for publication
