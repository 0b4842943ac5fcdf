"""The order in which CloudFormation works through a stack's resources, and running them concurrently.

CloudFormation creates a resource once everything it depends on exists, deletes it once nothing that depends
on it is left, and works on every such resource at the same time: independent resources are created and
deleted in parallel, in no promised order (CloudFormation User Guide, "DependsOn attribute"). A resource that
needs another without declaring it (DependsOn, Ref, Fn::GetAtt, Fn::Sub) works only by luck. `Order` picks
which of the ready resources start now; every order it picks is one the declared dependencies allow, and
the hostile and seeded ones are there to turn such luck into a failing deployment.
"""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from copied_snapshot_local_cloud.clock import Clock, ScaledClock


@dataclass(frozen=True)
class Graph:
    """Resources and what each waits for: on create its dependencies, on delete what depends on it."""

    waits_for: Mapping[str, frozenset[str]]
    # Custom resources run code that may need resources it does not declare; the hostile order aims at them.
    custom: frozenset[str] = frozenset()
    deleting: bool = False

    @staticmethod
    def of(
        dependencies: Mapping[str, set[str]], *, custom: frozenset[str] = frozenset(), deleting: bool = False
    ) -> Graph:
        """The graph of `dependencies` (each resource -> what it depends on), for creating or deleting."""
        names = list(dependencies)
        if not deleting:
            waits = {name: frozenset(dependencies[name] & set(names)) for name in names}
        else:
            waits = {
                name: frozenset(other for other in names if name in dependencies[other]) for name in names
            }
        return Graph(waits, custom & set(names), deleting)

    def waited_on(self, name: str) -> bool:
        """Whether another resource of the graph waits for `name`."""
        return any(name in waits for waits in self.waits_for.values())


@dataclass(frozen=True)
class Choice:
    """What an order chooses from: resources ready to start (in template order), and those running."""

    ready: Sequence[str]
    running: frozenset[str]
    graph: Graph


Pick = Callable[[Choice], list[str]]


def _all(choice: Choice) -> list[str]:
    return list(choice.ready)


def _hostile(choice: Choice) -> list[str]:
    """On create, what nothing declares a need for comes after the custom resources that may need it; on
    delete, it goes first, and custom resources wait until it is gone."""
    graph = choice.graph
    custom_busy = any(name in graph.custom for name in [*choice.ready, *choice.running])
    if graph.deleting:
        others = [name for name in choice.ready if name not in graph.custom]
        others_busy = bool(others) or any(name not in graph.custom for name in choice.running)
        return others or ([] if others_busy else list(choice.ready))
    first = [name for name in choice.ready if name in graph.custom]
    needed = [name for name in choice.ready if name not in graph.custom and graph.waited_on(name)]
    held = [name for name in choice.ready if name not in first and name not in needed]
    return first + needed + ([] if custom_busy else held)


@dataclass
class _Seeded:
    seed: int
    _random: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.seed)

    def __call__(self, choice: Choice) -> list[str]:
        ready = list(choice.ready)
        if not ready:
            return []
        self._random.shuffle(ready)
        return ready[: self._random.randint(0 if choice.running else 1, len(ready))]


@dataclass(frozen=True)
class Order:
    """Which ready resources start now. Whatever it picks, a resource with nothing running is started, so
    every deployment ends; the rest wait until the next resource finishes."""

    name: str
    pick: Pick

    @staticmethod
    def parallel() -> Order:
        """CloudFormation's: every ready resource at once."""
        return Order("parallel", _all)

    @staticmethod
    def one_at_a_time() -> Order:
        """One resource at a time, in template order: for reading the order of operations in tests."""
        return Order("one at a time", lambda choice: [] if choice.running else list(choice.ready[:1]))

    @staticmethod
    def hostile() -> Order:
        """The order most likely to expose a missing dependency of a custom resource: on create, resources
        nothing declares a need for are made only once no custom resource is waiting or running; on delete,
        they go first and as early as possible (in parallel), and custom resources only once they are gone."""
        return Order("hostile", _hostile)

    @staticmethod
    def seeded(seed: int) -> Order:
        """A random order the dependencies allow: at each step a random part of the ready resources starts."""
        return Order(f"seeded({seed})", _Seeded(seed))


@dataclass
class Run:
    """What became of each resource of a graph."""

    done: list[str] = field(default_factory=list)  # in the order they finished
    failed: dict[str, Exception] = field(default_factory=dict)  # in the order they failed
    not_started: list[str] = field(default_factory=list)


def run(
    graph: Graph,
    order: Order,
    action: Callable[[str], None],
    *,
    stop: threading.Event,
    clock: Clock | None = None,
) -> Run:
    """Runs `action` on every resource of `graph`, each in its own thread once what it waits for is done.

    Each resource's thread is running on `clock` (`busy`) while this one waits for them on the clock, so a
    simulated clock skips only the time when every resource waits too.

    A resource waiting for one that failed never starts. On create and update the first failure also sets
    `stop`: nothing new starts, and what is running is waited for (custom resources see `stop` as their
    cancellation). On delete the independent resources go on.
    """
    outcome = Run()
    finished: queue.Queue[tuple[str, Exception | None]] = queue.Queue()
    pending = list(graph.waits_for)
    running: set[str] = set()
    started: set[str] = set()

    clock = clock or ScaledClock()
    arrived = threading.Event()

    def work(name: str) -> None:
        with clock.busy():
            try:
                action(name)
            except Exception as error:  # reported to the run, which decides what follows
                finished.put((name, error))
            else:
                finished.put((name, None))
            arrived.set()

    def next_finished() -> tuple[str, Exception | None]:
        while finished.empty():
            clock.wait(arrived, None)
            arrived.clear()
        return finished.get()

    while True:
        if not stop.is_set():
            done = set(outcome.done)
            ready = [name for name in pending if graph.waits_for[name] <= done]
            chosen = [name for name in order.pick(Choice(ready, frozenset(running), graph)) if name in ready]
            if ready and not chosen and not running:
                chosen = ready[:1]
            for name in chosen:
                pending.remove(name)
                running.add(name)
                started.add(name)
                threading.Thread(target=work, args=(name,), name=f"cfn-{name}", daemon=True).start()
        if not running:
            break
        name, error = next_finished()
        running.discard(name)
        if error is None:
            outcome.done.append(name)
            continue
        outcome.failed[name] = error
        if not graph.deleting:
            stop.set()
        blocked = _waiting_for(graph, name)
        pending = [other for other in pending if other not in blocked]
    outcome.not_started = [name for name in graph.waits_for if name not in started]
    return outcome


def _waiting_for(graph: Graph, name: str) -> set[str]:
    """Everything that waits, directly or not, for `name`."""
    found: set[str] = set()
    frontier = {name}
    while frontier:
        frontier = {other for other, waits in graph.waits_for.items() if waits & frontier} - found
        found |= frontier
    return found
