"""Amazon's secrets at rest: encrypted with Fernet under the operator's ``DINGDAN_SECRET_KEY``.

The client secret and the refresh token a team sets with ``/amazon set`` let anyone act on the
seller's account. They are written into the database encrypted (Fernet: AES-128-CBC with an
HMAC-SHA256), with a key that lives in the environment, never in the database, its backups or
the logs. The client id is an identifier, not a secret, and stays readable.

``DINGDAN_SECRET_KEY`` may hold several keys, comma-separated: the first encrypts, all of them
decrypt (``MultiFernet``). Rotating is: put a new key first and keep the old one after it,
restart, run ``dingdan rotate-secrets`` (every stored secret encrypted again with the new
key), then drop the old key and restart again.

A stored value says how it was stored: ``fernet:`` and a Fernet token, or, from a version
before this one, the secret in clear. Clear values are encrypted at start-up when a key is
set (:func:`reseal`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.amazon.accounts import AmazonStore
from bot.amazon.redaction import remember_secrets

#: How an operator makes a key for DINGDAN_SECRET_KEY (the README and /amazon set say it too).
KEY_COMMAND = 'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'

PREFIX = "fernet:"


class SecretError(Exception):
    """A stored secret cannot be written or read; never carries the secret or the key."""


class NoSecretKey(SecretError):
    """DINGDAN_SECRET_KEY is not set: nothing can be encrypted, so nothing may be stored."""


class SecretUnreadable(SecretError):
    """None of the keys in DINGDAN_SECRET_KEY decrypts a stored secret (a wrong or missing key)."""


class SecretBox:
    """Encrypts and decrypts the stored secrets with the keys of ``DINGDAN_SECRET_KEY``."""

    def __init__(self, keys: Sequence[str]) -> None:
        remember_secrets(keys)  # a key never shows in a log record
        self._fernet = MultiFernet([Fernet(key) for key in keys]) if keys else None

    def __repr__(self) -> str:
        return f"SecretBox({'with' if self._fernet else 'without'} a key)"

    @property
    def can_seal(self) -> bool:
        return self._fernet is not None

    @staticmethod
    def is_sealed(stored: str) -> bool:
        return stored.startswith(PREFIX)

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            raise NoSecretKey
        return PREFIX + self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The secret; a value stored in clear by an older version is returned as it is."""
        if not self.is_sealed(stored):
            return stored
        if self._fernet is None:
            raise SecretUnreadable
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise SecretUnreadable from None

    def reseal(self, stored: str) -> str:
        """Encrypted with the first key: a clear value sealed, a sealed one rotated."""
        if self._fernet is None:
            raise NoSecretKey
        if not self.is_sealed(stored):
            return self.seal(stored)
        try:
            return PREFIX + self._fernet.rotate(stored[len(PREFIX) :].encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SecretUnreadable from None


@dataclass
class Resealed:
    """What :func:`reseal` did, team by team (never a secret)."""

    resealed: list[int] = field(default_factory=list)  # written again, encrypted with the first key
    clear: list[int] = field(default_factory=list)  # in clear, and no key to encrypt them
    unreadable: list[int] = field(default_factory=list)  # no key decrypts them: left as they are


async def reseal(accounts: AmazonStore, box: SecretBox, *, rotate: bool) -> Resealed:
    """Encrypt the secrets stored in clear (at start-up), or, with ``rotate``, every stored secret
    again with the first key (``dingdan rotate-secrets``). One transaction; a team whose secrets
    changed meanwhile (``/amazon set`` while this runs) keeps its new ones."""
    done = Resealed()
    changes: list[tuple[int, tuple[str, str], tuple[str, str]]] = []
    for team_id, stored in await accounts.stored_secrets():
        if not rotate and all(box.is_sealed(s) for s in stored):
            continue
        if not box.can_seal:
            done.clear.append(team_id)
            continue
        try:
            new = (box.reseal(stored[0]), box.reseal(stored[1]))
        except SecretUnreadable:
            done.unreadable.append(team_id)
            continue
        changes.append((team_id, stored, new))
    done.resealed = await accounts.replace_secrets(changes)
    return done
