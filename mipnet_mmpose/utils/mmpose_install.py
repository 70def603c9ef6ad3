"""Files installed with MMPose (its configs, metafiles and data set layouts)."""
import os.path as osp


def installed_mmpose_path(*parts: str) -> str:
    """A path inside the ``.mim`` folder MMPose installs (what ``mmpose::`` names).

    Args:
        *parts (str): Path parts below ``.mim``, e.g. ``'configs'``,
            ``'body_2d_keypoint'``.

    Returns:
        str: ``<mmpose package>/.mim/<parts...>`` (whether it exists or not).
    """
    import mmpose
    return osp.join(osp.dirname(mmpose.__file__), '.mim', *parts)
