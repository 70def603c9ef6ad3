"""``MultiInstance<Name>`` classes: a stock MMPose class with one of our mixins in front."""
import sys
from typing import Dict, Iterable, Optional, Tuple

PREFIX = 'MultiInstance'

#: (mixin, stock class) -> the class made of them, so each is made once.
_MADE: Dict[Tuple[type, type], type] = {}


def with_mixin(mixin: type, cls: type, module: str) -> type:
    """``MultiInstance<Name>``: ``cls`` with ``mixin`` first among its bases.

    Made once per (mixin, class) and set as an attribute of ``module``, so that
    models of it pickle and deep-copy like any other.

    Args:
        mixin (type): Our mixin (backbone or head).
        cls (type): The stock class; returned as is when it has the mixin already.
        module (str): The module the class is said to live in.
    """
    if issubclass(cls, mixin):
        return cls
    if (mixin, cls) not in _MADE:
        name = PREFIX + cls.__name__
        made = type(name, (mixin, cls), {'__module__': module, '__qualname__': name})
        _MADE[(mixin, cls)] = made
        setattr(sys.modules[module], name, made)
    return _MADE[(mixin, cls)]


def made_on_demand(name: str, mixin: type, module: str,
                   registries: Iterable[Optional[object]]) -> type:
    """The body of a module ``__getattr__``: ``MultiInstance<Name>`` made on lookup.

    A pickled model of such a class loads in a fresh process, where the class
    was never made: the stock class is looked up by name in ``registries`` (in
    order; an iterable, so later ones can be imported lazily; None is skipped).
    """
    if name.startswith(PREFIX):
        for registry in registries:
            cls = registry.get(name[len(PREFIX):]) if registry is not None else None
            if cls is not None:
                return with_mixin(mixin, cls, module)
    raise AttributeError(f'module {module!r} has no attribute {name!r}')
