"""Procedural indoor scenes with exact metric depth, rendered by vectorised numpy ray casting.

A scene is a room (floor, ceiling, back and side walls: planes) holding boxes and spheres, seen by a pinhole
camera a little above the floor and looking slightly down. Surfaces carry procedural textures or flat colours
(``synthetic_textures``) under Lambertian shading from a point light with hard object shadows.

World frame: x right, y up, z forward, floor at y = 0, camera at (0, h, 0). The depth is z-depth (distance
along the optical axis), as in NYUv2.
"""
import os.path as osp
from functools import lru_cache
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .synthetic_textures import KIND_PROBS, Material, check_kind_probs, sample_material

Seed = Union[int, Sequence[int]]
_EPS = 1e-6
_GAMMA_LUT = (255 * (np.arange(4096) / 4095) ** (1 / 2.2) + 0.5).astype(np.uint8)  # linear [0, 1] -> sRGB-ish


class _Plane:
    """Plane ``normal . p = offset``; ``uv_axes`` pick the world coordinates used as texture coordinates.

    Surfaces take ray origins (3, 1) or (3, N) and directions (3, N), structure-of-arrays for speed.
    """

    def __init__(self, normal: Sequence[float], offset: float, uv_axes: Tuple[int, int], material: Material):
        self.normal = np.asarray(normal, np.float64)
        self.offset = offset
        self.uv_axes = uv_axes
        self.material = material

    def intersect(self, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        """Ray parameters (N,) of the first hits of rays ``origin + t dirs``; inf where a ray misses."""
        with np.errstate(divide='ignore', invalid='ignore'):
            t = (self.offset - self.normal @ origin) / (self.normal @ dirs)
        return np.where(t > _EPS, t, np.inf)

    def surface(self, points: np.ndarray, dirs: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Unit normals (3, M) facing the viewer and texture coordinates u, v (M,) in metres at hit points."""
        flip = np.where(self.normal @ dirs > 0, -1.0, 1.0)
        return self.normal[:, None] * flip, points[self.uv_axes[0]], points[self.uv_axes[1]]


class _Box:
    """Box of half extents ``half`` centred at ``center``, rotated by ``yaw`` about the vertical axis."""

    def __init__(self, center: np.ndarray, half: np.ndarray, yaw: float, material: Material):
        self.center, self.half, self.material = center[:, None], half[:, None], material
        self.bound_center, self.bound_radius = center, float(np.linalg.norm(half))
        c, s = np.cos(yaw), np.sin(yaw)
        self.rot = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])  # local -> world

    def intersect(self, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        o = self.rot.T @ (origin - self.center)
        d = self.rot.T @ dirs
        inv = 1.0 / np.where(np.abs(d) < 1e-12, 1e-12, d)
        t1, t2 = (-self.half - o) * inv, (self.half - o) * inv
        lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
        t_near = np.maximum(np.maximum(lo[0], lo[1]), lo[2])
        t_far = np.minimum(np.minimum(hi[0], hi[1]), hi[2])
        hit = (t_near <= t_far) & (t_far > _EPS)
        return np.where(hit, np.where(t_near > _EPS, t_near, t_far), np.inf)

    def surface(self, points: np.ndarray, dirs: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        local = self.rot.T @ (points - self.center)
        axis = np.argmax(np.abs(local / self.half), axis=0)
        cols = np.arange(local.shape[1])
        normal_local = np.zeros_like(local)
        normal_local[axis, cols] = np.sign(local[axis, cols])
        u = local[np.where(axis == 0, 2, 0), cols]  # the two coordinates across the hit face
        v = local[np.where(axis == 1, 2, 1), cols]
        return self.rot @ normal_local, u, v


class _Sphere:

    def __init__(self, center: np.ndarray, radius: float, material: Material):
        self.center, self.radius, self.material = center[:, None], radius, material
        self.bound_center, self.bound_radius = center, radius

    def intersect(self, origin: np.ndarray, dirs: np.ndarray) -> np.ndarray:
        oc = origin - self.center
        a = np.sum(dirs * dirs, axis=0)
        b = np.sum(dirs * oc, axis=0)
        disc = b * b - a * (np.sum(oc * oc, axis=0) - self.radius ** 2)
        root = np.sqrt(np.maximum(disc, 0))
        t_near, t_far = (-b - root) / a, (-b + root) / a
        t = np.where(t_near > _EPS, t_near, t_far)
        return np.where((disc >= 0) & (t > _EPS), t, np.inf)

    def surface(self, points: np.ndarray, dirs: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = (points - self.center) / self.radius
        u = self.radius * np.arctan2(n[0], n[2])
        v = self.radius * np.arcsin(np.clip(n[1], -1, 1))
        return n, u, v


def _rotation(yaw: float, pitch_down: float, roll: float) -> np.ndarray:
    """Camera (OpenCV: x right, y down, z forward) to world (x right, y up, z forward) rotation."""
    cy, sy = np.cos(yaw), np.sin(yaw)
    cp, sp = np.cos(pitch_down), np.sin(pitch_down)
    cr, sr = np.cos(roll), np.sin(roll)
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    r_roll = np.array([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]])
    return r_yaw @ r_pitch @ r_roll @ np.diag([1.0, -1.0, 1.0])


def _room(rng: np.random.Generator, max_depth: float, rot: np.ndarray, cam_h: float,
          kind_probs: Sequence[float]) -> Tuple[list, tuple]:
    """Floor, ceiling, side and back walls; the back wall is pulled in so no visible point is beyond 0.97 max_depth."""
    left, right = rng.uniform(1.3, 3.0, size=2) * min(1.0, max_depth / 8.0)
    ceil = rng.uniform(2.4, 3.2)
    forward = rot[:, 2]
    corners = [(x, y) for x in (-left, right) for y in (0.0, ceil)]
    lateral = max(forward[0] * x + forward[1] * (y - cam_h) for x, y in corners)
    back = min(rng.uniform(0.55, 1.0) * max_depth, (0.97 * max_depth - lateral) / forward[2])
    planes = [
        _Plane((0, 1, 0), 0.0, (0, 2), sample_material(rng, False, kind_probs)),  # floor
        _Plane((0, -1, 0), -ceil, (0, 2), sample_material(rng, False, kind_probs)),  # ceiling
        _Plane((0, 0, -1), -back, (0, 1), sample_material(rng, False, kind_probs)),  # back wall
        _Plane((1, 0, 0), -left, (2, 1), sample_material(rng, False, kind_probs)),  # left wall
        _Plane((-1, 0, 0), -right, (2, 1), sample_material(rng, False, kind_probs)),  # right wall
    ]
    return planes, (left, right, ceil, back)


def _between(rng: np.random.Generator, lo: float, hi: float) -> float:
    """Uniform in [lo, hi], or their midpoint when the interval is empty (one draw either way)."""
    u = rng.random()
    return lo + u * (hi - lo) if hi > lo else 0.5 * (lo + hi)


def _objects(rng: np.random.Generator, bounds: tuple, num: int, size: float, kind_probs: Sequence[float]) -> list:
    """``num`` boxes and spheres (dimensions scaled by ``size``) resting on the floor or, some spheres, floating."""
    left, right, ceil, back = bounds
    objects = []
    for _ in range(num):
        material = sample_material(rng, True, kind_probs)
        if rng.random() < 0.6:
            half = rng.uniform([0.15, 0.15, 0.15], [0.6, 0.8, 0.6]) * size
            reach = np.hypot(half[0], half[2])
            center = np.array([_between(rng, -left + reach, right - reach), half[1],
                               _between(rng, 1.0 + reach, back - reach)])
            objects.append(_Box(center, half, rng.uniform(0, np.pi / 2), material))
        else:
            radius = rng.uniform(0.12, 0.5) * size
            height = radius if rng.random() < 0.5 else _between(rng, radius, min(2.0, ceil - radius))
            center = np.array([_between(rng, -left + radius, right - radius), height,
                               _between(rng, 0.9 + radius, back - radius)])
            objects.append(_Sphere(center, radius, material))
    return objects


def _nearest(surfaces: list, origin: np.ndarray, dirs: np.ndarray,
             subsets: Optional[List[Optional[np.ndarray]]] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Ray parameters (N,) of the first hits (inf: none) and the index (N,) of the surface hit.

    ``subsets[i]``, when given and not None, lists the only rays that can hit surface i.
    """
    best = np.full(dirs.shape[1], np.inf)
    index = np.zeros(dirs.shape[1], np.int64)
    for i, surface in enumerate(surfaces):
        rays = None if subsets is None else subsets[i]
        if rays is None:
            t = surface.intersect(origin, dirs)
            closer = t < best
            best = np.where(closer, t, best)
            index[closer] = i
        elif rays.size:
            t = surface.intersect(origin, dirs[:, rays])
            closer = t < best[rays]
            best[rays[closer]] = t[closer]
            index[rays[closer]] = i
    return best, index


def _screen_rays(obj, origin: np.ndarray, rot: np.ndarray, intrinsics: np.ndarray,
                 img_size: Tuple[int, int]) -> Optional[np.ndarray]:
    """Flat pixel indices inside the screen box of ``obj``'s bounding sphere; None when it reaches the camera."""
    x, y, z = rot.T @ (obj.bound_center - origin[:, 0])
    r = obj.bound_radius
    if z - r < 0.05:
        return None
    (fx, _, cx), (_, fy, cy) = intrinsics[:2]
    near, far = z - r, z + r  # the sphere lies in the cube centre +- r, whose projection is spanned by its corners
    u0 = max(int(np.floor(cx + fx * min((x - r) / near, (x - r) / far))), 0)
    u1 = min(int(np.ceil(cx + fx * max((x + r) / near, (x + r) / far))), img_size[1] - 1)
    v0 = max(int(np.floor(cy + fy * min((y - r) / near, (y - r) / far))), 0)
    v1 = min(int(np.ceil(cy + fy * max((y + r) / near, (y + r) / far))), img_size[0] - 1)
    if u0 > u1 or v0 > v1:
        return np.zeros(0, np.int64)
    return (np.arange(v0, v1 + 1)[:, None] * img_size[1] + np.arange(u0, u1 + 1)).ravel()


def _shadowed(objects: list, points: np.ndarray, to_light: np.ndarray, dist: np.ndarray,
              lit: np.ndarray) -> np.ndarray:
    """(N,) bool: an object blocks the segment from a ``lit`` point (3, N) to the light (``points + to_light``)."""
    light = points[:, 0] + to_light[:, 0]
    from_light = -to_light / dist  # unit directions light -> point
    out = np.zeros(points.shape[1], bool)
    for obj in objects:
        axis = obj.bound_center - light
        reach = np.linalg.norm(axis)
        candidates = lit & ~out
        if reach > obj.bound_radius:  # only points behind the object's bounding sphere, inside its cone from the light
            cos_cone = np.sqrt(1 - (obj.bound_radius / reach) ** 2)
            candidates &= ((axis / reach) @ from_light >= cos_cone - 1e-9) & (dist >= reach - obj.bound_radius)
        rays = np.flatnonzero(candidates)
        if rays.size:
            out[rays[obj.intersect(points[:, rays], to_light[:, rays]) < 1.0]] = True
    return out


@lru_cache(maxsize=8)
def _pixel_grid(height: int, width: int) -> Tuple[np.ndarray, np.ndarray]:
    """Flattened column and row coordinates (H * W,) of the pixel centres."""
    v, u = np.mgrid[0:height, 0:width]
    return u.ravel().astype(np.float64), v.ravel().astype(np.float64)


def render_scene(seed: Seed, img_size: Tuple[int, int] = (224, 224), max_depth: float = 8.0,
                 num_objects: Optional[int] = None,
                 kind_probs: Sequence[float] = KIND_PROBS) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render one procedural room, deterministic in ``seed``.

    Args:
        seed: int or sequence of ints (a numpy ``SeedSequence`` entropy).
        img_size: (H, W) in pixels.
        max_depth: metres; the room is sized so all depths stay below it (>= 3).
        num_objects: boxes and spheres to place; None draws 2-7. The room, camera and room textures do not depend
            on it, so ``num_objects=0`` shows the same room empty.
        kind_probs: probabilities of the surface patterns ``('flat', 'checker', 'stripes', 'noise')``; the geometry
            and colours of a seed do not depend on them. No flat surfaces (e.g. ``(0, 0.4, 0.4, 0.2)``) gives
            texture everywhere, which depth from defocus needs.

    Returns:
        img_rgb: (H, W, 3) uint8 RGB.
        depth: (H, W) float32 z-depth in metres, all valid (> 0).
        intrinsics: (3, 3) float32 pinhole matrix K, pixel centres at integer coordinates.
    """
    if max_depth < 3:
        raise ValueError(f'render_scene max_depth must be >= 3 metres for a room to fit, got {max_depth}')
    kind_probs = check_kind_probs(kind_probs, 'render_scene kind_probs')
    height, width = img_size
    room_rng, object_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))

    hfov = np.deg2rad(room_rng.uniform(55, 70))
    intrinsics = np.eye(3, dtype=np.float32)
    intrinsics[0, 0] = intrinsics[1, 1] = 0.5 * width / np.tan(0.5 * hfov)
    intrinsics[:2, 2] = (width - 1) / 2, (height - 1) / 2
    (focal, _, cx), (_, _, cy) = intrinsics[:2].astype(np.float64)  # rays use exactly the returned K
    cam_h = room_rng.uniform(1.1, 1.7)
    rot = _rotation(np.deg2rad(room_rng.uniform(-20, 20)), np.deg2rad(room_rng.uniform(5, 22)),
                    np.deg2rad(room_rng.uniform(-3, 3)))
    planes, bounds = _room(room_rng, max_depth, rot, cam_h, kind_probs)
    light = np.array([room_rng.uniform(-bounds[0], bounds[1]) * 0.7, bounds[2] - 0.15,
                      room_rng.uniform(0.3, 0.8) * bounds[3]])
    count = int(object_rng.integers(2, 8)) if num_objects is None else num_objects
    objects = _objects(object_rng, bounds, count, min(1.0, max_depth / 8.0), kind_probs)
    surfaces = planes + objects

    u, v = _pixel_grid(height, width)
    cam_dirs = np.stack([(u - cx) / focal, (v - cy) / focal, np.ones(u.size)])
    dirs = rot @ cam_dirs  # (3, N); camera z component 1, so the ray parameter is the z-depth
    origin = np.array([[0.0], [cam_h], [0.0]])
    subsets = [None] * len(planes) + [_screen_rays(o, origin, rot, intrinsics, img_size) for o in objects]
    depth, index = _nearest(surfaces, origin, dirs, subsets)
    points = origin + depth * dirs

    # shade in surface order: one gather and one scatter instead of one per surface
    order = np.argsort(index.astype(np.int16), kind='stable')
    starts = np.searchsorted(index[order], np.arange(len(surfaces) + 1))
    points, dirs = points[:, order], dirs[:, order]
    normal = np.empty_like(points)
    albedo = np.empty(points.shape, np.float32)
    for i, surface in enumerate(surfaces):
        part = slice(starts[i], starts[i + 1])
        if part.stop > part.start:
            normal[:, part], tex_u, tex_v = surface.surface(points[:, part], dirs[:, part])
            albedo[:, part] = surface.material.albedo(tex_u, tex_v)
    to_light = light[:, None] - points
    dist = np.sqrt(np.sum(to_light * to_light, axis=0))
    lambert = np.maximum(np.sum(normal * to_light, axis=0) / dist, 0)
    if objects:  # hard shadows; start a hair off the surface so it does not shadow itself
        lambert[_shadowed(objects, points + 1e-4 * normal, to_light, dist, lambert > 0)] = 0.0
    shade = (0.25 + 0.9 * lambert / (1 + (dist / 4.0) ** 2)).astype(np.float32)
    img = np.empty((3, depth.size), np.uint8)
    img[:, order] = _GAMMA_LUT[np.clip(albedo * shade * 4095 + 0.5, 0, 4095).astype(np.int32)]
    return img.T.reshape(height, width, 3), depth.reshape(height, width).astype(np.float32), intrinsics


def save_scene_previews(out_dir: str, num: int = 4, seed: int = 0, img_size: Tuple[int, int] = (224, 224),
                        max_depth: float = 8.0) -> List[str]:
    """Render scenes ``seed + i`` for i < ``num`` and write ``scene_{seed + i:06d}.png``: image | coloured depth.

    Returns the written paths. Command line: ``python tools/dataset_converters/synthetic_previews.py OUT_DIR``.
    """
    import cv2
    import mmengine

    from mmbokeh.visualization.colorize import colorize_depth
    mmengine.mkdir_or_exist(out_dir)
    paths = []
    for i in range(num):
        img, depth, _ = render_scene(seed + i, img_size, max_depth)
        path = osp.join(out_dir, f'scene_{seed + i:06d}.png')
        panel = np.concatenate([img[..., ::-1], colorize_depth(depth, 0.0, max_depth, channel_order='bgr')], axis=1)
        if not cv2.imwrite(path, panel):
            raise OSError(f'could not write {path}')
        paths.append(path)
    return paths

