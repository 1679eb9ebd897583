"""Which models exist, which one to load, and with what settings (no UI code)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from pychat.config import AUTO, LoadedConfig, ModelSettings, save_config
from pychat.engine import demo
from pychat.engine.base import LoadSpec
from pychat.engine.fit import auto_gpu_layers
from pychat.engine.models import ModelCatalog, ModelInfo, discover_models, resolve_model
from pychat.errors import ConfigError
from pychat.locations import user_cache_dir


@dataclass(frozen=True)
class Overrides:
    """Load settings given on the command line or in the loader pane for one load."""

    gpu_layers: int | str | None = None
    n_ctx: int | None = None


class ModelLibrary:
    """The models PyChat can see and the settings each one loads with."""

    def __init__(self, loaded: LoadedConfig, catalog: ModelCatalog | None = None) -> None:
        self.loaded = loaded
        self.catalog = catalog or ModelCatalog(user_cache_dir() / "models.json")

    @property
    def models_dir(self) -> Path:
        return self.loaded.models_dir()

    def paths(self) -> list[Path]:
        """Every model: the models folder, configured paths, and the demo model."""
        extra = [Path(name).expanduser() for name in self.loaded.config.models
                 if "/" in name or "\\" in name]
        default = self.loaded.config.default_model
        if default and ("/" in default or "\\" in default):
            extra.append(Path(default).expanduser())
        if demo.demo_installed():
            extra.append(demo.demo_model_path())
        paths = discover_models(self.models_dir, extra)
        if demo.demo_installed() and not demo.demo_model_path().exists():
            paths.append(demo.demo_model_path())  # listed; assembled when chosen
        return paths

    def infos(self) -> list[ModelInfo]:
        """Metadata of every model (cached), in ``paths()`` order."""
        infos = []
        for path in self.paths():
            if path == demo.demo_model_path() and not path.exists():
                infos.append(ModelInfo(path=path, architecture="gemma3",
                                       name="demo model (assembled on first use)"))
            else:
                infos.append(self.catalog.info(path))
        self.catalog.save()
        return infos

    def startup_model(self, requested: str | None = None) -> Path:
        """The model to load at start: --model > default_model > first found > demo.

        Raises ModelError when a requested model does not exist. The demo model's path is
        returned even before it is assembled; ``prepare`` assembles it.
        """
        wanted = requested or self.loaded.config.default_model
        if wanted:
            return resolve_model(wanted, self.models_dir, self.paths())
        found = discover_models(self.models_dir)
        return found[0] if found else demo.demo_model_path()

    def fallback_for(self, failed: Path) -> Path | None:
        """What to load when ``failed`` could not be loaded at start, so that the user is
        not left without a model: the demo model when installed, else another model."""
        if demo.demo_installed() and failed != demo.demo_model_path():
            return demo.demo_model_path()
        others = [p for p in discover_models(self.models_dir) if p != failed]
        return others[0] if others else None

    def prepare(self, path: Path) -> Path:
        """Make sure ``path`` is on disk (assembling the demo model if needed)."""
        if path == demo.demo_model_path() and not demo.demo_model_ready():
            return demo.ensure_demo_model()
        return path

    def settings_for(self, path: Path) -> ModelSettings:
        """Saved settings for a model (by file name, or by full path for outside files)."""
        config = self.loaded.config
        if str(path) in config.models:
            return config.models[str(path)]
        return config.model_settings(path.name)

    def spec_for(self, path: Path, overrides: Overrides = Overrides(), *,
                 can_offload: bool = False, free_vram: int | None = None) -> LoadSpec:
        """The LoadSpec for ``path``: saved settings, then overrides, ``auto`` resolved."""
        settings = self.settings_for(path)
        n_ctx = overrides.n_ctx if overrides.n_ctx is not None else settings.n_ctx
        gpu = overrides.gpu_layers if overrides.gpu_layers is not None else settings.gpu_layers
        return LoadSpec(
            path=path,
            gpu_layers=self.resolve_gpu_layers(path, gpu, n_ctx, can_offload, free_vram),
            n_ctx=n_ctx, chat_format=settings.chat_format, n_threads=settings.n_threads,
            use_mlock=settings.use_mlock, use_mmap=settings.use_mmap,
            flash_attn=settings.flash_attn,
        )

    def resolve_gpu_layers(self, path: Path, gpu_layers: int | str, n_ctx: int,
                           can_offload: bool, free_vram: int | None) -> int:
        """Turn ``auto`` into a layer count; anything asks for 0 without a GPU backend."""
        if not can_offload:
            return 0
        if gpu_layers != AUTO:
            return int(gpu_layers)
        if free_vram is None:
            return 0  # a GPU build but no GPU we can measure: stay on the CPU
        info = self.catalog.info(path)
        if not info.ok:
            return 0
        context = n_ctx or info.context_length
        return auto_gpu_layers(info, context, free_vram)

    def remember(self, path: Path, gpu_layers: int | str, n_ctx: int) -> None:
        """Persist a model's gpu_layers and n_ctx in the config file (atomically).

        Raises ConfigError when the file cannot be written or has errors of its own.
        """
        config = self.loaded.config
        key = path.name if path.parent.resolve() == self.models_dir or path == \
            demo.demo_model_path() else str(path)
        current = self.settings_for(path)
        config.models[key] = dataclasses.replace(current, gpu_layers=gpu_layers, n_ctx=n_ctx)
        if not self.loaded.writable:
            raise ConfigError(f"{self.loaded.path} has errors, so the settings for "
                              f"{path.name} were not saved.")
        save_config(self.loaded)
