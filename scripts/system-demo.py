"""The three-level demo's calls to the coordinators' HTTP APIs (scripts/demo.sh --system).

Usage:
  system-demo.py wait <http> <token> <seconds> <agency/dataset>...   waits (polling, with a
      deadline) until the coordinator's log holds every named dataset; prints each one's rows
  system-demo.py approve-all <http> <approver token>                 approves every submitted
      publication
  system-demo.py not-relayed <http> <admin token>                    why datasets were not
      relayed upstream at the coordinator's last look (GET /api/v1/admin/upstream)
Standard library only.
"""

import sys
import time

from demo_http import call


def wait(base: str, token: str, seconds: str, wanted: list[str]) -> int:
    deadline = time.monotonic() + float(seconds)
    while True:
        log = call(base, token, "GET", "/api/v1/publications")["publications"]
        held = {f"{p['agency']}/{p['dataset']}": p for p in log}
        missing = [w for w in wanted if w not in held]
        if not missing:
            for w in wanted:
                p = held[w]
                print(f"arrived {w} ({p['rows']} rows; indicators {', '.join(p['manifest']['indicators'])})")
            return 0
        if time.monotonic() > deadline:
            print(f"not arrived after {seconds}s: {', '.join(missing)}", file=sys.stderr)
            return 1
        time.sleep(0.2)


def approve_all(base: str, token: str) -> int:
    for p in call(base, token, "GET", "/api/v1/review")["submitted"]:
        d = call(base, token, "POST", f"/api/v1/publications/{p['publication_id']}/approve", {})
        print(f"approved {p['agency']}/{p['dataset']} ({p['rows']} rows) at store version {d['store_version']}")
    return 0


def not_relayed(base: str, token: str) -> int:
    status = call(base, token, "GET", "/api/v1/admin/upstream")
    for dataset, why in sorted(status.get("problems", {}).items()):
        print(f"not relayed: {dataset}: {why.rstrip()}")
    return 0


if __name__ == "__main__":
    command, base, token, *rest = sys.argv[1:]
    if command == "wait":
        sys.exit(wait(base, token, rest[0], rest[1:]))
    elif command == "approve-all":
        sys.exit(approve_all(base, token))
    elif command == "not-relayed":
        sys.exit(not_relayed(base, token))
    sys.exit(f"unknown command {command}")
