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
# Optionally, here too:  bench/gpu.sh wheel   → .gpu/llama-cpp-cuda.tar.gz (the CUDA build
#   done on this CPU with NVIDIA's PyPI compiler: ~30 min of 2 cores, 30 MiB; `device` then
#   unpacks it instead of building)
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
    rm -rf .gpu/wheels .gpu/llama_cpp_python-0.3.36 && mkdir -p .gpu/wheels  # keeps a CUDA build
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
    if [ -f .gpu/llama-cpp-cuda.tar.gz ]; then
        step "unpacking the CUDA build made on the CPU machine (bench/gpu.sh wheel)"
        site=$(.gpu/venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        tar xzf .gpu/llama-cpp-cuda.tar.gz -C "$site" 2>&1 | tail -5 > "$OUT/build.log"
        # Its libraries load CUDA 13's runtime and cuBLAS: the image's, or torch's copies.
        LD_LIBRARY_PATH="$(cuda_libs)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
        export LD_LIBRARY_PATH
        echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" >> "$OUT/build.log"
    else
        step "building llama-cpp-python with CUDA (FlashAttention kernels off to save time)"
        CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF" \
            CMAKE_BUILD_PARALLEL_LEVEL=16 \
            .gpu/venv/bin/pip install -q --no-index --no-build-isolation --find-links .gpu/wheels \
            .gpu/llama_cpp_python-0.3.36 2>&1 | tail -20 > "$OUT/build.log"
    fi
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

cuda_libs() {
    # Folders holding libcudart.so.13 and libcublas.so.13 on this machine, joined with ':'.
    python3 - <<'PY'
import glob, site, sys
roots = site.getsitepackages() + ["/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib"]
found = []
for root in roots:
    for name in ("libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13"):
        for path in glob.glob(f"{root}/{name}") + glob.glob(f"{root}/nvidia/*/lib/{name}"):
            folder = path.rsplit("/", 1)[0]
            if folder not in found:
                found.append(folder)
print(":".join(found))
PY
}

wheel() {
    # llama-cpp-python with CUDA built on this CPU machine: NVIDIA's compiler, headers and
    # libraries from PyPI (CUDA 13.0, as on the GPU machine), sm_90 only, FlashAttention
    # kernels off. Only the wheel travels.
    local cuda=.gpu/cuda/nvidia/cu13
    mkdir -p .gpu/cuda-pkgs .gpu/cuda .gpu/cuda-wheel
    step "downloading NVIDIA's CUDA 13.0 compiler and libraries from PyPI"
    python3 -m pip download -q --no-deps --only-binary :all: -d .gpu/cuda-pkgs \
        "nvidia-cuda-nvcc>=13.0,<13.1" "nvidia-cuda-crt>=13.0,<13.1" "nvidia-nvvm>=13.0,<13.1" \
        "nvidia-cuda-runtime>=13.0,<13.1" "nvidia-cuda-cccl>=13.0,<13.1" "nvidia-cublas>=13.0,<13.2"
    for package in .gpu/cuda-pkgs/*.whl; do python3 -m zipfile -e "$package" .gpu/cuda/; done
    chmod +x "$cuda"/bin/* "$cuda"/nvvm/bin/*
    # nvcc.profile looks for targets/x86_64-linux/{include,lib}; CMake wants unversioned
    # library names, and a libcuda.so to link against (the driver's is loaded at run time).
    mkdir -p "$cuda/targets/x86_64-linux" "$cuda/lib/stubs"
    ln -sfn ../../include "$cuda/targets/x86_64-linux/include"
    ln -sfn ../../lib "$cuda/targets/x86_64-linux/lib"
    for lib in cudart cublas cublasLt; do ln -sf "lib$lib.so.13" "$cuda/lib/lib$lib.so"; done
    printf 'int %s(void) { return 999; }\n' cuMemUnmap cuMemSetAccess cuMemRelease cuMemMap \
        cuMemGetAllocationGranularity cuMemCreate cuMemAddressReserve cuMemAddressFree \
        cuGetErrorString cuDeviceGetAttribute cuDeviceGet > .gpu/cuda/libcuda-stub.c
    cc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$cuda/lib/stubs/libcuda.so" .gpu/cuda/libcuda-stub.c
    step "building the wheel (sm_90, FlashAttention kernels off)"
    local root; root=$(cd "$cuda" && pwd)
    PATH="$root/bin:$PATH" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=90 -DGGML_CUDA_FA=OFF -DCUDAToolkit_ROOT=$root -DCMAKE_CUDA_COMPILER=$root/bin/nvcc" \
        python3 -m pip wheel -q --no-deps --no-cache-dir -w .gpu/cuda-wheel llama-cpp-python==0.3.36 \
        > "$OUT/wheel-build.log" 2>&1
    # A wheel cannot hold links: it has six copies of the 46 MiB CUDA library (lib/ and
    # llama_cpp/lib/, each name), 182 MiB in all. What travels is the installed package
    # with one copy of each library and links for its other names: ~30 MiB.
    rm -rf .gpu/cuda-site
    python3 -m pip install -q --no-deps --target .gpu/cuda-site .gpu/cuda-wheel/llama_cpp_python-*.whl
    (cd .gpu/cuda-site/llama_cpp/lib && for real in lib*.so.*.*; do
        base=${real%%.so.*}
        for name in "$base.so" "$base.so.0"; do rm -f "$name" && ln -s "$real" "$name"; done
    done)
    tar czf .gpu/llama-cpp-cuda.tar.gz -C .gpu/cuda-site llama_cpp llama_cpp_python-0.3.36.dist-info
    ls -la .gpu/llama-cpp-cuda.tar.gz
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
    wheel) wheel ;;
    dry) dry ;;
    *) echo "usage: bench/gpu.sh prepare|wheel|device|dry" >&2; exit 2 ;;
esac
