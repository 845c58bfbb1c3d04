"""ex.twin(): the HTML block the chapters show, which the live page rebuilds the explorer from."""

import base64
import json
import re

import numpy as np
import pytest

import dualfilter as df
from dualfilter import explore, plots
from dualfilter.explore.twin import concentration_grid


def _config(html: str) -> dict:
    text = re.search(r'<script type="application/json" class="dualfilter-twin-config">(.*?)</script>',
                     html, re.S).group(1)
    return json.loads(text.replace("<\\/", "</"))


@pytest.mark.parametrize("name", list(explore.EXPLORERS))
def test_twin_carries_the_spec_the_parameters_and_the_static_figure(name):
    ex = getattr(explore, name)()
    html = ex.twin()._repr_html_()
    assert html.count('class="dualfilter-twin"') == 1 and f'data-explorer="{name}"' in html
    config = _config(html)
    assert config["name"] == name and config["spec"] == ex.spec() and config["params"] == ex.params
    assert {k: v for k, v in config["style"].items() if k != "colorscales"} == plots.style()
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1))
    assert png == ex.png()
    assert "</script>" not in html.split("dualfilter-twin-config\">", 1)[1].split("</script>", 1)[0]


RANDOM_MODEL = [n for n, cls in explore.EXPLORERS.items()       # the real-text explorer
                if "emission_concentration" in {p.name for p in cls.PARAMS}]   # has none


@pytest.mark.parametrize("name", RANDOM_MODEL)
def test_book_models_are_the_package_models(name):
    """The page's rule (M = s I + (1 - s) A_random, rows divided by their sums; C, mu of the
    concentration; the path from the embedded uniforms) gives random_hmm and sample exactly."""
    ex = getattr(explore, name)()
    book = ex.twin().config["book"]
    p = ex.params
    d = p["n_states"]
    grid = concentration_grid(next(q for q in ex.PARAMS if q.name == "emission_concentration"))
    assert [e["concentration"] for e in book["emission"]][: len(grid)] == grid
    for s in (0.0, 0.37, p["stickiness"], 0.99):
        for entry in book["emission"][:: max(1, len(grid) // 5)]:
            M = s * np.eye(d) + (1.0 - s) * np.array(book["A_random"])
            hmm = df.random_hmm(d, p["n_tokens"], seed=p["seed"], stickiness=s,
                                emission_concentration=entry["concentration"])
            assert np.array_equal(M / M.sum(axis=1, keepdims=True), hmm.A)
            assert np.array_equal(entry["C"], hmm.C) and np.array_equal(entry["mu"], hmm.mu)
    T = ex.PARAMS[[q.name for q in ex.PARAMS].index("T")].high
    assert len(book["uniforms"]) == 2 * T + 1
    assert np.array_equal(book["uniforms"], np.random.default_rng(p["seed"]).random(2 * T + 1))


def test_log_grid_hits_the_decimal_values_of_the_prose():
    param = next(q for q in explore.FilterExplorer.PARAMS if q.name == "emission_concentration")
    grid = concentration_grid(param)
    assert len(grid) == 61 and grid[0] == 0.03 and grid[-1] == 30.0
    for value in (0.3, 3.0):            # the values the chapters ask the reader to set
        assert value in grid
