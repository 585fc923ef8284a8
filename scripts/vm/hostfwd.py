"""Forward loopback ports of this machine to the same ports of the running test-bed VM.

    python3 hostfwd.py RUN_DIR PORT [PORT...]

Sends `hostfwd_add` to the VM's qemu monitor (RUN_DIR/monitor.sock), so a tenant's SSH port
published on the guest answers on 127.0.0.1:PORT here, as its handoff note says.
"""
import socket
import sys


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(10)
    sock.connect(argv[1] + "/monitor.sock")
    rc = 0
    for port in argv[2:]:
        sock.sendall(("hostfwd_add net0 tcp:127.0.0.1:%d-:%d\n" % (int(port), int(port))).encode())
    sock.sendall(b"info usernet\n")
    data = b""
    try:
        while b"Protocol" not in data or not data.rstrip().endswith(b"(qemu)"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        sys.stderr.write("hostfwd: no complete answer from the qemu monitor\n")
        rc = 1
    text = data.decode(errors="replace")
    for line in text.splitlines():
        if "could not" in line.lower() or "error" in line.lower():
            sys.stderr.write("hostfwd: %s\n" % line.strip())
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
