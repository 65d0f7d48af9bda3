"""Password hashes: bcrypt, in the `$2b$` form streamlit-authenticator's Hasher makes and checks.

bcrypt itself rather than the library's Hasher, so that workers never import Streamlit.
"""

from __future__ import annotations

import bcrypt


def hash_password(password: str) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()


def check_password(password: str, hashed: str) -> bool:
    """False for a wrong password, and for one bcrypt cannot take (over 72 bytes) instead of raising."""
    try:
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ValueError:
        return False
