"""A small threaded HTTP host that runs git's own `git http-backend` as CGI.

The baseline of the push/clone benchmark: what a plain web server in front of
git-http-backend costs. Request and response bodies are streamed in 64 KiB pieces so the
host is not the bottleneck: chunked request bodies (git uses them for bodies larger than
http.postBuffer) are decoded on the fly, and the CGI's output is relayed with chunked
transfer encoding so connections stay alive like they would behind a real web server.

Like a real deployment it asks for HTTP Basic credentials (git sends them after a 401)
and hands the user name to the CGI as REMOTE_USER; the password is not checked.

Run: python bench/cgi_host.py --root DIR [--host 127.0.0.1] [--port 0]
It prints the port it listens on as the first line of stdout, then serves until killed.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, BinaryIO
from urllib.parse import unquote, urlsplit

CHUNK = 64 * 1024
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"
# Request headers git-http-backend reads from the environment (CGI: HTTP_<NAME>).
PASSED_HEADERS = ("Content-Encoding", "Git-Protocol", "Accept", "User-Agent")


class CgiHost(ThreadingHTTPServer):
    """HTTP server that knows the project root and the CGI to run."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], project_root: Path, backend: str) -> None:
        super().__init__(address, GitCgiHandler)
        self.project_root = project_root
        self.backend = backend


def basic_auth_user(header: str | None) -> str | None:
    """Return the user name of a Basic Authorization header, or None."""
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, _ = decoded.partition(":")
    return user or None


def copy_exact(rfile: BinaryIO, sink: IO[bytes], length: int) -> None:
    """Copy exactly length bytes of the request body (all of it, or one chunk)."""
    remaining = length
    while remaining:
        data = rfile.read(min(CHUNK, remaining))
        if not data:
            raise ConnectionError("client closed the connection inside the body")
        sink.write(data)
        remaining -= len(data)


def read_chunked(rfile: BinaryIO, sink: IO[bytes]) -> None:
    """Decode a chunked request body from rfile into sink, piece by piece."""
    while True:
        size = int(rfile.readline().split(b";", 1)[0].strip(), 16)
        if size == 0:
            break
        copy_exact(rfile, sink, size)
        rfile.readline()  # the CRLF after each chunk
    while rfile.readline() not in (b"\r\n", b"\n", b""):
        pass  # trailers


def read_cgi_headers(stdout: IO[bytes]) -> tuple[int, str, list[tuple[str, str]]]:
    """Read the CGI header block; return status code, reason and the other headers."""
    code, reason, headers = 200, "OK", []
    while True:
        line = stdout.readline().decode("latin-1").rstrip("\r\n")
        if not line:
            return code, reason, headers
        name, _, value = line.partition(":")
        value = value.strip()
        if name.lower() == "status":
            number, _, reason = value.partition(" ")
            code = int(number)
        else:
            headers.append((name, value))


class GitCgiHandler(BaseHTTPRequestHandler):
    """Run git-http-backend for each GET and POST, streaming both bodies."""

    protocol_version = "HTTP/1.1"
    server: CgiHost

    def do_GET(self) -> None:  # pylint: disable=invalid-name  # http.server's name
        """info/refs (the ref advertisement)."""
        self.run_cgi()

    def do_POST(self) -> None:  # pylint: disable=invalid-name
        """git-upload-pack and git-receive-pack."""
        self.run_cgi()

    def log_message(self, format: str, *args: object) -> None:  # pylint: disable=redefined-builtin
        """Stay quiet: one line per request would cost more than the benchmark measures."""

    def run_cgi(self) -> None:
        """Ask for credentials like a real deployment, then run the CGI for this request."""
        user = basic_auth_user(self.headers.get("Authorization"))
        if user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="bench"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.discard_body()
            return
        with subprocess.Popen(
            [self.server.backend], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            env=self.cgi_environ(user),
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            feeder = threading.Thread(target=self.feed_body, args=(proc.stdin,), daemon=True)
            feeder.start()
            self.relay_response(proc.stdout)
            feeder.join()

    def cgi_environ(self, user: str) -> dict[str, str]:
        """The CGI/1.1 meta-variables git-http-backend reads, and nothing else."""
        parts = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": self.request_version,
            "REQUEST_METHOD": self.command,
            "PATH_INFO": unquote(parts.path),
            "QUERY_STRING": parts.query,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": user,
            "GIT_PROJECT_ROOT": str(self.server.project_root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
        }
        # Without CONTENT_LENGTH git-http-backend reads the body until EOF, which is what
        # a chunked request needs.
        if self.headers.get("Content-Length") and not self.is_chunked():
            env["CONTENT_LENGTH"] = self.headers["Content-Length"]
        for name in PASSED_HEADERS:
            if name in self.headers:
                env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        for name in ("GIT_CONFIG_NOSYSTEM", "GIT_CONFIG_GLOBAL", "HOME"):
            if name in os.environ:
                env[name] = os.environ[name]
        return env

    def is_chunked(self) -> bool:
        """Does the request body come with chunked transfer encoding?"""
        return "chunked" in self.headers.get("Transfer-Encoding", "").lower()

    def feed_body(self, stdin: IO[bytes]) -> None:
        """Stream the request body into the CGI; gzip stays encoded (the CGI decodes it)."""
        try:
            if self.is_chunked():
                read_chunked(self.rfile, stdin)
            elif self.headers.get("Content-Length"):
                copy_exact(self.rfile, stdin, int(self.headers["Content-Length"]))
        except (BrokenPipeError, ConnectionError, ValueError):
            # The CGI stopped reading (an error it reports itself) or the client went
            # away: the rest of the body is unread, so this connection cannot be reused.
            self.close_connection = True
        finally:
            try:
                stdin.close()
            except BrokenPipeError:
                pass

    def discard_body(self) -> None:
        """Read an unwanted request body so the connection can serve the next request."""
        with open(os.devnull, "wb") as sink:
            self.feed_body(sink)

    def relay_response(self, stdout: IO[bytes]) -> None:
        """Turn the CGI's output into a chunked HTTP/1.1 response, 64 KiB at a time."""
        code, reason, headers = read_cgi_headers(stdout)
        self.send_response(code, reason)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        while data := stdout.read1(CHUNK):  # type: ignore[attr-defined]
            self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
        self.wfile.write(b"0\r\n\r\n")


def main(argv: list[str] | None = None) -> int:
    """Serve until killed; the first line of stdout is the port."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="GIT_PROJECT_ROOT")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--backend", default=HTTP_BACKEND)
    args = parser.parse_args(argv)
    with CgiHost((args.host, args.port), args.root.resolve(), args.backend) as server:
        print(server.server_address[1], flush=True)
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
