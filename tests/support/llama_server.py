"""A real OpenAI-compatible server: ``python -m llama_cpp.server`` (llama-cpp-python's
``[server]`` extra) on 127.0.0.1 and a free port, serving a real GGUF model."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


LLAMA_SERVER_BIN = os.environ.get("PYCHAT_LLAMA_SERVER") or shutil.which("llama-server") or ""
"""llama.cpp's own C++ server, where this machine has one (it is not on PyPI: build it with
``cmake -DLLAMA_BUILD_SERVER=ON`` and point PYCHAT_LLAMA_SERVER at the binary)."""


class LlamaServer:
    """The server in a process of its own; ``url`` is its API base (with /v1).
    ``native``: llama.cpp's ``llama-server`` instead of llama-cpp-python's."""

    def __init__(self, model: Path, log: Path, *, n_ctx: int = 2048, api_key: str = "",
                 alias: str = "smollm", native: bool = False) -> None:
        self.port = free_port()
        self.model, self.alias = model, alias
        if native:  # its model id is the path of its -m file, as users run it
            command = [LLAMA_SERVER_BIN, "-m", str(model), "--host", "127.0.0.1",
                       "--port", str(self.port), "-c", str(n_ctx), "--threads", "2"]
            if api_key:
                command += ["--api-key", api_key]
        else:
            command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                       "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx),
                       "--model_alias", alias, "--verbose", "False"]
            if api_key:
                command += ["--api_key", api_key]
        self._log = log.open("wb")
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self._wait_ready(api_key)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _wait_ready(self, api_key: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(f"{self.url}/models")
        if api_key:
            request.add_header("Authorization", f"Bearer {api_key}")
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama_cpp.server exited: {self._log.name}")
            try:
                with urllib.request.urlopen(request, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.kill()
        raise RuntimeError(f"llama_cpp.server did not answer within {timeout:.0f} s")

    def kill(self) -> None:
        """Gone at once, as a crash or a pulled cable would leave it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self._log.close()
