from __future__ import annotations

from html.parser import HTMLParser

from sassid.report.svg import MAX_POINTS, line_chart, nice_ticks


def test_nice_ticks_are_round_and_cover_the_range() -> None:
    assert nice_ticks(0, 1000) == [0, 200, 400, 600, 800, 1000]
    assert nice_ticks(0.013, 0.087) == [0.02, 0.04, 0.06, 0.08]
    assert nice_ticks(5, 5) == [5]


def _points(svg: str) -> list[tuple[float, float]]:
    found: list[str] = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):  # noqa: ANN001, ANN202
            if tag == "polyline":
                found.append(dict(attrs)["points"])

    P().feed(svg)
    return [tuple(map(float, p.split(","))) for p in found[0].split()]  # type: ignore[misc]


def test_chart_maps_data_monotonically_and_thins_long_series() -> None:
    xs = list(range(1, 5001))
    ys = [100.0 / x for x in xs]
    svg = line_chart(xs, ys, title="loss <L1>", ylabel="loss")
    points = _points(svg)
    assert len(points) == MAX_POINTS
    assert all(b[0] > a[0] for a, b in zip(points, points[1:], strict=False))  # x increases
    assert all(
        b[1] >= a[1] for a, b in zip(points, points[1:], strict=False)
    )  # loss falls: SVG y grows
    assert "loss &lt;L1&gt;" in svg and "http" not in svg
    assert len(svg) < 12_000


def test_chart_without_data_says_so() -> None:
    assert "no data" in line_chart([], [], title="t")
    assert "<circle" in line_chart([3], [1.5], title="one point")
