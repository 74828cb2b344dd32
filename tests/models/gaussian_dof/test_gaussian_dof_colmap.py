"""Initial Gaussians and camera from a COLMAP model built with pycolmap's API and written to disk."""
import numpy as np
import pytest
import torch

from mmbokeh.models.gaussian_dof import gaussians_from_colmap, render_dof

pycolmap = pytest.importorskip('pycolmap')


def _write_model(path, model='PINHOLE', params=(30.0, 32.0, 20.5, 14.5), text=False):
    """Two images of a 40x30 camera, 12 random points in front of both, written as a sparse model."""
    rec = pycolmap.Reconstruction()
    rec.add_camera_with_trivial_rig(pycolmap.Camera(camera_id=1, model=model, width=40, height=30,
                                                    params=list(params)))
    poses = {}
    for image_id, name, quat_xyzw, t in ((1, 'a.png', [0.0, 0.0, 0.0, 1.0], [0.0, 0.0, 0.0]),
                                         (2, 'b.png', [0.0, 0.1305262, 0.0, 0.9914449], [0.3, -0.1, 0.2])):
        pose = pycolmap.Rigid3d(pycolmap.Rotation3d(np.array(quat_xyzw)), np.array(t))
        rec.add_image_with_trivial_frame(pycolmap.Image(name=name, camera_id=1, image_id=image_id), pose)
        poses[name] = np.vstack([pose.matrix(), [0, 0, 0, 1]])
    rng = np.random.default_rng(0)
    xyz = rng.uniform([-0.5, -0.4, 2.0], [0.5, 0.4, 3.0], size=(12, 3))
    rgb = rng.integers(0, 256, size=(12, 3)).astype(np.uint8)
    ids = [rec.add_point3D(p, pycolmap.Track(), c) for p, c in zip(xyz, rgb)]
    path.mkdir(parents=True, exist_ok=True)
    (rec.write_text if text else rec.write)(str(path))
    return rec, poses, dict(zip(ids, zip(xyz, rgb)))


@pytest.mark.parametrize('text', [False, True])
def test_gaussians_from_colmap(tmp_path, text):
    rec, poses, points = _write_model(tmp_path / 'sparse', text=text)
    params, viewmat, K, size = gaussians_from_colmap(tmp_path / 'sparse', 'b.png', dtype=torch.float64)
    assert size == (40, 30) and len(params) == 12
    torch.testing.assert_close(viewmat, torch.from_numpy(poses['b.png']))
    torch.testing.assert_close(K, torch.tensor([[30.0, 0, 20.5], [0, 32.0, 14.5], [0, 0, 1]], dtype=torch.float64))
    # points in the model's order; compare as sets of (xyz, rgb)
    xyz = np.stack([p[0] for p in points.values()])
    rgb = np.stack([p[1] for p in points.values()]) / 255.0
    order = [int(np.argmin(np.abs(xyz - m).sum(1))) for m in params.means3d.numpy()]
    np.testing.assert_allclose(params.means3d.numpy(), xyz[order])
    np.testing.assert_allclose(params.colors.numpy(), rgb[order])
    # 3DGS's initial scale: the mean distance to the 3 nearest other points
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1) + np.diag(np.full(12, np.inf))
    knn = np.sort(d, axis=1)[:, :3].mean(1)
    np.testing.assert_allclose(params.scales.numpy(), np.repeat(knn[order, None], 3, 1))
    assert (params.opacities == 0.1).all() and (params.quats[:, 0] == 1).all()
    # the op projects the points where COLMAP does (pixel centres at x + 0.5 in both)
    camera = rec.cameras[1]
    cam = params.means3d @ viewmat[:3, :3].T + viewmat[:3, 3]
    uv = torch.stack([K[0, 0] * cam[:, 0] / cam[:, 2] + K[0, 2], K[1, 1] * cam[:, 1] / cam[:, 2] + K[1, 2]], -1)
    expected = np.stack([camera.img_from_cam(c) for c in cam.numpy()])
    np.testing.assert_allclose(uv.numpy(), expected, atol=1e-9)
    color, depth, alpha = render_dof(params, viewmat, K, *size, impl='reference')
    assert color.shape == (3, 30, 40) and float(alpha.max()) > 0
    # default image: the registered image with the smallest id
    _, view_a, _, _ = gaussians_from_colmap(tmp_path / 'sparse', dtype=torch.float64)
    torch.testing.assert_close(view_a, torch.eye(4, dtype=torch.float64))


@pytest.mark.parametrize('model, params, fx', [('SIMPLE_PINHOLE', (31.0, 20.0, 15.0), 31.0),
                                               ('SIMPLE_RADIAL', (31.0, 20.0, 15.0, 0.01), 31.0),
                                               ('OPENCV', (31.0, 33.0, 20.0, 15.0, 0.01, 0.0, 0.0, 0.0), 31.0)])
def test_colmap_camera_models_ignore_distortion(tmp_path, model, params, fx):
    _write_model(tmp_path, model, params)
    _, _, K, _ = gaussians_from_colmap(tmp_path, 'a.png')
    assert float(K[0, 0]) == fx and float(K[0, 2]) == 20.0 and float(K[1, 2]) == 15.0


def test_colmap_errors_name_what_is_wrong(tmp_path):
    with pytest.raises(FileNotFoundError, match='missing'):
        gaussians_from_colmap(tmp_path / 'missing')
    with pytest.raises(FileNotFoundError, match='no COLMAP model'):
        gaussians_from_colmap(tmp_path)
    _write_model(tmp_path / 'm')
    with pytest.raises(KeyError, match='c.png'):
        gaussians_from_colmap(tmp_path / 'm', 'c.png')
    _write_model(tmp_path / 'fisheye', 'SIMPLE_RADIAL_FISHEYE', (31.0, 20.0, 15.0, 0.01))
    with pytest.raises(ValueError, match='SIMPLE_RADIAL_FISHEYE'):
        gaussians_from_colmap(tmp_path / 'fisheye')
