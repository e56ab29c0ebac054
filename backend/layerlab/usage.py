"""A command used wrongly: what every `layerlab` subcommand raises, wherever it lives (the
command line's own, and the benchmark's and load test's in measure/)."""


class UsageError(Exception):
    """Input the user can fix; each line is printed as `error: <line>` and the exit code is 2."""

    def __init__(self, *lines: str) -> None:
        super().__init__("\n".join(lines))
        self.lines = lines
