"""Command-line interface: each subcommand parses options and calls one library function.

Heavy imports (torch) happen inside the commands so that ``sassid --help`` is instant. Errors
caused by input print one line, ``sassid: error: ...``, and exit with status 2.
"""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from collections.abc import Sequence

__all__ = ["main"]


def _warning_line(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    print(f"sassid: warning: {message}", file=sys.stderr)


def _cmd_train(args: argparse.Namespace) -> int:
    from sassid.config import load_config, with_steps
    from sassid.train import train

    config = load_config(args.config, args.preset)
    if args.steps is not None:
        config = with_steps(config, args.steps)
    if args.seed is not None:
        import dataclasses

        config = dataclasses.replace(config, seed=args.seed)
    model = train(
        args.noisy,
        args.output,
        config,
        resume=args.resume,
        device=args.device,
        val=args.val,
        progress=not args.quiet,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"model written to {model}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sassid",
        description="Self-supervised denoising of real photographs from noisy images alone "
        "(Li et al., CVPR 2023).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    t = sub.add_parser(
        "train",
        help="train BNN, LAN and U-Net on noisy photos",
        description="Train the three networks in sequence on noisy photos only. Clean images "
        "are never used for training.",
    )
    t.add_argument(
        "noisy",
        nargs="+",
        metavar="NOISY",
        help="image files or folders (searched recursively; PNG, JPEG, TIFF)",
    )
    t.add_argument("-o", "--output", required=True, metavar="RUN_DIR", help="run directory")
    t.add_argument(
        "--preset",
        choices=["quick", "paper"],
        default=None,
        help="quick: ~10 min on 2 CPU cores; paper: the authors' 3 x 400k steps "
        "(default: the config file's preset, else paper)",
    )
    t.add_argument("--config", metavar="FILE.toml", help="TOML file overriding preset values")
    t.add_argument("--steps", type=int, metavar="N", help="set every stage's length to N steps")
    t.add_argument("--resume", action="store_true", help="continue from RUN_DIR's checkpoints")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--seed", type=int, help="random seed (default 0)")
    t.add_argument(
        "--val",
        metavar="PAIRS_DIR",
        help="<id>_noisy.* / <id>_clean.* pairs: report validation PSNR and keep "
        "each stage's best weights (never used for training)",
    )
    t.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    t.set_defaults(func=_cmd_train)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _warning_line
    from sassid.errors import SassidError

    try:
        return int(args.func(args))
    except SassidError as exc:
        print(f"sassid: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sassid: interrupted", file=sys.stderr)
        return 130
