"""A scripted reply with reasoning and two code blocks (Python, then shell with non-ASCII
text): what the copy tests in a pty, in tmux and over ssh copy out of, byte for byte."""

FIRST = "def add(a, b):\n    return a + b"
SECOND = 'echo "second block"\nprintf \'%s\\n\' "ünïcode ✓"'
REPLY = (f"<think>Two snippets.</think>Here you go.\n\n```python\n{FIRST}\n```\n\n"
         f"And the shell one:\n\n```sh\n{SECOND}\n```\n\nDone.")
