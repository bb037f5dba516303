"""The finding kinds, as the auditor knows them (docs/interface.md, "Finding kinds").

The gateway has the same vocabulary in gateway/findings.py. This copy is kept on purpose: the
auditor must not import the gateway, whose operator it checks. tests/test_findings_vocabulary.py
asserts that the two say the same, so a kind added on one side alone fails the tests.
"""
from __future__ import annotations

WARNING_KINDS = frozenset({"receipt-missing", "media-not-returned", "log-unwitnessed", "compliance-overdue"})
PREVENTED_KINDS = frozenset({
    "unapproved-field", "excluded-person", "outside-period", "unapproved-recipient", "unapproved-channel",
    "over-record-limit", "non-designated-handler", "password-same-channel", "password-same-day",
    "brute-force", "access-after-deletion", "attestation-out-of-order", "second-check-missing",
    "download-over-limit",
})
AFTER_THE_FACT_KINDS = ("receipt-mismatch", "receipt-missing", "deletion-overdue", "gateway-retention-overrun",
                        "media-not-returned", "custody-gap", "unapproved-transfer", "log-tampered",
                        "evidence-forged", "integrity-failure", "log-unwitnessed", "compliance-overdue", "instruction-overdue",
                        "incident-unreported")
# Failures of the gateway itself, logged with the attempt they stopped: the finding is the
# gateway's, never the attempting person's, and it was not a violation someone tried.
GATEWAY_FAULT_KINDS = frozenset({"integrity-failure"})

# For people reading the Japanese report.
KIND_LABELS = {
    "unapproved-field": "承認外の項目",
    "excluded-person": "除外対象者の混入",
    "outside-period": "承認期間外の受渡し",
    "unapproved-recipient": "承認外の提供先・再委託先",
    "unapproved-channel": "承認外の受渡し方法",
    "over-record-limit": "件数上限超過",
    "non-designated-handler": "取扱者名簿にない者によるアクセス",
    "password-same-channel": "パスワードのデータ同送",
    "password-same-day": "パスワード通知書の同日受渡し",
    "brute-force": "連続ログイン失敗（ロック）",
    "access-after-deletion": "消去後のアクセス",
    "attestation-out-of-order": "申告の日時の前後関係の誤り（承認前の消去・受領前の受領確認）",
    "second-check-missing": "二重確認（上長承認）のない送付",
    "download-over-limit": "ダウンロード回数の上限超過（複写の禁止）",
    "instruction-overdue": "事故に関する市の指示の期限超過",
    "incident-unreported": "受託者の事故報告の未提出",
    "receipt-mismatch": "受領確認の不一致",
    "receipt-missing": "受領確認なし",
    "deletion-overdue": "消去証明書の提出遅延",
    "gateway-retention-overrun": "ゲートウェイ保管期間超過",
    "media-not-returned": "媒体の未返却",
    "custody-gap": "媒体等の受渡記録の断絶",
    "unapproved-transfer": "承認のない受渡し",
    "log-tampered": "アクセスログの改ざん",
    "evidence-forged": "証跡文書の偽造・改変",
    "integrity-failure": "ゲートウェイ保管データの消失・破損（ゲートウェイの障害）",
    "log-unwitnessed": "ウィットネスの連署がないログ",
    "compliance-overdue": "契約上の義務（立入調査・研修実施報告・誓約書等）の期限超過",
}


