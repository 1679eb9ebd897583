"""A throwaway OpenSSH server on 127.0.0.1 for this user, with keys of its own: PyChat is
tried through a real SSH connection, as users run it on a GPU box."""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

from tests.support.processes import stop

SSHD = Path("/usr/sbin/sshd")


def missing() -> str:
    """Why an SSH test cannot run here ("" when it can)."""
    if not SSHD.exists():
        return "no OpenSSH server (apt-get install openssh-server)"
    if shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "no OpenSSH client"
    return ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sshd:
    """sshd in the foreground on a free port; ``command(...)`` is the ssh line that runs
    a shell command there with a terminal."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        for name in ("host_key", "user_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(folder / name)], check=True)
        (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
        (folder / "authorized_keys").chmod(0o600)
        self.port = _free_port()
        config = folder / "sshd_config"
        config.write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1",
            f"HostKey {folder / 'host_key'}", f"AuthorizedKeysFile {folder / 'authorized_keys'}",
            f"PidFile {folder / 'sshd.pid'}", "PasswordAuthentication no",
            "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
            "PermitRootLogin prohibit-password", "PermitUserEnvironment no",
            "Subsystem sftp internal-sftp", ""]))
        Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation wants it
        self.process = subprocess.Popen([str(SSHD), "-D", "-e", "-f", str(config)],
                                        stdout=subprocess.DEVNULL,
                                        stderr=(folder / "sshd.log").open("w"))
        self._wait_listening()

    def _wait_listening(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.folder / "sshd.log").read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("sshd did not listen")

    def command(self, remote: str) -> str:
        """The ssh command line (for a shell) that runs ``remote`` there in a terminal."""
        options = ["-tt", "-p", str(self.port), "-i", str(self.folder / "user_key"),
                   "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                   "-o", "LogLevel=ERROR", "-o", "BatchMode=yes"]
        quoted = remote.replace("'", "'\\''")
        return f"ssh {' '.join(options)} {getpass.getuser()}@127.0.0.1 '{quoted}'"

    def close(self) -> None:
        stop(self.process, 5)
