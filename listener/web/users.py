"""Web users, their roles and their login sessions, in `users.db` in the data folder.

Passwords are hashed with hashlib.scrypt (the standard library's memory-hard KDF, RFC 7914): no new
dependency, and its memory cost makes GPU guessing of a stolen file expensive. Parameters are stored per
hash so they can be raised later without invalidating old hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROLES = ("viewer", "editor", "admin")  # each can do what the ones before it can
SESSION_SECONDS = 12 * 3600
MIN_PASSWORD = 10
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (token TEXT PRIMARY KEY, name TEXT NOT NULL, csrf TEXT NOT NULL,
                                     expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, label TEXT NOT NULL,
                                   hash TEXT NOT NULL UNIQUE, created REAL NOT NULL, last_used REAL, prefix TEXT)
"""
TOKEN_PREFIX = "lst_"  # recognisable in a leaked file or a secret scanner, and never a session cookie
# The start of a token kept in clear so its owner can tell tokens apart (and match one found in a script or a
# leak) without the secret: 6 of its 43 random characters, which leaves over 200 bits unknown.
SHOWN_PREFIX = len(TOKEN_PREFIX) + 6



class UserError(ValueError):
    """A user name, role or password that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Session:
    token: str
    name: str
    role: str
    csrf: str
    via_token: bool = False  # an API token (a script): no cookie, so no CSRF token is needed or possible

    def can(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_token(token: str) -> str:
    """API tokens are 32 random bytes: a plain SHA-256 is enough (nothing to guess), and lookups stay an index hit."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    label: str
    created: float
    last_used: float | None
    prefix: str | None = None  # None for tokens made before prefixes were kept


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, maxmem=64 * 1024 * 1024, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                         maxmem=64 * 1024 * 1024)
    return hmac.compare_digest(got.hex(), digest)


# A hash of a random password, checked when the user does not exist, so a login takes as long for an
# unknown name as for a wrong password (names cannot be discovered by timing).
_DUMMY = hash_password(secrets.token_hex(16))


class Users:
    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            from listener.privacy import private_file

            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            private_file(self.path)  # password hashes: owner-only
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        with self._lock:
            self._db.executescript(SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(tokens)")}
            if "prefix" not in columns:  # a users.db made before token prefixes were kept
                self._db.execute("ALTER TABLE tokens ADD COLUMN prefix TEXT")

    @classmethod
    def open(cls, settings) -> "Users":
        return cls(Path(settings.data_dir) / "users.db")

    def add(self, name: str, password: str, role: str = "viewer") -> None:
        if not name or len(name) > 64 or not name.isprintable() or name != name.strip():
            raise UserError(f"user name {name!r}: use 1-64 printable characters without leading/trailing spaces")
        if role not in ROLES:
            raise UserError(f"--role: expected one of {', '.join(ROLES)}, got {role!r}")
        if len(password) < MIN_PASSWORD:
            raise UserError(f"password: use at least {MIN_PASSWORD} characters")
        with self._lock:
            self._db.execute("INSERT INTO users VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET role = excluded.role,"
                             " hash = excluded.hash", (name, role, hash_password(password)))
            self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))  # a new password ends old logins

    def list(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self._db.execute("SELECT name, role FROM users ORDER BY name"))

    def remove(self, name: str) -> None:
        with self._lock:
            if not self._db.execute("DELETE FROM users WHERE name = ?", (name,)).rowcount:
                raise UserError(f"no user named {name!r} (see `listener user list`)")
            self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))
            self._db.execute("DELETE FROM tokens WHERE name = ?", (name,))

    def role(self, name: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------ API tokens (for scripts)

    def add_token(self, name: str, label: str = "") -> tuple[int, str]:
        """A new API token for user `name`: (its id, the token). The token is shown this once; only its hash
        is kept. It acts with the user's role, whatever that is when it is used."""
        if self.role(name) is None:
            raise UserError(f"no user named {name!r} (see `listener user list`)")
        if len(label) > 100 or not label.isprintable():
            raise UserError("token label: use up to 100 printable characters")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self._lock:
            cursor = self._db.execute("INSERT INTO tokens (name, label, hash, created, prefix) VALUES (?, ?, ?, ?, ?)",
                                      (name, label, hash_token(token), time.time(), token[:SHOWN_PREFIX]))
        return cursor.lastrowid, token

    def tokens(self, name: str | None = None) -> list[TokenInfo]:
        sql = "SELECT id, name, label, created, last_used, prefix FROM tokens"
        with self._lock:
            rows = self._db.execute(sql + (" WHERE name = ? ORDER BY id" if name else " ORDER BY id"),
                                    (name,) if name else ()).fetchall()
        return [TokenInfo(*row) for row in rows]

    def revoke_token(self, token_id: int, name: str | None = None) -> None:
        """Delete a token (only one of `name`'s, when given)."""
        with self._lock:
            sql, params = "DELETE FROM tokens WHERE id = ?", [token_id]
            if name is not None:
                sql, params = sql + " AND name = ?", params + [name]
            if not self._db.execute(sql, params).rowcount:
                raise UserError(f"no API token with id {token_id} (see `listener user token list`)")

    def token_session(self, token: str | None) -> Session | None:
        """The session an `Authorization: Bearer` token stands for, or None."""
        if not token or not token.startswith(TOKEN_PREFIX):
            return None
        digest = hash_token(token)
        with self._lock:
            row = self._db.execute("SELECT t.id, t.name, u.role FROM tokens t JOIN users u ON u.name = t.name "
                                   "WHERE t.hash = ?", (digest,)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE tokens SET last_used = ? WHERE id = ?", (time.time(), row[0]))
        return Session(f"token:{row[0]}", row[1], row[2], "", via_token=True)

    def login(self, name: str, password: str) -> Session | None:
        with self._lock:
            row = self._db.execute("SELECT role, hash FROM users WHERE name = ?", (name,)).fetchone()
        if not verify_password(password, row[1] if row else _DUMMY) or row is None:
            return None
        session = Session(secrets.token_urlsafe(32), name, row[0], secrets.token_urlsafe(32))
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE expires < ?", (time.time(),))
            self._db.execute("INSERT INTO sessions VALUES (?, ?, ?, ?)",
                             (session.token, name, session.csrf, time.time() + SESSION_SECONDS))
        return session

    def session(self, token: str | None) -> Session | None:
        if not token:
            return None
        with self._lock:
            row = self._db.execute(
                "SELECT s.name, u.role, s.csrf FROM sessions s JOIN users u ON u.name = s.name"
                " WHERE s.token = ? AND s.expires > ?", (token, time.time())).fetchone()
        return Session(token, *row) if row else None

    def logout(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE token = ?", (token,))

    def close(self) -> None:
        self._db.close()
