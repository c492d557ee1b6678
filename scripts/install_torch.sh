#!/usr/bin/env bash
# Install torch into a venv: asked of PyTorch's CPU wheel index first (where a pinned torch is the CPU
# build), else of the default index (where a pinned torch is a CUDA build of several GB on Linux x86_64),
# and say which build it got and where from. Usage: scripts/install_torch.sh PYTHON SPEC [INDEX]
set -uo pipefail
py=${1:?python}; spec=${2:?torch spec}; index=${3-https://download.pytorch.org/whl/cpu}
report=$(mktemp); trap 'rm -f "$report"' EXIT
if [ -n "$index" ] && "$py" -m pip install --quiet --retries 0 --timeout 10 --index-url "$index" \
	--report "$report" "$spec" 2>/dev/null; then
	:
elif ! "$py" -m pip install --quiet --report "$report" "$spec"; then
	echo "install_torch: could not install $spec (from $index or the default index)" >&2
	exit 1
fi
"$py" - "$report" <<'PY'
import json, sys
import torch
urls = [i["download_info"]["url"] for i in json.load(open(sys.argv[1])).get("install", [])
        if i["metadata"]["name"] == "torch"]
build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only"
print(f"torch {torch.__version__} ({build}), from {urls[0] if urls else 'the environment (already installed)'}")
if torch.version.cuda:
    print("  a CUDA build: on a CPU-only machine use PyTorch's CPU wheel index (docs/gpus.md)")
PY
