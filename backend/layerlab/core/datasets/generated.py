"""The built-in datasets, each deterministic by seed: its generator, its entry in the registry,
and the code that makes the same points in the generated script.

A new dataset is one generator, one entry in GENERATED (with its snippet), the comment of its
snippet in core/script_phrases.py, and its title and description in frontend/i18n/.
"""

import math

import numpy as np
from sklearn.datasets import make_circles, make_moons

from layerlab.core.datasets.dataset import LinearTruth
from layerlab.core.datasets.info import DatasetInfo, Snippet, script_literal

# --- generators: (samples, noise, seed, classes) -> (points (n, d), labels (n,)) -------------


def _moons(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    return make_moons(n_samples=n, noise=noise, random_state=seed)


def _circles(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # Rings of radius 1 and 0.5: noise 1 blurs them into each other.
    return make_circles(n_samples=n, noise=0.4 * noise, factor=0.5, random_state=seed)


def _xor(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, size=(n, 2))
    points += np.sign(points) * 0.05  # a small gap along the axes, where the label flips
    labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
    return points + rng.normal(0.0, 0.3 * noise, size=points.shape), labels


def _gaussian(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    centers = np.where(labels[:, None] == 1, 1.0, -1.0)
    return centers + rng.normal(0.0, 0.3 + noise, size=(n, 2)), labels


def _spiral(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    t = rng.uniform(0.05, 1.0, size=n)
    angle = 3.5 * math.pi * t + math.pi * labels
    points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    return points + rng.normal(0.0, 0.15 * noise, size=points.shape), labels


def _blobs(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % classes
    angles = 2 * math.pi * np.arange(classes) / classes + math.pi / 2
    centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return centers[labels] + rng.normal(0.0, 0.3 + noise, size=(n, 2)), labels


# Signed bumps (x, y, height, width) of the multigauss surface: fixed, so the seed moves the points.
MULTIGAUSS_BUMPS = (
    (-0.5, -0.5, 1.0, 0.3),
    (0.5, 0.5, 1.0, 0.3),
    (-0.5, 0.5, -1.0, 0.3),
    (0.5, -0.5, -1.0, 0.3),
    (0.0, 0.0, 0.6, 0.2),
    (0.8, 0.0, -0.5, 0.2),
)


def multigauss_surface(points: np.ndarray) -> np.ndarray:
    """The noiseless multigauss target at each (x, y)."""
    value = np.zeros(len(points))
    for cx, cy, height, width in MULTIGAUSS_BUMPS:
        r2 = (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2
        value += height * np.exp(-r2 / (2 * width**2))
    return value


def _multigauss(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    points = rng.uniform(-1.0, 1.0, size=(n, 2))
    return points, multigauss_surface(points) + rng.normal(0.0, 0.2 * noise, size=n)


PLANE = LinearTruth(weights=(2.0, -3.0), bias=5.0)


def _plane(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # The lesson's data, y = 2x − 3z + 5 + noise: x₁ (its x) and x₂ (its z) in [-10, 10].
    rng = np.random.default_rng(seed)
    points = rng.uniform(-10.0, 10.0, size=(n, 2))
    target = points @ np.array(PLANE.weights) + PLANE.bias
    return points, target + rng.uniform(-10.0 * noise, 10.0 * noise, size=n)


def _plane_formula() -> str:
    """The plane as the script's comment writes it, in the page's names: y = 2*x1 - 3*x2 + 5."""
    (w1, w2), b = PLANE.weights, PLANE.bias
    return f"y = {w1:g}*x1 {'-' if w2 < 0 else '+'} {abs(w2):g}*x2 + {b:g}"


def _features4(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    # The lesson's 4 uniform features. Labels follow a hidden linear rule, and `noise` flips a share
    # of them: noise 1 flips half, which is the lesson's purely random labels.
    rng = np.random.default_rng(seed)
    points = rng.uniform(0.0, 1.0, size=(n, 4))
    rule = rng.normal(size=4)
    labels = ((points - 0.5) @ rule > 0).astype(np.int64)
    flip = rng.uniform(size=n) < noise / 2
    return points, np.where(flip, 1 - labels, labels)


# --- the registry's entries, with the script's twin of each generator ------------------------

GENERATED: tuple[DatasetInfo, ...] = (
    DatasetInfo(
        "moons", "binary", "Two moons",
        "Two interleaving half circles: no straight line separates them.",
        (-1.5, 2.5, -1.0, 1.5),
        _moons,
        Snippet(
            """\
# $data_moons
points, labels = make_moons(n_samples=$samples, noise=$noise, random_state=$data_seed)""",
            imports=("from sklearn.datasets import make_moons",),
        ),
    ),
    DatasetInfo(
        "circles", "binary", "Circles",
        "A ring around a disc: needs a closed boundary (try x1² and x2²).",
        (-1.5, 1.5, -1.5, 1.5),
        _circles,
        Snippet(
            """\
# $data_circles
points, labels = make_circles(n_samples=$samples, noise=$circles_noise, factor=0.5, random_state=$data_seed)""",  # noqa: E501
            lambda noise: {"circles_noise": script_literal(0.4 * noise, f"0.4 * {noise!r}")},
            imports=("from sklearn.datasets import make_circles",),
        ),
    ),
    DatasetInfo(
        "xor", "binary", "XOR",
        "Opposite quadrants share a class: no linear model can solve it.",
        (-1.5, 1.5, -1.5, 1.5),
        _xor,
        Snippet(
            """\
# $data_xor
rng = np.random.default_rng($data_seed)
points = rng.uniform(-1.0, 1.0, size=($samples, 2))
points += np.sign(points) * 0.05  # $data_xor_gap
labels = (points[:, 0] * points[:, 1] > 0).astype(np.int64)
points += rng.normal(0.0, $xor_noise, size=points.shape)""",
            lambda noise: {"xor_noise": script_literal(0.3 * noise, f"0.3 * {noise!r}")},
        ),
    ),
    DatasetInfo(
        "gaussian", "binary", "Two Gaussians",
        "Two Gaussian clouds: a straight line separates them until noise makes them overlap.",
        (-3.0, 3.0, -3.0, 3.0),
        _gaussian,
        Snippet(
            """\
# $data_gaussian
rng = np.random.default_rng($data_seed)
labels = np.arange($samples) % 2
centers = np.where(labels[:, None] == 1, 1.0, -1.0)  # (N, 2)
points = centers + rng.normal(0.0, $cloud_spread, size=($samples, 2))""",
            lambda noise: {"cloud_spread": script_literal(0.3 + noise, f"0.3 + {noise!r}")},
        ),
    ),
    DatasetInfo(
        "spiral", "binary", "Spiral",
        "Two interleaved arms: the hardest shape; needs depth.",
        (-1.3, 1.3, -1.3, 1.3),
        _spiral,
        Snippet(
            """\
# $data_spiral
rng = np.random.default_rng($data_seed)
labels = np.arange($samples) % 2
t = rng.uniform(0.05, 1.0, size=$samples)  # $data_spiral_radius
angle = 3.5 * np.pi * t + np.pi * labels  # $data_spiral_turn
points = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
points += rng.normal(0.0, $spiral_noise, size=points.shape)""",
            lambda noise: {"spiral_noise": script_literal(0.15 * noise, f"0.15 * {noise!r}")},
        ),
    ),
    DatasetInfo(
        "blobs", "multiclass", "Blobs",
        "3 to 5 clouds, one class each: softmax over several outputs.",
        (-3.5, 3.5, -3.5, 3.5),
        _blobs,
        Snippet(
            """\
# $data_blobs
rng = np.random.default_rng($data_seed)
labels = np.arange($samples) % $classes
angles = 2 * np.pi * np.arange($classes) / $classes + np.pi / 2
centers = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # ($classes, 2)
points = centers[labels] + rng.normal(0.0, $cloud_spread, size=($samples, 2))""",
            lambda noise: {"cloud_spread": script_literal(0.3 + noise, f"0.3 + {noise!r}")},
        ),
    ),
    DatasetInfo(
        "multigauss", "regression", "Bumpy surface",
        "Regression: a surface of signed Gaussian bumps to fit.",
        (-1.0, 1.0, -1.0, 1.0),
        _multigauss,
        Snippet(
            """\
# $data_multigauss
bumps = [  # $data_multigauss_bump
$bumps
]
rng = np.random.default_rng($data_seed)
points = rng.uniform(-1.0, 1.0, size=($samples, 2))
targets = np.zeros($samples)
for cx, cy, height, width in bumps:
    r2 = (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2
    targets += height * np.exp(-r2 / (2 * width**2))
targets += rng.normal(0.0, $multigauss_noise, size=$samples)""",
            lambda noise: {
                "bumps": "\n".join(f"    {bump}," for bump in MULTIGAUSS_BUMPS),
                "multigauss_noise": script_literal(0.2 * noise, f"0.2 * {noise!r}"),
            },
        ),
    ),
    DatasetInfo(
        "plane", "regression", "Plane",
        "Regression: y = 2·x₁ − 3·x₂ + 5 + noise; a linear model recovers 2, −3 and 5.",
        (-10.0, 10.0, -10.0, 10.0),
        _plane,
        Snippet(
            """\
# $data_plane
rng = np.random.default_rng($data_seed)
points = rng.uniform(-10.0, 10.0, size=($samples, 2))
targets = points @ np.array($plane_weights) + $plane_bias
targets += rng.uniform(-$plane_noise, $plane_noise, size=$samples)""",
            lambda noise: {
                "plane_weights": list(PLANE.weights),
                "plane_bias": PLANE.bias,
                "plane_noise": script_literal(10.0 * noise, f"10.0 * {noise!r}"),
                "plane_formula": _plane_formula(),
            },
        ),
        truth=PLANE,
    ),
    DatasetInfo(
        "features4", "binary", "4 features",
        "4 random features and a binary label, as in the basic-network lesson.",
        None,
        _features4,
        Snippet(
            """\
# $data_features4
rng = np.random.default_rng($data_seed)
points = rng.uniform(0.0, 1.0, size=($samples, 4))
rule = rng.normal(size=4)
labels = ((points - 0.5) @ rule > 0).astype(np.int64)
flip = rng.uniform(size=$samples) < $flip_share
labels = np.where(flip, 1 - labels, labels)""",
            lambda noise: {"flip_share": script_literal(noise / 2, f"{noise!r} / 2")},
        ),
        inputs=4,
    ),
)  # fmt: skip
