"""The workspace's users (``hub web``): SQL on ``web_user``, typed rows out.

Passwords never reach this module: the web layer hashes them (Argon2, ``web.auth``) and hands over the hash.
Failed sign-ins are counted here so that a guessing run locks the name for a while, whichever server
process it hits.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg2.extensions

Conn = psycopg2.extensions.connection
ROLES = ("steward", "auditor", "manager", "operator")
MAX_FAILED = 5
LOCK_MINUTES = 15


@dataclass(frozen=True)
class WebUser:
    username: str
    role: str
    agency: str | None
    password_hash: str
    active: bool
    locked: bool


_COLUMNS = "username, role, agency, password_hash, active, coalesce(locked_until > now(), false)"


def save_user(conn: Conn, username: str, role: str, agency: str | None, password_hash: str) -> None:
    """Create the user, or give an existing one this role, agency and password (and switch it on)."""
    with conn.cursor() as cur:
        cur.execute(
            """INSERT INTO web_user (username, role, agency, password_hash) VALUES (%s, %s, %s, %s)
               ON CONFLICT (username) DO UPDATE SET role = excluded.role, agency = excluded.agency,
                   password_hash = excluded.password_hash, active = true, failed_logins = 0,
                   locked_until = NULL""",
            (username, role, agency, password_hash),
        )


def get_user(conn: Conn, username: str) -> WebUser | None:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM web_user WHERE username = %s", (username,))
        row = cur.fetchone()
    return WebUser(*row) if row else None


def list_users(conn: Conn) -> list[WebUser]:
    with conn.cursor() as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM web_user ORDER BY role, username")
        return [WebUser(*row) for row in cur.fetchall()]


def deactivate(conn: Conn, username: str) -> bool:
    with conn.cursor() as cur:
        cur.execute("UPDATE web_user SET active = false WHERE username = %s", (username,))
        return cur.rowcount == 1


def record_sign_in(conn: Conn, username: str, ok: bool) -> None:
    """Reset the failure count on success; after ``MAX_FAILED`` failures lock the name for a while."""
    with conn.cursor() as cur:
        if ok:
            cur.execute("UPDATE web_user SET failed_logins = 0, locked_until = NULL WHERE username = %s",
                        (username,))
            return
        cur.execute(
            """UPDATE web_user SET failed_logins = failed_logins + 1,
                   locked_until = CASE WHEN failed_logins + 1 >= %s
                                       THEN now() + make_interval(mins => %s) ELSE locked_until END
               WHERE username = %s""",
            (MAX_FAILED, LOCK_MINUTES, username),
        )


def rehash(conn: Conn, username: str, password_hash: str) -> None:
    """Store a fresher hash of the same password (pwdlib says when the parameters changed)."""
    with conn.cursor() as cur:
        cur.execute("UPDATE web_user SET password_hash = %s WHERE username = %s", (password_hash, username))
