#!/bin/sh
# The placement benchmark (see bench/README.md): builds simagents and pickbench, runs
# bench/placement/run.py with the system Python, writes the Placement section of
# docs/BENCHMARKS.md.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
