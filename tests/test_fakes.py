"""Every backend provides the Backend protocol with its signatures, and the fake stands in
for the real local one: same public names, same signatures."""

from __future__ import annotations

import inspect

import pytest

from pychat.engine.base import Backend
from pychat.engine.llama import LlamaBackend
from pychat.engine.remote import RemoteBackend
from tests.support.fake_backend import FakeBackend


def public_members(cls: type) -> dict[str, object]:
    return {name: member for name, member in inspect.getmembers(cls)
            if not name.startswith("_")}


def protocol_members() -> dict[str, object]:
    return {name: member for name, member in vars(Backend).items()
            if not name.startswith("_")}


def test_the_fake_backend_has_the_real_backends_methods_and_signatures() -> None:
    real, fake = public_members(LlamaBackend), public_members(FakeBackend)
    for name, member in real.items():
        assert name in fake, f"FakeBackend lacks {name}"
        if inspect.isfunction(member):
            assert inspect.signature(member) == inspect.signature(fake[name]), name
        else:
            assert type(member) is type(fake[name]), name


@pytest.mark.parametrize("backend", [FakeBackend, LlamaBackend, RemoteBackend],
                         ids=lambda cls: cls.__name__)
def test_every_backend_provides_the_protocol(backend: type) -> None:
    members = protocol_members()
    assert {"load", "stream_chat", "count_tokens", "list_models", "capabilities",
            "close", "shutdown", "loaded", "can_offload", "set_log_callback"} <= set(members)
    for name, wanted in members.items():
        given = getattr(backend, name, None)
        assert given is not None, f"{backend.__name__} lacks {name}"
        if inspect.isfunction(wanted):
            assert inspect.isfunction(given), f"{backend.__name__}.{name} is not a method"
            assert inspect.signature(given) == inspect.signature(wanted), \
                f"{backend.__name__}.{name}{inspect.signature(given)}"
        elif isinstance(wanted, property):
            assert isinstance(given, property), f"{backend.__name__}.{name} is no property"
