#!/bin/sh
# The statistics benchmark (see bench/README.md): 1,000 simulated vServers sampled every 10 s,
# direct librrd versus rrdcached; writes the Statistics section of docs/BENCHMARKS.md.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
