"""Sums an ncu CSV of gpu__time_duration per kernel name and prints the
kernels that took the most device time (see gpu_decode_profile.py).

    python benchmarks/ncu_kernel_table.py kernels.csv [--top 30]
"""

import argparse
import collections
import csv
import io
import re


def short_name(name):
    """A kernel's name without its template arguments and parameter list."""
    name = re.sub(r"\(.*\)$", "", name)
    depth, out = 0, []
    for ch in name:
        depth += ch == "<"
        if depth == 0:
            out.append(ch)
        depth -= ch == ">"
    return "".join(out).replace("void ", "").strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("--top", type=int, default=30)
    args = ap.parse_args()
    text = open(args.csv).read()
    # ncu prints its own log lines before the CSV header.
    text = text[text.index('"ID"'):]
    total = collections.defaultdict(float)
    count = collections.Counter()
    for row in csv.DictReader(io.StringIO(text)):
        if row["Metric Name"] != "gpu__time_duration.sum":
            continue
        ns = float(row["Metric Value"].replace(",", ""))
        ns *= {"ns": 1, "nsecond": 1, "us": 1e3, "usecond": 1e3, "ms": 1e6, "msecond": 1e6}.get(
            row["Metric Unit"], 1)
        key = short_name(row["Kernel Name"])
        total[key] += ns / 1e3
        count[key] += 1
    all_us = sum(total.values())
    print(f"{sum(count.values())} kernels, {all_us:.0f} us of device time")
    print(f"{'kernel':60s} {'calls':>6s} {'us':>9s} {'us/call':>8s} {'share':>6s}")
    for key, us in sorted(total.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"{key[:60]:60s} {count[key]:6d} {us:9.1f} {us / count[key]:8.2f} {us / all_us:6.1%}")


if __name__ == "__main__":
    main()
