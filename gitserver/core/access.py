"""Who may read or write a repository: the contract's auth rules in one place.

- Anonymous request to a private (or missing) repo: 401 with `WWW-Authenticate`, so git asks for
  a password instead of learning whether the repo exists.
- Wrong password or inactive account: 401.
- Signed-in user who may not read it: 404 (GitHub's answer; existence is not revealed).
- May read but not write (someone else's public repo): 403 on push.
- Push by the owner to a repo that does not exist yet: allowed; the caller creates it.
- Organizations (`core.orgs`): staff read, push and create every repo of the org; a student
  does so for `{org}/{assignment}-{their username}` only and is a non-member for the rest.
  Repo settings (visibility, deletion) are the owner's or the org staff's (`manages`).
- A name no repo can have: 400 saying so (not 404: there is nothing to hide, and "not found"
  would send the user looking for a typo in the wrong place).

Owner and repo names are looked up in any case, as on GitHub (`core.repos.get_repo`).

`decide()` returns the verdict; git (plain text), pages and the API render it their own way
(see gitserver.web.auth).
"""

from __future__ import annotations

from dataclasses import dataclass

from gitserver.core.models import Repo, User
from gitserver.core.orgs import STAFF, OrgGrant, grant
from gitserver.core.repos import USERNAME_RE, RepoNameError, get_repo, split_repo_name

UNAUTHORIZED = ("Authentication required: sign in with your username and password or an "
                "access token.")
BAD_CREDENTIALS = ("Wrong username or password, or the account is not active yet (check your "
                   "mail for the activation link).")
NOT_FOUND = ("Repository not found. Check the owner and name in the URL, and that you are "
             "signed in as a user who may see it.")
MANAGERS_ONLY = ("Only the owner of the repository (for an organization's repository: its "
                 "staff) may change its settings.")


@dataclass
class Access:  # pylint: disable=too-many-instance-attributes  # the verdict's facts, one each
    """The verdict on one request for one repo: who asks, the repo found, the refusal if any."""
    owner: str
    name: str
    user: User | None = None
    repo: Repo | None = None
    status: int = 200  # 401, 403, 404 or 429 when refused
    reason: str = ""
    retry_after: int = 0  # with 429
    org_grant: OrgGrant | None = None  # the user's rights as a member of the owning org
    may_write: bool = False  # may push (and create by push)
    manages: bool = False  # may change the repo's settings and delete it

    @property
    def full_name(self) -> str:
        """The "owner/name" of the repo asked for."""
        return f"{self.owner}/{self.name}"

    @property
    def allowed(self) -> bool:
        """True unless refused."""
        return self.status == 200

    def refuse(self, status: int, reason: str) -> Access:
        """Record the refusal (status and the text the client sees); return self."""
        self.status, self.reason = status, reason
        return self



def decide(user: User | None, given: bool, owner: str, raw_name: str, write: bool) -> Access:
    """The verdict for `user` (`given`: credentials were sent) reading or writing a repo."""
    try:
        name = split_repo_name(raw_name)
    except RepoNameError as exc:
        return Access(owner, raw_name).refuse(400, f"{exc}.")
    access = Access(owner.lower(), name, user=user)
    if not USERNAME_RE.fullmatch(access.owner):
        return access.refuse(404, NOT_FOUND)
    if given and user is None:
        return access.refuse(401, BAD_CREDENTIALS)
    access.repo = get_repo(access.owner, name)
    if user is not None and user.username != access.owner:
        access.org_grant = grant(access.owner, name, user)
    return _apply_rules(access, write)


def _apply_rules(access: Access, write: bool) -> Access:
    user, member = access.user, access.org_grant
    is_owner = user is not None and user.username == access.owner
    access.may_write = is_owner or (member is not None and member.full)
    access.manages = is_owner or (member is not None and member.role == STAFF)
    if user is None and (access.repo is None or access.repo.private or write):
        return access.refuse(401, UNAUTHORIZED)
    if access.repo is None:
        return access if (write and access.may_write) else access.refuse(404, NOT_FOUND)
    if access.repo.private and not access.may_write:
        return access.refuse(404, NOT_FOUND)
    if write and not access.may_write:
        return access.refuse(403, f"You may read {access.full_name} but not push to it: only "
                                  "its owner may.")
    return access
