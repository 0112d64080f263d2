"""pre-receive: refuse the whole push when any new commit breaks the policy.

git runs this with the pushed objects in a quarantine directory (GIT_QUARANTINE_PATH) and moves
no ref until it exits 0; when it exits non-zero git deletes the quarantine, so the objects of a
rejected push never become reachable, and the pusher sees `! [remote rejected]` for every ref.
"""

from __future__ import annotations

from pathlib import Path

from gitserver.core.config import Settings
from gitserver.core.gitbatch import GitBatch
from gitserver.core.models import RejectedPush

from . import push_options
from .policy import PolicyChecker, Problem, Rule
from .updates import HookCall, RefUpdate

_FIX = ("Fix it, then rewrite the commits that carry it: `git commit --amend` for the last "
        "commit, `git rebase -i <sha>~1` for an older one; then push again.")
# What to do, for a pusher: the git command that does it, where one does.
_GIT_HINT = {
    Rule.DOTGIT: "rename it (`git mv '{value}' <new name>`)",
    Rule.SUBMODULE: "copy the .py files in instead (`git rm --cached {path}`, then add the files)",
    Rule.NOT_PYTHON: "untrack it with `git rm --cached {path}`",
}


def collect_problems(git_dir: Path, quarantine: Path | None, max_file_bytes: int,
                     updates: list[RefUpdate]) -> list[Problem]:
    """Every problem of the pushed refs and of the commits new to the repository."""
    env = None
    if quarantine is not None:  # where receive-pack keeps the push's objects until we accept
        env = {"GIT_OBJECT_DIRECTORY": str(quarantine),
               "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(git_dir / "objects")}
    with GitBatch(git_dir, env) as batch:
        with PolicyChecker(batch, quarantine, max_file_bytes) as checker:
            pushed = [(u.ref, u.new) for u in updates if not u.deleted]
            refused = checker.ref_problems(pushed)
            problems = [refused[ref] for ref, _ in pushed if ref in refused]
            tips = [new for ref, new in pushed if ref not in refused]
            problems += checker.check_commits(checker.new_commits(tips))
    return problems


def push_words(problem: Problem) -> str:
    """The problem as `git push` tells it: what is wrong; what to do, with git's commands."""
    hint = _GIT_HINT.get(problem.rule, problem.hint).format(path=problem.path,
                                                             value=problem.value)
    return f"{problem.what}; {hint}" if hint else problem.what


def push_line(problem: Problem) -> str:
    """The problem's `remote:` line: the commit and path it concerns, then what to do."""
    if problem.rule is Rule.REF_TARGET:  # no commit or path: the words name the ref
        return f"  {push_words(problem)}"
    return f"  {(problem.commit or '')[:7]} {problem.path}: {push_words(problem)}"


def run(settings: Settings, call: HookCall) -> int:
    """The pre-receive hook: 0, or print the problems for the pusher and return 1."""
    try:
        push_options.parse(call.env)
    except push_options.PushOptionError as exc:
        call.out(f"Push rejected: {exc} Nothing was changed.")
        return 1
    quarantine = call.env.get("GIT_QUARANTINE_PATH")
    problems = collect_problems(call.git_dir, Path(quarantine) if quarantine else None,
                                settings.limits.max_file_bytes, call.updates)
    if not problems:
        return 0
    count = len(problems)
    call.out(f"Push rejected: {count} problem{'s' if count != 1 else ''} with the push policy "
             "(this server accepts Python source files only). Nothing was changed.")
    for problem in problems:
        call.out(push_line(problem))
    call.out(_FIX)
    RejectedPush.create(repo=call.int_env("GITSERVER_REPO_ID"),
                        pusher=call.int_env("GITSERVER_PUSHER_ID"), problems=count)
    return 1
