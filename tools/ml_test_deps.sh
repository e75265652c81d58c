#!/usr/bin/env bash
# The framework integrations' tests (tests/integrations/) train tiny models with torch, which
# transformers, lightning and keras (torch backend) then share. PyPI's torch for Linux x86_64 is
# the CUDA build (with several GB of NVIDIA libraries); the tests need the CPU build, from the
# PyTorch project's CPU index. This installs it into the given Python's environment when that
# environment has no torch; a torch already there (CPU or CUDA) is kept. Run before
# `pip install --group test`, so the group's frameworks find torch installed and pull no other.
#
#   tools/ml_test_deps.sh .venv/bin/python
set -euo pipefail

python="${1:?usage: tools/ml_test_deps.sh PYTHON}"
TORCH_VERSION=2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu

if "$python" -c "import torch" 2>/dev/null; then
    exit 0
fi
echo "ml_test_deps: installing torch $TORCH_VERSION (CPU build) for tests/integrations" >&2
"$python" -m pip install --quiet --index-url "$CPU_INDEX" "torch==$TORCH_VERSION" || {
    echo "ml_test_deps: could not install the CPU build of torch from $CPU_INDEX; install a" \
         "torch yourself (pip install --index-url $CPU_INDEX torch) and run make test again" >&2
    exit 1
}
