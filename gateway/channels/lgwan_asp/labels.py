"""The words the pages show for the log's and the store's codes (`sent`, `auth.login`, finding
kinds): Japanese first, English beside it. A code without a label is shown as it is, never hidden."""
from __future__ import annotations

from datetime import datetime

from gateway.clock import to_jst

STATES = {
    "sent": ("送信済み（受け取り待ち）", "sent, awaiting download"),
    "downloaded": ("ダウンロード済み（受領確認待ち）", "downloaded, awaiting receipt"),
    "receipt-mismatch": ("受領内容の不一致", "receipt does not match"),
    "received": ("受領確認済み", "received"),
    "erased": ("消去済み", "erased"),
    # states the safeguards of issue 20 add (second-person check, recall)
    "pending-check": ("二重確認待ち", "awaiting the second check"),
    "recalled": ("回収済み", "recalled"),
    # deletion requests
    "requested": ("消去依頼中（市の判断待ち）", "requested, awaiting the city"),
    "approved": ("承認済み（消去証明待ち）", "approved, awaiting the certificate"),
    "rejected": ("却下", "rejected"),
    "certified": ("消去証明済み", "certified"),
    # accounts
    "active": ("有効", "active"),
    "disabled": ("無効", "disabled"),
    "locked": ("ロック中", "locked"),
}

REMINDERS = {  # deadline kinds (retention/reminders.py)
    "receipt": ("受託者の受領確認", "contractor's receipt"),
    "gateway-erasure": ("ゲートウェイ上の複製の消去", "erasure of the gateway's copy"),
    "erasure-certificate": ("受託者の消去証明書", "contractor's erasure certificate"),
}

OUTCOMES = {"ok": ("成功", "ok"), "refused": ("拒否", "refused"), "failed": ("失敗", "failed")}

ACTIONS = {
    "system.init": ("ゲートウェイの初期化", "gateway initialised"),
    "home.rehearsal": ("リハーサル環境の設定", "rehearsal home"),
    "home.reinitialise": ("再初期化", "re-initialised"),
    "approval.add": ("承認の登録", "approval registered"),
    "approval.amend-handlers": ("取扱者の変更", "handlers amended"),
    "user.add": ("利用者の登録", "account added"),
    "user.disable": ("利用者の無効化", "account disabled"),
    "user.enable": ("利用者の再有効化", "account enabled"),
    "user.unlock": ("ロックの解除", "account unlocked"),
    "user.credentials-delivered": ("初期資格情報の交付記録", "initial credentials delivered"),
    "user.issue-password": ("初期パスワードの発行", "initial password issued"),
    "user.add-key": ("SSH 鍵の登録", "SSH key registered"),
    "user.revoke-key": ("SSH 鍵の取消し", "SSH key revoked"),
    "operator.add": ("操作者の登録", "operator added"),
    "terminal.issue": ("端末証明書の発行", "terminal certificate issued"),
    "terminal.revoke": ("端末証明書の失効", "terminal certificate revoked"),
    "auth.login": ("ログイン", "log-in"),
    "auth.logout": ("ログアウト", "log-out"),
    "auth.lockout": ("アカウントのロック", "account locked"),
    "auth.password-change": ("パスワード変更", "password changed"),
    "transfer.send": ("送信", "send"),
    "transfer.screen": ("送信前の検査", "screening"),
    "transfer.download": ("ダウンロード", "download"),
    "transfer.receipt": ("受領確認", "receipt"),
    "transfer.erase": ("ゲートウェイ上の消去", "erased at the gateway"),
    "transfer.push": ("送出（VPN）", "push (VPN)"),
    "transfer.show": ("受け渡しの閲覧", "transfer viewed"),
    "transfer.declare-external": ("外部での受け渡しの記録", "outside hand-over recorded"),
    "deletion.request": ("消去依頼", "deletion requested"),
    "deletion.decide": ("消去依頼の判断", "deletion request decided"),
    "deletion.certify": ("消去証明", "deletion certified"),
    "deliverable.upload": ("成果物の提出", "deliverable uploaded"),
    "deliverable.declare": ("成果物の申告", "deliverable declared"),
    "deliverable.list": ("成果物の一覧", "deliverables listed"),
    "evidence.export": ("証跡の書き出し", "evidence exported"),
    "audit.report": ("監査レポート", "audit report"),
    "log.read": ("ログの閲覧", "log read"),
    "log.prune": ("ログの整理（保存期間経過）", "log pruned"),
    "retention.sweep": ("保存期間による消去", "retention sweep"),
    "service.upkeep": ("定期保守", "upkeep"),
    "blob.cleanup": ("一時ファイルの整理", "blob clean-up"),
    "keys.publish": ("検証鍵の公開", "verifier key published"),
    "kek.rotate": ("鍵の更新", "key rotation"),
    "witness.add": ("ウィットネスの追加", "witness added"),
    "witness.remove": ("ウィットネスの削除", "witness removed"),
    "tls.import": ("サーバー証明書の取込み", "TLS certificate imported"),
    "org.pin-host": ("接続先の固定", "host pinned"),
    "notice.dispatch": ("通知書の送付", "notice dispatched"),
    "notice.show": ("通知書の閲覧", "notice shown"),
    "mail.send-due": ("期限通知メール", "due-date mail"),
    "courier.write": ("媒体への書き込み", "medium written"),
    "courier.show": ("媒体の閲覧", "medium shown"),
    "courier.lost": ("媒体の紛失", "medium lost"),
    "hotfolder.register": ("ホットフォルダの登録", "hot folder registered"),
    "hotfolder.claim": ("ホットフォルダの受付", "hot folder claim"),
    "hotfolder.process": ("ホットフォルダの処理", "hot folder processed"),
    "hotfolder.reject": ("ホットフォルダの拒否", "hot folder rejected"),
    "hotfolder.erase": ("ホットフォルダの消去", "hot folder erased"),
    "portal.upload": ("ファイルの受付", "upload"),
    "portal.forbidden": ("権限外の画面", "page not allowed"),
    "portal.csrf": ("フォームの確認失敗", "form check failed"),
    "portal.terminal": ("端末の確認失敗", "terminal check failed"),
    "portal.connect": ("接続", "connection"),
    "portal.request": ("要求", "request"),
    "cli.operator": ("操作者の確認", "operator check"),
    "cli.proxy": ("代理入力", "proxy entry"),
    "clock.refused": ("時計の異常", "clock refused"),
    "sftp.connect": ("SFTP 接続", "SFTP connection"),
}

KINDS = {
    "unapproved-field": ("承認されていない項目", "unapproved field"),
    "excluded-person": ("除外対象者の混入", "excluded person"),
    "outside-period": ("承認期間外", "outside the approval's period"),
    "unapproved-recipient": ("承認されていない受領者", "unapproved recipient"),
    "unapproved-channel": ("承認されていない経路", "unapproved channel"),
    "over-record-limit": ("件数の上限超過", "over the record limit"),
    "non-designated-handler": ("指定外の取扱者", "non-designated handler"),
    "password-same-channel": ("パスワードを同じ経路で送付", "password over the same channel"),
    "password-same-day": ("パスワードを同じ日に送付", "password on the same day"),
    "brute-force": ("総当たりの試行", "brute force"),
    "access-after-deletion": ("消去後のアクセス", "access after deletion"),
    "attestation-out-of-order": ("証明の日付の前後不整合", "attestation out of order"),
    "receipt-mismatch": ("受領内容の不一致", "receipt mismatch"),
    "receipt-missing": ("受領確認なし", "receipt missing"),
    "deletion-overdue": ("消去期限の超過", "deletion overdue"),
    "gateway-retention-overrun": ("ゲートウェイでの保存期間超過", "gateway retention overrun"),
    "media-not-returned": ("媒体の未返却", "media not returned"),
    "custody-gap": ("媒体の保管記録の欠落", "custody gap"),
    "unapproved-transfer": ("承認のない受け渡し", "unapproved transfer"),
    "log-tampered": ("ログの改ざん", "log tampered"),
    "evidence-forged": ("証跡の偽造", "evidence forged"),
    "integrity-failure": ("ゲートウェイ上のデータ破損", "integrity failure"),
    "log-unwitnessed": ("ウィットネスの連署なし", "log not witnessed"),
}

SEVERITIES = {"violation": ("違反", "violation"), "warning": ("注意", "warning")}
CHANNELS = {"lgwan-asp": ("LGWAN-ASP", "LGWAN-ASP"), "vpn-sftp": ("VPN（SFTP）", "VPN (SFTP)"),
            "courier": ("媒体の受け渡し", "courier"), "hotfolder": ("ホットフォルダ", "hot folder"),
            "cli": ("コマンド", "command line"), "system": ("システム", "system")}
ROLES = {"staff": ("職員", "staff"), "contractor": ("受託者", "contractor"),
         "security-officer": ("情報セキュリティ担当", "security officer"), "admin": ("管理者", "administrator"),
         "system": ("システム", "system")}


def label(table: dict[str, tuple[str, str]], code: str | None, lang: str) -> str:
    """The word for `code` in `lang`; an unknown code as it is."""
    if code is None or code == "":
        return "-"
    words = table.get(code)
    if words is None:
        return code
    return words[1] if lang == "en" else words[0]


def jst_words(at: datetime | str | None) -> str:
    """`2020年10月5日 12:00`: a stored UTC time as a Japanese reader writes it, in JST."""
    if at is None or at == "":
        return "-"
    local = to_jst(datetime.fromisoformat(at) if isinstance(at, str) else at)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def byte_size(n: int) -> str:
    """A size as people say it (`2 GiB`, `64 MiB`), not `2,147,483,648 bytes`."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if size == int(size) else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


class Words:
    """The labels in one language, for templates: `words.state("sent")`."""

    def __init__(self, lang: str) -> None:
        self.lang = lang

    def state(self, code: str | None) -> str:
        return label(STATES, code, self.lang)

    def outcome(self, code: str | None) -> str:
        return label(OUTCOMES, code, self.lang)

    def action(self, code: str | None) -> str:
        return label(ACTIONS, code, self.lang)

    def kind(self, code: str | None) -> str:
        return label(KINDS, code, self.lang)

    def severity(self, code: str | None) -> str:
        return label(SEVERITIES, code, self.lang)

    def channel(self, code: str | None) -> str:
        return label(CHANNELS, code, self.lang)

    def role(self, code: str | None) -> str:
        return label(ROLES, code, self.lang)
