"""What went wrong with a server, in one line for the user: network failures, refusals,
error bodies (JSON, HTML from a proxy, anything), and context overflows.

Everything a server says is untrusted text: it is made inert and cut short here."""

from __future__ import annotations

import json
import re
from typing import Any

from pychat.errors import BackendUnavailable, ContextOverflowError, GenerationError, PyChatError
from pychat.text import inert_line

BODY_CHARS = 300
"""The most of a server's error text a message quotes."""


def shown(text: str, limit: int = BODY_CHARS) -> str:
    """Untrusted text, made inert and cut to ``limit`` characters."""
    text = " ".join(inert_line(text).split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def error_text(body: bytes, content_type: str = "") -> str:
    """What an error body says: the message of a JSON error, else a word on what came."""
    text = body.decode("utf-8", errors="replace").strip()
    if not text:
        return "(an empty body)"
    if "html" in content_type.lower() or text.lower().startswith(("<!doctype", "<html")):
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.I | re.S)
        about = f" titled “{shown(title.group(1), 80)}”" if title else ""
        return f"an HTML page{about} (a proxy or a wrong base_url?)"
    try:
        data: Any = json.loads(text)
    except ValueError:
        return f"“{shown(text)}”"
    message = json_error_message(data)
    return f"“{shown(message)}”" if message else f"“{shown(text)}”"


def json_error_message(data: Any) -> str:
    """The message in the usual shapes of a JSON error ("" when there is none):
    ``{"error": {"message": …}}``, ``{"error": "…"}``, ``{"detail": …}``, ``{"message": …}``."""
    if not isinstance(data, dict):
        return ""
    error = data.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or "")
    if isinstance(error, str):
        return error
    detail = data.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg", ""))
    message = data.get("message")
    return message if isinstance(message, str) else ""


_CONTEXT = re.compile(r"context (length|window|size)|exceeds? the (available )?context|"
                      r"maximum context|too many tokens|exceed context", re.I)


def status_error(server: str, status: int, body: bytes, content_type: str,
                 retry_after: str | None, key_env: str, model: str) -> PyChatError:
    """The error for an HTTP status the server answered a request with."""
    said = error_text(body, content_type)
    if status in (401, 403):
        key = f"check ${key_env} (the key PyChat sends it)" if key_env \
            else "it wants a key: set api_key_env for it in config.toml"
        return BackendUnavailable(f"{server} refused the request ({status}): {key}. It said "
                                  f"{said}.", "Server refused the key")
    if status == 404:
        return BackendUnavailable(f"{server} answered 404: no model “{shown(model, 80)}” there, "
                                  f"or a wrong base_url. It said {said}.", "Not found")
    if status == 429:
        wait = f"; it asks to wait {shown(retry_after, 20)} s (Retry-After)" \
            if retry_after else ""
        return BackendUnavailable(f"{server} is busy or the quota is used up (429){wait}. "
                                  f"It said {said}.", "Server busy")
    if status in (400, 413, 422) and _CONTEXT.search(said):
        return ContextOverflowError(f"{server} says the conversation does not fit the model's "
                                    f"context: {said}. Start a new chat or shorten the "
                                    "message.")
    if status >= 500:
        return GenerationError(f"{server} failed ({status}): {said}.", "Server error")
    return GenerationError(f"{server} refused the request ({status}): {said}.",
                           "Server refused")


def network_error(server: str, exc: Exception, timeout: float) -> BackendUnavailable:
    """The error for a request that got no HTTP answer at all."""
    name = type(exc).__name__
    text = str(exc)
    lowered = text.lower()
    if name == "ConnectTimeout":
        why = f"no connection within {timeout:g} s"
    elif "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        why = f"the TLS check failed ({shown(text, 160)}); if it is your own server with " \
              "its own certificate, set verify_tls = false for it"
    elif "name or service not known" in lowered or "nodename nor servname" in lowered or \
            "temporary failure in name resolution" in lowered or "getaddrinfo" in lowered:
        why = "its host name does not resolve (DNS)"
    elif "refused" in lowered:
        why = "the connection was refused (is the server running?)"
    else:
        why = shown(text or name, 160)
    return BackendUnavailable(f"cannot reach {server}: {why}.", "Server unavailable")
