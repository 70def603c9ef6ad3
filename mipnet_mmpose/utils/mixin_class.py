"""``MultiInstance<Name>`` classes: a stock MMPose class with one of our mixins in front.

The prefix says what the mixin does; ``MultiInstance`` unless the maker names another
(``LambdaZero<Name>``: the per-box metrics given the λ = 0 pose).
"""
import sys
from typing import Dict, Iterable, Mapping, Optional, Tuple

PREFIX = 'MultiInstance'

#: (mixin, stock class) -> the class made of them, so each is made once.
_MADE: Dict[Tuple[type, type], type] = {}


def with_mixin(mixin: type, cls: type, module: str, prefix: str = PREFIX) -> type:
    """``<prefix><Name>``: ``cls`` with ``mixin`` first among its bases.

    Made once per (mixin, class) and set as an attribute of ``module``, so that
    models of it pickle and deep-copy like any other.

    Args:
        mixin (type): Our mixin (backbone or head).
        cls (type): The stock class; returned as is when it has the mixin already.
        module (str): The module the class is said to live in.
        prefix (str): Of the made class's name. Defaults to ``'MultiInstance'``.
    """
    if issubclass(cls, mixin):
        return cls
    if (mixin, cls) not in _MADE:
        name = prefix + cls.__name__
        qualname = name + _origin_suffix(cls)
        made = type(name, (mixin, cls), {'__module__': module, '__qualname__': qualname})
        _MADE[(mixin, cls)] = made
        setattr(sys.modules[module], qualname, made)
    return _MADE[(mixin, cls)]


def stock_class(cfg: Mapping, registry) -> type:
    """The class a config dict's ``type`` names, looked up as ``registry.build``
    would: in the scope of its ``_scope_`` (e.g. mmdet's ``CSPNeXt``), scoped
    names (``'mmpretrain.VisionTransformer'``) in that package's registry; a
    class given as ``type`` is returned as is.

    Args:
        cfg (Mapping): A config with ``type``.
        registry: The MMPose registry of its kind (``MODELS``...).
    """
    kind = cfg.get('type')
    if not isinstance(kind, str):
        if isinstance(kind, type):
            return kind
        raise TypeError(f'the config {dict(cfg)} needs a type (a registered name or a '
                        f'class), got {kind!r}')
    with registry.switch_scope_and_registry(cfg.get('_scope_')) as scoped:
        cls = scoped.get(kind)
    if not isinstance(cls, type):
        raise KeyError(f'{kind!r} is not a registered class of the {registry.name} registry '
                       f'(scope {cfg.get("_scope_") or registry.scope!r}): check the type '
                       'and _scope_, and that its package is imported')
    return cls


def named_made_class(made: type) -> type:
    """Class decorator: ``made`` (``class X(mixin, stock)`` written in code under a
    name of its own) is the ``MultiInstance<Name>`` class of that pair.

    :func:`with_mixin` then returns it for the stock class, so the class built
    from a stock config is the named one (e.g. ``MIPHRNet`` for ``HRNet``),
    with its own constructor arguments and docstring.
    """
    mixin, stock = made.__bases__
    if _MADE.setdefault((mixin, stock), made) is not made:
        raise TypeError(f'{made.__name__}: {mixin.__name__} + {stock.__name__} already '
                        f'has the class {_MADE[(mixin, stock)].__name__}')
    return made


def registered(made: type, registry, doc: str) -> type:
    """A made ``MultiInstance<Name>`` class given ``doc`` (when it has no docstring
    of its own) and registered once under its name in ``registry``, so that configs
    name it as ``type='MultiInstance<Name>'`` with the stock arguments.

    Args:
        made (type): What :func:`with_mixin` returned.
        registry: The MMPose registry of its kind (``DATASETS``, ``METRICS``...).
        doc (str): Its docstring.
    """
    if made.__doc__ is None:
        made.__doc__ = doc
    if registry.get(made.__name__) is None:
        registry.register_module(name=made.__name__, module=made)
    return made


#: Between a made class's name and the package of a stock class from outside MMPose in
#: its ``__qualname__``.
_ORIGIN_SEP = '__'


def _origin_suffix(cls: type) -> str:
    """``''`` for a class of MMPose, else ``'__<package>'`` (e.g. ``'__mmdet'``).

    Pickle finds a class by its module and ``__qualname__``. Two stock classes may
    share a name (MMPose's and mmdet's ``CSPNeXt``, RTMW's and RTMPose's backbones):
    with one attribute name, the second one made would replace the first, whose
    models would then no longer pickle, and a fresh process would load both as
    MMPose's. The package in the qualname keeps them apart; ``__name__`` (what
    configs and logs show) stays ``MultiInstance<Name>``.
    """
    package = cls.__module__.split('.')[0]
    return '' if package == 'mmpose' else _ORIGIN_SEP + package


def made_on_demand(name: str, mixin: type, module: str,
                   registries: Iterable[Optional[object]], prefix: str = PREFIX) -> type:
    """The body of a module ``__getattr__``: ``<prefix><Name>`` made on lookup.

    A pickled model of such a class loads in a fresh process, where the class
    was never made: the stock class is looked up by name in ``registries`` (in
    order; an iterable, so later ones can be imported lazily; None is skipped).
    ``prefix`` is that of :func:`with_mixin`.
    """
    if name.startswith(prefix):
        stock, _, package = name[len(prefix):].partition(_ORIGIN_SEP)
        # With a package, also as a scoped name (``mmpretrain.VisionTransformer``),
        # which mmengine's registries resolve in that package's registry.
        keys = [stock] + ([f'{package}.{stock}'] if package else [])
        for registry in registries:
            for key in keys:
                cls = registry.get(key) if registry is not None else None
                # A name without a package is MMPose's class (or the first found, as
                # pickled before packages were written); with one, that package's.
                if cls is not None and (not package or
                                        _origin_suffix(cls) == _ORIGIN_SEP + package):
                    return with_mixin(mixin, cls, module, prefix)
    raise AttributeError(f'module {module!r} has no attribute {name!r}')
