"""An obviously correct, slow order book to check the real one against.

Resting orders are one flat list; the best opposite order is found by scanning it each time. Supports
limit orders (GTC, IOC, FOK, post-only), cancel, cancel-replace and the four self-trade prevention
modes, with the same rules as matching.matcher. No risk, marks, stops or halts.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RefOrder:
    order_id: int
    account: str
    side: int
    price: int
    leaves: int
    qty: int
    tif: int
    post_only: bool
    stp: int
    priority: int
    cum: int = 0


@dataclass
class ReferenceBook:
    resting: list[RefOrder] = field(default_factory=list)
    fills: list[tuple[int, int, int, int]] = field(default_factory=list)  # maker id, taker id, price, qty
    next_id: int = 1

    def _best(self, side: int) -> RefOrder | None:
        """The resting order that trades first against an incoming order of ``side``."""
        candidates = [o for o in self.resting if o.side == -side]
        if not candidates:
            return None
        return min(candidates, key=lambda o: (o.price * side, o.priority))

    def _crosses(self, side: int, price: int) -> bool:
        best = self._best(side)
        return best is not None and (price - best.price) * side >= 0

    def _fillable(self, account: str, side: int, price: int, stp: int, need: int) -> int:
        got = 0
        for o in sorted(
            (o for o in self.resting if o.side == -side), key=lambda o: (o.price * side, o.priority)
        ):
            if (price - o.price) * side < 0:
                break
            if o.account == account:
                if stp != 2:
                    return got
                continue
            got += o.leaves
            if got >= need:
                return got
        return got

    def new(
        self, account: str, side: int, price: int, qty: int, tif: int, post_only: bool, stp: int, seq: int
    ) -> int:
        """Returns the order id, or 0 when rejected."""
        if post_only and self._crosses(side, price):
            return 0
        if tif == 3 and self._fillable(account, side, price, stp, qty) < qty:
            return 0
        order = RefOrder(self.next_id, account, side, price, qty, qty, tif, post_only, stp, seq)
        self.next_id += 1
        self._run(order)
        return order.order_id

    def _run(self, taker: RefOrder) -> None:
        stopped = False
        while taker.leaves and not stopped:
            maker = self._best(taker.side)
            if maker is None or (taker.price - maker.price) * taker.side < 0:
                break
            if maker.account == taker.account:
                mode = taker.stp
                if mode == 2:
                    self.resting.remove(maker)
                elif mode == 3:
                    self.resting.remove(maker)
                    stopped = True
                elif mode == 4:
                    if maker.leaves < taker.leaves:
                        taker.leaves -= maker.leaves
                        taker.qty -= maker.leaves
                        self.resting.remove(maker)
                    else:
                        if maker.leaves > taker.leaves:
                            maker.leaves -= taker.leaves
                            maker.qty -= taker.leaves
                        else:
                            self.resting.remove(maker)
                        stopped = True
                else:
                    stopped = True
                continue
            qty = min(maker.leaves, taker.leaves)
            maker.leaves -= qty
            maker.cum += qty
            taker.leaves -= qty
            taker.cum += qty
            self.fills.append((maker.order_id, taker.order_id, maker.price, qty))
            if maker.leaves == 0:
                self.resting.remove(maker)
        if taker.leaves and not stopped and taker.tif == 1:
            self.resting.append(taker)

    def find(self, order_id: int) -> RefOrder | None:
        return next((o for o in self.resting if o.order_id == order_id), None)

    def cancel(self, order_id: int) -> bool:
        order = self.find(order_id)
        if order is None:
            return False
        self.resting.remove(order)
        return True

    def replace(self, order_id: int, qty: int, price: int, seq: int) -> bool:
        order = self.find(order_id)
        if order is None or qty <= order.cum:
            return False
        new_leaves = qty - order.cum
        if price == order.price and new_leaves <= order.leaves:
            order.qty -= order.leaves - new_leaves
            order.leaves = new_leaves
            return True
        self.resting.remove(order)
        if order.post_only and self._crosses(order.side, price):
            self.resting.append(order)  # rejected: the original stays as it was
            self.resting.sort(key=lambda o: o.priority)
            return False
        order.price, order.qty, order.leaves, order.priority = price, qty, new_leaves, seq
        self._run(order)
        return True

    def state(self) -> list[tuple[int, int, int, int, int]]:
        """(side, price, priority, order id, leaves) of every resting order, in priority order per side."""
        return sorted((o.side, o.price * -o.side, o.priority, o.order_id, o.leaves) for o in self.resting)
