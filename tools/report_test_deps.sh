#!/usr/bin/env bash
# The report tests (tests/advice/test_report_render.py) compile a LaTeX report once with pdflatex.
# This installs Debian's texlive-latex-base (pdflatex and the few packages a report uses: inputenc,
# geometry, array, longtable) when pdflatex is missing, as tools/browser_test_deps.sh does for
# chromium; when pdflatex is present it does nothing. On Debian 12 the install adds about 120 MB
# (texlive-base, texlive-binaries, fonts-lmodern) and takes about a minute.
#
#   tools/report_test_deps.sh          install if missing, then print pdflatex's path
#
# Not root and missing: fail, saying the command to run.
set -euo pipefail

die() { echo "report_test_deps: $*" >&2; exit 1; }

if ! command -v pdflatex >/dev/null; then
    [[ $(id -u) -eq 0 ]] || die "pdflatex is not installed and this is not root: run \
sudo apt-get install -y --no-install-recommends texlive-latex-base"
    echo "report_test_deps: installing texlive-latex-base from Debian packages" >&2
    # A lock, so two `make test` in one tree do not run apt-get at once.
    exec 9>/tmp/wattprint-report-deps.lock
    flock 9
    if ! command -v pdflatex >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            texlive-latex-base >&2 || die "apt-get install texlive-latex-base failed"
    fi
fi
command -v pdflatex || die "pdflatex still missing after install"
