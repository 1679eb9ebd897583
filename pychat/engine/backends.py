"""The local backend and one backend per configured server, as one Backend: the one that
loaded the current model answers, and loading a model elsewhere frees the first."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pychat.config import ServerSettings
from pychat.engine.base import (
    Backend,
    Capabilities,
    ChatMessage,
    ChatStream,
    LoadedModel,
    LoadSpec,
    LogCallback,
    ModelRef,
    ProgressCallback,
    SamplingParams,
)
from pychat.errors import ModelError, PyChatError

if TYPE_CHECKING:  # the remote backend (httpx and all) is imported when a server is used
    from pychat.engine.remote import RemoteBackend, RemoteFactory


@dataclass(frozen=True)
class ServerModels:
    """What one server offers, for the picker and ``pychat models``."""

    name: str
    label: str
    """"gpu-box (http://10.0.0.5:8080/v1)"."""
    models: list[str] = field(default_factory=list)
    error: str = ""
    """Why it could not be listed ("" when it was)."""
    busy: bool = False
    """It is streaming a reply to us: the list is the last one (asking could cancel it)."""


class Backends:
    """Every backend PyChat can use, behind the Backend interface (see the module
    docstring). Servers' backends are made when first used."""

    def __init__(self, local: Backend, servers: Mapping[str, ServerSettings],
                 remote: RemoteFactory | None = None) -> None:
        self.local = local
        self.settings = dict(servers)
        self._factory = remote
        self._remotes: dict[str, RemoteBackend] = {}
        self._active: Backend = local
        self._log: LogCallback = lambda level, line: None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ which one

    def server(self, name: str) -> RemoteBackend:
        """The backend of server ``name`` (ModelError when the config has none)."""
        with self._lock:
            if name not in self._remotes:
                settings = self.settings.get(name)
                if settings is None:
                    known = ", ".join(sorted(self.settings)) or "none configured"
                    raise ModelError(f"No server named “{name}” in the config (servers: "
                                     f"{known}).", "Unknown server")
                if self._factory is None:
                    from pychat.engine.remote import RemoteBackend

                    self._factory = RemoteBackend
                backend = self._factory(name, settings)
                backend.set_log_callback(self._log)
                self._remotes[name] = backend
            return self._remotes[name]

    def for_ref(self, ref: ModelRef) -> Backend:
        return self.server(ref.server) if ref.is_remote else self.local

    @property
    def active(self) -> Backend:
        """The backend of the model loaded now (the local one when none is)."""
        return self._active

    def server_models(self, timeout: float = 2.0) -> list[ServerModels]:
        """Each configured server's models, or why they could not be listed."""
        listed = []
        for name in self.settings:
            try:
                backend = self.server(name)
                models = backend.list_models(timeout)
                listed.append(ServerModels(name, backend.label, models,
                                           busy=backend.streaming))
            except PyChatError as exc:
                label = self._remotes[name].label if name in self._remotes else name
                listed.append(ServerModels(name, label, error=exc.message))
        return listed

    # ------------------------------------------------------------------ the interface

    @property
    def capabilities(self) -> Capabilities:
        return self._active.capabilities

    @property
    def can_offload(self) -> bool:
        """Whether local models can use a GPU (the picker's fit lines ask)."""
        return self.local.can_offload

    @property
    def loaded(self) -> LoadedModel | None:
        return self._active.loaded

    def set_log_callback(self, log: LogCallback) -> None:
        self._log = log
        self.local.set_log_callback(log)
        for backend in list(self._remotes.values()):
            backend.set_log_callback(log)

    def list_models(self, timeout: float = 2.0) -> list[str]:
        return self._active.list_models(timeout)

    def load(self, spec: LoadSpec, progress: ProgressCallback | None = None) -> LoadedModel:
        """Load ``spec`` where it lives; the model loaded elsewhere is freed first."""
        backend = self.for_ref(spec.ref)
        if backend is not self._active:
            self._active.close()
        self._active = backend
        return backend.load(spec, progress)

    def close(self) -> None:
        self._active.close()

    def shutdown(self, timeout: float = 2.0) -> None:
        self.local.shutdown(timeout)
        for backend in list(self._remotes.values()):
            backend.shutdown(timeout)

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return self._active.count_tokens(messages)

    def stream_chat(self, messages: list[ChatMessage], sampling: SamplingParams,
                    cancel: threading.Event | None = None) -> ChatStream:
        return self._active.stream_chat(messages, sampling, cancel)
