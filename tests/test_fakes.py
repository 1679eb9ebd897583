"""The fakes stand in for real classes: same public names, same signatures."""

from __future__ import annotations

import inspect

from pychat.engine.base import Backend
from pychat.engine.llama import LlamaBackend
from tests.support.fake_backend import FakeBackend


def public_members(cls: type) -> dict[str, object]:
    return {name: member for name, member in inspect.getmembers(cls)
            if not name.startswith("_")}


def protocol_members() -> set[str]:
    names = {n for n in vars(Backend) if not n.startswith("_")}
    return names | set(Backend.__annotations__)


def test_the_fake_backend_has_the_real_backends_methods_and_signatures() -> None:
    real, fake = public_members(LlamaBackend), public_members(FakeBackend)
    for name, member in real.items():
        assert name in fake, f"FakeBackend lacks {name}"
        if inspect.isfunction(member):
            assert inspect.signature(member) == inspect.signature(fake[name]), name
        else:
            assert type(member) is type(fake[name]), name


def test_both_backends_provide_the_protocol() -> None:
    fake = FakeBackend()
    for name in protocol_members():
        assert hasattr(LlamaBackend, name), name
        assert hasattr(fake, name), name
