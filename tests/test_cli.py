"""The command line, run as a user runs it: a subprocess with real models."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def pychat(*args: str, stdin: str | None = None, cwd: Path | None = None
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pychat", *args], input=stdin, text=True,
                          capture_output=True, timeout=300, cwd=cwd, env=os.environ.copy())


def test_version_and_help() -> None:
    from pychat import __version__

    assert pychat("--version").stdout.strip() == f"pychat {__version__}"
    out = pychat("--help").stdout
    for flag in ("--model", "--gpu-layers", "--ctx", "--system", "--config", "ask", "models"):
        assert flag in out


@pytest.mark.parametrize("args", [["--bogus"], ["--gpu-layers", "lots"], ["--ctx", "-5"]])
def test_bad_flags_exit_non_zero_without_traceback(args: list[str]) -> None:
    result = pychat(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr


def test_missing_model_is_one_clear_line(tmp_path: Path) -> None:
    result = pychat("--model", "no-such-model", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "Model not found: no-such-model" in result.stderr


def test_missing_config_file_is_one_clear_line(tmp_path: Path) -> None:
    result = pychat("--config", str(tmp_path / "nope.toml"), "models")
    assert result.returncode == 1
    assert result.stderr.strip() == f"pychat: config file not found: {tmp_path / 'nope.toml'}"


def test_unreadable_config_exits_non_zero(tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()  # a folder where a file should be
    result = pychat("--config", str(folder))
    assert result.returncode == 1 and "Traceback" not in result.stderr


def test_broken_config_fails_headless_commands_clearly(tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[sampling]\ntemperature = 'hot'\n")
    result = pychat("--config", str(config), "ask", "hi")
    assert result.returncode == 1
    assert f"{config}:2: sampling.temperature: expected a number" in result.stderr


@pytest.mark.slow
def test_models_lists_the_demo_model_and_estimates(demo_model: Path, tmp_path: Path) -> None:
    result = pychat("models", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "gemma-3-270m-q4_k_m.gguf" in result.stdout
    assert "gemma3 · 268M params · Q4_K_M" in result.stdout
    estimate = pychat("models", "--gpu-layers", "10", "--ctx", "2048", cwd=tmp_path)
    assert "VRAM estimate at gpu_layers=10, n_ctx=2048" in estimate.stdout


@pytest.mark.slow
def test_ask_streams_a_reply(smollm_model: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[sampling]\nmax_tokens = 6\nseed = 1\n")
    result = pychat("ask", "Say hello", "--stats", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "llama_model_loader" not in result.stdout + result.stderr
    assert "tok/s" in result.stderr
    piped = pychat("ask", "-", stdin="Say hello", cwd=tmp_path)
    assert piped.returncode == 0 and piped.stdout.strip()
