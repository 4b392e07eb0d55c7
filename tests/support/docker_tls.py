"""A Docker engine reached over verified TLS, for tests: certificates made with openssl, and a TLS
front on 127.0.0.1 that passes each connection through to the local engine's unix socket (what
``dockerd --tlsverify -H tcp://…`` serves, without restarting the shared engine)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from pathlib import Path

DOCKER_SOCKET = "/var/run/docker.sock"


def make_certificates(directory: Path) -> Path:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as the Docker CLI expects
    them in DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem); the server's in server-*.pem."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2", "-subj", "/CN=test-ca")
    for name, usage, extra in (("server", "serverAuth", "subjectAltName=IP:127.0.0.1\n"), ("client", "clientAuth", "")):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr", "-subj", f"/CN={name}")
        (directory / f"{name}.ext").write_text(f"extendedKeyUsage={usage}\n{extra}")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial", "-out",
                f"{name}-cert.pem", "-days", "2", "-extfile", f"{name}.ext")
    (directory / "cert.pem").write_bytes((directory / "client-cert.pem").read_bytes())
    (directory / "key.pem").write_bytes((directory / "client-key.pem").read_bytes())
    return directory


class TLSFront:
    """Listens on 127.0.0.1 (``port``), requires a client certificate signed by the test CA, and
    relays bytes both ways to the Docker socket until either side closes."""

    def __init__(self, certs: Path) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(certs / "ca.pem"))
        self.context.load_cert_chain(str(certs / "server-cert.pem"), str(certs / "server-key.pem"))
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.plain_requests = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                raw, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            client = self.context.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            self.plain_requests += 1  # not TLS, or no valid client certificate: refused
            raw.close()
            return
        engine = socket.socket(socket.AF_UNIX)
        engine.connect(DOCKER_SOCKET)
        threading.Thread(target=_pump, args=(engine, client), daemon=True).start()
        _pump(client, engine)

    def close(self) -> None:
        self.listener.close()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while chunk := source.recv(65536):
            target.sendall(chunk)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
