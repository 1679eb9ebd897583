"""Which models exist, which one to load, and with what settings (no UI code)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from pychat.config import AUTO, LoadedConfig, ModelSettings, default_model_settings
from pychat.engine.backends import ServerModels
from pychat.engine.base import REMOTE_MARK, LoadSpec, ModelRef
from pychat.engine.embedded import EMBEDDED, default_embedded, embedded_for
from pychat.engine.fit import estimate_vram, offloaded_layers, resolve_gpu_layers
from pychat.engine.models import (
    ModelCatalog,
    ModelInfo,
    discover_models,
    human_bytes,
    resolve_model,
)
from pychat.errors import ModelError
from pychat.locations import user_cache_dir

Choice = tuple[int | str, int]
"""A model's gpu_layers (maybe "auto") and n_ctx, as the user chose them."""


@dataclass(frozen=True)
class Overrides:
    """Load settings given on the command line or in the loader pane for one load."""

    gpu_layers: int | str | None = None
    n_ctx: int | None = None


NO_OVERRIDES = Overrides()


@dataclass(frozen=True)
class GpuFacts:
    """What decides where layers go: GPU support in the backend and free VRAM."""

    can_offload: bool
    free_vram: int | None = None
    """Free bytes on GPU 0 (None without a readable GPU)."""
    status: str = ""
    """Why there is no GPU data ("" when there is)."""

    @property
    def why_cpu(self) -> str:
        """Why everything runs on the CPU ("" when a GPU can be used)."""
        if not self.can_offload:
            return "this llama.cpp build has no GPU support (build it with CUDA)"
        if self.free_vram is None:
            return self.status or "no GPU found"
        return ""


@dataclass(frozen=True)
class ModelListing:
    """Every model with its saved choice, and the GPU facts: what the picker and
    ``pychat models`` show."""

    infos: list[ModelInfo]
    choices: dict[Path, Choice]
    current: ModelRef | None
    gpu: GpuFacts
    problems: list[str] = field(default_factory=list)
    """Why some paths could not be listed (shown beside the list)."""
    servers: list[ServerModels] = field(default_factory=list)
    """What each configured server offers (or why it could not say)."""


def describe_fit(info: ModelInfo, gpu_layers: int | str, n_ctx: int, gpu: GpuFacts) -> str:
    """The fit line: the VRAM estimate beside free VRAM, or why everything stays on the CPU."""
    if not info.ok or not info.n_layer:
        return info.error or "metadata unavailable until the file is assembled"
    if gpu.why_cpu:
        return f"CPU only: {gpu.why_cpu}"
    assert gpu.free_vram is not None
    context = n_ctx or info.context_length
    layers = resolve_gpu_layers(info, gpu_layers, context, gpu.can_offload, gpu.free_vram)
    estimate = estimate_vram(info, layers, context)
    verdict = "fits" if estimate.total_bytes <= gpu.free_vram else "DOES NOT FIT"
    auto = " (auto)" if gpu_layers == AUTO else ""
    return (f"{offloaded_layers(info, layers)}/{info.n_layer + 1} layers{auto}: "
            f"~{human_bytes(estimate.total_bytes)} (weights "
            f"{human_bytes(estimate.weights_bytes)}, KV {human_bytes(estimate.kv_bytes)}, "
            f"compute {human_bytes(estimate.compute_bytes)}) · free "
            f"{human_bytes(gpu.free_vram)} · {verdict}")


class ModelLibrary:
    """The models PyChat can see and the settings each one loads with."""

    def __init__(self, loaded: LoadedConfig, catalog: ModelCatalog | None = None) -> None:
        self.loaded = loaded
        self.catalog = catalog or ModelCatalog(user_cache_dir() / "models.json")

    @property
    def models_dir(self) -> Path:
        return self.loaded.models_dir()

    def paths(self) -> list[Path]:
        """Every model: the models folder, configured paths, and the embedded models
        (listed even before they are installed, with how to get them)."""
        extra = [Path(name).expanduser() for name in self.loaded.config.models
                 if "/" in name or "\\" in name]
        default = self.loaded.config.default_model
        if default and ("/" in default or "\\" in default):
            extra.append(Path(default).expanduser())
        paths = discover_models(self.models_dir, extra)
        return paths + [m.path for m in EMBEDDED if m.path not in paths]

    def infos(self) -> list[ModelInfo]:
        """Metadata of every model (cached), in ``paths()`` order."""
        infos = []
        for path in self.paths():
            embedded = embedded_for(path)
            if embedded is not None and not embedded.ready():
                error = "" if embedded.installed() else f"not installed: {embedded.install}"
                infos.append(ModelInfo(path=path, name=f"{embedded.about} (assembled on "
                                       "first use)" if not error else embedded.about,
                                       error=error))
            else:
                infos.append(self.catalog.info(path))
        self.catalog.save()
        return infos

    def listing(self, current: ModelRef | None, gpu: GpuFacts,
                servers: list[ServerModels] | None = None) -> ModelListing:
        """Everything the picker and ``pychat models`` show (reads headers: blocking)."""
        infos = self.infos()
        return ModelListing(infos, {i.path: self.choice_for(i.path) for i in infos},
                            current, gpu, servers=servers or [])

    def startup_ref(self, model: str | None = None, server: str | None = None) -> ModelRef:
        """The model to start with: a server's (``--server``, its ``--model`` id or the
        server's own choice), else a local file (see ``startup_model``). Raises
        ModelError for a server the config does not name."""
        if server is not None:
            if server not in self.loaded.config.servers:
                known = ", ".join(sorted(self.loaded.config.servers)) or "none configured"
                raise ModelError(f"No server named “{server}” in {self.loaded.path} "
                                 f"(servers: {known}).", "Unknown server")
            return ModelRef.remote(server, model or "")
        return ModelRef.local(self.startup_model(model))

    def ref_named(self, name: str) -> ModelRef | None:
        """The model a kept chat names ("file.gguf" or "model @ server"), if it is here."""
        model, mark, server = name.rpartition(REMOTE_MARK)
        if mark:
            return ModelRef.remote(server, model) if server in self.loaded.config.servers \
                else None
        path = next((p for p in self.paths() if p.name == name), None)
        return ModelRef.local(path) if path is not None else None

    def startup_model(self, requested: str | None = None) -> Path:
        """The model to load at start: --model > default_model > the first one in the
        models folder > the first embedded model installed (SmolLM2, then Gemma).

        Raises ModelError when a requested model does not exist, or when there is none.
        An embedded model's path is returned even before it is assembled (``prepare``).
        """
        wanted = requested or self.loaded.config.default_model
        if wanted:
            return resolve_model(wanted, self.models_dir, self.paths())
        found = discover_models(self.models_dir)
        if found:
            return found[0]
        embedded = default_embedded()
        if embedded is None:
            raise ModelError(f"No model to load: put a .gguf file in {self.models_dir}, pass "
                             f"--model PATH, or install the default model: "
                             f"{EMBEDDED[0].install}")
        return embedded.path

    def fallback_for(self, failed: Path | None) -> Path | None:
        """What to load when ``failed`` could not be loaded at start, so that the user is
        not left without a model: an installed embedded model, else another model."""
        for model in EMBEDDED:
            if model.installed() and model.path != failed:
                return model.path
        others = [p for p in discover_models(self.models_dir) if p != failed]
        return others[0] if others else None

    def prepare(self, path: Path) -> Path:
        """Make sure ``path`` is on disk (assembling an embedded model if needed)."""
        embedded = embedded_for(path)
        return embedded.ensure() if embedded is not None else path

    def _table_of(self, path: Path) -> str:
        """The config's key for a model: its full path for a file outside the models
        folder that the config names that way, else its file name."""
        return str(path) if str(path) in self.loaded.config.models else path.name

    def settings_for(self, path: Path) -> ModelSettings:
        """A model's settings: what the user wrote for it, over PyChat's built-in
        defaults for that model."""
        key = self._table_of(path)
        builtin = default_model_settings(path.name)
        user = self.loaded.config.models.get(key)
        if user is None:
            return builtin
        written = self.loaded.written.get(f"models.{key}")
        if written is None:  # a table made in memory: all of it is the user's
            return user
        return dataclasses.replace(builtin, **{name: getattr(user, name) for name in written
                                               if hasattr(user, name)})

    def system_prompt_for(self, ref: ModelRef) -> str:
        """The system prompt a new chat with ``ref`` starts with. The user's words win
        over PyChat's defaults: the model's own prompt as the user wrote it, then the
        user's top-level one (even "": none), then PyChat's built-in prompt for that model,
        then the global default. A server's model takes the top-level one."""
        if ref.path is None:
            return self.loaded.config.system_prompt
        path = ref.path
        key = self._table_of(path)
        if self.loaded.wrote(f"models.{key}", "system_prompt"):
            own = self.loaded.config.models[key].system_prompt
            if own:
                return own
        if self.loaded.wrote("", "system_prompt"):
            return self.loaded.config.system_prompt
        return default_model_settings(path.name).system_prompt or \
            self.loaded.config.system_prompt

    def choice_for(self, path: Path, overrides: Overrides = NO_OVERRIDES) -> Choice:
        """The gpu_layers and n_ctx a load of ``path`` uses: overrides, else saved ones."""
        saved = self.settings_for(path)
        return (saved.gpu_layers if overrides.gpu_layers is None else overrides.gpu_layers,
                saved.n_ctx if overrides.n_ctx is None else overrides.n_ctx)

    def spec_for(self, path: Path, overrides: Overrides, gpu: GpuFacts) -> LoadSpec:
        """The LoadSpec for ``path``: saved settings, then overrides, ``auto`` resolved."""
        settings = self.settings_for(path)
        gpu_layers, n_ctx = self.choice_for(path, overrides)
        info = self.catalog.info(path) if gpu_layers == AUTO and gpu.can_offload else None
        return LoadSpec(
            ref=ModelRef.local(path),
            gpu_layers=resolve_gpu_layers(info, gpu_layers, n_ctx, gpu.can_offload,
                                          gpu.free_vram),
            n_ctx=n_ctx, chat_format=settings.chat_format, n_threads=settings.n_threads,
            use_mlock=settings.use_mlock, use_mmap=settings.use_mmap,
            flash_attn=settings.flash_attn, n_batch=settings.n_batch,
            n_ubatch=settings.n_ubatch,
        )

    def remember(self, path: Path, choice: Choice) -> None:
        """Keep a model's gpu_layers and n_ctx for this session and save them in the config
        file. Raises ConfigError (with a message for the user) when they cannot be saved."""
        in_folder = path.parent.absolute() == self.models_dir
        key = path.name if in_folder or embedded_for(path) else str(path)
        gpu_layers, n_ctx = choice
        settings = dataclasses.replace(self.settings_for(path), gpu_layers=gpu_layers,
                                       n_ctx=n_ctx)
        self.loaded.config.models[key] = settings
        written = self.loaded.written.setdefault(f"models.{key}", set())
        written |= {"gpu_layers", "n_ctx"}
        from pychat.config_writer import save_model_settings  # tomlkit: only when saving

        save_model_settings(self.loaded, key, settings)
