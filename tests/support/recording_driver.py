"""A Textual driver that records every write, unfiltered, for tests/test_terminal.py.

Selected with TEXTUAL_DRIVER=tests.support.recording_driver:RecordingDriver; the file named by
$PYCHAT_RECORD gets one JSON line per write: the terminal size then and the data.
"""

from __future__ import annotations

import json
import os
import sys

from textual.drivers.linux_driver import LinuxDriver


class RecordingDriver(LinuxDriver):
    def write(self, data: str) -> None:
        size = tuple(os.get_terminal_size(sys.__stderr__.fileno()))
        with open(os.environ["PYCHAT_RECORD"], "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"size": size, "data": data}) + "\n")
        super().write(data)
