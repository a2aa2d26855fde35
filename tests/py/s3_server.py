"""An S3-compatible server for the object-store tests: moto's, on a free port of 127.0.0.1 (or
of the address given second: the compose system test serves the containers on the Docker
bridge's gateway).

Usage: s3_server.py BUCKET [ADDRESS]
Creates the bucket, prints one JSON line {"endpoint": "http://ADDRESS:PORT"} and serves until
its standard input closes.
"""
import json
import sys

import boto3
from moto.server import ThreadedMotoServer


def main() -> None:
    bucket = sys.argv[1]
    address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
    server = ThreadedMotoServer(ip_address=address, port=0, verbose=False)
    server.start()
    port = server._server.server_port  # the port the OS gave to port 0
    endpoint = f"http://{address}:{port}"
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    s3.create_bucket(Bucket=bucket)
    print(json.dumps({"endpoint": endpoint}), flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
