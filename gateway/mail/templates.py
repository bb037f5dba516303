"""The words of each notification: Japanese first, then English, in one text/plain part.

Deliberately thin: a transfer's and an approval's identifiers, a deadline, a count, what to do
and where. Never a resident's data, a file's content, a passphrase, a password or a person's
name: a mail crosses systems the gateway does not control, and is kept in mailboxes for years.
"""
from __future__ import annotations

TEMPLATES: dict[str, tuple[str, str, str]] = {
    # kind: (subject, Japanese body, English body); fields are formatted in.
    "receipt-due": (
        "【受領確認の期限】{transfer} / Receipt due: {transfer}",
        "受け渡し {transfer}（承認 {approval}）の受領確認の期限は {due} です。\n"
        "受託者は復号後、件数と SHA-256 を確かめて受領を確認してください（gateway receipt または LGWAN-ASP ポータル）。",
        "Transfer {transfer} (approval {approval}) must be confirmed as received by {due}.\n"
        "The contractor decrypts it, checks the record count and SHA-256, and confirms receipt.",
    ),
    "receipt-overdue": (
        "【受領確認の期限超過】{transfer} / Receipt OVERDUE: {transfer}",
        "受け渡し {transfer}（承認 {approval}）の受領確認が期限 {due} を過ぎています。受託者に確認してください。",
        "Transfer {transfer} (approval {approval}) was due to be confirmed by {due} and is not. Ask the contractor.",
    ),
    "erasure-certificate-due": (
        "【消去証明の期限】{transfer} / Erasure certificate due: {transfer}",
        "受け渡し {transfer}（承認 {approval}）のデータの消去と消去証明書の提出期限は {due} です。",
        "The data of transfer {transfer} (approval {approval}) must be erased and certified by {due}.",
    ),
    "erasure-certificate-overdue": (
        "【消去証明の期限超過】{transfer} / Erasure certificate OVERDUE: {transfer}",
        "受け渡し {transfer}（承認 {approval}）の消去証明書が期限 {due} を過ぎても提出されていません。"
        "契約に基づき受託者に提出を求めてください。",
        "The erasure certificate for transfer {transfer} (approval {approval}) was due by {due} and has not "
        "been given. Ask the contractor for it under the contract.",
    ),
    "gateway-erasure-due": (
        "【ゲートウェイ上の消去予定】{transfer} / Gateway copy to be erased: {transfer}",
        "受け渡し {transfer}（承認 {approval}）のゲートウェイ上の複製は {due} に暗号消去されます。",
        "The gateway's copy of transfer {transfer} (approval {approval}) will be crypto-erased at {due}.",
    ),
    "gateway-erasure-overdue": (
        "【要確認】ゲートウェイ上の消去の遅れ {transfer} / Gateway erasure OVERDUE: {transfer}",
        "受け渡し {transfer}（承認 {approval}）のゲートウェイ上の複製が期限 {due} を過ぎても消去されていません。"
        "サービスの保管期間処理（gateway retention sweep）の状態を確認してください。",
        "The gateway's copy of transfer {transfer} (approval {approval}) was due to be erased at {due} and is "
        "still there. Check the service's retention sweep.",
    ),
    "media-return-due": (
        "【媒体の返却期限】{item} / Media return due: {item}",
        "媒体 {item}（受け渡し {transfer}、承認 {approval}）の返却期限は {due} です。\n"
        "受託者は納品完了後に媒体を市へ返却し、受け渡しを確認書に記録してください（gateway courier return）。",
        "Media {item} (transfer {transfer}, approval {approval}) must be back at the city by {due}.\n"
        "The contractor returns it after delivery, and the hand-back is written into the confirmation record.",
    ),
    "media-return-overdue": (
        "【媒体の返却期限超過】{item} / Media return OVERDUE: {item}",
        "媒体 {item}（受け渡し {transfer}、承認 {approval}）が返却期限 {due} を過ぎても返却されていません。"
        "受託者に返却を求め、媒体の所在を確認してください。",
        "Media {item} (transfer {transfer}, approval {approval}) was due back by {due} and has not been returned. "
        "Ask the contractor for it and confirm where it is.",
    ),
    "duty-due": (
        "【契約上の義務の期限】{approval} {duty} / Contract duty due: {approval} {duty}",
        "承認 {approval} の契約上の義務「{duty}」（立入調査・研修実施報告・誓約書等）の期限は {due} です。"
        "実施したら gateway duty record で記録してください。",
        "The contract duty {duty} of approval {approval} is due by {due}. Record it with `gateway duty record`.",
    ),
    "duty-overdue": (
        "【契約上の義務の期限超過】{approval} {duty} / Contract duty OVERDUE: {approval} {duty}",
        "承認 {approval} の契約上の義務「{duty}」が期限 {due} を過ぎても記録されていません。",
        "The contract duty {duty} of approval {approval} was due by {due} and is not recorded.",
    ),
    "second-check": (
        "【二重確認の依頼】{transfer} / Second check requested: {transfer}",
        "受け渡し {transfer}（承認 {approval}）が {at} から二重確認（上長承認）を待っています。"
        "承認に定められた確認者が、提供先・件数・項目・SHA-256 を確かめて承認又は差戻ししてください"
        "（gateway second-check、又は LGWAN-ASP ポータルの「二重確認の依頼」）。",
        "Transfer {transfer} (approval {approval}) has been waiting for a second person's check since {at}. "
        "An approver the approval names checks the recipient, record count, columns and SHA-256, then approves "
        "or rejects it (`gateway second-check`, or the portal's second-check page).",
    ),
    "lockout": (
        "【アカウント等のロック】{channel} / Lockout on {channel}",
        "{channel} で、繰り返しの認証失敗によりロックが発生しました（{at}、アクセスログ {seq} 番）。"
        "gateway log で内容を確認してください。",
        "Repeated failed logins caused a lockout on {channel} at {at} (access log entry {seq}). "
        "Review it with `gateway log`.",
    ),
    "refused": (
        "【拒否されたアクセス】{count} 件 / {count} refused actions",
        "前回の通知以降、{count} 件の操作が拒否されました（アクセスログ {first}〜{last} 番）。\n{summary}\n"
        "gateway log --outcome refused で内容を確認してください。",
        "{count} actions were refused since the last notice (access log entries {first} to {last}).\n"
        "Review them with `gateway log --outcome refused`.",
    ),
}


def render(kind: str, fields: dict[str, str]) -> tuple[str, str]:
    subject, ja, en = TEMPLATES[kind]
    body = (f"{ja.format(**fields)}\n\n---\n{en.format(**fields)}\n\n"
            "このメールはゲートウェイが自動で送信しています。返信しないでください。\n"
            "Sent automatically by the gateway; do not reply.\n")
    return subject.format(**fields), body
