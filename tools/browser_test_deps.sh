#!/usr/bin/env bash
# The dashboard's browser tests (tests/dashboard/) drive a real headless Chromium through Selenium.
# This installs the Debian packages `chromium` and `chromium-driver` when either is missing, as
# tools/pg_test_server.sh does for PostgreSQL; when both are present it does nothing. No browser is
# downloaded from anywhere else (Selenium Manager is never used: the tests name the driver's path).
#
#   tools/browser_test_deps.sh          install if missing, then print the two paths
#
# Not root and missing: fail, saying the command to run.
set -euo pipefail

die() { echo "browser_test_deps: $*" >&2; exit 1; }

find_browser() { command -v chromium || command -v chromium-browser || true; }
find_driver() { command -v chromedriver || { [[ -x /usr/bin/chromedriver ]] && echo /usr/bin/chromedriver; } || true; }

if [[ -z "$(find_browser)" || -z "$(find_driver)" ]]; then
    [[ $(id -u) -eq 0 ]] || die "chromium and chromium-driver are not installed and this is not \
root: run sudo apt-get install -y --no-install-recommends chromium chromium-driver"
    echo "browser_test_deps: installing chromium and chromium-driver from Debian packages" >&2
    # A lock, so two `make test` in one tree do not run apt-get at once.
    exec 9>/tmp/wattprint-browser-deps.lock
    flock 9
    if [[ -z "$(find_browser)" || -z "$(find_driver)" ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium chromium-driver >&2 || die "apt-get install chromium chromium-driver failed"
    fi
fi
browser="$(find_browser)"; driver="$(find_driver)"
[[ -n $browser && -n $driver ]] || die "chromium or chromedriver still missing after install"
echo "$browser"
echo "$driver"
