"""HTML rendering of the report: one photo section at a given size level, and the page.

Everything is inline: images as ``data:`` URIs, style and script from ``assets``, charts as SVG
from ``svg``. The only links out of the page are ``<a href>`` to full-resolution files written
beside it (never ``src``), and a Content-Security-Policy forbids any load that is not inline.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape

import numpy as np

from sassid.report.assets import CSP, SCRIPT, STYLE
from sassid.report.encode import (
    ALPHA_STOPS,
    DIFF_GAIN,
    alpha_colours,
    data_uri,
    downscale,
    signed_difference,
    to_uint8,
)
from sassid.report.noise import NOISE_ESTIMATOR
from sassid.report.photo import PhotoData
from sassid.report.story import TrainingStory
from sassid.report.svg import line_chart

__all__ = ["Level", "render_page", "render_photo", "summary_row", "STAGE_LABELS"]

STAGE_LABELS = {"bnn": "BNN (stage 1)", "lan": "LAN (stage 2)", "unet": "U-Net (stage 3)"}


@dataclass(frozen=True)
class Level:
    """How large a photo's section is drawn: overview side, its format/quality, crop side."""

    max_side: int
    fmt: str
    quality: int
    crop: int


def _img(uri: str, alt: str, cls: str) -> str:
    return f'<img class="{cls}" src="{uri}" alt="{escape(alt)}" decoding="async">'


def _fmt(value: float | None, digits: int) -> str:
    if value is None:
        return "-"
    if value == float("inf"):
        return "inf"
    return f"{value:.{digits}f}"


def _metrics_table(p: PhotoData, label: str) -> str:
    m = p.metrics
    rows = [
        "<tr><th></th><th>noise &sigma; est.</th>"
        + ("<th>PSNR (dB)</th><th>SSIM</th>" if "psnr_noisy" in m else "")
        + "</tr>"
    ]
    for key, name in (("noisy", "noisy input"), ("denoised", label)):
        cells = f"<td>{escape(name)}</td><td>{_fmt(m[f'sigma_{key}'], 2)}</td>"
        if "psnr_noisy" in m:
            cells += f"<td>{_fmt(m[f'psnr_{key}'], 2)}</td><td>{_fmt(m[f'ssim_{key}'], 4)}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f'<table class="m">{"".join(rows)}</table>'


def render_photo(p: PhotoData, index: int, level: Level, label: str) -> str:
    """The ``<section>`` of photo number ``index`` (1-based) drawn at ``level``."""
    h, w = p.noisy.shape[:2]
    noisy8, out8 = to_uint8(p.noisy), to_uint8(p.denoised)
    shown_noisy = downscale(noisy8, level.max_side)
    shown_out = downscale(out8, level.max_side)
    sh, sw = shown_noisy.shape[:2]
    crop = p.crop.centre(level.crop)
    box = (
        f"left:{crop.left / w * 100:.3f}%;top:{crop.top / h * 100:.3f}%;"
        f"width:{crop.width / w * 100:.3f}%;height:{crop.height / h * 100:.3f}%"
    )
    encoding = "lossless PNG" if level.fmt == "png" else f"JPEG quality {level.quality}"
    scale_note = (
        f"shown at full resolution ({w}&times;{h}, {encoding})"
        if (sw, sh) == (w, h)
        else f"shown at {sw}&times;{sh} of {w}&times;{h} ({encoding})"
    )
    links = " ".join(f'<a href="{escape(href)}">{escape(text)}</a>' for text, href in p.links)
    overview = (
        f'<div class="overview"><div class="ba" style="aspect-ratio:{sw}/{sh}">'
        f"{_img(data_uri(shown_out, level.fmt, level.quality), label, 'after')}"
        f"{_img(data_uri(shown_noisy, level.fmt, level.quality), 'noisy input', 'before')}"
        f'<div class="box" style="{box}"></div><div class="bar"></div>'
        f'<span class="tag l">noisy</span><span class="tag r">{escape(label)}</span></div>'
        f'<input type="range" class="pos" min="0" max="1000" value="500" '
        f'aria-label="before/after divider of {escape(p.name)}">'
        f'<p class="mut">{scale_note}; drag on the picture or use the slider '
        f"(arrow keys when focused). Dashed box: the crop on the right."
        f"{' Full resolution: ' + links if links else ''}</p>"
        f"{_metrics_table(p, label)}"
        f"{f'<p class=mut>{escape(p.note)}</p>' if p.note else ''}</div>"
    )

    panels: list[tuple[np.ndarray, str]] = [(crop.of(noisy8), "noisy"), (crop.of(out8), label)]
    if p.clean is not None:
        panels.append((crop.of(to_uint8(p.clean)), "clean"))
    panels.append(
        (
            signed_difference(crop.of(p.noisy_255()), crop.of(p.denoised_255())),
            "removed: noisy - out",
        )
    )
    if p.clean is not None:
        panels.append(
            (
                signed_difference(crop.of(p.denoised_255()), crop.of(p.clean_255())),
                "error: out - clean",
            )
        )
    if p.teachers is not None:
        t = p.teachers
        dy, dx = crop.top - t.crop.top, crop.left - t.crop.left
        sub = (slice(dy, dy + crop.height), slice(dx, dx + crop.width))
        panels += [
            (alpha_colours(t.alpha[sub]), "alpha (blue: BNN, orange: LAN)"),
            (t.bnn[sub], "BNN (teacher 1)"),
            (t.lan[sub], "LAN (teacher 2)"),
        ]
    figures = "".join(
        f'<figure><div class="view" style="aspect-ratio:{crop.width}/{crop.height}">'
        f"{_img(data_uri(pixels, 'png'), caption, 'px')}</div>"
        f"<figcaption>{escape(caption)}</figcaption></figure>"
        for pixels, caption in panels
    )
    stops = ",".join(f"rgb{c} {(a - 0.269) / (1 - 0.269) * 100:.0f}%" for a, c in ALPHA_STOPS)
    legend = (
        f'<div class="legend" style="--stops:{stops}"></div><p class="mut">alpha from '
        "0.27 (flat: the U-Net learned from the BNN) through 0.5 to 1 (texture: from the LAN); "
        f"differences shown as 128 + {DIFF_GAIN:g} &times; difference.</p>"
        if p.teachers is not None
        else f'<p class="mut">differences shown as 128 + {DIFF_GAIN:g} &times; difference. '
        "No teacher panels: the model file holds no BNN/LAN.</p>"
    )
    crops = (
        f'<div class="crops" tabindex="0" data-w="{crop.width}" data-h="{crop.height}" '
        f'data-left="{crop.left}" data-top="{crop.top}" '
        f'aria-label="crop of {escape(p.name)}"><div class="zoomctl">'
        '<button data-z="-" aria-label="zoom out">&minus;</button> <span class="zl">1&times;'
        '</span> <button data-z="+" aria-label="zoom in">+</button> '
        '<button data-z="0">reset</button> '
        f'<span class="mut">crop {crop.width}&times;{crop.height} at ({crop.left}, {crop.top}), '
        "full resolution: wheel or +/&minus; to zoom, drag or arrows to pan, 0 to reset</span>"
        f'</div><div class="grid">{figures}</div>{legend}</div>'
    )
    bits = "16-bit" if p.noisy.dtype == np.uint16 else "8-bit"
    return (
        f'<section class="photo" id="photo-{index}"><h2>{index}. {escape(p.name)} '
        f"<small>{w}&times;{h}, {bits}</small></h2>"
        f'<div class="cols">{overview}{crops}</div></section>'
    )


def summary_row(p: PhotoData, index: int) -> str:
    """One row of the table of contents (well under 1 KB)."""
    m = p.metrics
    h, w = p.noisy.shape[:2]
    return (
        f'<tr><td><a href="#photo-{index}">{index}. {escape(p.name[:60])}</a></td>'
        f"<td>{w}&times;{h}</td><td>{_fmt(m['sigma_noisy'], 2)}</td>"
        f"<td>{_fmt(m['sigma_denoised'], 2)}</td>"
        f"<td>{_fmt(m.get('psnr_noisy'), 2)}</td><td>{_fmt(m.get('psnr_denoised'), 2)}</td>"
        f"<td>{_fmt(m.get('ssim_noisy'), 4)}</td><td>{_fmt(m.get('ssim_denoised'), 4)}</td></tr>"
    )


def _story_html(story: TrainingStory) -> str:
    parts = ['<section id="training"><h2>Training</h2>']
    if story.run_dir is not None:
        parts.append(f'<p class="mut">Run directory: <code>{escape(str(story.run_dir))}</code></p>')
    if story.stages:
        rows = "".join(
            f"<tr><td>{escape(STAGE_LABELS.get(s.name, s.name))}</td><td>{s.last_step}</td>"
            f"<td>{s.steps_run}</td><td>{s.seconds:.1f}</td>"
            f"<td>{_fmt(sum(s.steps_per_s) / len(s.steps_per_s) if s.steps_per_s else None, 2)}"
            f"</td><td>{_fmt(min(s.loss.values()) if s.loss else None, 4)}</td>"
            f"<td>{_fmt(max(s.val_psnr.values()) if s.val_psnr else None, 2)}</td></tr>"
            for s in story.stages
        )
        parts.append(
            "<table><tr><th>stage</th><th>last step</th><th>steps run</th><th>time (s)</th>"
            "<th>steps/s</th><th>lowest loss</th><th>best val PSNR</th></tr>"
            f"{rows}<tr><td>total</td><td></td><td></td><td>{story.total_seconds:.1f}</td>"
            "<td></td><td></td><td></td></tr></table>"
        )
        for s in story.stages:
            label = STAGE_LABELS.get(s.name, s.name)
            charts = [
                line_chart(
                    sorted(s.loss),
                    [s.loss[k] for k in sorted(s.loss)],
                    title=f"{label}: training loss (L1)",
                    ylabel="loss",
                )
            ]
            if s.val_psnr:
                steps = sorted(s.val_psnr)
                charts.append(
                    line_chart(
                        steps,
                        [s.val_psnr[k] for k in steps],
                        title=f"{label}: validation PSNR",
                        ylabel="dB",
                    )
                )
            parts.append(f'<h3>{escape(label)}</h3><div class="charts">{"".join(charts)}</div>')
    for note in story.notes[:20]:
        parts.append(f'<p class="mut">{escape(note)}</p>')
    if story.config:
        text = json.dumps(story.config, indent=2, sort_keys=True, default=str)[:20000]
        parts.append(
            f"<details><summary>Configuration</summary><pre>{escape(text)}</pre></details>"
        )
    parts.append("</section>")
    return "".join(parts)


def render_page(
    *,
    title: str,
    header: list[str],
    rows: list[str],
    sections: list[str],
    story: TrainingStory,
    machine: dict[str, str],
    label: str,
    size_line: str,
) -> str:
    """The whole document; ``size_line`` states the page's size and its bound."""
    head = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
    )
    intro = "".join(f"<p>{line}</p>" for line in header)
    toc = ""
    if rows:
        toc = (
            '<nav class="toc"><table><tr><th>photo</th><th>size</th><th>&sigma; noisy</th>'
            f"<th>&sigma; {escape(label)}</th><th>PSNR noisy</th><th>PSNR {escape(label)}</th>"
            f"<th>SSIM noisy</th><th>SSIM {escape(label)}</th></tr>{''.join(rows)}</table></nav>"
            f'<p class="mut">&sigma;: no-reference noise estimate, {escape(NOISE_ESTIMATOR)}. It '
            "reads low for spatially correlated noise; compare before with after. PSNR/SSIM "
            "(scikit-image convention) only where a clean image was given.</p>"
        )
    facts = "".join(
        f'<tr><td>{escape(k)}</td><td style="text-align:left">{escape(v)}</td></tr>'
        for k, v in machine.items()
    )
    return (
        f'{head}<h1>{escape(title)}</h1>{intro}<p class="mut">{size_line}</p>{toc}'
        f"{''.join(sections)}{_story_html(story)}"
        f'<section id="machine"><h2>Made with</h2><table>{facts}</table></section>'
        f"<script>{SCRIPT}</script></body></html>\n"
    )
