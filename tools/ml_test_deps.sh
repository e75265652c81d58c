#!/usr/bin/env bash
# The framework integrations' tests (tests/integrations/) train tiny models with torch, which
# transformers, lightning and keras (torch backend) then share. PyPI's torch for Linux x86_64 is
# the CUDA build (with several GB of NVIDIA libraries); the tests need only the CPU build
# (`+cpu`, ~190 MB download). This installs it into the given Python's environment when that
# environment has no torch; a torch already there (CPU or CUDA) is kept. Run before
# `pip install --group test`, so the group's frameworks find torch installed and pull no other.
#
#   tools/ml_test_deps.sh .venv/bin/python
#
# Where from: first pip's own configured sources (a wheel folder or mirror that carries the
# `+cpu` build: this project's machines have it in their find-links folder), then the PyTorch
# project's CPU index. Neither: fail, saying what to run; never the CUDA build.
set -euo pipefail

python="${1:?usage: tools/ml_test_deps.sh PYTHON}"
TORCH_VERSION=2.13.0
CPU_INDEX=https://download.pytorch.org/whl/cpu

if "$python" -c "import torch" 2>/dev/null; then
    exit 0
fi
echo "ml_test_deps: installing torch $TORCH_VERSION+cpu for tests/integrations" >&2
if "$python" -m pip install --quiet "torch==$TORCH_VERSION+cpu" 2>/dev/null; then
    exit 0
fi
"$python" -m pip install --quiet --retries 1 --timeout 30 --index-url "$CPU_INDEX" \
    "torch==$TORCH_VERSION+cpu" || {
    echo "ml_test_deps: could not install torch's CPU build (not in pip's sources, $CPU_INDEX" \
         "unreachable); install one yourself (pip install --index-url $CPU_INDEX torch) and run" \
         "make test again" >&2
    exit 1
}
