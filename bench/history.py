"""Section: long kept chats — opening a 1,000- and a 10,000-message chat in the real TUI,
key echo while one opens, RSS, and search latency over the whole file."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from bench.common import MiB, PtyApp, fmt, rss_beyond_model, wait_trace
from pychat.engine.embedded import EMBEDDED
from pychat.store import Store

TITLE = "history"
SIZES = (1000, 10_000)
HISTORY_TURN = ("Here is point {n}: the **okapi** lives in the Ituri forest and eats leaves, "
                "fruit and fungi.\n\n- it has a long tongue\n- stripes like a zebra\n"
                "- it is a relative of the giraffe")


def write_long_chats(path: Path, sizes: tuple[int, ...]) -> dict[int, int]:
    """A history file holding one chat per size (that many messages); their ids."""
    store, _ = Store.open(path)
    ids = {}
    for size in sizes:
        chat = store.new_chat(f"Long chat of {size} messages", "", {})
        store.db.execute("BEGIN")  # one transaction: 10,000 commits would take minutes
        store.db.executemany(
            "INSERT INTO messages(chat_id, position, role, text, created) "
            "VALUES (?, ?, ?, ?, ?)",
            [(chat, n, "user" if n % 2 == 0 else "assistant", HISTORY_TURN.format(n=n),
              time.time()) for n in range(size)])
        store.db.execute("COMMIT")
        ids[size] = chat
    store.close()
    return ids


MANY_CHATS, MESSAGES_EACH = 1000, 100


def write_many_chats(path: Path) -> None:
    """1,000 chats of 100 messages (100,000 in all); chat n's messages name "quokka{n}"."""
    store, _ = Store.open(path)
    store.db.execute("BEGIN")
    for n in range(MANY_CHATS):
        cursor = store.db.execute(
            "INSERT INTO chats(title, model, settings, created, updated) VALUES (?, ?, ?, ?, ?)",
            (f"Trip {n} notes", "m.gguf", "{}", time.time(), time.time()))
        store.db.executemany(
            "INSERT INTO messages(chat_id, position, role, text, created) "
            "VALUES (?, ?, ?, ?, ?)",
            [(cursor.lastrowid, m, "user" if m % 2 == 0 else "assistant",
              HISTORY_TURN.format(n=m) + f" quokka{n}", time.time())
             for m in range(MESSAGES_EACH)])
    store.db.execute("COMMIT")
    store.close()


def many_in_tui(config: Path, folder: Path) -> dict:
    """With the 100,000-message history: first paint, the chat list's open, and a search
    typed into it (until the one matching chat is drawn)."""
    app = PtyApp(["-m", "pychat", "--config", str(config)], 120, 40, cwd=folder)
    try:
        first_paint = app.wait_for_bytes(b"Chat", app.started, 30)
        time.sleep(2.0)
        t0 = time.time()
        app.write("\x14")  # ctrl+t
        listed = app.wait_for_bytes(b"Trip 999 notes", t0, 10)
        time.sleep(0.5)
        t1 = time.time()
        app.write("quokka517")
        found = app.wait_for_bytes(b"Trip 517 notes", t1, 10)
    finally:
        app.quit()
    return {"first_paint_s": first_paint - app.started if first_paint else None,
            "list_open_s": listed - t0 if listed else None,
            "search_s": found - t1 if found else None}


def search_times(history: Path) -> dict[str, float]:
    """Milliseconds per search (median of 5), in process."""
    store, _ = Store.open(history)
    times: dict[str, float] = {}
    for query in ("okapi", "giraffe", "ituri fore", "point 9999"):
        runs = []
        for _ in range(5):
            t0 = time.perf_counter()
            store.search(query)
            runs.append(time.perf_counter() - t0)
        times[query] = statistics.median(runs) * 1000
    store.close()
    return times


def open_in_tui(config: Path, folder: Path, size: int, model: Path) -> dict:
    """ctrl+t, the chat's title typed, Enter; a key typed 20 ms after Enter."""
    trace = folder / "trace.jsonl"
    app = PtyApp(["-m", "pychat", "--config", str(config)], 120, 40, cwd=folder,
                 env={"PYCHAT_TRACE": str(trace)})
    try:
        if not wait_trace(trace, "model_ready", 60, after=app.started):
            raise RuntimeError("the model never loaded")
        time.sleep(1.0)
        before, _ = rss_beyond_model(app.pid, model)
        t0 = time.time()
        app.write("\x14")  # ctrl+t
        app.wait_for_bytes(b"type to search", t0, 10)
        t0 = time.time()
        app.write(f"{size} messages")
        app.wait_for_bytes(f"Long chat of {size}".encode(), t0, 10)
        time.sleep(0.5)
        enter = time.time()
        app.write("\r")
        time.sleep(0.02)
        typed = time.time()
        app.write("\u00a4")  # typed while the chat opens
        echo = app.wait_for_bytes("\u00a4".encode(), typed, 10)
        opened = wait_trace(trace, "chat_opened", 30, after=enter)
        time.sleep(1.5)
        after, _ = rss_beyond_model(app.pid, model)
    finally:
        app.quit()
    return {"open_s": opened["t"] - enter if opened else None,
            "mounted": opened.get("mounted") if opened else None,
            "echo_ms": (echo - typed) * 1000 if echo else None,
            "rss_growth_mib": (after - before) / MiB}


def run(quick: bool) -> dict:
    model = EMBEDDED[0].ensure()
    folder = Path(tempfile.mkdtemp(prefix="pychat-history-"))
    history = folder / "history.sqlite3"
    write_long_chats(history, SIZES)
    config = folder / "config.toml"
    config.write_text(f'models_dir = "{folder}"\ndefault_model = "{model}"\n'
                      f'history_file = "{history}"\n')
    many = folder / "many.sqlite3"
    write_many_chats(many)
    many_config = folder / "many.toml"
    many_config.write_text(f'models_dir = "{folder}"\ndefault_model = "{model}"\n'
                           f'history_file = "{many}"\n')
    return {"messages_in_file": sum(SIZES), "search_ms": search_times(history),
            "open": {str(size): open_in_tui(config, folder, size, model) for size in SIZES},
            "many": {"search_ms": search_times(many), **many_in_tui(many_config, folder)}}


def render(results: dict) -> list[str]:
    hist = results["history"]
    lines = ["## Long kept chats", "",
             "| chat | open (Enter → shown) | widgets mounted | key echo while it opens | "
             "RSS growth |", "| --- | --- | --- | --- | --- |"]
    for size, r in hist["open"].items():
        lines.append(f"| {int(size):,} messages | {fmt(r['open_s'], '.3f', ' s')} | "
                     f"{r['mounted']} | {fmt(r['echo_ms'], '.0f', ' ms')} | "
                     f"{fmt(r['rss_growth_mib'], '.1f', ' MiB')} |")
    searches = ", ".join(f"“{q}” {ms:.1f} ms" for q, ms in hist["search_ms"].items())
    return lines + [
        "", f"Search over {hist['messages_in_file']:,} messages (FTS5, median of 5): "
        f"{searches}.", "",
        "Real TUI in a pty, 120x40: ctrl+t, the chat's title typed, Enter; open is timed "
        "from Enter to the chat pane having mounted its window of turns (trace event). A key "
        "is typed 20 ms after Enter. Targets: 1,000 messages ≤ 0.3 s, 10,000 ≤ 1 s, RSS "
        "growth ≤ 50 MiB, typing instant.", ""] + _render_many(hist.get("many"))


def _render_many(many: dict | None) -> list[str]:
    if not many:
        return []
    searches = ", ".join(f"“{q}” {ms:.1f} ms" for q, ms in many["search_ms"].items())
    return [f"A history of {MANY_CHATS * MESSAGES_EACH:,} messages in {MANY_CHATS:,} chats: "
            f"first paint {fmt(many['first_paint_s'], '.3f', ' s')} (the file is opened on "
            f"its own thread), the chat list (ctrl+t) drawn after "
            f"{fmt(many['list_open_s'], '.3f', ' s')}, a search typed into it "
            f"(\u201cquokka517\u201d, 9 keys at once) answered on screen after "
            f"{fmt(many['search_s'], '.3f', ' s')}; in process: {searches}. Targets: list ≤ "
            "0.3 s, search ≤ 50 ms.", ""]
