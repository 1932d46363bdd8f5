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
