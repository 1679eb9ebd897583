"""The inference engine: a plain Python library with no Textual import."""
