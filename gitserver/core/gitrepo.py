"""The one way in to a bare repository on disk: every git read and write of ours goes through here.

klaus's FancyRepo idea: pages, API, hooks and the browser's commits ask a `GitRepo` for what they
need (a ref's commit, a tree's files, a blob at a path, the history, a commit's changes) in `str`
shas and paths, and no module outside this one imports dulwich (but the checker, which reads
commits for pylint on its own). A request opens its repository once and passes it down.

A push still in git's quarantine is read with git's own batch tools instead
(`gitserver.core.gitbatch`): the whole push in a few git processes, not object by object here.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from dulwich.diff_tree import tree_changes
from dulwich.errors import NotGitRepository, NotTreeError
from dulwich.file import FileLocked
from dulwich.object_store import (
    BaseObjectStore,
    commit_tree_changes,
    tree_lookup_path,
)
from dulwich.objects import Blob, ObjectID, ShaFile, Tag, Tree
from dulwich.objects import Commit as DulwichCommit
from dulwich.refs import Ref
from dulwich.repo import Repo as DulwichRepo
from dulwich.walk import Walker

from gitserver.core.config import Settings
from gitserver.core.models import CHANGE_ADDED, CHANGE_DELETED, CHANGE_MODIFIED, Repo
from gitserver.core.repos import repo_path

FILE_MODE = 0o100644
_CHANGE_KINDS = {"add": CHANGE_ADDED, "delete": CHANGE_DELETED, "modify": CHANGE_MODIFIED}


class TreeEntry(NamedTuple):
    """One entry of a tree: a file (blob), a folder (tree), a symlink or a submodule."""
    name: str  # decoded as UTF-8, undecodable bytes replaced
    mode: int
    sha: str

    @property
    def is_dir(self) -> bool:
        """The entry is a folder."""
        return stat.S_ISDIR(self.mode)


@dataclass(frozen=True)
class CommitInfo:
    """What we read of a commit."""
    sha: str
    tree: str
    parents: tuple[str, ...]
    author: str  # "Name <email>"
    message: str
    authored_at: int  # seconds since the epoch, UTC
    committed_at: int


@dataclass(frozen=True)
class PathChange:
    """A file added, modified or deleted between two commits (`models.CHANGE_*`)."""
    kind: str
    path: str
    blob: str | None  # the new blob; None when deleted


class TreeEdit(NamedTuple):
    """One path of a new tree: write `blob` with `mode` there, or delete it (both None)."""
    path: str
    mode: int | None
    blob: str | None


def blob_sha(data: bytes) -> str:
    """The sha git gives a file of these bytes (nothing is written)."""
    return _hex(Blob.from_string(data).id)


def _oid(sha: str) -> ObjectID:
    return ObjectID(sha.encode("ascii"))


def _hex(oid: bytes) -> str:
    return oid.decode("ascii")


class ObjectReads:
    """Reads of single objects, shared by a repository and a push in quarantine."""

    def _objects(self) -> BaseObjectStore:
        raise NotImplementedError

    def _object(self, sha: str) -> ShaFile:
        return self._objects()[_oid(sha)]

    def has_object(self, sha: str) -> bool:
        """The object exists here."""
        return _oid(sha) in self._objects()

    def peel(self, sha: str) -> tuple[str, str]:
        """(type, sha) of the object `sha` names once annotated tags are followed."""
        obj = self._object(sha)
        while isinstance(obj, Tag):
            obj = self._objects()[obj.object[1]]
        return obj.type_name.decode(), _hex(obj.id)

    def peel_commit(self, sha: str) -> str | None:
        """The commit `sha` names (through tags), or None when it names no commit."""
        kind, found = self.peel(sha)
        return found if kind == "commit" else None

    def commit(self, sha: str) -> CommitInfo:
        """The commit `sha` (KeyError when absent, TypeError when not a commit)."""
        obj = self._object(sha)
        if not isinstance(obj, DulwichCommit):
            raise TypeError(f"{sha} is a {obj.type_name.decode()}, not a commit")
        return CommitInfo(
            sha=sha, tree=_hex(obj.tree), parents=tuple(_hex(p) for p in obj.parents),
            author=obj.author.decode("utf-8", "replace"),
            message=obj.message.decode("utf-8", "replace"),
            authored_at=obj.author_time, committed_at=obj.commit_time)

    def tree_entries(self, tree: str) -> list[TreeEntry]:
        """The entries of the tree `tree`, in git's order."""
        obj = self._object(tree)
        if not isinstance(obj, Tree):
            raise TypeError(f"{tree} is a {obj.type_name.decode()}, not a tree")
        return [TreeEntry(e.path.decode("utf-8", "replace"), e.mode, _hex(e.sha))
                for e in obj.iteritems()]

    def blob(self, sha: str) -> bytes:
        """The bytes of the blob `sha`."""
        obj = self._object(sha)
        if not isinstance(obj, Blob):
            raise TypeError(f"{sha} is a {obj.type_name.decode()}, not a blob")
        return obj.as_raw_string()


# pylint: disable-next=too-many-public-methods  # the one way in: every git read of ours is here
class GitRepo(DulwichRepo, ObjectReads):
    """A bare repository of ours. Shas and paths in and out are `str`."""

    def _objects(self) -> BaseObjectStore:
        return self.object_store

    @classmethod
    def of(cls, settings: Settings, repo: Repo) -> GitRepo:
        """Open the bare repository of `repo` (NotGitRepository when it is missing)."""
        return cls(str(repo_path(settings.repos_dir, repo.owner.username, repo.name)))

    @classmethod
    def find(cls, repos_dir: Path, repo: Repo) -> GitRepo | None:
        """The bare repository of `repo`, or None when it is missing on disk."""
        try:
            return cls(str(repo_path(repos_dir, repo.owner.username, repo.name)))
        except NotGitRepository:
            return None

    # -- refs --------------------------------------------------------------------------------

    def branches(self) -> list[str]:
        """The branch names, sorted."""
        return sorted(name.decode("utf-8", "replace")
                      for name in self.refs.keys(base=Ref(b"refs/heads/")))

    def tags(self) -> list[str]:
        """The tag names, sorted."""
        return sorted(name.decode("utf-8", "replace")
                      for name in self.refs.keys(base=Ref(b"refs/tags/")))

    def branch_tips(self) -> list[str]:
        """The sha each branch points at."""
        return [_hex(sha) for sha in self.refs.as_dict(Ref(b"refs/heads")).values()]

    def ref_target(self, ref: str) -> str | None:
        """The sha a full ref (`refs/heads/main`, `HEAD`) points at, unpeeled; None when absent
        (or, for `HEAD`, when it names a branch that does not exist yet)."""
        try:
            return _hex(self.refs[Ref(ref.encode("utf-8"))])
        except KeyError:
            return None

    def branch_tip(self, branch: str) -> str | None:
        """The sha the branch points at, or None when it does not exist."""
        return self.ref_target(f"refs/heads/{branch}")

    def _named(self, name: str) -> str | None:
        """What a branch, a tag or `HEAD` of this name points at, in git's order of lookup."""
        for ref in (f"refs/heads/{name}", f"refs/tags/{name}", "HEAD" if name == "HEAD" else ""):
            target = self.ref_target(ref) if ref else None
            if target is not None:
                return target
        return None

    def names_ref(self, name: str) -> bool:
        """A branch, a tag or `HEAD` has this name."""
        return self._named(name) is not None

    def resolve(self, name: str) -> str | None:
        """The commit a branch, a tag or `HEAD` names (tags peeled); None when no ref has that
        name or it names no commit (a tag of a blob)."""
        target = self._named(name)
        return self.peel_commit(target) if target is not None else None

    def head_ref(self) -> str | None:
        """The ref HEAD names (`refs/heads/main`, whether or not it exists yet); None for a
        detached HEAD."""
        head = self.refs.read_ref(Ref(b"HEAD")) or b""
        prefix = b"ref: "
        return head[len(prefix):].decode("utf-8", "replace") if head.startswith(prefix) else None

    def set_head_branch(self, branch: str) -> bool:
        """Point HEAD at the branch; False when another process holds HEAD's lock."""
        try:
            self.refs.set_symbolic_ref(Ref(b"HEAD"), Ref(f"refs/heads/{branch}".encode()))
        except FileLocked:
            return False
        return True

    def move_ref(self, ref: str, old: str | None, new: str) -> bool:
        """Compare-and-swap: move `ref` from `old` (None: it must not exist) to `new`.

        False when the ref is elsewhere, or is being moved right now (a push holds its lock).
        """
        name = Ref(ref.encode("utf-8"))
        try:
            return (self.refs.add_if_new(name, _oid(new)) if old is None
                    else self.refs.set_if_equals(name, _oid(old), _oid(new)))
        except FileLocked:
            return False

    # -- trees and history -------------------------------------------------------------------

    def _tree_of(self, commit: str) -> ObjectID:
        obj = self._object(commit)
        if not isinstance(obj, DulwichCommit):
            raise TypeError(f"{commit} is a {obj.type_name.decode()}, not a commit")
        return obj.tree

    def tree_files(self, commit: str) -> dict[str, str]:
        """path -> blob sha of every file (any mode) in the commit's tree."""
        return {entry.path.decode("utf-8", "replace"): _hex(entry.sha)
                for entry in self.object_store.iter_tree_contents(self._tree_of(commit))}

    def tree_listing(self, commit: str) -> list[TreeEntry]:
        """Every file, symlink and submodule of the commit's tree with its mode, by path; the
        entries' `name` is the full path."""
        return sorted((TreeEntry(entry.path.decode("utf-8", "replace"), entry.mode,
                                 _hex(entry.sha))
                       for entry in self.object_store.iter_tree_contents(
                           self._tree_of(commit), include_trees=False)),
                      key=lambda entry: entry.name)

    def py_files(self, commit: str) -> dict[str, str]:
        """path -> blob sha of every `.py` file in the commit's tree."""
        return {path: sha for path, sha in self.tree_files(commit).items()
                if path.endswith(".py")}

    def entry_at(self, commit: str, path: str) -> TreeEntry | None:
        """The entry at `path` in the commit's tree ("" is the root folder), or None."""
        tree = self._tree_of(commit)
        if not path:
            return TreeEntry("", stat.S_IFDIR, _hex(tree))
        try:
            mode, sha = tree_lookup_path(self.object_store.__getitem__, tree,
                                         path.encode("utf-8"))
        except (KeyError, NotTreeError):
            return None  # absent, or a file stands where a folder is wanted
        return TreeEntry(path.rsplit("/", 1)[-1], mode, _hex(sha))

    def blob_at(self, commit: str, path: str) -> tuple[str, bytes] | None:
        """(blob sha, bytes) of the regular file at `path` in the commit, or None."""
        entry = self.entry_at(commit, path)
        if entry is None or not stat.S_ISREG(entry.mode):
            return None
        return entry.sha, self.blob(entry.sha)

    def history(self, start: str, max_entries: int | None = None) -> list[str]:
        """Shas reachable from `start`, newest first (git log's order)."""
        walker = Walker(self.object_store, [_oid(start)], max_entries=max_entries)
        return [_hex(entry.commit.id) for entry in walker]

    def commits_between(self, base: str, head: str, max_entries: int) -> list[str]:
        """Shas reachable from `head` but not from `base`, newest first (`git log base..head`)."""
        walker = Walker(self.object_store, [_oid(head)], exclude=[_oid(base)],
                        max_entries=max_entries)
        return [_hex(entry.commit.id) for entry in walker]

    def changed_files(self, old: str | None, new: str) -> list[PathChange]:
        """The files commit `new` adds, modifies or deletes relative to commit `old`.

        `old` None compares with an empty tree (a root commit).
        """
        changes = []
        old_tree = self._tree_of(old) if old is not None else None
        for change in tree_changes(self.object_store, old_tree, self._tree_of(new)):
            kind = _CHANGE_KINDS.get(change.type)
            if kind is None:
                continue
            entry = change.old if kind == CHANGE_DELETED else change.new
            assert entry is not None and entry.path is not None and entry.sha is not None
            changes.append(PathChange(kind, entry.path.decode("utf-8"),
                                      None if kind == CHANGE_DELETED else _hex(entry.sha)))
        return changes

    # -- writes (the browser's commits) ------------------------------------------------------

    def write_blob(self, data: bytes) -> str:
        """Store a file's bytes; its blob sha."""
        blob = Blob.from_string(data)
        self.object_store.add_object(blob)
        return _hex(blob.id)

    def write_tree(self, base: str | None, edits: Sequence[TreeEdit]) -> str:
        """Store the tree of commit `base` (None: empty) with `edits` applied; its sha."""
        root: ObjectID | Tree = self._tree_of(base) if base is not None else Tree()
        return _hex(commit_tree_changes(self.object_store, root, [
            (e.path.encode("utf-8"), e.mode, _oid(e.blob) if e.blob is not None else None)
            for e in edits]))

    # pylint: disable-next=too-many-arguments  # keyword-only, each a part of the commit
    def write_commit(self, *, tree: str, parents: Sequence[str], person: str, message: str,
                     when: int) -> str:
        """Store a commit by `person` ("Name <email>") at `when` (UTC); its sha."""
        commit = DulwichCommit()
        commit.tree = _oid(tree)
        commit.parents = [_oid(p) for p in parents]
        commit.author = commit.committer = person.encode("utf-8")
        commit.author_time = commit.commit_time = when
        commit.author_timezone = commit.commit_timezone = 0
        commit.encoding = b"UTF-8"
        commit.message = message.encode("utf-8")
        self.object_store.add_object(commit)
        return _hex(commit.id)
