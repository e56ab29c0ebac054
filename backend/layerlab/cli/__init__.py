"""The `layerlab` command: `command` parses it and runs each subcommand; `flags` turns flags into
a RunSpec; `console` writes a run as text; `report` writes it as a page with Plotly charts;
`forward_text` walks one point through a trained network (`train --explain-point`); `sweep`
and `sweep_report` train a depth × width sweep (`layerlab sweep`) and write its page."""

from layerlab.cli.command import (
    EXIT_DIVERGED,
    EXIT_DONE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    build_parser,
    main,
)

__all__ = ["EXIT_DIVERGED", "EXIT_DONE", "EXIT_INTERRUPTED", "EXIT_USAGE", "build_parser", "main"]
