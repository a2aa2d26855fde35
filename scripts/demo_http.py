"""One call to a coordinator's HTTP API with a bearer token, for the demo scripts
(signoff-demo.py, system-demo.py). Standard library only."""

import json
import urllib.request


def call(base: str, token: str, method: str, path: str, body=None):
    """`method` `path` on the coordinator at `base` (host:port), JSON in (`body`) and out."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://{base}{path}", data=data, method=method)
    req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as r:
        return json.load(r)
