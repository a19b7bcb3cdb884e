"""A request's deadline, checked by the core between chunks of work.

GDAL cannot be interrupted inside one read, so the core splits big reads into chunks and checks the
deadline between them: a scene that cannot finish in time ends with `DeadlineExceeded` (a clear
error) instead of a Lambda or API Gateway timeout.
"""

import math
import time
from dataclasses import dataclass

from handler.core.errors import DeadlineExceeded


@dataclass(frozen=True)
class Deadline:
    """A point on the monotonic clock (`time.monotonic()` seconds) after which work must stop."""

    expires_at: float = math.inf

    @classmethod
    def after(cls, seconds: float) -> "Deadline":
        """The deadline `seconds` from now (e.g. Lambda's remaining time minus a margin to answer)."""
        return cls(time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (negative once expired, `inf` for no deadline)."""
        return self.expires_at - time.monotonic()

    def check(self) -> None:
        """Raise `DeadlineExceeded` once the deadline has passed."""
        if self.remaining() <= 0:
            raise DeadlineExceeded(
                "Rendering this scene costs more than the time this request has. Use a COG with internal "
                "overviews, a smaller target_resolution, or the S3 upload flow for large scenes."
            )


NO_DEADLINE = Deadline()
