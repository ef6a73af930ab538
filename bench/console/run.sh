#!/bin/sh
# The console benchmark (see bench/README.md): webrackd's console proxy versus websockify.
exec /usr/bin/python3 "$(dirname "$0")/run.py" "$@"
