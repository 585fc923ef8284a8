"""Loopback helpers shared by the integration tests."""

import socket


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port
