"""Turning a blocking reply stream into an async iterator."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

from pychat.engine.base import ChatStream


async def threaded_aiter(stream: ChatStream, cancel: threading.Event) -> AsyncIterator[str]:
    """Drive a blocking ChatStream in a thread and hand its pieces to the event loop."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[object] = asyncio.Queue()
    done = object()

    def run() -> None:
        try:
            for piece in stream:
                loop.call_soon_threadsafe(queue.put_nowait, piece)
        except Exception as exc:  # handed to the awaiting side
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, done)

    thread = threading.Thread(target=run, name="pychat-astream", daemon=True)
    thread.start()
    try:
        while (item := await queue.get()) is not done:
            if isinstance(item, Exception):
                raise item
            yield item  # type: ignore[misc]
    finally:
        cancel.set()
        await asyncio.to_thread(thread.join)
