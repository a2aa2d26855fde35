"""The statistical office's sign-off in the demo federation, over the coordinator's HTTP API
with an approver token: approves every submitted publication but the newest, then shows the
one left pending as the review queue does (its row diff and figure impact).

Usage: signoff-demo.py <http address> <approver token>
Standard library only (it runs before the project's Python environment exists).
"""

import sys

import demo_http

base, token = sys.argv[1], sys.argv[2]


def call(method: str, path: str, body=None):
    return demo_http.call(base, token, method, path, body)


def share(f):
    s = f["share"]
    return f"{f['numerator']}/{f['denominator']}" + ("" if s is None else f" = {100 * s:.1f}%")


queue = call("GET", "/api/v1/review")
submitted = queue["submitted"]
*approve, pending = submitted
for p in approve:
    d = call("POST", f"/api/v1/publications/{p['publication_id']}/approve", {})
    print(f"approved {p['agency']}/{p['dataset']} ({p['rows']} rows) at store version {d['store_version']}")
review = call("GET", f"/api/v1/review/{pending['publication_id']}")
diff, impact = review["rows_diff"], review["impact"]
print(f"pending:  {pending['agency']}/{pending['dataset']} ({pending['title']}), {pending['rows']} rows, "
      f"{review['warnings']} quality warning(s)")
print(f"          rows against its official version: {diff['added']} added, {diff['removed']} removed, "
      f"{diff['changed']} changed, {diff['unchanged']} unchanged")
print(f"          headline now {share(impact['now']['headline'])}; if approved {share(impact['if_approved']['headline'])}")
print(f"          reporting status now {share(impact['now']['reporting'])}; if approved {share(impact['if_approved']['reporting'])}")
if impact["newly_migration_disaggregated"]:
    print(f"          newly disaggregated by migratory status: {', '.join(impact['newly_migration_disaggregated'])}")
