"""Kafka ACLs for a Baton deployment, from its contract (see deploy/kafka/acl.md).

    python deploy/kafka/acl.py --contract examples/contract --format kafka-acls \
        --bootstrap kafka:9093 --command-config admin.properties > acls.sh
    python deploy/kafka/acl.py --contract examples/contract --format lines > acls.txt
    java -cp "<kafka libs>/*" deploy/kafka/acl_apply.java admin.properties acls.txt

The rules live in ``router.acl`` (tested in tests/unit/test_routing_acl.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from router.acl import bindings, render_kafka_acls, render_lines

from shared.contract import load_contract


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contract", type=Path, required=True)
    parser.add_argument("--prefix", default="baton.", help="BATON_TOPIC_PREFIX")
    parser.add_argument("--group-prefix", default="baton.", help="BATON_GROUP_PREFIX")
    parser.add_argument("--format", choices=("lines", "kafka-acls"), default="lines")
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--command-config", default="admin.properties")
    args = parser.parse_args(argv)
    acls = bindings(load_contract(args.contract), args.prefix, args.group_prefix)
    if args.format == "lines":
        sys.stdout.write(render_lines(acls))
    else:
        sys.stdout.write(render_kafka_acls(acls, args.bootstrap, args.command_config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
