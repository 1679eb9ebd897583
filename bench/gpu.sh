#!/usr/bin/env bash
# One command on the lent GPU machine (see the device tool): build llama-cpp-python with
# CUDA from a trimmed source tree, then run the GPU tests (tests/test_gpu_device.py) and
# `pychat models` for a GPU-shaped model, with results under $OUT.
#
# Prepare here (network), once:  bench/gpu.sh prepare   → .gpu/ (ignored; carry it)
#   - the llama-cpp-python 0.3.36 sdist, trimmed of llama.cpp's docs, examples, tests,
#     models and non-CUDA GPU backends (the whole sdist is 76.6 MB, over the 64 MiB a call
#     may carry);
#   - py3.12 wheels of PyChat's pure-Python dependencies.
# Then on the device:  run(command="bash bench/gpu.sh device", carry=[".gpu"])
# Here, on a CPU, every measuring step on small shapes:  bash bench/gpu.sh dry
#
# Written for issues 12 and 22; it has NOT run on a GPU yet (no GPU was lent to the
# sessions that wrote it), so expect to fix a step on its first run. `dry` ran here.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/gpu-out}"
mkdir -p "$OUT"
START=$(date +%s)
step() { echo "[$(( $(date +%s) - START )) s] $*" | tee -a "$OUT/progress.log"; }

prepare() {
    rm -rf .gpu && mkdir -p .gpu/wheels
    python3 -m pip download --no-binary :all: --no-deps -d .gpu llama-cpp-python==0.3.36
    tar -xzf .gpu/llama_cpp_python-0.3.36.tar.gz -C .gpu && rm .gpu/*.tar.gz
    src=.gpu/llama_cpp_python-0.3.36/vendor/llama.cpp
    rm -rf "$src"/{docs,examples,tests,models,media,gguf-py,scripts,tools/server/public*}
    for backend in "$src"/ggml/src/ggml-*/; do
        case "$(basename "$backend")" in ggml-cuda|ggml-cpu|ggml-blas) ;; *) rm -rf "$backend" ;; esac
    done
    python3 -m pip download -d .gpu/wheels --only-binary :all: --python-version 3.12 \
        textual tomli-w tomlkit nvidia-ml-py platformdirs psutil gguf numpy jinja2 \
        diskcache typing-extensions pytest pytest-asyncio
    du -sh .gpu
}

device() {
    step "venv"
    python3 -m venv --system-site-packages .gpu/venv  # the machine has CMake, scikit-build-core
    .gpu/venv/bin/pip install -q --no-index --find-links .gpu/wheels \
        textual tomli-w tomlkit nvidia-ml-py platformdirs psutil gguf numpy jinja2 \
        diskcache typing-extensions pytest pytest-asyncio
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu.csv"
    nvcc --version | tail -2 >> "$OUT/gpu.csv"
    step "building llama-cpp-python with CUDA (FlashAttention kernels off to save time)"
    CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF" \
        CMAKE_BUILD_PARALLEL_LEVEL=16 \
        .gpu/venv/bin/pip install -q --no-index --no-build-isolation --find-links .gpu/wheels \
        .gpu/llama_cpp_python-0.3.36 2>&1 | tail -20 > "$OUT/build.log"
    .gpu/venv/bin/pip install -q --no-index --no-deps -e .
    .gpu/venv/bin/python -c "import llama_cpp; print('offload:', \
        llama_cpp.llama_supports_gpu_offload())" | tee "$OUT/offload.txt"
    step "GPU tests"
    .gpu/venv/bin/python -m pytest -q -rs -s -m gpu tests/test_gpu_device.py \
        2>&1 | tee "$OUT/gpu-tests.txt" | tail -30 || true
    step "measurements: Llama-3 1B and 8B shapes (bench/gpu_device.py)"
    .gpu/venv/bin/python bench/gpu_device.py "$OUT" 2>&1 | tee "$OUT/gpu-device.log" | grep "^\[" || true
    step "done"
}

dry() {
    step "dry run on this machine's CPU (small shapes, no NVML)"
    .venv/bin/python bench/gpu_device.py "$OUT" --dry 2>&1 | grep "^\["
    step "done"
}

case "${1:-}" in
    prepare) prepare ;;
    device) device ;;
    dry) dry ;;
    *) echo "usage: bench/gpu.sh prepare|device|dry" >&2; exit 2 ;;
esac
