"""The second-person check (二重確認・上長承認): when a send must wait for another person of the
city before its package and its password notice are released.

An approval may ask for it (`[second_check]` in its file: always, above a record count, or when
certain fields go), and so may the city for every send (`[second_check]` in gateway.toml); a
sender may also ask for it of their own accord. Only the approval names who may check: a city
setting cannot make up approvers the council's paperwork does not name.
"""
from __future__ import annotations

from dataclasses import dataclass

BANK_FIELDS = ("bank_name", "branch_name", "account_type", "account_number", "account_holder")


@dataclass(frozen=True)
class CheckRule:
    always: bool = False
    above_records: int | None = None  # more records than this need the check
    fields: tuple[str, ...] = ()  # any of these columns in the package needs the check
    approvers: tuple[str, ...] = ()  # logins of the city's staff who may check

    def reasons(self, record_count: int, columns: tuple[str, ...] | list[str]) -> list[str]:
        out = []
        if self.always:
            out.append("always")
        if self.above_records is not None and record_count > self.above_records:
            out.append(f"records>{self.above_records}")
        hit = sorted(set(self.fields) & set(columns))
        if hit:
            out.append("fields:" + ",".join(hit))
        return out


def city_rule(always: bool, above_records: int, bank_accounts: bool) -> CheckRule:
    """The city-wide setting: 0 records means no threshold."""
    return CheckRule(always=always, above_records=above_records or None,
                     fields=BANK_FIELDS if bank_accounts else ())


def required(approval_rule: CheckRule, city: CheckRule, record_count: int, columns: tuple[str, ...] | list[str],
             requested: bool) -> list[str]:
    """Why this send must wait for a second person (empty: it need not)."""
    reasons = approval_rule.reasons(record_count, columns)
    reasons += [f"city:{r}" for r in city.reasons(record_count, columns)]
    if requested:
        reasons.append("requested-by-sender")
    return reasons
