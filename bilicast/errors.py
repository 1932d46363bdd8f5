"""Error types. The CLI turns these into messages and exit codes:
UserError (bad input, exit 2) and StageError (a stage failed, exit 1)."""


class UserError(Exception):
    """Bad input from the creator: printed without a traceback, exit code 2."""


class StageError(Exception):
    """A pipeline stage failed (a tool crashed, a render broke): exit code 1."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log

    def __reduce__(self):   # keep the log when raised in a worker process
        return (StageError, (str(self), self.log))


def disk_full(error: BaseException | None) -> bool:
    """Whether a write failed for lack of space (or a file size limit),
    anywhere in the chain of exceptions (Manim wraps the OSError in its own)."""
    import errno
    seen = 0
    while error is not None and seen < 20:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            return True
        error, seen = error.__cause__ or error.__context__, seen + 1
    return False


def disk_full_error(what: str) -> StageError:
    return StageError(f"the disk is full (or a file size limit was hit) while {what}",
                      "free some space and run again: finished work is cached")
