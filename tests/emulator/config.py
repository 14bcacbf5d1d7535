"""Run-time settings shared by the extensions (changed through /_emulator/config)."""

from __future__ import annotations

import threading
import time

# One lock serialises every extension operation: the werkzeug server is threaded and the
# extension state (profiles, apps, spaces, assignments) is plain dicts.
LOCK = threading.RLock()

# Default per-domain user profile quota. The exact AWS default for "user profiles per
# domain" is not stated in the API reference; 1000 is the emulator's documented choice
# (tests lower it with --profile-quota / configure()).
DEFAULT_PROFILE_QUOTA = 1000


# The identity store of the emulator's IAM Identity Center instance (sso-admin ListInstances
# answers it). AWS has one store per Identity Center instance and answers
# ResourceNotFoundException (ResourceType IDENTITY_STORE) for any other id; this fixed,
# well-formed id lets tests name the store without asking. More can be added through
# /_emulator/config {"identity_stores": [...]}.
DEFAULT_IDENTITY_STORE_ID = "d-9067c0ffee"

# The account of the emulator's IAM Identity Center instance: its identity stores exist
# there only (an Identity Store call with another account's credentials does not find
# them), and SSO-mode domains of every account look their users up there, as domains of an
# organisation's member accounts use the organisation's instance. Changed through
# /_emulator/config {"identity_center_account": "..."}; reset by /_emulator/reset.
DEFAULT_IDENTITY_CENTER_ACCOUNT = "123456789012"


class Settings:
    def __init__(self) -> None:
        self.status_delay = 0.2  # seconds a Pending/Updating/Deleting status lasts
        self.profile_quota = DEFAULT_PROFILE_QUOTA
        self.seed = 0
        self.identity_stores: list[str] = [DEFAULT_IDENTITY_STORE_ID]
        self.identity_center_account = DEFAULT_IDENTITY_CENTER_ACCOUNT


SETTINGS = Settings()


def now() -> float:
    """Monotonic clock used for every status transition."""
    return time.monotonic()


def elapsed(since: float) -> bool:
    """True once a status that began at ``since`` has lasted ``status_delay``."""
    return now() - since >= SETTINGS.status_delay
