"""KEK generations as AES-256 secret keys inside a PKCS#11 token (an HSM; SoftHSM2 in the tests).

The key never leaves the token: it is generated there as sensitive and non-extractable, and the
token encrypts and decrypts the 32-byte data keys with CKM_AES_GCM (the blob id as associated
data), the same wrapped form the file backend writes. Data keys themselves are used on the host,
where the streaming cipher runs, so they are encrypted as data rather than imported as token
objects: the protection that matters, that the KEK cannot be copied out and is gone for good
once destroyed, is the same. Objects are named `<key_label>-<generation>`.

PKCS#11 logs a whole application in at once (a second C_Login fails), so each process keeps one
logged-in session per token and serialises its use.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    EncryptedDataInvalid,
    GeneralError,
    NoSuchKey,
    NoSuchToken,
    PinIncorrect,
    PKCS11Error,
    UserAlreadyLoggedIn,
)
from pkcs11.mechanisms import GCMParams

from gateway.crypto.kek.config import KekConfig
from gateway.crypto.kek.errors import KekGenerationGone, KekUnavailable, WrongKek

KEY_BITS = 256
TAG_BITS = 128
T = TypeVar("T")

_sessions: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}
_sessions_lock = threading.Lock()


class TokenKeks:
    name = "pkcs11"

    def __init__(self, config: KekConfig) -> None:
        assert config.module and config.token_label
        self.config = config
        self._keys: dict[int, Any] = {}

    def label(self, generation: int) -> str:
        return f"{self.config.key_label}-{generation:08d}"

    # -- the session ----------------------------------------------------------------------

    def _session(self) -> tuple[Any, threading.Lock]:
        assert self.config.module and self.config.token_label
        where = (self.config.module, self.config.token_label)
        with _sessions_lock:
            if where not in _sessions:
                try:
                    token = pkcs11.lib(self.config.module).get_token(token_label=self.config.token_label)
                    try:
                        session = token.open(rw=True, user_pin=self.config.pin())
                    except UserAlreadyLoggedIn:
                        # Another part of this process logged the application in: sessions share it.
                        session = token.open(rw=True)
                except PinIncorrect:
                    raise KekUnavailable(
                        f"HSM トークン「{self.config.token_label}」の PIN が違います。[kek] の PIN の指定先を確認してください。",
                        f"wrong PIN for the HSM token '{self.config.token_label}'; check where [kek] says the PIN is.",
                    ) from None
                except NoSuchToken:
                    raise KekUnavailable(
                        f"HSM トークン「{self.config.token_label}」が見つかりません。token_label と HSM の接続を確認してください。",
                        f"the HSM token '{self.config.token_label}' was not found; check token_label and the HSM.",
                    ) from None
                except PKCS11Error as err:
                    raise KekUnavailable(
                        f"HSM（{self.config.module}）を使えません（{type(err).__name__}）。module と HSM の状態を確認してください。",
                        f"cannot use the HSM ({self.config.module}): {type(err).__name__}; check module and the HSM.",
                    ) from None
                _sessions[where] = (session, threading.Lock())
            return _sessions[where]

    def _call(self, fn: Callable[[Any], T]) -> T:
        session, lock = self._session()
        with lock:
            try:
                return fn(session)
            except (KekUnavailable, WrongKek):
                raise
            except PKCS11Error as err:
                raise KekUnavailable(
                    f"HSM の操作に失敗しました（{type(err).__name__}）。HSM の状態を確認してください。",
                    f"an HSM operation failed ({type(err).__name__}); check the HSM.",
                ) from None

    def _find(self, session: Any, generation: int) -> Any | None:
        try:
            return session.get_key(object_class=ObjectClass.SECRET_KEY, key_type=KeyType.AES,
                                   label=self.label(generation))
        except NoSuchKey:
            return None

    def _key(self, session: Any, generation: int) -> Any:
        key = self._keys.get(generation)
        if key is None:
            key = self._find(session, generation)
            if key is None:
                raise KekGenerationGone(self.name, generation)
            self._keys[generation] = key
        return key

    # -- KekBackend -----------------------------------------------------------------------

    def create(self, generation: int) -> None:
        def create(session: Any) -> None:
            if self._find(session, generation) is not None:
                return  # left by a rotation that died before recording it: adopt it
            session.generate_key(KeyType.AES, KEY_BITS, label=self.label(generation),
                                 id=generation.to_bytes(4, "big"), store=True, template={
                                     Attribute.TOKEN: True, Attribute.PRIVATE: True,
                                     Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                     Attribute.ENCRYPT: True, Attribute.DECRYPT: True,
                                     Attribute.WRAP: False, Attribute.UNWRAP: False,
                                     Attribute.MODIFIABLE: False,
                                 })
        self._call(create)

    def present(self) -> set[int]:
        prefix = f"{self.config.key_label}-"

        def present(session: Any) -> set[int]:
            found = set()
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}):
                label = obj.label or ""
                if label.startswith(prefix) and label[len(prefix):].isdigit():
                    found.add(int(label[len(prefix):]))
            return found
        return self._call(present)

    def encrypt(self, generation: int, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        return self._call(lambda s: self._key(s, generation).encrypt(
            data, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, TAG_BITS)))

    def decrypt(self, generation: int, nonce: bytes, data: bytes, aad: bytes) -> bytes:
        def decrypt(session: Any) -> bytes:
            try:
                return self._key(session, generation).decrypt(
                    data, mechanism=Mechanism.AES_GCM, mechanism_param=GCMParams(nonce, aad, TAG_BITS))
            except (EncryptedDataInvalid, GeneralError):
                # A failed GCM tag check: SoftHSM2 reports it as CKR_GENERAL_ERROR.
                raise WrongKek() from None
        return self._call(decrypt)

    def destroy(self, generation: int) -> None:
        def destroy(session: Any) -> None:
            self._keys.pop(generation, None)
            key = self._find(session, generation)
            if key is not None:
                key.destroy()
        self._call(destroy)
