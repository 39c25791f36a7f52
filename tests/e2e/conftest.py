"""Fixtures of the end-to-end tests: a real sshd on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.procs import wait_for

SSHD = "/usr/sbin/sshd"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An sshd on 127.0.0.1 that lets this user in with a fresh key."""
    if not os.path.exists(SSHD):
        if os.environ.get("CI"):
            raise AssertionError(f"{SSHD} is missing: .ci/run installs openssh-server")
        pytest.skip(f"{SSHD} is not installed (apt-get install openssh-server)")
    for name in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True
        )
    shutil.copy(tmp_path / "user_key.pub", tmp_path / "authorized_keys")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path / 'host_key'}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPidFile {tmp_path / 'sshd.pid'}\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # its privilege separation directory
    server = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(tmp_path / "sshd_config")],
        stderr=(tmp_path / "sshd.log").open("w"),
    )
    wait_for(lambda: _listening(port), 10)
    yield port, tmp_path / "user_key"
    server.terminate()
    server.wait(10)


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def ssh_command(port: int, key: Path, remote: str) -> list[str]:
    """ssh to the test's sshd as this user, with a terminal, running `remote`."""
    user = os.environ.get("USER", "root")
    return [
        "ssh", "-tt", "-i", str(key), "-p", str(port), "-o", "BatchMode=yes",
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        f"{user}@127.0.0.1", remote,
    ]  # fmt: skip
