"""`shiftlane run` starts without the libraries only some Rollouts need: boto3/botocore (ECR, CloudWatch,
SigV4) and the JSONPath library (the web provider) are loaded on first use, not by every operator."""

from __future__ import annotations

import subprocess
import sys

# What `shiftlane run` imports and makes before any Rollout: the CLI, the operator, its handlers, an ECR adapter.
STARTUP = """
import sys
import shiftlane.cli.main, shiftlane.controller.run, shiftlane.controller.handlers
from shiftlane.registry.ecr import Ecr
Ecr()
print(" ".join(sorted({name.split(".")[0] for name in sys.modules} & {"boto3", "botocore", "jsonpath"})))
"""


def test_an_operator_with_nothing_to_check_on_aws_loads_neither_boto3_nor_jsonpath() -> None:
    loaded = subprocess.run([sys.executable, "-c", STARTUP], check=True, capture_output=True, text=True).stdout.split()
    assert loaded == []
