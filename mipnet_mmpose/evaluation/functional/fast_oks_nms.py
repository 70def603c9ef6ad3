"""MMPose's greedy OKS-NMS, comparing each pose only with the poses it can remove.

MMPose's ``oks_nms`` computes the OKS of each kept pose with every remaining pose in a
Python loop (``oks_iou``): an image with P poses costs about P²/2 Python iterations,
hours for 10,000 boxes × N = 2 poses. :func:`oks_nms` here keeps exactly the poses
MMPose's keeps, in the same order (checked by a property test against it), but

1. skips the pairs that provably cannot have an OKS above the threshold (the bound
   and its proof: :class:`_PruningPlan`), finding the others through a grid of one
   keypoint per keypoint group and area bin (:class:`_Candidates`), for blocks of
   kept poses at once (:func:`_blockwise`). On an image whose persons are spread out
   (a crowd) a pose meets only its neighbours: about P log P. Poses piled on one spot
   (thousands of boxes on the same two persons) stay near-quadratic, with fewer OKS
   evaluations: no exact bound can skip pairs that really are close. Images of fewer
   than ``_MIN_PRUNED_POSES`` poses (the usual ones) compare every pair;
2. computes many OKS values at once with MMPose's operations in MMPose's dtypes; a
   pair whose OKS lands within ``_RECHECK_BAND`` of the threshold (or is not finite)
   is recomputed by MMPose's own ``oks_iou``, so that summation order or rounding can
   never flip a decision.
"""
import math
from typing import List, Optional, Sequence, Tuple

import numpy as np
from mmpose.evaluation.functional.nms import oks_iou

#: COCO's keypoint sigmas, MMPose's default in ``oks_iou``.
COCO_SIGMAS = np.array([
    .26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89
]) / 10.0

# A pair whose vectorised OKS is within this of the threshold is recomputed with
# MMPose's oks_iou: the vectorised sums may add the same terms in another order (a few
# ulps, ~1e-16), far below this band, so outside it both agree on the decision.
_RECHECK_BAND = 1e-4
# Relative slack of the pruning bound: MMPose computes dx, dy in the keypoints' dtype;
# in float32 dx² + dy² is off by at most ~5 * 2^-24 = 3e-7 relative, which this covers.
_BOUND_SLACK = 1e-5
# Areas beyond this (or negative, or not finite) may overflow the area sum in MMPose's
# dtype or make its OKS scale non-positive: such poses are compared with every pose.
_MAX_AREA = 1e15
# The kept poses are processed in blocks of consecutive remaining poses, all their
# candidate pairs at once: at most this many candidate pairs (grid ranges) per block.
_BLOCK_PAIRS = 2_000_000
# Grid cells as a fraction of the search radius: a query scans about (2 / _CELL + 1)²
# cells, of total area (2 + _CELL)² R² against the disc's π R²
_CELL = 0.5
# Queries spanning more grid columns than this scan one range over them all
_MAX_COLUMNS = 8
# Below this many poses (a usual image: tens) building the grids costs more than
# comparing every pair
_MIN_PRUNED_POSES = 128
# Pairs per vectorised chunk (bounds the memory of the (pairs, K) temporaries).
_CHUNK = 250_000


class _PruningPlan:
    """Which pairs of poses can be skipped, for one threshold and set of sigmas.

    The bound. For a pair of poses with areas a, b MMPose computes, per keypoint k,
    ``e_k = d_k² / v_k / s / 2`` with ``d_k`` the distance of the two keypoints,
    ``v_k = (2 σ_k)²`` and ``s = (a + b) / 2 + eps``, and OKS = mean over S of
    exp(-e_k), S the keypoints counted (all K, or with ``vis_thr`` those visible in
    both poses, n = |S| ≤ K; OKS = 0 when S is empty). The pair removes the later pose
    only if OKS > thr. Write OKS = 1 - (1/n) Σ_S (1 - exp(-e_k)) and call a keypoint
    *far* when e_k ≥ E. Each far keypoint adds at least c = 1 - exp(-E) to the sum,
    every other one at least 0 (e_k ≥ 0 when s > 0), so with F far keypoints in S

        OKS ≤ 1 - F c / n ≤ 1 - F c / K.

    Take t slightly below thr (t = thr (1 - 1e-6): covers the float32 rounding of the
    OKS and of thr, and the ulps of exp and of the sum), m = floor(K (1 - t)) and E
    with (m + 1) c = K (1 - t), i.e. E = -ln(1 - K (1 - t) / (m + 1)) (finite as
    m + 1 > K (1 - t); m < K as t > 0). Then F ≥ m + 1 gives OKS ≤ t < thr: **a pair
    with more than m far keypoints cannot remove anything.** Split the K keypoints
    into m + 1 disjoint groups: a pair with at most m far keypoints has a group none
    of whose keypoints in S is far. So a pair is compared only if, for some group,
    every keypoint k of the group is outside S or near: d_k² < 2 E v_k s. (thr 0.9,
    COCO: m = 1, E = 1.9, two groups of 8 and 9 keypoints.)

    Exactness of the test. It runs in float64 on float64 copies, with a relative slack
    (``_BOUND_SLACK``) larger than MMPose's float32 error on d², so a pair called far
    here has MMPose's e_k ≥ E too. It applies to float32/float64 keypoints and
    float32/float64/int64 areas (other dtypes may overflow or lose precision in
    MMPose's arithmetic), thresholds in (0, 1) and positive finite sigmas; otherwise
    every remaining pose is compared, as MMPose does.

    Args:
        thr (float): The NMS threshold
        variances (np.ndarray): ``(2 * sigmas) ** 2`` in shape (K, )
    """

    def __init__(self, thr: float, variances: np.ndarray):
        # m = floor(K (1 - t)), t = thr (1 - 1e-6); a slightly larger E only
        # strengthens the bound (c grows)
        self.max_far = int(math.floor(len(variances) * (1 - thr * (1 - 1e-6))))
        self.far_e = -math.log1p(-self._far_ratio(len(variances), thr)) * (1 + 1e-6)
        # near: d_k² < coeff_k * s
        self.coeff = 2 * self.far_e * variances * (1 + _BOUND_SLACK)
        # round-robin over the keypoints sorted by sigma, so that every group holds
        # some of the sharpest (most selective) keypoints; the sharpest of each group
        # is its representative, the keypoint of the grid
        ranked = np.argsort(variances, kind='stable')
        self.groups = [ranked[g::self.max_far + 1] for g in range(self.max_far + 1)]

    @staticmethod
    def applies(kpts: np.ndarray, areas: np.ndarray, thr: float,
                variances: np.ndarray) -> bool:
        """Whether the bound's assumptions hold (else every pair is compared)."""
        return (kpts.ndim == 2 and kpts.dtype in (np.float32, np.float64)
                and areas.ndim == 1
                and areas.dtype in (np.float32, np.float64, np.int64)
                and variances.ndim == 1 and len(variances) > 0
                and kpts.shape[1] == 3 * len(variances)
                and bool(np.all(np.isfinite(variances)) and np.all(variances > 0))
                and 0 < thr < 1 and _PruningPlan._far_ratio(len(variances), thr) < 1)

    @staticmethod
    def _far_ratio(num_keypoints: int, thr: float) -> float:
        """K (1 - t) / (m + 1): below 1, unless float rounding brings it to 1."""
        budget = num_keypoints * (1 - thr * (1 - 1e-6))
        return budget / (math.floor(budget) + 1)


def _expand(starts: np.ndarray, counts: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For ranges [start, start + count): the range of each element and the element.

    Args:
        starts (np.ndarray): Range starts in shape (R, )
        counts (np.ndarray): Range lengths in shape (R, )

    Returns:
        tuple: the range index (T, ) and the position (T, ) of each element,
        T = counts.sum()
    """
    which = np.repeat(np.arange(len(counts)), counts)
    offsets = np.cumsum(counts) - counts
    return which, np.arange(which.size) - offsets[which] + starts[which]


class _Grid:
    """The poses of one area bin, in cells of their representative keypoint.

    A query (pose i, radius R) visits the cells overlapping the square of side 2R
    around its keypoint: one range of the cell-sorted poses per cell column.

    Args:
        members (np.ndarray): Pose indices of the bin (tame, representative visible)
        x, y (np.ndarray): The representative keypoint of every pose, shape (P, )
        cell (float): The cell side
    """

    def __init__(self, members: np.ndarray, x: np.ndarray, y: np.ndarray, cell: float):
        self.x0, self.y0 = float(x[members].min()), float(y[members].min())
        extent = max(float(x[members].max()) - self.x0, float(y[members].max()) - self.y0)
        # cells no finer than the float64 resolution of the coordinates (so that
        # rounding moves a point by far less than a cell) nor than 2^30 per side
        scale = max(np.abs(x[members]).max(), np.abs(y[members]).max())
        self.cell = max(cell, extent / 2**30, 1e-12 * scale, 1e-300)
        # (the same expression as the queries' cells below)
        cx = np.floor((x[members] - self.x0) / self.cell).astype(np.int64)
        cy = np.floor((y[members] - self.y0) / self.cell).astype(np.int64)
        self.nx, self.ny = int(cx.max()) + 1, int(cy.max()) + 1
        keys = cx * self.ny + cy
        order = np.argsort(keys, kind='stable')
        self.keys, self.ids = keys[order], members[order]

    def ranges(self, queries: np.ndarray, qx: np.ndarray, qy: np.ndarray,
               radius: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The ranges of ``self.ids`` each query has to look at.

        Args:
            queries (np.ndarray): Pose indices in shape (Q, )
            qx, qy (np.ndarray): Their representative keypoint in shape (Q, )
            radius (np.ndarray): Their search radius in shape (Q, )

        Returns:
            tuple: query (pose index), start and length of each range, shape (R, )
        """

        def cells(lo: np.ndarray, hi: np.ndarray, origin: float,
                  count: int) -> Tuple[np.ndarray, np.ndarray]:
            first = np.clip(np.floor((lo - origin) / self.cell), -1, count)
            last = np.clip(np.floor((hi - origin) / self.cell), -1, count)
            return (np.maximum(first, 0).astype(np.int64),
                    np.minimum(last, count - 1).astype(np.int64))

        x_first, x_last = cells(qx - radius, qx + radius, self.x0, self.nx)
        y_first, y_last = cells(qy - radius, qy + radius, self.y0, self.ny)
        columns = np.where(y_first <= y_last, x_last - x_first + 1, 0).clip(0)
        # a query far larger than the cells (a big pose against a bin of small ones)
        # takes the one range from its first cell to its last instead: a superset
        wide = columns > _MAX_COLUMNS
        which, cx = _expand(x_first, np.where(wide, 1, columns))
        cx_last = np.where(wide[which], x_last[which], cx)
        start = np.searchsorted(self.keys, cx * self.ny + y_first[which], 'left')
        stop = np.searchsorted(self.keys, cx_last * self.ny + y_last[which], 'right')
        return queries[which], start, stop - start


class _Candidates:
    """The pairs of poses that may have an OKS above the threshold.

    Args:
        kpts (np.ndarray): The poses, flattened (x, y, score) in shape (P, K*3)
        areas (np.ndarray): Their areas in shape (P, )
        plan (_PruningPlan): The bound
        vis_thr (float, optional): MMPose's visibility threshold of the OKS
    """

    def __init__(self, kpts: np.ndarray, areas: np.ndarray, plan: _PruningPlan,
                 vis_thr: Optional[float]):
        self.plan = plan
        self.num = len(kpts)
        self._cached_ranges: Optional[List[tuple]] = None
        self.order = np.arange(self.num)  # the score order, set by the greedy loop
        self._query_bounds: Optional[List[tuple]] = None
        self.xs = kpts[:, 0::3].astype(np.float64)
        self.ys = kpts[:, 1::3].astype(np.float64)
        self.areas = areas.astype(np.float64)
        # the same comparison (dtype, NaN) as MMPose's oks_iou
        self.visible = (np.ones(self.xs.shape, dtype=bool) if vis_thr is None else
                        (kpts[:, 2::3] > vis_thr))
        self.vis_thr = vis_thr
        self.by_sharpness = np.argsort(plan.coeff, kind='stable').tolist()
        # Wild poses are compared with every pose: a non-finite coordinate or area
        # (MMPose's NaN OKS removes the later pose), a negative or huge area (its
        # scale may be non-positive or overflow).
        self.wild = ~(np.isfinite(self.xs).all(1) & np.isfinite(self.ys).all(1)
                      & np.isfinite(self.areas) & (self.areas >= 0)
                      & (self.areas <= _MAX_AREA))
        self.any_wild = bool(self.wild.any())
        # one contiguous column per keypoint: the near test gathers from them
        self.x_cols = [np.ascontiguousarray(c) for c in self.xs.T]
        self.y_cols = [np.ascontiguousarray(c) for c in self.ys.T]
        self.vis_cols = [np.ascontiguousarray(c) for c in self.visible.T]
        tame = np.flatnonzero(~self.wild)
        # per keypoint, the largest coordinate magnitude (of the tame poses)
        self.magnitude = np.maximum(np.abs(self.xs[tame]).max(0, initial=0),
                                    np.abs(self.ys[tame]).max(0, initial=0))
        # area bins of a factor 4 (frexp: area = mantissa * 2**exponent)
        bin_of = np.frexp(self.areas[tame])[1] // 2
        bins = [tame[bin_of == b] for b in np.unique(bin_of)]
        # per group: (keypoints, representative, [(grid, bin max area)], anywhere)
        self.lookups = []
        for chans in plan.groups:
            rep = self._representative(chans, tame)
            grids = []
            for members in bins:
                members = members[self.visible[members, rep]]
                if members.size:
                    bin_max = float(self.areas[members].max())
                    grids.append((_Grid(members, self.xs[:, rep], self.ys[:, rep],
                                        self._radius(rep, bin_max, bin_max) * _CELL),
                                  bin_max))
            # poses whose representative says nothing: candidates of every query
            anywhere = np.flatnonzero(self.wild | ~self.visible[:, rep])
            # the near test starts with the representative (the grid's square leaves
            # some far ones), then the sharpest keypoints
            chans = np.concatenate([[rep], chans[chans != rep]])
            self.lookups.append((chans, rep, grids, anywhere))

    def _representative(self, chans: np.ndarray, tame: np.ndarray) -> int:
        """The keypoint of the group whose grid holds the fewest pairs per cell.

        Any keypoint of the group gives an exact search; one that all poses share
        (e.g. joints a model puts on the same spot) would make every pose a
        candidate of every other. Scored by the sum over cells of count², with
        cells of the radius at the median area.
        """
        if tame.size == 0:
            return int(chans[0])
        area = float(np.median(self.areas[tame]))
        best, best_score = int(chans[0]), math.inf
        for k in chans:
            members = tame[self.visible[tame, k]]
            cell = max(float(self._radius(k, area, area)), 1e-300)
            cx = np.floor(self.xs[members, k] / cell)
            cy = np.floor(self.ys[members, k] / cell)
            counts = np.unique(np.stack([cx, cy], 1), axis=0, return_counts=True)[1]
            # poses with the keypoint not visible are candidates of every query
            score = float(np.sum(counts.astype(float)**2)) + 2.0 * (
                tame.size - members.size) * tame.size
            if score < best_score:
                best, best_score = int(k), score
        return best

    def _radius(self, k: int, area: np.ndarray, bin_max: float) -> np.ndarray:
        """Distance beyond which keypoint k of a pose of ``area`` is far from that of
        every pose of the bin (areas ≤ ``bin_max``), with slack for the rounding of
        the query bounds: + 1e-7 relative, + 1e-9 of the coordinates' magnitude."""
        r = np.sqrt(self.plan.coeff[k] * np.maximum((area + bin_max) / 2 + np.spacing(1), 0))
        return r * (1 + 1e-7) + 1e-9 * self.magnitude[k]

    def _near(self, first: np.ndarray, second: np.ndarray, chans: np.ndarray) -> np.ndarray:
        """Which pairs may have an OKS above the threshold: every keypoint of the
        group near or not counted, and at most m far keypoints in all (or a wild
        pose). Keypoint by keypoint, on the pairs still in: most fail early.

        Args:
            first (np.ndarray): The pairs' first poses in shape (M, )
            second (np.ndarray): The pairs' second poses in shape (M, )
            chans (np.ndarray): The group's keypoints, representative first

        Returns:
            np.ndarray: Indices into the pairs of those that pass, shape (M', )
        """
        keep = np.arange(len(second))
        f, s = first, second
        # (a_i + a_j) / 2 + eps: near is d_k² < coeff_k * scale
        scale = (self.areas[f] + self.areas[s]) / 2 + np.spacing(1)
        far = np.zeros(len(second), dtype=np.int64)
        # the group's keypoints must all be near (the grid found the pair through
        # one of them); then the others may add up to m far ones (the bound's
        # condition itself, independent of the group)
        limits = [0] * len(chans) + [self.plan.max_far] * (len(self.by_sharpness) - len(chans))
        others = [k for k in self.by_sharpness if k not in set(chans.tolist())]
        for k, limit in zip([*chans, *others], limits):
            if keep.size == 0:
                break
            dx = self.x_cols[k][s] - self.x_cols[k][f]
            dy = self.y_cols[k][s] - self.y_cols[k][f]
            near = dx * dx + dy * dy < self.plan.coeff[k] * scale
            if self.vis_thr is not None:
                near |= ~(self.vis_cols[k][f] & self.vis_cols[k][s])
            if self.any_wild:  # (their NaN arithmetic says not near)
                near |= self.wild[f] | self.wild[s]
            far += ~near
            ok = far <= limit
            keep, f, s, scale, far = keep[ok], f[ok], s[ok], scale[ok], far[ok]
        return keep

    def _ranges(self) -> List[tuple]:
        """Per group: the candidate ranges of every query (a tame pose with the
        group's representative visible), computed once.

        Returns:
            list: per group (keypoints, the grids' pose ids one after the other,
            query (pose index), start and length of each range in those ids)
        """
        if self._cached_ranges is None:
            self._cached_ranges = []
            queries = np.arange(self.num)
            for chans, rep, grids, anywhere in self.lookups:
                q = queries[~self.wild & self.visible[:, rep]]
                ids, which, start, count, offset = [], [], [], [], 0
                for grid, bin_max in grids:
                    radius = self._radius(rep, self.areas[q], bin_max)
                    w, st, ct = grid.ranges(q, self.x_cols[rep][q], self.y_cols[rep][q],
                                            radius)
                    ids.append(grid.ids)
                    which.append(w)
                    start.append(st + offset)
                    count.append(ct)
                    offset += grid.ids.size
                self._cached_ranges.append(tuple(
                    np.concatenate(v) if v else np.zeros(0, dtype=np.int64)
                    for v in (ids, which, start, count)))
        return self._cached_ranges

    def costs(self) -> np.ndarray:
        """An upper bound of each pose's candidates as a query, shape (P, )."""
        cost = np.zeros(self.num, dtype=np.int64)
        for (chans, rep, grids, anywhere), (ids, which, start, count) in zip(
                self.lookups, self._ranges()):
            gridded = ~self.wild & self.visible[:, rep]
            cost += np.where(gridded, anywhere.size, self.num)
            cost += np.bincount(which, weights=count, minlength=self.num).astype(np.int64)
        return cost

    def block_pairs(self, queries: np.ndarray, alive: np.ndarray,
                    rank: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """The candidate pairs of some kept poses with the alive poses after them.

        Args:
            queries (np.ndarray): Pose indices in shape (Q, )
            alive (np.ndarray): Which poses remain (bool, shape (P, ))
            rank (np.ndarray): Each pose's position in the score order, shape (P, )

        Returns:
            tuple: the query and the later pose of each pair, (M, ) each, unique
        """
        if self._query_bounds is None:
            # the ranges of each query, by query
            self._query_bounds = []
            for ids, which, start, count in self._ranges():
                by_query = np.argsort(which, kind='stable')
                bounds = np.searchsorted(which[by_query], np.arange(self.num + 1))
                self._query_bounds.append((ids, start[by_query], count[by_query], bounds))
        alive_by_rank = np.sort(rank[alive])
        firsts, seconds = [], []
        for (chans, rep, grids, anywhere), (ids, start, count, bounds) in zip(
                self.lookups, self._query_bounds):
            gridded = ~self.wild[queries] & self.visible[queries, rep]
            q = queries[gridded]
            # the grid's ranges of each query, then their poses
            which, r = _expand(bounds[q], bounds[q + 1] - bounds[q])
            pair, pos = _expand(start[r], count[r])
            a, b = [q[which[pair]]], [ids[pos]]
            # the poses the grids leave out: with every gridded query
            a.append(np.repeat(q, anywhere.size))
            b.append(np.tile(anywhere, q.size))
            # queries the grid cannot place: with every alive pose after them
            full = queries[~gridded]
            first_after = np.searchsorted(alive_by_rank, rank[full], 'right')
            which, pos = _expand(first_after, alive_by_rank.size - first_after)
            a.append(full[which])
            b.append(self.order[alive_by_rank[pos]])
            a, b = np.concatenate(a), np.concatenate(b)
            later = alive[b] & (rank[b] > rank[a])
            a, b = a[later], b[later]
            ok = self._near(a, b, chans)
            firsts.append(a[ok])
            seconds.append(b[ok])
        key = np.unique(np.concatenate(firsts).astype(np.int64) * self.num +
                        np.concatenate(seconds))
        return key // self.num, key % self.num


def pair_oks(kpts: np.ndarray, areas: np.ndarray, first: np.ndarray, second: np.ndarray,
             variances: np.ndarray, vis_thr: Optional[float] = None,
             sigmas: Optional[np.ndarray] = None, thr: Optional[float] = None) -> np.ndarray:
    """OKS of pose pairs, as MMPose's ``oks_iou(kpts[first], kpts[second], ...)``.

    MMPose's operations in MMPose's dtypes (incl. its OKS scale, which it computes
    from two area scalars) for all pairs at once, rounded to float32 as MMPose stores
    them. With ``thr``, pairs whose OKS is within ``_RECHECK_BAND`` of it or not
    finite are recomputed by MMPose's ``oks_iou`` itself.

    Args:
        kpts (np.ndarray): All poses, flattened (x, y, score) in shape (P, K*3)
        areas (np.ndarray): Their areas in shape (P, )
        first (np.ndarray): MMPose's ``g`` (the kept pose) of each pair, shape (M, )
        second (np.ndarray): MMPose's ``d`` (a remaining pose), shape (M, )
        variances (np.ndarray): ``(2 * sigmas) ** 2`` in shape (K, )
        vis_thr (float, optional): Count only keypoints scored above it in both
        sigmas (np.ndarray, optional): The sigmas as given to MMPose's ``oks_iou``
        thr (float, optional): The NMS threshold the values are compared with

    Returns:
        np.ndarray: The OKS values in shape (M, ), float32
    """
    # (x and y apart: the same values as MMPose's g[0::3] etc., gathered faster)
    kx, ky = kpts[:, 0::3], kpts[:, 1::3]
    # MMPose's scale is (a_g + a_d[n]) / 2 + eps on numpy scalars, whose dtype can
    # differ from the array expression's (float32 areas: float64 as scalars)
    scale_dtype = np.asarray((areas[0] + areas[0]) / 2 + np.spacing(1)).dtype
    dx = kx[second] - kx[first]
    dy = ky[second] - ky[first]
    scale = ((areas[first] + areas[second]) / 2).astype(scale_dtype) + np.spacing(1)
    e = (dx**2 + dy**2) / variances / scale[:, None] / 2
    if vis_thr is None:
        oks = np.sum(np.exp(-e), axis=1) / e.shape[1]
    else:
        counted = (kpts[first, 2::3] > vis_thr) & (kpts[second, 2::3] > vis_thr)
        num = counted.sum(axis=1)
        oks = np.where(num > 0, np.where(counted, np.exp(-e), 0.0).sum(axis=1) /
                       np.maximum(num, 1), 0.0)
    result = oks.astype(np.float32)
    if thr is not None:
        for m in np.flatnonzero(~np.isfinite(oks) | (np.abs(oks - thr) <= _RECHECK_BAND)):
            i, j = first[m], second[m]
            result[m] = oks_iou(kpts[i], kpts[j:j + 1], areas[i], areas[j:j + 1], sigmas,
                                vis_thr)[0]
    return result


def oks_to_rest(kpts: np.ndarray, areas: np.ndarray, index: int, rest: np.ndarray,
                variances: np.ndarray, vis_thr: Optional[float] = None,
                sigmas: Optional[np.ndarray] = None,
                thr: Optional[float] = None) -> np.ndarray:
    """OKS of pose ``index`` with each pose of ``rest``: :func:`pair_oks` of one pose.

    Args:
        kpts, areas, variances, vis_thr, sigmas, thr: As :func:`pair_oks`
        index (int): The pose to compare
        rest (np.ndarray): Indices of the poses to compare it with, shape (M, )

    Returns:
        np.ndarray: The OKS values in shape (M, ), float32
    """
    return pair_oks(kpts, areas, np.full(len(rest), index), np.asarray(rest), variances,
                    vis_thr, sigmas, thr)


def _blockwise(kpts: np.ndarray, areas: np.ndarray, variances: np.ndarray,
               vis_thr: Optional[float], sigmas: Optional[np.ndarray], thr: float,
               order: np.ndarray, candidates: _Candidates) -> Tuple[np.ndarray, int]:
    """MMPose's greedy loop over blocks of kept-pose candidates, pruned pairs only.

    A block is the next remaining poses in score order; the OKS of each with the
    alive poses after it are computed at once, then the block is walked in order:
    a pose still alive is kept and removes its pairs above thr, a pose removed by
    an earlier one of the block is skipped (its pairs were computed for nothing).
    This is MMPose's result: a kept pose's remaining poses are a subset of the poses
    alive at the block's start, and removing a removed pose changes nothing. The
    block grows while few of its poses are wasted that way (spread-out poses: the
    whole image in a few blocks) and shrinks when many are (piles of duplicates, which
    one kept pose removes at once), within ``_BLOCK_PAIRS`` candidate pairs.

    Returns:
        tuple: the kept indices and the number of OKS values computed
    """
    num = len(order)
    rank = np.empty(num, dtype=np.int64)
    rank[order] = np.arange(num)
    candidates.order = order
    cost = candidates.costs()
    alive = np.ones(num, dtype=bool)
    keep: List[int] = []
    computed, start, limit = 0, 0, 16
    while start < num:
        rest = order[start:]
        rest = rest[alive[rest]][:limit]
        if rest.size == 0:
            break
        size = max(1, int(np.searchsorted(np.cumsum(cost[rest]), _BLOCK_PAIRS, 'right')))
        block = rest[:size]
        first, second = candidates.block_pairs(block, alive, rank)
        computed += first.size
        removes = np.zeros(first.size, dtype=bool)
        for s in range(0, first.size, _CHUNK):
            oks = pair_oks(kpts, areas, first[s:s + _CHUNK], second[s:s + _CHUNK], variances,
                           vis_thr, sigmas, thr)
            removes[s:s + _CHUNK] = ~(oks <= thr)  # NaN removes, as in MMPose
        first, second = first[removes], second[removes]
        by_first = np.argsort(rank[first], kind='stable')
        first, second = first[by_first], second[by_first]
        bounds = np.searchsorted(rank[first], rank[block], 'left')
        ends = np.searchsorted(rank[first], rank[block], 'right')
        wasted = 0
        for q, lo, hi in zip(block, bounds, ends):
            if alive[q]:
                keep.append(q)
                alive[second[lo:hi]] = False
            else:
                wasted += 1
        start = int(rank[block[-1]]) + 1
        limit = max(1, limit // 2) if wasted * 4 > block.size else limit * 2
    return np.array(keep), computed


def greedy_oks_nms(kpts_db: Sequence[dict], thr: float, sigmas: Optional[np.ndarray] = None,
                   vis_thr: Optional[float] = None, score_per_joint: bool = False,
                   prune: bool = True,
                   min_pruned: int = _MIN_PRUNED_POSES) -> Tuple[np.ndarray, int]:
    """:func:`oks_nms` that also counts the OKS values it computed.

    Args:
        kpts_db, thr, sigmas, vis_thr, score_per_joint: As :func:`oks_nms`
        prune (bool): Skip the pairs the bound rules out; False compares every
            remaining pose (the previous, quadratic version), for measurements
        min_pruned (int): Compare every pair below this many poses

    Returns:
        tuple: the kept indices (np.ndarray) and the number of pairs whose OKS
        was computed (int)
    """
    if len(kpts_db) == 0:
        return np.zeros(0, dtype=int), 0
    if score_per_joint:
        scores = np.array([k['score'].mean() for k in kpts_db])
    else:
        scores = np.array([k['score'] for k in kpts_db])
    kpts = np.array([k['keypoints'].flatten() for k in kpts_db])
    areas = np.array([k['area'] for k in kpts_db])
    variances = ((COCO_SIGMAS if sigmas is None else np.asarray(sigmas)) * 2)**2
    # MMPose's order (the same argsort call, so that ties break the same way)
    order = scores.argsort()[::-1]
    # (damaged poses overflow or make NaNs as in MMPose's loop: no warning per pair)
    with np.errstate(all='ignore'):
        if (prune and len(kpts_db) >= min_pruned
                and _PruningPlan.applies(kpts, areas, thr, variances)):
            candidates = _Candidates(kpts, areas, _PruningPlan(thr, variances), vis_thr)
            return _blockwise(kpts, areas, variances, vis_thr, sigmas, thr, order,
                              candidates)
        # MMPose's loop, each kept pose against all remaining ones at once: its
        # remaining list is exactly the alive poses (the earlier ones are kept or
        # removed), in score order, and which of them it removes does not depend
        # on that order
        alive = np.ones(len(order), dtype=bool)
        keep: List[int] = []
        computed = 0
        for i in order:
            if not alive[i]:
                continue
            keep.append(i)
            alive[i] = False
            rest = np.flatnonzero(alive)
            computed += rest.size
            oks = oks_to_rest(kpts, areas, i, rest, variances, vis_thr, sigmas, thr)
            alive[rest[~(oks <= thr)]] = False  # NaN removes, as in MMPose
    return np.array(keep), computed


def oks_nms(kpts_db: List[dict], thr: float, sigmas: Optional[np.ndarray] = None,
            vis_thr: Optional[float] = None, score_per_joint: bool = False) -> np.ndarray:
    """Greedy OKS-NMS keeping exactly the poses MMPose's ``oks_nms`` keeps.

    Args:
        kpts_db (list[dict]): The poses of one image, each with ``keypoints``
            (K, 3) or (K*3, ), ``score`` and ``area``
        thr (float): Poses overlapping a kept one by an OKS above it are removed
        sigmas (np.ndarray, optional): Keypoint sigmas (K, ); COCO's if None
        vis_thr (float, optional): Count only keypoints scored above it in both
            poses (MMPose's ``vis_thr``); all if None
        score_per_joint (bool): ``score`` is per keypoint (K, ); its mean ranks

    Returns:
        np.ndarray: Indices of the kept poses, best score first (as MMPose's)
    """
    if len(kpts_db) == 0:
        return []
    return greedy_oks_nms(kpts_db, thr, sigmas, vis_thr, score_per_joint)[0]
