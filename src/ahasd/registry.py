"""A loud plug-in registry: duplicates raise, unknown names list the valid ones.

Used for systems, policies, device kinds and trace profiles. Keys are kebab-case and identical
in the CLI, YAML files and results.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from ahasd.errors import AhasdError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps a kebab-case name to a class or factory."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@SYSTEMS.register("npu-pim-async")``. A duplicate name raises."""

        def decorator(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorator

    def add(self, name: str, obj: T) -> None:
        if name in self._entries:
            raise KeyError(f"{self.kind} {name!r} is already registered")
        if name != name.lower() or "_" in name or " " in name:
            raise KeyError(f"{self.kind} name {name!r} must be kebab-case")
        self._entries[name] = obj

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise AhasdError(
                f"unknown {self.kind} {name!r}; accepted: {', '.join(sorted(self._entries))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
