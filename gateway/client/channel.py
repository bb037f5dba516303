"""What the client needs from a channel: the same five things over the portal and over SFTP."""
from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from gateway.attestations.document import Envelope


class Channel(Protocol):
    login: str  # the handler, as the gateway knows them

    def transfers(self) -> list[dict[str, Any]]:
        """The handler's transfers, with their manifests' count and SHA-256 and their deadlines."""

    def package(self, transfer: str) -> AbstractContextManager[BinaryIO]:
        """The age package, as a stream read once from the front (nothing of it is kept)."""

    def file(self, envelope: Envelope) -> dict[str, Any]:
        """File a signed attestation; the gateway's answer, or its refusal raised as a GatewayError."""

    def report_incident(self, report: dict[str, Any]) -> dict[str, Any]:
        """File an incident report (内容・件数・発生場所・発生状況); the gateway's answer names it."""

    def deliver(self, transfer: str, path: Path, name: str) -> dict[str, Any]:
        """Upload a deliverable; its name, size and SHA-256 as the gateway received them."""

    def close(self) -> None: ...
