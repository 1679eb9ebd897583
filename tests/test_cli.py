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


def test_history_and_export_without_a_history_file(tmp_path: Path) -> None:
    listed = pychat("history", cwd=tmp_path)
    assert listed.returncode == 1 and "no chats kept yet" in listed.stderr
    assert "Traceback" not in listed.stderr
    assert not list((tmp_path / "home" / "data").rglob("*.sqlite3"))  # nothing created
    bad = pychat("export", "zero", cwd=tmp_path)
    assert bad.returncode == 2 and "a chat number is a whole number" in bad.stderr


@pytest.mark.slow  # a long journey through the app
def test_history_lists_searches_and_exports_kept_chats(tmp_path: Path) -> None:
    from pychat.locations import user_data_dir
    from pychat.store import Store

    store, _ = Store.open(user_data_dir() / "history.sqlite3")
    lisbon = store.new_chat("Trip to Lisbon", "one.gguf", {})
    store.add_message(lisbon, 0, "user", "Which tram goes to the castle?", "ok")
    store.add_message(lisbon, 1, "assistant", "Tram 28 does.", "stopped", "one.gguf", 1)
    bread = store.new_chat("Bread", "", {})
    store.add_message(bread, 0, "user", "How long does dough rise?", "ok")
    store.close()
    listed = pychat("history", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "Trip to Lisbon" in listed.stdout and "Bread" in listed.stdout
    found = pychat("history", "--search", "tram", cwd=tmp_path)
    assert "Trip to Lisbon" in found.stdout and "Bread" not in found.stdout
    assert "Which tram" in found.stdout or "Tram 28" in found.stdout  # the snippet
    exported = pychat("export", str(lisbon), cwd=tmp_path)
    assert exported.stdout.startswith("# Trip to Lisbon")
    assert "Tram 28 does." in exported.stdout and "*(stopped)*" in exported.stdout
    written = pychat("export", str(lisbon), "-o", str(tmp_path / "chat.md"), cwd=tmp_path)
    assert written.returncode == 0
    assert (tmp_path / "chat.md").read_text(encoding="utf-8") == exported.stdout
    missing = pychat("export", "99", cwd=tmp_path)
    assert missing.returncode == 1 and "there is no chat 99" in missing.stderr
    unwritable = pychat("export", str(lisbon), "-o", str(tmp_path / "no" / "dir.md"),
                        cwd=tmp_path)
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stderr


@pytest.mark.slow
def test_ask_continue_adds_a_turn_to_a_kept_chat(smollm_model: Path, tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[sampling]\nmax_tokens = 8\nseed = 1\n")
    first = pychat("ask", "What is the capital of France?", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    follow = pychat("ask", "--continue", "And of Spain?", cwd=tmp_path)
    assert follow.returncode == 0, follow.stderr
    again = pychat("ask", "--continue", "1", "And of Italy?", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    exported = pychat("export", "1", cwd=tmp_path).stdout
    questions = [line for line in exported.splitlines() if line.startswith(("What", "And"))]
    assert questions == ["What is the capital of France?", "And of Spain?", "And of Italy?"]
    assert exported.count("## You") == 3 and exported.count("## SmolLM2") == 3
    listed = pychat("history", cwd=tmp_path).stdout
    assert listed.count("What is the capital") == 1  # one chat, not three
    missing = pychat("ask", "--continue", "42", "hello", cwd=tmp_path)
    assert missing.returncode == 1 and "there is no chat 42" in missing.stderr


@pytest.mark.slow
def test_ask_writes_nothing_when_the_message_cannot_fit(smollm_model: Path,
                                                        tmp_path: Path) -> None:
    """`> file` must not keep a 1-byte file: a failure writes nothing to stdout."""
    config = tmp_path / "config.toml"
    config.write_text(f'[models."{smollm_model.name}"]\nn_ctx = 128\n')
    result = pychat("ask", "word " * 400, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("pychat: The message needs") and \
        result.stderr.count("\n") == 1


@pytest.mark.slow
def test_models_marks_an_unknown_architecture_unusable(tmp_path: Path) -> None:
    from tests.support.gguf import write_tiny_llama, write_unknown_arch

    (tmp_path / "models").mkdir()
    write_unknown_arch(tmp_path / "models" / "alien.gguf")
    write_tiny_llama(tmp_path / "models" / "tiny.gguf")
    result = pychat("models", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    alien = lines.index("alien.gguf")
    assert lines[alien + 2] == ("  unusable: unknown model architecture 'frobnicator': "
                                "llama.cpp cannot run it")
    assert "llama" in lines[lines.index("tiny.gguf") + 2]
