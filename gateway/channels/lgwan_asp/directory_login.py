"""A directory account's login: the directory's answer turned into a role, or into a refusal.

The directory is asked at every login, and nothing it said is kept for the next one: a person
disabled there, or taken out of every mapped group, is refused at their next login (and the
refusal is logged with the reason). A session already open runs to its idle (15 min) or absolute
(8 h) end; `gateway terminal revoke LOGIN` ends it at once. The role follows the groups: a person
moved from the staff group to the officers' group is an officer from their next login on, and the
login's log entry says what the role was before.
"""
from __future__ import annotations

from dataclasses import dataclass

from gateway.directory.client import authenticate
from gateway.errors import Unauthenticated
from gateway.service import Gateway
from gateway.store import models as m


@dataclass(frozen=True)
class Verdict:
    role: str | None = None  # set when the person may log in
    detail: str = ""  # for the log
    told: Unauthenticated | None = None  # what the person is told, when it may differ from the usual words
    unavailable: str | None = None  # the directory could not be asked: why, for the log


def check(gw: Gateway, organisation: str, login: str, password: str) -> Verdict:
    config = gw.settings.directory
    if config is None:
        return Verdict(unavailable="a directory account, but the settings have no [directory]")
    if organisation != config.organisation:
        return Verdict(detail=f"a directory account of '{organisation}', but the directory serves "
                              f"'{config.organisation}'")
    answer = authenticate(config, login, password)
    if answer.outcome == "unavailable":
        return Verdict(unavailable=answer.detail)
    if answer.outcome != "ok":
        if answer.dn:  # the password was right: say what is wrong, it reveals nothing to a guesser
            return Verdict(detail=answer.detail, told=Unauthenticated(
                "ディレクトリの所属グループに、このゲートウェイの役割が割り当てられていません。所属課のシステム管理者に"
                "グループの登録を依頼してください。",
                "your directory groups give you no role at this gateway: ask your section's administrator to "
                "add you to the right group."))
        return Verdict(detail=answer.detail)
    if len(answer.roles) > 1:
        # Staff send, officers review: one person holding both is what the separation of duties forbids.
        return Verdict(detail=f"{answer.detail}: groups map to several roles ({', '.join(answer.roles)})",
                       told=Unauthenticated(
                           "ディレクトリの所属グループが複数の役割（" + "・".join(answer.roles) + "）に当たるため、"
                           "ログインできません。所属課のシステム管理者にグループの整理を依頼してください。",
                           f"your directory groups map to several roles ({', '.join(answer.roles)}), which one "
                           "person may not hold together: ask your section's administrator to correct them."))
    return Verdict(role=answer.roles[0], detail=answer.detail)


def apply_role(row: m.User, verdict: Verdict) -> str:
    """Give the account the role its groups map to now; the note for the login's log entry."""
    assert verdict.role is not None
    note = verdict.detail
    if row.role != verdict.role:
        note += f"; role {verdict.role} (was {row.role}) from the directory's groups"
        row.role = verdict.role
    row.must_change_password = False  # the password is the directory's to manage
    return note
