"""SDNet's Siamese defocus loss (Zhang et al., "Depth Estimation Based on 3D Gaussian Splatting Siamese Defocus",
eq. 5) and the triplet loss that replaces it in the paper's Table IV ablation.

Eq. 5 is ``L_defocus = E[-cosine(D1, D2)]`` "applied to paired patches" of the defocus maps ``D1``, ``D2`` that the
Siamese branches predict for two differently focused images of one scene. The paper gives neither the patch size nor
the pairing; both losses here cut the maps into the same non-overlapping ``patch_size x patch_size`` grid, flatten
each patch over its channels and pixels, and compare the patches at equal grid positions. The negative cosine with an
optional symmetric stop-gradient is SimSiam's objective (Chen & He, CVPR 2021, facebookresearch/simsiam:
``-(cos(p1, z2.detach()) + cos(p2, z1.detach())) / 2``), the work the paper cites for its defocus loss.
"""
import torch

from mmbokeh.registry import MODELS


def _check_pair(pred1: torch.Tensor, pred2: torch.Tensor, patch_size: int, loss_cls: str) -> None:
    if pred1.dim() != 4:
        raise ValueError(f'{loss_cls}: pred1 must be [B, C, H, W], got {tuple(pred1.shape)}')
    if pred1.shape != pred2.shape:
        raise ValueError(f'{loss_cls}: pred2 shape {tuple(pred2.shape)} != pred1 shape {tuple(pred1.shape)} '
                         '(expected the same [B, C, H, W])')
    height, width = pred1.shape[-2:]
    if height < patch_size or width < patch_size:
        raise ValueError(f'{loss_cls}: patch_size={patch_size} is larger than the maps '
                         f'(H, W) = ({height}, {width})')


def _check_patch_size(patch_size: int, loss_cls: str) -> None:
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f'{loss_cls}: patch_size must be an int >= 1, got {patch_size!r}')


def patch_vectors(x: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut ``x`` into non-overlapping square patches on a grid from the top-left corner (the bottom and right
    remainders that do not fill a patch are dropped) and flatten each patch.

    Args:
        x: [B, C, H, W] maps with ``H, W >= patch_size``.
        patch_size: side ``p`` of a patch, in pixels.

    Returns:
        [B, N, C * p * p] with ``N = (H // p) * (W // p)`` patches in row-major grid order.
    """
    b, c, h, w = x.shape
    p = patch_size
    nh, nw = h // p, w // p
    x = x[:, :, :nh * p, :nw * p].reshape(b, c, nh, p, nw, p)
    return x.permute(0, 2, 4, 1, 3, 5).reshape(b, nh * nw, c * p * p)


def unit_vectors(v: torch.Tensor, eps: float) -> torch.Tensor:
    """L2-normalise ``v`` along its last axis; a vector of norm ``<= eps`` maps to the zero vector, with a zero
    gradient (not the ``1 / eps`` gradient of a clamped norm, which an all-zero ReLU patch would otherwise receive).

    Args:
        v: [..., D] vectors.
        eps: norm at or below which a vector counts as zero.

    Returns:
        [..., D] unit (or zero) vectors, same dtype as ``v``.
    """
    sq_norm = (v * v).sum(dim=-1, keepdim=True)
    valid = sq_norm > eps * eps
    unit = v / sq_norm.clamp_min(eps * eps).sqrt()
    return torch.where(valid, unit, torch.zeros_like(unit))


@MODELS.register_module()
class SiameseDefocusLoss(torch.nn.Module):
    """Eq. 5 of SDNet: ``loss_weight * mean over patch pairs of -cos(D1_patch, D2_patch)``.

    Both maps are cut into the same non-overlapping ``patch_size x patch_size`` grid (the remainder rows and columns
    are dropped), each patch is flattened into a ``C * p * p`` vector, and the cosine of the two vectors at each grid
    position is averaged over all patches of the batch and negated: identical maps give ``-loss_weight``, the best
    value. A pair in which either vector has norm ``<= eps`` (an all-zero patch) has cosine 0 and no gradient.
    Computed in float32 with autocast off.

    ``symmetric_stopgrad=True`` uses SimSiam's symmetrised stop-gradient form (facebookresearch/simsiam,
    ``-(cos(p1, z2.detach()) + cos(p2, z1.detach())) / 2``): ``-0.5 * (cos(D1, sg(D2)) + cos(D2, sg(D1)))``. Its
    value equals the plain form's; its gradient with respect to each map is half the plain form's, and each map is
    pulled towards the other as a fixed target.

    Args:
        loss_weight: multiplier of the loss (``mu_1`` of eq. 14).
        patch_size: side of the square patches, in pixels; the paper gives no value.
        symmetric_stopgrad: use SimSiam's symmetric stop-gradient form.
        eps: norm at or below which a patch vector counts as zero.
        loss_name: key of the loss in the losses dict.
    """

    def __init__(self, loss_weight: float = 1.0, patch_size: int = 8, symmetric_stopgrad: bool = False,
                 eps: float = 1e-8, loss_name: str = 'loss_defocus') -> None:
        super().__init__()
        _check_patch_size(patch_size, type(self).__name__)
        if eps <= 0:
            raise ValueError(f'{type(self).__name__}: eps must be > 0, got {eps}')
        self.loss_weight = loss_weight
        self.patch_size = patch_size
        self.symmetric_stopgrad = symmetric_stopgrad
        self.eps = eps
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred1: torch.Tensor, pred2: torch.Tensor) -> torch.Tensor:
        """pred1, pred2: [B, C, H, W] defocus maps of the two Siamese branches (``H, W >= patch_size``).

        Returns a float32 scalar in ``[-loss_weight, loss_weight]``.
        """
        _check_pair(pred1, pred2, self.patch_size, type(self).__name__)
        with torch.autocast(device_type=pred1.device.type, enabled=False):
            u1 = unit_vectors(patch_vectors(pred1.float(), self.patch_size), self.eps)
            u2 = unit_vectors(patch_vectors(pred2.float(), self.patch_size), self.eps)
            if self.symmetric_stopgrad:
                cos = 0.5 * ((u1 * u2.detach()).sum(-1) + (u2 * u1.detach()).sum(-1))
            else:
                cos = (u1 * u2).sum(-1)
            return -self.loss_weight * cos.mean()


@MODELS.register_module()
class TripletDefocusLoss(torch.nn.Module):
    """Triplet variant of the defocus loss, the alternative of SDNet's Table IV ablation (the paper gives no formula).

    Choice made here: the anchor is a patch of ``D1``, the positive the patch of ``D2`` at the same grid position,
    the negative the patch of ``D2`` at the next grid position of the same image (``D2``'s patch list rolled by one
    along the patch axis, so the last patch takes the first one; deterministic, no sampling). Patch vectors are
    L2-normalised (zero patches stay zero), the distance is ``d = 1 - cos``, and

        ``loss = loss_weight * mean over patches of relu(d(a, p) - d(a, n) + margin)``.

    With a single patch per image the negative is the positive and the loss is ``loss_weight * margin`` with no
    gradient. Computed in float32 with autocast off.

    Args:
        loss_weight: multiplier of the loss.
        patch_size: side of the square patches, in pixels.
        margin: triplet margin on the cosine distance (in ``[0, 2]``).
        loss_name: key of the loss in the losses dict.
    """

    eps = 1e-8

    def __init__(self, loss_weight: float = 1.0, patch_size: int = 8, margin: float = 0.2,
                 loss_name: str = 'loss_defocus') -> None:
        super().__init__()
        _check_patch_size(patch_size, type(self).__name__)
        if margin < 0:
            raise ValueError(f'{type(self).__name__}: margin must be >= 0, got {margin}')
        self.loss_weight = loss_weight
        self.patch_size = patch_size
        self.margin = margin
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, pred1: torch.Tensor, pred2: torch.Tensor) -> torch.Tensor:
        """pred1 (anchors), pred2 (positives and negatives): [B, C, H, W] defocus maps, ``H, W >= patch_size``.

        Returns a float32 scalar >= 0.
        """
        _check_pair(pred1, pred2, self.patch_size, type(self).__name__)
        with torch.autocast(device_type=pred1.device.type, enabled=False):
            anchor = unit_vectors(patch_vectors(pred1.float(), self.patch_size), self.eps)
            positive = unit_vectors(patch_vectors(pred2.float(), self.patch_size), self.eps)
            negative = torch.roll(positive, shifts=-1, dims=1)
            d_pos = 1.0 - (anchor * positive).sum(-1)
            d_neg = 1.0 - (anchor * negative).sum(-1)
            return self.loss_weight * torch.relu(d_pos - d_neg + self.margin).mean()
