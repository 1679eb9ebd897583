"""Hostile input, in process: crafted model files and configs, the config writer, key
remaps, the memory check and big pastes. (The same files through the real command line
and a pty are in test_hostile_cli.py.)"""

from __future__ import annotations

import json
import os
import stat
import time
import tomllib
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest
from textual import events

from pychat.config import ModelSettings, load_config
from pychat.config_writer import save_model_settings
from pychat.engine.models import ModelCatalog, discover_models, read_model_info
from pychat.errors import ConfigError
from pychat.library import Overrides
from pychat.session.events import ModelLoadFailed, StateChanged
from pychat.ui.picker import ModelPicker
from tests.support.app import (
    SIZE,
    fake_app,
    idle,
    notifications,
    pick,
    ready,
    replies,
    type_and_send,
    wait_for,
)
from tests.support.gguf import TinySpec, write_tiny_llama
from tests.support.hostile import CONFIG_CORPUS, write_config, write_model_corpus
from tests.support.session import fake_session

UNSAFE = [chr(c) for c in (*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0))] + [
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"]


def assert_inert(text: str) -> None:
    found = sorted({repr(c) for c in text if c in UNSAFE})
    assert not found, f"control characters in {text[:200]!r}: {found}"


# ---------------------------------------------------------------------------- model files


def test_every_crafted_model_is_listed_with_its_reason(tmp_path: Path) -> None:
    expected = write_model_corpus(tmp_path / "models")
    assert len(expected) >= 15
    paths = discover_models(tmp_path / "models")
    listed = {p.name: p for p in paths}
    catalog = ModelCatalog(tmp_path / "cache.json")
    times = {}
    for raw_name, path in listed.items():
        started = time.perf_counter()
        info = catalog.info(path)
        times[raw_name] = time.perf_counter() - started
        name = info.file_name
        assert_inert(name + info.describe() + info.error)
        reason = expected[name]
        if reason:
            assert not info.ok and reason in info.error, (name, info.error)
        else:
            assert info.ok, (name, info.error)
    assert {listed[n].name for n in listed} and len(listed) == len(expected)
    catalog.save()
    slowest = max(times, key=times.__getitem__)
    print(f"\n{len(times)} crafted files listed; slowest {slowest!r}: "
          f"{times[slowest] * 1000:.1f} ms; cache {os.path.getsize(tmp_path / 'cache.json')} B")
    assert os.path.getsize(tmp_path / "cache.json") < 64 * 1024  # no giant layer lists


def test_a_header_that_claims_millions_of_blocks_allocates_nothing(tmp_path: Path) -> None:
    write_model_corpus(tmp_path / "models")
    before = psutil.Process().memory_info().rss
    info = read_model_info(tmp_path / "models" / "blocks-2e27.gguf")
    assert "invalid layer count" in info.error and info.layer_bytes == []
    assert psutil.Process().memory_info().rss - before < 16 * 2**20


def test_a_corrupt_metadata_cache_is_dropped_and_rebuilt(tmp_path: Path) -> None:
    cache = tmp_path / "models.json"
    cache.write_text("[" * 100_000 + "]" * 100_000)
    model = write_tiny_llama(tmp_path / "m.gguf")
    catalog = ModelCatalog(cache)
    assert catalog.info(model).ok
    catalog.save()
    assert str(model.resolve()) in json.loads(cache.read_text())
    cache.write_text('{"x": [1, 2, {"layer_bytes": "nonsense"}]}')
    assert ModelCatalog(cache).info(model).ok


# ---------------------------------------------------------------------------- configs


@pytest.mark.parametrize("name", sorted(CONFIG_CORPUS))
def test_every_crafted_config_loads_or_says_why(tmp_path: Path, name: str) -> None:
    content, expectation = CONFIG_CORPUS[name]
    path = tmp_path / "config.toml"
    write_config(path, content)
    started = time.perf_counter()
    loaded = load_config(path)
    elapsed = time.perf_counter() - started
    assert elapsed < 5, f"{name} took {elapsed:.1f} s"
    for message in loaded.errors + loaded.warnings:
        assert_inert(message)
        assert str(path) in message
    kind, _, needle = expectation.partition(":")
    if kind == "ok":
        assert loaded.errors == [] and loaded.warnings == []
    elif kind == "error":
        assert any(needle in e for e in loaded.errors), loaded.errors
    else:
        assert loaded.errors == [] and any(needle in w for w in loaded.warnings), loaded.warnings


def test_the_corpus_is_big_enough() -> None:
    assert len(CONFIG_CORPUS) >= 20


# ---------------------------------------------------------------------------- the writer


def loaded_with(tmp_path: Path, text: str) -> tuple[Path, object]:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path, load_config(path)


def test_saving_keeps_comments_order_and_other_values(tmp_path: Path) -> None:
    text = ('# my settings\nsystem_prompt = "Be brief."  # short answers\n\n'
            '[models."a.gguf"]\n# tuned by hand\ngpu_layers = 10\nn_ctx = 2048\n'
            'chat_format = "chatml"\n\n[sampling]\ntemperature = 0.2\n')
    path, loaded = loaded_with(tmp_path, text)
    save_model_settings(loaded, "a.gguf", ModelSettings(gpu_layers=12, n_ctx=4096))
    save_model_settings(loaded, "b.gguf", ModelSettings(gpu_layers="auto", n_ctx=1024))
    after = path.read_text()
    for kept in ("# my settings", "# short answers", "# tuned by hand", 'chat_format = "chatml"'):
        assert kept in after
    assert after.index("system_prompt") < after.index('[models."a.gguf"]') < \
        after.index("[sampling]")
    data = tomllib.loads(after)
    assert data["models"]["a.gguf"]["gpu_layers"] == 12
    assert data["models"]["b.gguf"]["n_ctx"] == 1024
    assert load_config(path).errors == []


def test_saving_writes_through_a_link_to_its_target(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "pychat.toml"
    target.write_text("# managed\n")
    link = tmp_path / "config.toml"
    link.symlink_to(target)
    save_model_settings(load_config(link), "a.gguf", ModelSettings(n_ctx=512))
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert "# managed" in target.read_text() and "n_ctx = 512" in target.read_text()


def test_a_read_only_file_or_folder_is_left_alone(tmp_path: Path) -> None:
    path, loaded = loaded_with(tmp_path, "# mine\n")
    path.chmod(0o444)
    with pytest.raises(ConfigError, match="read-only"):
        save_model_settings(loaded, "a.gguf", ModelSettings())
    assert path.read_text() == "# mine\n"
    folder = tmp_path / "ro"
    folder.mkdir()
    config = folder / "config.toml"
    folder.chmod(0o555)
    try:
        with pytest.raises(ConfigError, match="folder .* is read-only"):
            save_model_settings(load_config(config), "a.gguf", ModelSettings())
        assert not config.exists()
    finally:
        folder.chmod(stat.S_IRWXU)


def test_a_new_config_keeps_relative_paths_meaning_the_same(isolated_dirs: Path) -> None:
    (isolated_dirs / "models").mkdir()
    user_config = isolated_dirs.parent / "home" / "config" / "pychat" / "config.toml"
    loaded = load_config(user_config)
    before = loaded.models_dir()
    assert before == isolated_dirs / "models"
    save_model_settings(loaded, "a.gguf", ModelSettings(n_ctx=512))
    assert load_config(user_config).models_dir() == before


def test_one_session_overrides_are_not_saved(tmp_path: Path) -> None:
    session, recorder = fake_session(tmp_path, config='system_prompt = "From the file."\n')
    session.conversation.system_prompt = "Only for this session."  # what --system does
    session.library.remember(session.library.models_dir / "one.gguf", (0, 512))
    text = session.config_file.path.read_text()
    assert "From the file." in text and "Only for this session." not in text


def test_what_the_picker_accepts_the_config_accepts() -> None:
    from pychat.config import parse_gpu_layers, parse_n_ctx

    with pytest.raises(ValueError, match="between -1 and 10000"):
        parse_gpu_layers("20000")
    with pytest.raises(ValueError, match="0 or 128 to 1048576"):
        parse_n_ctx("16")
    assert parse_gpu_layers("10000") == 10000 and parse_n_ctx("128") == 128


# ---------------------------------------------------------------------------- loads


def test_a_load_that_cannot_fit_is_refused_at_once_with_the_numbers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session, recorder = fake_session(tmp_path)
    model = write_tiny_llama(session.library.models_dir / "real.gguf", TinySpec(n_layer=2))
    monkeypatch.setattr(psutil, "virtual_memory",  # a small machine: 64 MiB free
                        lambda: SimpleNamespace(total=8 * 2**30, available=64 * 2**20))
    session.start(model, poll_vram=None, fallback=False)
    recorder.wait_for(StateChanged, lambda e: e.model.value == "ready")
    session.load(model, Overrides(n_ctx=1_048_576))
    failed = recorder.wait_for(ModelLoadFailed)
    assert failed.title == "Not enough memory"
    assert "needs about" in failed.message and "64.0 MiB is free" in failed.message
    assert len(session.backend.loads) == 2  # refused before llama.cpp was asked again


# ---------------------------------------------------------------------------- the app


@pytest.mark.slow  # a long journey through the app
async def test_a_printable_quit_key_is_refused_and_typing_still_types(tmp_path: Path) -> None:
    app = fake_app(tmp_path, config='[keys]\n"app.quit" = "e"\n')
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await type_and_send(pilot, "Hello there", keys=True)
        await wait_for(pilot, lambda: idle(app) and bool(replies(app)))
        assert app.is_running
        assert app.session.conversation.turns[0].text == "Hello there"
        assert any("types text" in message for _, message in notifications(seen))


async def test_a_fifo_as_the_model_fails_at_once_and_the_picker_lists_it(
        tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    fifo = app.session.library.models_dir / "pipe.gguf"
    os.mkfifo(fifo)
    app.main_screen.startup = (fifo, app.main_screen.startup[1])
    async with app.run_test(size=SIZE) as pilot:
        # The failure is told (the loader pane's line is replaced once the start-up
        # fallback loads another model, so the log is where it stays).
        log = app.main_screen.log_pane.history
        await wait_for(pilot, lambda: any("a FIFO" in str(line) for line in log), timeout=10)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, ModelPicker), timeout=10)
        picker = app.screen
        assert any("a FIFO" in i.error for i in picker.shown)
        await pilot.press("escape")


@pytest.mark.slow  # a soak: 50,000 characters through the message box
async def test_a_50000_character_paste_lands_and_typing_goes_on(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        prompt = app.main_screen.prompt
        big = ("All work and no play. " * 2300)[:50_000]
        app.post_message(events.Paste(big))  # as the terminal driver delivers a paste
        await wait_for(pilot, lambda: len(prompt.text) == 50_000, timeout=10)
        await pilot.press("x", "y")
        assert prompt.text == big + "xy"
        await pilot.press("enter")
        await wait_for(pilot, lambda: idle(app) and bool(replies(app)))
        sent = app.session.conversation.turns[0].text
        assert sent == (big + "xy").strip()


async def test_a_refused_save_is_said_on_screen(tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    app.session.config_file.path.chmod(0o444)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        app.session.reload(Overrides(n_ctx=512))
        await wait_for(pilot, lambda: "Settings not saved" in dict(notifications(seen)))
        assert "read-only" in dict(notifications(seen))["Settings not saved"]


async def test_an_n_ctx_above_the_training_length_needs_a_second_enter(
        tmp_path: Path) -> None:
    app = fake_app(tmp_path)
    write_tiny_llama(app.session.library.models_dir / "tiny.gguf", TinySpec())  # 512 trained
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: ready(app))
        await pick(pilot, app, "tiny", "0", "4096", keys=False)
        picker = app.screen
        await pilot.pause()
        assert "above the 512 tokens" in str(picker.fit.render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: ready(app) and app.main_screen.status.model == "tiny.gguf")
        assert app.main_screen.status.n_ctx == 4096


async def test_a_config_key_named_with_markup_is_shown_as_text(tmp_path: Path) -> None:
    app = fake_app(tmp_path, config='"[@click=app.quit]x[/]" = 1\n')
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=seen.append) as pilot:
        await wait_for(pilot, lambda: ready(app))
        shown = dict(notifications(seen))["Config file has errors — running on defaults"]
        assert "unknown key '[@click=app.quit]x[/]'" in shown and app.is_running
