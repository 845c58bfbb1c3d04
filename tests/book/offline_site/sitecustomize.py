"""Network guard for the offline build of the book (tests only).

Python imports ``sitecustomize`` at start-up from any folder on PYTHONPATH. The tests put this
folder there, with DUALFILTER_OFFLINE=1, for the book build and the chapter executions: every
Python process they start (jupyter-book, and each notebook kernel, which inherits the
environment) then refuses to connect to, or resolve, any host that is not loopback. The kernel
and its client talk over 127.0.0.1, which stays allowed. Without DUALFILTER_OFFLINE=1 this
module does nothing.
"""

import os

if os.environ.get("DUALFILTER_OFFLINE") == "1":
    import ipaddress
    import socket

    _connect = socket.socket.connect
    _connect_ex = socket.socket.connect_ex
    _getaddrinfo = socket.getaddrinfo

    def _is_loopback(host) -> bool:
        if isinstance(host, bytes):
            host = host.decode()
        if host in (None, "", "localhost"):
            return True
        try:
            return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
        except ValueError:
            return False

    def _check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise ConnectionRefusedError(
                f"network access blocked by the dualfilter offline guard: {address!r}")

    def connect(self, address):
        _check(self, address)
        return _connect(self, address)

    def connect_ex(self, address):
        _check(self, address)
        return _connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            raise socket.gaierror(
                socket.EAI_NONAME, f"name lookup blocked by the dualfilter offline guard: {host!r}")
        return _getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
