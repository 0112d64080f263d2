"""The receive hook as git runs it: hand the call to the running server and relay its answer.

Started as `python -S -E hook_client.py pre-receive` so it imports nothing but the standard
library (about 20 ms instead of the ~0.5 s that importing dulwich, peewee and huey costs); the
server runs the hook with everything already loaded. When there is no server socket (git run by
hand on a repo, say), it falls back to running the hook in-process.

Wire format on the Unix socket: one JSON line {"hook", "token", "env", "length"}, then git's
stdin, exactly `length` bytes (the server reads all of it, and refuses a push past its cap); the
server answers with the output text and a last line "\\0exit=N".
"""

import json
import os
import socket
import sys
import tempfile

_ENV_NAMES = ("GIT_DIR", "GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY",
              "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GITSERVER_REPO_ID", "GITSERVER_PUSHER_ID")



def _fallback(hook: str) -> None:
    os.execv(sys.executable, [sys.executable, "-m", "gitserver.hook_process", hook])


def main() -> int:
    """Relay the hook named in argv[1] to the server; return the exit code it answers."""
    hook = sys.argv[1]
    path = os.environ.get("GITSERVER_HOOK_SOCKET", "")
    stdin = sys.stdin.buffer.read()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        with tempfile.TemporaryFile() as saved:  # stdin was read: hand the same bytes on
            saved.write(stdin)
            saved.seek(0)
            os.dup2(saved.fileno(), 0)
        _fallback(hook)
    env = {name: os.environ[name] for name in _ENV_NAMES if name in os.environ}
    # `git push -o ...`: git gives the hooks the count and each option (hooks/push_options.py)
    env.update((name, value) for name, value in os.environ.items()
               if name.startswith("GIT_PUSH_OPTION_"))
    env["GIT_DIR"] = os.path.abspath(env.get("GIT_DIR", "."))
    header = {"hook": hook, "token": os.environ.get("GITSERVER_HOOK_TOKEN", ""), "env": env,
              "length": len(stdin)}
    sock.sendall(json.dumps(header).encode() + b"\n" + stdin)
    sock.shutdown(socket.SHUT_WR)
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
        sys.stdout.buffer.write(data[:cut + 1])
        sys.stdout.flush()
        tail = data[cut + 1:]
    if tail.startswith(b"\0exit="):
        return int(tail[len(b"\0exit="):])
    sys.stdout.write("The server stopped while checking this push; push again.\n")
    return 1


if __name__ == "__main__":
    sys.exit(main())
