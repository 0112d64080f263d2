"""The receive hook as git runs it: hand the call to the running server and relay its answer.

Started as `python -S -E hook_client.py pre-receive`, it imports only modules built into the
interpreter (`_socket`, `_json`: no `socket`, `json`, `enum` or `re`), so it starts in about
10 ms instead of the ~25 ms that the standard library's wrappers cost (or the ~0.5 s of
dulwich, peewee and huey); the server runs the hook with everything already loaded. When there
is no server socket (git run by hand on a repo, say), it falls back to running the hook
in-process.

Wire format on the Unix socket: one JSON line {"hook", "token", "env", "length"}, then git's
stdin, exactly `length` bytes (the server reads all of it, and refuses a push past its cap); the
server answers with the output text and a last line "\\0exit=N".
"""

import _json  # the C half of `json`: one string as a JSON literal, without importing `re`
import _socket  # the C half of `socket`, without `enum` and `selectors`
import os
import sys

_ENV_NAMES = ("GIT_DIR", "GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY",
              "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GITSERVER_REPO_ID", "GITSERVER_PUSHER_ID")
_EXIT = b"\0exit="


def _fallback(hook: str, stdin: bytes) -> None:
    import tempfile  # pylint: disable=import-outside-toplevel  # rare: not on every push's path
    with tempfile.TemporaryFile() as saved:  # stdin was read: hand the same bytes on
        saved.write(stdin)
        saved.seek(0)
        os.dup2(saved.fileno(), 0)
    os.execv(sys.executable, [sys.executable, "-m", "gitserver.hook_process", hook])


def header(hook: str, environ: dict[str, str], length: int) -> bytes:
    """The JSON line that starts a call: the hook, the server's token, git's variables."""
    env = {name: environ[name] for name in _ENV_NAMES if name in environ}
    # `git push -o ...`: git gives the hooks the count and each option (hooks/push_options.py)
    env.update((name, value) for name, value in environ.items()
               if name.startswith("GIT_PUSH_OPTION_"))
    env["GIT_DIR"] = os.path.abspath(env.get("GIT_DIR", "."))
    quote = _json.encode_basestring_ascii
    pairs = ", ".join(f"{quote(name)}: {quote(value)}" for name, value in env.items())
    return (f'{{"hook": {quote(hook)}, "token": {quote(environ.get("GITSERVER_HOOK_TOKEN", ""))}'
            f', "env": {{{pairs}}}, "length": {int(length)}}}\n').encode("ascii")


def main() -> int:
    """Relay the hook named in argv[1] to the server; return the exit code it answers."""
    hook = sys.argv[1]
    stdin = sys.stdin.buffer.read()
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        sock.connect(os.environ.get("GITSERVER_HOOK_SOCKET", ""))
    except OSError:
        sock.close()
        _fallback(hook, stdin)
    sock.sendall(header(hook, dict(os.environ), len(stdin)) + stdin)
    sock.shutdown(_socket.SHUT_WR)
    out = sys.stdout.buffer
    tail = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data = tail + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            tail = data
            continue
        out.write(data[:cut + 1])
        out.flush()
        tail = data[cut + 1:]
    sock.close()
    if tail.startswith(_EXIT):
        return int(tail[len(_EXIT):])
    out.write(b"The server stopped while checking this push; push again.\n")
    out.flush()
    return 1


if __name__ == "__main__":
    sys.exit(main())
