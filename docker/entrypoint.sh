#!/bin/sh
# The server image's entrypoint: bring the database to the newest schema, then serve.
# Settings come from WATTPRINT_SERVER_* variables (see compose.yaml) or a config file named by
# WATTPRINT_SERVER_CONFIG; extra arguments go to `wattprint server serve`.
# `exec` makes the server process 1 of the container, so `docker stop`'s SIGTERM reaches it and
# in-flight requests finish (WATTPRINT_SERVER_SHUTDOWN_TIMEOUT_S) before it exits.
set -eu
wattprint server migrate
exec wattprint server serve "$@"
