"""SCRAM-SHA-256 password verifiers, computed here so a plaintext password never reaches PostgreSQL
(nor its logs, whatever log_statement says): `ALTER ROLE x PASSWORD 'SCRAM-SHA-256$…'` stores it as is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

ITERATIONS = 4096  # PostgreSQL's default scram_iterations


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The verifier PostgreSQL stores in pg_authid.rolpassword for `password` (RFC 5802/7677).

    PostgreSQL SASLprep-normalises the password first; for ASCII passwords (what Kura generates and
    RDS accepts) that is the identity.
    """
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.digest(salted, b"Server Key", "sha256")

    def b64(raw: bytes) -> str:
        return base64.b64encode(raw).decode()

    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"
