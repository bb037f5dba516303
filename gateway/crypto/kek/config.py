"""Where the key-encryption key lives: the `[kek]` table of `$GATEWAY_HOME/gateway.toml`.

```toml
[kek]
backend = "pkcs11"                      # or "file" (the default: keys/kek/<generation>.key)
module = "/usr/lib/softhsm/libsofthsm2.so"
token_label = "gateway"
pin_env = "GATEWAY_KEK_PIN"             # or pin_file = "/etc/gateway/kek.pin"
key_label = "gateway-kek"               # token objects are named <key_label>-<generation>
```

The PIN itself never goes in this file (it is readable by whoever can read the home's
configuration, and is copied with it): only where to find it. `gateway init --kek-backend ...`
writes the table; other tables of the file belong to other parts of the gateway.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from gateway.core import tomlfile
from gateway.errors import Invalid
from gateway.fsutil import atomic_output

CONFIG_FILE = "gateway.toml"
BACKENDS = ("file", "pkcs11")
DEFAULT_KEY_LABEL = "gateway-kek"


@dataclass(frozen=True)
class KekConfig:
    backend: str = "file"
    module: str | None = None
    token_label: str | None = None
    pin_env: str | None = None
    pin_file: str | None = None
    key_label: str = DEFAULT_KEY_LABEL
    source: str = "default"  # the file it came from, or "default"

    def pin(self) -> str:
        """The token's user PIN, read where the configuration says, at the moment it is needed."""
        if self.pin_env:
            value = os.environ.get(self.pin_env)
            if not value:
                raise KekConfigError(
                    f"環境変数 {self.pin_env} に HSM の PIN が設定されていません。設定してから実行してください。",
                    f"the environment variable {self.pin_env} holds no HSM PIN; set it and run again.",
                )
            return value
        assert self.pin_file is not None  # load() requires one of the two
        try:
            return Path(self.pin_file).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise KekConfigError(
                f"HSM の PIN ファイル {self.pin_file} を読めません（{err.strerror}）。パスと権限を確認してください。",
                f"cannot read the HSM PIN file {self.pin_file} ({err.strerror}); check its path and permissions.",
            ) from None


class KekConfigError(Invalid):
    """The `[kek]` configuration is missing something or says something impossible."""


def load(home_root: Path) -> KekConfig:
    path = home_root / CONFIG_FILE
    if not path.exists():
        return KekConfig()
    doc = tomlfile.parse(tomlfile.read_text(path), path)
    if "kek" not in doc:
        return KekConfig(source=str(path))
    table = tomlfile.Table(doc["kek"], "kek", path)
    if "pin" in doc["kek"]:
        raise KekConfigError(
            f"{path}: [kek] に PIN を書かないでください。pin_env（環境変数名）か pin_file を指定し、この行は削除してください。",
            f"{path}: never write the PIN in [kek]; name pin_env (an environment variable) or pin_file, "
            "and delete that line.",
        )
    backend = table.choice("backend", BACKENDS)
    assert backend is not None
    config = KekConfig(
        backend=backend,
        module=table.text("module", required=False),
        token_label=table.text("token_label", required=False),
        pin_env=table.text("pin_env", required=False),
        pin_file=table.text("pin_file", required=False),
        key_label=table.text("key_label", required=False, default=DEFAULT_KEY_LABEL) or DEFAULT_KEY_LABEL,
        source=str(path),
    )
    table.done()
    check(config, where=str(path))
    return config


def check(config: KekConfig, *, where: str) -> None:
    if config.backend != "pkcs11":
        return
    missing = [name for name in ("module", "token_label") if not getattr(config, name)]
    if not (config.pin_env or config.pin_file):
        missing.append("pin_env / pin_file")
    if missing:
        raise KekConfigError(
            f"{where}: HSM（pkcs11）を使うには {', '.join(missing)} が必要です。指定してください。",
            f"{where}: the pkcs11 backend needs {', '.join(missing)}; give them.",
        )
    if config.pin_env and config.pin_file:
        raise KekConfigError(
            f"{where}: pin_env と pin_file はどちらか一方だけを指定してください。",
            f"{where}: give either pin_env or pin_file, not both.",
        )


def record(home_root: Path, config: KekConfig) -> bool:
    """Write `config` as the `[kek]` table of gateway.toml; True if the file changed.

    An existing `[kek]` table that says something else is refused rather than rewritten: the
    file is the operator's, and may carry comments a rewrite would lose."""
    check(config, where="gateway init")
    path = home_root / CONFIG_FILE
    text = tomlfile.read_text(path) if path.exists() else ""
    if text and "kek" in tomlfile.parse(text, path):
        current = load(home_root)
        if _fields(current) == _fields(config):
            return False
        raise KekConfigError(
            f"{path} の [kek] は指定と異なります。変更する場合はファイルの [kek] を編集してから `gateway init` を実行してください。",
            f"the [kek] table of {path} differs from the options given; to change it, edit that table and run "
            "`gateway init` again.",
        )
    lines = ["", "[kek]"] if text else ["[kek]"]
    for name, value in _fields(config).items():
        if value is not None:
            lines.append(f"{name} = {json.dumps(value, ensure_ascii=False)}")  # a JSON string is a TOML basic string
    body = (text.rstrip("\n") + "\n" if text else "") + "\n".join(lines) + "\n"
    with atomic_output(path) as out:
        out.write(body.encode("utf-8"))
    return True


def _fields(config: KekConfig) -> dict[str, str | None]:
    fields: dict[str, str | None] = {"backend": config.backend}
    if config.backend == "pkcs11":
        fields |= {"module": config.module, "token_label": config.token_label, "pin_env": config.pin_env,
                   "pin_file": config.pin_file, "key_label": config.key_label}
    return fields
