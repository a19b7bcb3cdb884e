"""A deadline that expires after a number of checks, for tests of where reads check it."""

from handler.core.deadline import Deadline
from handler.core.errors import DeadlineExceeded


class CountingDeadline(Deadline):
    """Expires after `allowed` checks, counting them (from whichever thread checks)."""

    def __init__(self, allowed: int):
        super().__init__()
        object.__setattr__(self, "checks", 0)
        object.__setattr__(self, "allowed", allowed)

    def check(self) -> None:
        object.__setattr__(self, "checks", self.checks + 1)
        if self.checks > self.allowed:
            raise DeadlineExceeded("expired")
