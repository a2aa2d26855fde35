"""Parses a Prometheus text exposition (standard input) with the Prometheus project's own
Python client, and prints its metric families as JSON:

    {"<family>": {"type": "counter", "samples": [["<sample>", {"<label>": "<value>"}, <number>], ...]}}

Used by tests/tests/e2e/observability.rs on what `GET /metrics` answered; a document the parser
refuses makes it exit non-zero with the parser's error.
"""

import json
import sys

from prometheus_client.parser import text_string_to_metric_families


def main() -> None:
    families = {}
    for family in text_string_to_metric_families(sys.stdin.read()):
        if family.name in families:
            sys.exit(f"metric family {family.name} appears twice")
        families[family.name] = {
            "type": family.type,
            "samples": [[s.name, s.labels, s.value] for s in family.samples],
        }
    json.dump(families, sys.stdout)


if __name__ == "__main__":
    main()
