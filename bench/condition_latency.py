"""How long judging a measurement takes: the CEL child's start, a scalar, and a long series.

    .venv/bin/python bench/condition_latency.py [--points 11000] [--repeat 200]

No cluster needed. Prints milliseconds; figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import time

from shiftlane.analysis.condition import judge
from shiftlane.analysis.measurement import Measurement


def timed(measurement: Measurement, success: str, failure: str | None, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        judge(measurement, success, failure)
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=11000, help="length of the series (Prometheus' most per query)")
    parser.add_argument("--repeat", type=int, default=200)
    options = parser.parse_args()
    start = time.perf_counter()
    judge(Measurement(value=0.01), "result < 0.05", None)
    print(f"first judge (starts the CEL child): {(time.perf_counter() - start) * 1000:.0f} ms")
    cases = [
        ("scalar, success and failure", Measurement(value=0.01), "result < 0.05", "result > 0.1"),
        (f"{options.points}-point series, result.all(...)", Measurement(value=[0.01] * options.points),
         "result.all(x, x < 0.05)", None),
    ]
    for name, measurement, success, failure in cases:
        times = timed(measurement, success, failure, options.repeat if "scalar" in name else max(10, options.repeat // 10))
        print(f"{name}: p50 {statistics.median(times):.2f} ms, max {max(times):.2f} ms")


if __name__ == "__main__":
    main()
