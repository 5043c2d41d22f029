"""What every script that starts its own ledgerd needs: a free port, and to wait until it serves."""
import socket
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(base, seconds):
    """True once `GET base/healthz` answers, False after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1)
            return True
        except OSError:
            time.sleep(0.1)
    return False
