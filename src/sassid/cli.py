"""Command-line interface: each subcommand parses options and calls one library function.

Heavy imports (torch) happen inside the commands so that ``sassid --help`` is instant. Errors
caused by input print one line, ``sassid: error: ...``, and exit with status 2 (1 where nothing
was found to work on). SIGINT exits 130 and SIGTERM 143, both after the ``finally`` blocks that
remove temporary files have run. SIGXFSZ is ignored, so a file-size limit is an error on the
write (reported) instead of a silent kill.
"""

from __future__ import annotations

import argparse
import signal
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sassid.constants import DEMO_ISO, DEMO_MINUTES

if TYPE_CHECKING:  # the CLI imports torch only inside commands, so --help stays instant
    from sassid.guard import GateChoice
    from sassid.io import Photo
    from sassid.report import ReportBuilder, ReportSummary

__all__ = ["main"]


class Terminated(BaseException):
    """Raised by the SIGTERM handler, so that cleanup code runs as on Ctrl-C."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def _install_signal_handlers() -> dict[int, Any]:
    """Install the handlers; return the previous ones (main() restores them when it returns)."""
    wanted: dict[int, Any] = {signal.SIGTERM: _on_sigterm}
    if hasattr(signal, "SIGXFSZ"):
        wanted[signal.SIGXFSZ] = signal.SIG_IGN
    previous: dict[int, Any] = {}
    for signum, handler in wanted.items():
        try:
            previous[signum] = signal.signal(signum, handler)
        except ValueError:  # not the main thread (main() called from a thread): keep them
            pass
    return previous


def _warning_line(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
    print(f"sassid: warning: {message}", file=sys.stderr)


def _cmd_train(args: argparse.Namespace) -> int:
    import dataclasses

    from sassid.budget import describe_budget, read_budget
    from sassid.config import load_config, with_blind_size, with_steps
    from sassid.distributed import is_main_process
    from sassid.errors import OptionError
    from sassid.train import train

    if args.steps is not None and args.minutes is not None:  # the budget plans the steps
        raise OptionError("--steps and --minutes: give one (--minutes plans each stage's steps)")
    preset_name = args.preset
    if preset_name is None and args.config is None and args.minutes is not None:
        preset_name = "laptop"
    config = load_config(args.config, preset_name)
    if args.steps is not None:
        config = with_steps(config, args.steps)
    if args.seed is not None:
        config = dataclasses.replace(config, seed=args.seed)
    if args.blind_size is not None:
        config = with_blind_size(config, args.blind_size)
    model = train(
        args.noisy,
        args.output,
        config,
        resume=args.resume,
        device=args.device,
        val=args.val,
        progress=not args.quiet,
        minutes=args.minutes,
    )
    if is_main_process():
        print(f"model written to {model}")
        saved = read_budget(Path(args.output)) if args.minutes is not None else None
        if saved is not None:
            caps = {name: config.stage(name).max_steps for name in ("bnn", "lan", "unet")}
            print(describe_budget(saved, caps))
    return 0


def _report_builder(args: argparse.Namespace) -> ReportBuilder | None:
    """The builder for ``--report FILE`` (None without the option)."""
    if not args.report:
        return None
    from sassid.report import ReportBuilder

    return ReportBuilder(args.model, args.report, device=args.device, net=args.net)


def _print_report(summary: ReportSummary) -> None:
    print(f"report: {summary.path} ({summary.bytes / 1e6:.2f} MB, {summary.photos} photos)")


def _cmd_denoise(args: argparse.Namespace) -> int:
    from sassid.denoise import denoise_files
    from sassid.outputs import check_results

    if args.report:  # a file named as an input (even a non-image) is never replaced
        named = [Path(p) for p in args.inputs if Path(p).is_file()]
        check_results({"-o": Path(args.output), "--report": Path(args.report)}, named)
    builder = _report_builder(args)  # makes no folder: a refused plan leaves nothing behind
    if builder is not None:
        builder.check = not args.no_check
    report_errors: list[str] = []

    def add_to_report(
        source: Path, noisy: Photo, denoised: Photo, doubt: str | None, gate: GateChoice | None
    ) -> None:
        from sassid.errors import SassidError

        assert builder is not None
        try:
            builder.add(
                source.name,
                noisy.pixels,
                denoised.pixels,
                noisy_file=source,
                denoised_file=denoised.path,
                doubt=doubt,  # the verdict denoise_files reached: not judged twice
                gate=gate,
            )
        except SassidError as exc:
            report_errors.append(str(exc))
            print(f"sassid: error: report: {exc}", file=sys.stderr)

    report = denoise_files(
        args.inputs,
        args.output,
        args.model,
        **_inference_options(args),
        progress=not args.quiet,
        backend=args.backend,
        precision=args.precision,
        calibrate=args.calibrate,
        announce=print,
        on_photo=add_to_report if builder is not None else None,
        check=not args.no_check,
        overwrite=args.overwrite,
        skip_existing=args.skip_existing,
    )
    skipped = f", {len(report.skipped)} skipped (exist already)" if report.skipped else ""
    doubtful = f", {len(report.doubtful)} doubtful (see warnings)" if report.doubtful else ""
    guarded = f", {len(report.guarded)} with a lower noise gate" if report.guarded else ""
    print(f"{len(report.written)} written{skipped}, {len(report.failed)} failed{doubtful}{guarded}")
    if builder is not None:
        _print_report(builder.write())
    return 1 if report.failed or report_errors else 0


def _inference_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options ``_add_inference_options`` adds, as keyword arguments of the library calls."""
    return {
        "net": args.net,
        "tile": args.tile,
        "overlap": args.overlap,
        "ensemble": args.ensemble,
        "device": args.device,
        "guard": not args.no_guard,
    }


def _cmd_export(args: argparse.Namespace) -> int:
    from sassid.export import export_onnx

    diff = export_onnx(args.model, args.output, net=args.net)
    print(f"wrote {args.output}: {args.net}, max abs difference to PyTorch {diff:.2g} (of 255)")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from sassid.evaluate import check_evaluation_outputs, evaluate
    from sassid.outputs import check_output_file

    for result_file in (args.json, args.csv):
        if result_file:
            check_output_file(result_file)  # before the evaluation, not after it
    results = {"--json": args.json, "--csv": args.csv, "--report": args.report}
    check_evaluation_outputs(
        args.model, args.data, save_images=args.save_images, files=results, overwrite=args.overwrite
    )
    builder = _report_builder(args)
    result = evaluate(
        args.model,
        args.data,
        **_inference_options(args),
        ssim_convention=args.ssim,
        save_images=args.save_images,
        overwrite=args.overwrite,
        progress=not args.quiet,
        lpips=args.lpips or bool(args.lpips_backbone or args.lpips_heads),  # weights: asked for
        lpips_backbone=args.lpips_backbone,
        lpips_heads=args.lpips_heads,
        on_image=(
            (lambda ident, noisy, out, clean: builder.add(ident, noisy, out, clean=clean))
            if builder is not None
            else None
        ),
    )
    for note in result.notes:
        print(note)
    print(result.table())
    if builder is not None:
        _print_report(builder.write())
    if args.json:
        result.write_json(args.json)
    if args.csv:
        result.write_csv(args.csv)
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from sassid.report import write_report

    summary = write_report(
        args.model,
        args.images,
        args.output,
        progress=not args.quiet,
        **_inference_options(args),
        max_side=args.max_side,
        crop=args.crop,
        photo_bytes=args.photo_kb * 1000,
        teachers=not args.no_teachers,
        title=args.title,
    )
    for _, message in summary.failed:
        print(f"sassid: error: {message}", file=sys.stderr)
    _print_report(summary)
    return 1 if summary.failed else 0


def _cmd_submit(args: argparse.Namespace) -> int:
    from sassid.submit import submit_dnd, submit_sidd

    options = dict(
        net=args.net, ensemble=not args.no_ensemble, device=args.device, progress=not args.quiet
    )
    if args.benchmark == "sidd":
        written = list(submit_sidd(args.model, args.data, args.output, **options))
    else:
        written = submit_dnd(args.model, args.data, args.output, **options)
    print(f"wrote {len(written)} files under {args.output}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    import dataclasses

    from sassid.config import preset, with_steps
    from sassid.demo import run_demo
    from sassid.errors import OptionError

    # --steps N: the quick preset with fixed stage lengths (a fast try); else run_demo's own
    # default, the laptop preset under the --minutes budget.
    if args.steps is not None and args.minutes is not None:
        raise OptionError("--steps and --minutes: give one (--steps trains the quick preset)")
    config = None
    if args.steps is not None:
        config = dataclasses.replace(with_steps(preset("quick"), args.steps), seed=args.seed)
    result = run_demo(
        args.output,
        iso_like=args.iso_like,
        config=config,
        device=args.device,
        seed=args.seed,
        progress=not args.quiet,
        minutes=None if args.steps is not None else args.minutes,
    )
    assert result.report is not None
    print(result.report.read_text())
    print(f"report: {result.report}\npicture: {result.picture}\nHTML report: {result.html}")
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from sassid.synth import synthesize_files

    errors = synthesize_files(
        args.clean,
        args.output,
        args.iso_like,
        seed=args.seed,
        jpeg_quality=args.jpeg_quality,
        overwrite=args.overwrite,
    )
    for line in errors:
        print(f"sassid: error: {line}", file=sys.stderr)
    return 1 if errors else 0


def _add_overwrite_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--overwrite",
        action="store_true",
        help=f"replace {what} that exist already (by default the command refuses them "
        "before any work: photos keep their names, and -o may hold other photos)",
    )


def _add_backend_options(p: argparse.ArgumentParser) -> None:
    from sassid.backends import (
        BACKENDS,
        DEFAULT_BACKEND,
        DEFAULT_PRECISION,
        FALLBACK,
        INT8_MIN_MEGAPIXELS,
        PRECISIONS,
    )

    p.add_argument(
        "--backend",
        default=None,
        choices=BACKENDS,
        help="inference engine (default: onnxruntime for int8, else torch); onnxruntime "
        "needs the optional extra sassid[onnx]",
    )
    p.add_argument(
        "--precision",
        default=None,
        choices=PRECISIONS,
        help=f"arithmetic (default {DEFAULT_PRECISION} on {DEFAULT_BACKEND}: the fastest within "
        "0.05 dB of fp32 on the real sets here"
        + (
            f"; {'/'.join(FALLBACK)} instead on a GPU, without onnxruntime, for the teachers, "
            f"or below {INT8_MIN_MEGAPIXELS:g} megapixels in all, where int8's setup would not "
            "pay"
            if DEFAULT_PRECISION == "int8"
            else "; fp32 where the device has no native bfloat16 or its bf16 convolutions fail "
            "a check against fp32"
        )
        + "; bf16: torch only; fp16: torch on CUDA only; int8: onnxruntime only, calibrated on "
        "your photos, for up to 0.15 dB: about as fast as bf16 per megapixel (0.94x at 512 px), "
        "with a setup of several seconds per call)",
    )
    p.add_argument(
        "--calibrate",
        metavar="DIR",
        help="with --precision int8: calibrate on noisy photos from DIR (default: the inputs "
        "themselves); refused with any other precision",
    )


def _add_inference_options(p: argparse.ArgumentParser, tiling: bool = True) -> None:
    p.add_argument(
        "-m",
        "--model",
        required=True,
        help="run directory, model file from `sassid train`, or reference-format weights",
    )
    p.add_argument(
        "--net",
        default="unet",
        choices=["unet", "bnn", "lan", "fusion"],
        help="network to run (fusion: (1-alpha) BNN + alpha LAN, paper Table 3)",
    )
    if tiling:
        p.add_argument(
            "--tile",
            type=int,
            default=None,
            help="tile side in pixels, 0 = whole image (default: 512 for unet, the training "
            "crop size for bnn/lan/fusion)",
        )
        p.add_argument(
            "--overlap",
            type=int,
            default=None,
            help="tile overlap (default: a quarter of the tile, at most 64 px for the unet)",
        )
        p.add_argument("--ensemble", action="store_true", help="x8 flip/rotate self-ensemble")
        p.add_argument(
            "--no-guard",
            action="store_true",
            help="keep the model's noise gate on every photo (by default, where the output is "
            "estimated worse than the noisy input, from the photo alone, a lower gate is used)",
        )
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _add_report_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--report",
        metavar="FILE.html",
        help="also write a self-contained HTML report of these photos (see `sassid report`)",
    )


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
        choices=["quick", "laptop", "paper"],
        default=None,
        help="quick: ~10 min on 2 CPU cores; laptop: sized for --minutes (bf16; a small BNN, "
        "the paper's width once it gets 1200 steps); "
        "paper: the authors' 3 x 400k steps (default: with --config, the file's preset, paper "
        "if it names none; else laptop with --minutes, else paper)",
    )
    t.add_argument(
        "--minutes",
        type=float,
        metavar="M",
        help="wall-clock budget: time a few steps of each stage, split M minutes by the "
        "stages' time_share and plan each stage's schedule for the steps it will get",
    )
    t.add_argument(
        "--blind-size",
        metavar="N|auto",
        help="BNN blind neighbourhood (odd); auto: the smallest size covering the noise's "
        "spatial correlation, measured from the noisy images (default with the laptop "
        "preset; else the preset's)",
    )
    t.add_argument(
        "--config",
        metavar="FILE",
        help="TOML file overriding preset values (or a run's config.json)",
    )
    t.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="set every stage's length to N steps (not with --minutes, which plans them)",
    )
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

    d = sub.add_parser(
        "denoise",
        help="denoise photos with a trained model",
        description="Denoise photos; output keeps format, bit depth, ICC and EXIF.",
    )
    d.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    d.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output folder (or file, for a single input)",
    )
    _add_inference_options(d)
    _add_backend_options(d)
    _add_report_option(d)
    d.add_argument(
        "--no-check",
        action="store_true",
        help="do not judge each output against its input (by default a photo whose output "
        "departs from it beyond the noise, a colour shift or more than the noise removed in "
        "flat areas, is written and warned about)",
    )
    _add_overwrite_option(d, "output photos")
    d.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave output photos that exist already as they are and denoise the rest (to "
        "finish an interrupted batch: an output that exists is complete)",
    )
    d.set_defaults(func=_cmd_denoise)

    x = sub.add_parser(
        "export",
        help="write a network as an ONNX file (dynamic height and width)",
        description="Export a trained network to ONNX, check it with onnx.checker and compare "
        "it with PyTorch. Inputs: float32 NCHW RGB in [0, 255], padded at the bottom/right "
        "to the multiple in the file's metadata (size_multiple, pad_mode); crop the output "
        "back. Needs the optional extra: pip install 'sassid[onnx]'.",
    )
    x.add_argument("-m", "--model", required=True, help="run directory or model file")
    x.add_argument("-o", "--output", required=True, metavar="FILE.onnx")
    x.add_argument("--net", default="unet", choices=["unet", "bnn", "lan"])
    x.set_defaults(func=_cmd_export)

    e = sub.add_parser("evaluate", help="PSNR/SSIM of a model on noisy/clean pairs")
    e.add_argument(
        "data",
        metavar="DATA",
        help="folder of <id>_noisy/<id>_clean pairs, noisy/ + clean/, or SIDD validation .mat",
    )
    _add_inference_options(e)
    e.add_argument(
        "--ssim",
        default="skimage",
        choices=["skimage", "matlab3d"],
        help="SSIM convention (see sassid.metrics)",
    )
    e.add_argument("--json", metavar="FILE", help="write the summary and per-image rows as JSON")
    e.add_argument("--csv", metavar="FILE", help="write per-image rows as CSV")
    e.add_argument("--save-images", metavar="DIR", help="write noisy | denoised | clean strips")
    _add_overwrite_option(e, "--save-images strips")
    e.add_argument(
        "--lpips",
        action="store_true",
        help="also LPIPS (AlexNet); only from local weights, else skipped with a note",
    )
    e.add_argument(
        "--lpips-backbone",
        metavar="FILE",
        help="alexnet-owt-7be5be79.pth (default: $TORCH_HOME/hub/checkpoints/); implies --lpips",
    )
    e.add_argument(
        "--lpips-heads",
        metavar="FILE",
        help="LPIPS v0.1 alex.pth heads (default: from an installed lpips package); implies "
        "--lpips",
    )
    _add_report_option(e)
    e.set_defaults(func=_cmd_evaluate)

    r = sub.add_parser(
        "report",
        help="one self-contained HTML page: before/after, alpha, teachers, training story",
        description="Denoise photos and write one self-contained HTML file (images inline, no "
        "network): per photo a before/after slider, a zoomable full-resolution crop with the "
        "alpha map and the BNN and LAN outputs, PSNR/SSIM where a clean image is given (pairs "
        "<id>_noisy.* + <id>_clean.*) and a no-reference noise estimate; then the run's loss "
        "and validation curves, stage times and configuration. Each photo takes at most "
        "--photo-kb of the page; photos larger than --max-side are downscaled in the slider and "
        "their full-resolution output is written to REPORT_files/ beside the page.",
    )
    r.add_argument(
        "images",
        nargs="*",
        metavar="IMAGES",
        help="image files or folders (a folder of pairs gives scores); none: training story only",
    )
    r.add_argument("-o", "--output", required=True, metavar="REPORT.html", help="the HTML file")
    _add_inference_options(r)
    r.add_argument(
        "--max-side",
        type=int,
        default=1600,
        help="longest side of the before/after view in pixels (default 1600)",
    )
    r.add_argument(
        "--crop",
        type=int,
        default=256,
        help="side of the full-resolution crop with alpha, BNN and LAN (default 256)",
    )
    r.add_argument(
        "--photo-kb",
        type=int,
        default=1000,
        help="cap on each photo's share of the page in kB (default 1000, minimum 200)",
    )
    r.add_argument("--no-teachers", action="store_true", help="skip the alpha/BNN/LAN panels")
    r.add_argument("--title", help="page title (default: the model path)")
    r.set_defaults(func=_cmd_report)

    s = sub.add_parser("submit", help="write SIDD or DND benchmark submissions")
    s.add_argument("benchmark", choices=["sidd", "dnd"])
    s.add_argument("data", help="SIDD: BenchmarkNoisyBlocksSrgb.mat; DND: folder with info.mat")
    s.add_argument("-o", "--output", required=True, help="output folder")
    _add_inference_options(s, tiling=False)
    s.add_argument(
        "--no-ensemble",
        action="store_true",
        help="skip the x8 self-ensemble the reference uses for submissions",
    )
    s.set_defaults(func=_cmd_submit)

    m = sub.add_parser(
        "demo",
        help="offline demo: synthesize camera noise, train, denoise, score",
        description="Runs the whole method on photos shipped with scikit-image, "
        f"with the laptop preset under a {DEMO_MINUTES:g}-minute budget (under 10 minutes in "
        "all on 2 CPU cores).",
    )
    m.add_argument("-o", "--output", default="demo_out", help="output folder (default demo_out)")
    m.add_argument(
        "--iso-like",
        type=float,
        default=DEMO_ISO,
        help=f"noise level (default {DEMO_ISO:g}: ~23 dB, like the SIDD samples' 22.5 dB)",
    )
    m.add_argument(
        "--minutes",
        type=float,
        help=f"training budget for the laptop preset (default {DEMO_MINUTES:g}: the demo ends "
        "within 10 min; not with --steps)",
    )
    m.add_argument(
        "--steps",
        type=int,
        help="instead of a budget: the quick preset with N steps per stage (e.g. 20 to try it)",
    )
    m.add_argument("--seed", type=int, default=0)
    m.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    m.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    m.set_defaults(func=_cmd_demo)

    y = sub.add_parser(
        "synth",
        help="add realistic camera noise to clean photos",
        description="Add realistic camera noise to clean photos. Output is 8 bit (a 16-bit "
        "input is rounded, with a warning); ICC profile and EXIF are kept.",
    )
    y.add_argument("clean", nargs="+", metavar="CLEAN", help="clean image files or folders")
    y.add_argument("-o", "--output", required=True, help="output folder")
    y.add_argument("--iso-like", type=float, default=1600.0, help="noise level (default 1600)")
    y.add_argument("--seed", type=int, default=0)
    y.add_argument("--jpeg-quality", type=int, help="also JPEG-compress at this quality")
    _add_overwrite_option(y, "output photos")
    y.set_defaults(func=_cmd_synth)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    warnings.showwarning = _warning_line
    previous_handlers = _install_signal_handlers()
    from sassid.errors import SassidError

    try:
        return int(args.func(args))
    except SassidError as exc:
        print(f"sassid: error: {exc}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("sassid: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("sassid: terminated", file=sys.stderr)
        return 143
    except OSError as exc:  # last resort: library functions name their files themselves
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"sassid: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("sassid: error: out of memory (try a smaller --tile or batch_size)", file=sys.stderr)
        return 1
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
