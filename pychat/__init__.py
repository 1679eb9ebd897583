"""PyChat: a keyboard-only terminal chat app for local GGUF models."""

__version__ = "0.1.0"
