"""Config: reading, validation messages, lookup order and atomic writes."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest

from pychat.config import AUTO, Config, LoadedConfig, ModelSettings, load_config
from pychat.config_writer import config_to_dict, save_model_settings, write_toml_atomic
from pychat.errors import ConfigError
from pychat.locations import resolve_config_path, user_config_path

REPO = Path(__file__).resolve().parent.parent


def test_shipped_config_is_valid_and_documents_every_key() -> None:
    loaded = load_config(REPO / "config.toml")
    assert loaded.errors == []
    readme = (REPO / "README.md").read_text()
    doc = config_to_dict(LoadedConfig(Config(models={"x.gguf": ModelSettings()}),
                                      REPO / "config.toml", exists=False))
    keys = [k for k in doc if not isinstance(doc[k], dict)]
    keys += list(doc["sampling"]) + list(doc["models"]["x.gguf"])
    missing = [key for key in keys if f"`{key}`" not in readme]
    assert missing == []


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    original = load_config(path)
    original.config.system_prompt = "Be terse."
    original.config.sampling.temperature = 0.2
    original.config.keys["chat.stop"] = "f12"
    settings = ModelSettings(gpu_layers=12, n_ctx=8192, chat_format="chatml", flash_attn=True)
    original.config.models["m.gguf"] = settings
    models_before = original.models_dir()  # relative to the working folder: no file yet
    save_model_settings(original, "m.gguf", settings)
    again = load_config(path)
    assert again.errors == [] and again.warnings == []
    assert again.models_dir() == models_before  # written absolute: it still means that
    original.config.models_dir = str(models_before)
    assert again.config == original.config
    assert again.config.models["m.gguf"].gpu_layers == 12


def test_auto_gpu_layers_and_integers_promote_to_float(write_config) -> None:
    path = write_config('[sampling]\ntemperature = 1\n[models."a.gguf"]\ngpu_layers = "auto"\n')
    loaded = load_config(path)
    assert loaded.errors == []
    assert loaded.config.sampling.temperature == 1.0
    assert loaded.config.models["a.gguf"].gpu_layers == AUTO


MALFORMED = [
    ("syntax: missing value", "models_dir =\n", ":1: TOML syntax error"),
    ("n_ctx below the minimum", '[models."a.gguf"]\nn_ctx = 16\n', "n_ctx: expected a number of 0 or 128"),
    ("gpu_layers above the bound", '[models."a.gguf"]\ngpu_layers = 20000\n', "between -1 and 10000"),
    ("syntax: unclosed string", 'system_prompt = "hi\n', ":1: TOML syntax error"),
    ("syntax: unclosed table", "[sampling\ntemperature = 1\n", ":1: TOML syntax error"),
    ("syntax: duplicate key", "models_dir = 'a'\nmodels_dir = 'b'\n", ":2: TOML syntax error"),
    ("syntax: bad line 3", "models_dir = 'a'\n\nthis is not toml\n", ":3: TOML syntax error"),
    ("unknown top key", "colour = 'red'\n", ":1: unknown key 'colour'"),
    ("unknown sampling key", "[sampling]\ntemprature = 1.0\n",
     ":2: unknown key 'sampling.temprature'"),
    ("unknown model key", '[models."a.gguf"]\ngpu = 3\n', ":2: unknown key 'models.a.gguf.gpu'"),
    ("wrong type str", "models_dir = 3\n", ":1: models_dir: expected a string"),
    ("wrong type float", "[sampling]\ntemperature = 'hot'\n",
     ":2: sampling.temperature: expected a number"),
    ("bool for int", "[sampling]\ntop_k = true\n", "sampling.top_k: expected a whole number"),
    ("float for int", "[sampling]\nmax_tokens = 10.5\n", "sampling.max_tokens: expected a whole"),
    ("out of range", "[sampling]\ntop_p = 1.5\n", "sampling.top_p: expected a number between 0"),
    ("negative ctx", '[models."a.gguf"]\nn_ctx = -4\n', "n_ctx: expected a number of 0 or 128"),
    ("gpu_layers word", '[models."a.gguf"]\ngpu_layers = "many"\n',
     'gpu_layers: expected "auto" or a whole number'),
    ("gpu_layers too low", '[models."a.gguf"]\ngpu_layers = -2\n', "gpu_layers"),
    ("string for bool", '[models."a.gguf"]\nuse_mmap = "yes"\n', "use_mmap: expected true or false"),
    ("sampling not a table", "sampling = 3\n", "[sampling] must be a table"),
    ("models not a table", "models = 'x'\n", "[models] must be a table"),
    ("model entry not a table", '[models]\n"a.gguf" = 3\n', "[models.a.gguf] must be a table"),
    ("keys value not a string", "[keys]\n'chat.stop' = 5\n", "keys.chat.stop: expected a key"),
    ("binary garbage", b"\xff\xfe\x00junk", "cannot read the file"),
]


@pytest.mark.parametrize(("label", "text", "expected"), MALFORMED,
                         ids=[m[0] for m in MALFORMED])
def test_malformed_config_names_file_key_and_line(
        tmp_path: Path, label: str, text: str | bytes, expected: str) -> None:
    path = tmp_path / "config.toml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    before = path.read_bytes()
    loaded = load_config(path)
    assert loaded.errors, label
    message = " | ".join(loaded.errors)
    assert str(path) in message
    assert expected in message
    assert loaded.config == Config()  # the app runs on defaults
    assert not loaded.writable
    with pytest.raises(ConfigError):
        save_model_settings(loaded, "x.gguf", ModelSettings())
    assert path.read_bytes() == before  # never overwritten


def test_atomic_write_keeps_permissions_and_leaves_no_temp(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text("models_dir = 'models'\n")
    os.chmod(path, 0o600)
    write_toml_atomic(path, {"models_dir": "elsewhere"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert tomllib.loads(path.read_text()) == {"models_dir": "elsewhere"}
    assert [p.name for p in folder.iterdir()] == ["config.toml"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "cfg"
    folder.mkdir()
    path = folder / "config.toml"
    path.write_text("models_dir = 'models'\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(ConfigError, match="No space left"):
        write_toml_atomic(path, {"models_dir": "x"})
    assert path.read_text() == "models_dir = 'models'\n"
    assert [p.name for p in folder.iterdir()] == ["config.toml"]


def test_lookup_order(isolated_dirs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_config_path() == user_config_path()
    (isolated_dirs / "config.toml").write_text("")
    assert resolve_config_path() == isolated_dirs / "config.toml"
    monkeypatch.setenv("PYCHAT_CONFIG", "/env/config.toml")
    assert resolve_config_path() == Path("/env/config.toml")
    assert resolve_config_path("/flag.toml") == Path("/flag.toml")


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    loaded = load_config(tmp_path / "absent.toml")
    assert loaded.errors == [] and not loaded.exists and loaded.config == Config()


@pytest.mark.parametrize(("text", "said"), [
    ('[servers.box]\nmodel = "m"\n', "servers.box.base_url: missing"),
    ('[servers.box]\nbase_url = "ftp://x/v1"\n', "expected an http:// or https:// address"),
    ('[servers.box]\nbase_url = "http://user:pw@host/v1"\n', "a key in the URL would be shown"),
    ('[servers.box]\nbase_url = "http://host/v1"\napi_key_env = "my key"\n',
     "the name of an environment variable"),
    ('[servers.box]\nbase_url = "http://host/v1"\nn_ctx = -1\n', "servers.box.n_ctx"),
    ('[servers.box]\nbase_url = "http://host/v1"\nverify_tls = "no"\n', "expected true or false"),
    ('[servers.box]\nbase_url = "http://host/v1"\ncolour = 1\n', "unknown key 'servers.box.colour'"),
    ('[servers."bad name!"]\nbase_url = "http://host/v1"\n', "a server's name has 1 to 40"),
    ('servers = 3\n', "[servers] must hold one table per server"),
])
def test_a_bad_server_table_says_where_and_why(write_config, text: str, said: str) -> None:  # type: ignore[no-untyped-def]
    loaded = load_config(write_config(text))
    assert loaded.errors and said in loaded.errors[0], loaded.errors
    assert loaded.config.servers == {}


def test_a_server_table_reads_with_its_defaults(write_config) -> None:  # type: ignore[no-untyped-def]
    loaded = load_config(write_config('[servers.hf]\nbase_url = "https://router.huggingface.co/v1"'
                                      '\nmodel = "mistralai/Mistral-7B-Instruct-v0.3"\n'
                                      'api_key_env = "HF_TOKEN"\n'))
    assert loaded.errors == []
    hf = loaded.config.servers["hf"]
    assert (hf.model, hf.api_key_env, hf.verify_tls, hf.first_byte_timeout) == (
        "mistralai/Mistral-7B-Instruct-v0.3", "HF_TOKEN", True, 300.0)
