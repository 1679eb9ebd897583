"""``pychat ask``: one reply to stdout, behaving in pipes as the Unix tools do.

Exit codes: 0 done; 1 a config or model problem (one line on stderr); 65 stdin is not text;
66 stdin is closed; 74 the reply cannot be written (stdout closed, disk full); 130
interrupted (ctrl+c). A reader that goes away (``| head -c 1``) ends PyChat quietly through
SIGPIPE, as it ends ``cat``.
"""

from __future__ import annotations

import io
import os
import queue
import signal
import sys
import threading
from typing import TYPE_CHECKING, TextIO

from pychat.config import LoadedConfig
from pychat.errors import PyChatError
from pychat.library import Overrides
from pychat.text import inert

if TYPE_CHECKING:
    from pychat.session.events import Event, Notice

EX_DATAERR, EX_NOINPUT, EX_IOERR, INTERRUPTED = 65, 66, 74, 130


class _Exit(Exception):
    """Leave with this code after one line on stderr."""

    def __init__(self, code: int, message: str = "") -> None:
        super().__init__(message)
        self.code, self.message = code, message


def read_prompt(argument: str) -> str:
    """The prompt: the argument, or stdin for "-" (bytes decoded as UTF-8 here, so odd
    input never turns into surrogates that fail later)."""
    if argument != "-":
        return argument
    if sys.stdin is None:
        raise _Exit(EX_NOINPUT, "stdin is closed; give the prompt as an argument")
    try:
        data = sys.stdin.buffer.read()
    except OSError as exc:
        raise _Exit(EX_NOINPUT, f"cannot read stdin: {exc.strerror or exc}") from exc
    if b"\x00" in data:
        raise _Exit(EX_DATAERR, "stdin is not text (it holds NUL bytes)")
    return inert(data.decode("utf-8", errors="replace"))


class _Output:
    """stdout for the reply; a write that fails becomes exit 74 and nothing more is
    written (the buffered rest is dropped, so the interpreter's last flush stays quiet)."""

    def __init__(self) -> None:
        if sys.stdout is None:
            raise _Exit(EX_IOERR, "stdout is closed; nowhere to write the reply")
        self.stream: TextIO = sys.stdout
        if isinstance(self.stream, io.TextIOWrapper):
            self.stream.reconfigure(errors="replace")

    def write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except OSError as exc:
            _drop_stdout()
            raise _Exit(EX_IOERR, f"cannot write the reply: {exc.strerror or exc}") from exc


def _drop_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


def _continued(loaded: LoadedConfig, chat_id: int, model: str | None, server: str | None
               ) -> tuple[int, str | None, str | None]:
    """The kept chat to continue (0: the newest) and the model to start with: --model, or
    the chat's own when it is still here."""
    from pychat.history_cli import open_history, stored_chat
    from pychat.library import ModelLibrary

    store = open_history(loaded)
    try:
        chat = stored_chat(store, chat_id or None)
    finally:
        store.close()
    if model is None and server is None and chat.model:
        ref = ModelLibrary(loaded).ref_named(chat.model)
        if ref is not None:
            model, server = (ref.model_id, ref.server) if ref.is_remote else \
                (str(ref.path), None)
        else:
            print(f"pychat: warning: chat {chat.id} was held with {inert(chat.model)}, which "
                  "is not here any more; the default model answers.", file=sys.stderr)
    return chat.id, model, server


def ask(loaded: LoadedConfig, argument: str, *, model: str | None, overrides: Overrides,
        server: str | None = None,
        system_prompt: str | None, stats: bool, debug: bool,
        continue_chat: int | None = None) -> int:
    """Stream one reply to ``argument`` (or stdin) to stdout; return the exit code.
    ``continue_chat``: add the turn to that kept chat (0: the newest) instead of a new one."""
    from pychat.session import create_session
    from pychat.session.events import (
        ChatOpened,
        ModelLoaded,
        ModelLoadFailed,
        Notice,
        ReplyFinished,
        TextReceived,
        WorkerFailed,
    )

    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # a closed pipe ends us quietly, like cat
    interrupted = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: interrupted.set())
    try:
        prompt = read_prompt(argument)
        if not prompt.strip():
            raise _Exit(1, "the prompt is empty")
        out = _Output()
        chat_id = None
        if continue_chat is not None:
            chat_id, model, server = _continued(loaded, continue_chat, model, server)
    except _Exit as exc:
        return _leave(exc)
    except PyChatError as exc:
        return _leave(_Exit(1, exc.message))
    # quiet: no screen to protect, so llama-cpp-python may hush fd 1 and 2 while it loads.
    session = create_session(loaded, flush_seconds=0.02, system_prompt=system_prompt,
                             quiet=True)
    events: queue.Queue[Event] = queue.Queue()
    session.listen(events.put)
    try:
        session.start(session.library.startup_ref(model, server), overrides, poll_vram=None,
                      fallback=False)
        if chat_id is not None:
            # The chat's model first, so that opening it does not ask for another load.
            _until(events, (ModelLoaded, ModelLoadFailed), interrupted)
            session.open_chat(chat_id)
            _until(events, (ChatOpened,), interrupted)
        session.send(prompt)
        # A reply that was written ends with a newline, whatever ends it; with nothing
        # written, nothing is (``> file`` must not keep a 1-byte file after a failure).
        wrote = False
        while True:
            if interrupted.is_set():
                session.stop()
                if wrote:
                    out.write("\n")
                return INTERRUPTED
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                continue
            if isinstance(event, TextReceived):
                out.write(event.text)
                wrote = wrote or bool(event.text)
            elif isinstance(event, ModelLoadFailed):
                raise _Exit(1, event.message)
            elif isinstance(event, WorkerFailed) and debug:
                print(event.details, file=sys.stderr)
            elif isinstance(event, Notice):
                _warn(event)
            elif isinstance(event, ReplyFinished):
                break
        if wrote or not event.error:
            out.write("\n")
        if event.error:
            raise _Exit(1, event.error)
    except _Exit as exc:
        return _leave(exc)
    except PyChatError as exc:
        return _leave(_Exit(1, exc.message))
    finally:
        session.shutdown(timeout=0.5)
    if stats:
        s = event.stats
        print(f"prompt {s.prompt_tokens} tokens, reply {s.completion_tokens} tokens, "
              f"{s.tokens_per_second:.1f} tok/s, TTFT {s.time_to_first_token * 1000:.0f} ms",
              file=sys.stderr)
    return INTERRUPTED if interrupted.is_set() else 0


def _until(events: queue.Queue[Event], kinds: tuple[type[Event], ...],
           interrupted: threading.Event) -> Event:
    """Wait for an event of ``kinds``; a failed load or a missing chat ends ``ask``."""
    from pychat.session.events import ModelLoadFailed, Notice

    while not interrupted.is_set():
        try:
            event = events.get(timeout=0.1)
        except queue.Empty:
            continue
        if isinstance(event, ModelLoadFailed):
            raise _Exit(1, event.message)
        if isinstance(event, Notice):
            if event.title == "Chat not found":
                raise _Exit(1, event.message)
            _warn(event)
        if isinstance(event, kinds):
            return event
    raise _Exit(INTERRUPTED)


def _warn(notice: Notice) -> None:
    """A warning or an error the session told (history not saved, model gone) goes to
    stderr; information does not."""
    if notice.severity != "information":
        print(f"pychat: warning: {notice.message}", file=sys.stderr)


def _leave(exc: _Exit) -> int:
    if exc.message:
        print(f"pychat: {exc.message}", file=sys.stderr)
    return exc.code
