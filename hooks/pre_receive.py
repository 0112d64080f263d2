"""pre-receive: refuse the whole push when any new commit breaks the policy.

git runs this with the pushed objects in a quarantine directory (GIT_QUARANTINE_PATH) and moves
no ref until it exits 0; when it exits non-zero git deletes the quarantine, so the objects of a
rejected push never become reachable, and the pusher sees `! [remote rejected]` for every ref.
"""

from __future__ import annotations

from pathlib import Path

from dulwich.object_store import DiskObjectStore, OverlayObjectStore

from gitserver.core.config import Settings
from gitserver.core.models import RejectedPush

from .policy import PolicyChecker, Violation
from .updates import HookCall

_FIX = ("Fix it, then rewrite the commits that carry it: `git commit --amend` for the last "
        "commit, `git rebase -i <sha>~1` for an older one; then push again.")


def collect_violations(git_dir: Path, quarantine: Path | None, max_file_bytes: int,
                       updates: list) -> list[Violation | str]:
    """Every problem of the pushed refs and of the commits new to the repository."""
    existing = DiskObjectStore(git_dir / "objects")
    if quarantine is not None:
        new_store = DiskObjectStore(quarantine)
        store = OverlayObjectStore([new_store, existing])
        def is_new(sha: bytes) -> bool:
            return sha in new_store
    else:  # no quarantine (git < 2.13): treat every object as new, which is safe but slower
        store = existing
        def is_new(_sha: bytes) -> bool:
            return True
    checker = PolicyChecker(store, is_new, max_file_bytes)
    problems: list[Violation | str] = []
    tips = []
    for update in updates:
        if update.deleted:
            continue
        problem = checker.ref_problem(update.ref, update.new.encode())
        if problem:
            problems.append(problem)
        else:
            tips.append(update.new.encode())
    for commit in checker.new_commits(tips):
        problems.extend(checker.check_commit(commit))
    return problems


def run(settings: Settings, call: HookCall) -> int:
    """The pre-receive hook: 0, or print the problems for the pusher and return 1."""
    quarantine = call.env.get("GIT_QUARANTINE_PATH")
    problems = collect_violations(call.git_dir, Path(quarantine) if quarantine else None,
                                  settings.limits.max_file_bytes, call.updates)
    if not problems:
        return 0
    count = len(problems)
    call.out(f"Push rejected: {count} problem{'s' if count != 1 else ''} with the push policy "
             "(this server accepts Python source files only). Nothing was changed.")
    for problem in problems:
        call.out(problem.line() if isinstance(problem, Violation) else f"  {problem}")
    call.out(_FIX)
    RejectedPush.create(repo=call.int_env("GITSERVER_REPO_ID"),
                        pusher=call.int_env("GITSERVER_PUSHER_ID"), problems=count)
    return 1
