"""Prometheus metrics, read from the venue at scrape time (no bookkeeping on the hot path)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from venue import memory
from venue.runtime import JOURNAL_LATENCY_BOUNDS
from venue.wiring import Venue


def _histogram(
    name: str, help_text: str, bounds: tuple[float, ...], counts: list[int], total: float
) -> HistogramMetricFamily:
    """A Prometheus histogram from per-bucket counts (``counts`` has one more entry: +Inf)."""
    cumulative, buckets = 0, []
    for bound, count in zip((*bounds, float("inf")), counts, strict=True):
        cumulative += count
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
    return HistogramMetricFamily(name, help_text, buckets=buckets, sum_value=total)


class VenueCollector(Collector):
    def __init__(self, venue: Venue) -> None:
        self.venue = venue

    def collect(self) -> Iterator[Metric]:
        venue = self.venue
        runtime = venue.runtime
        yield CounterMetricFamily(
            "venue_commands", "commands applied by the sequencer", value=venue.sequencer.next_seq - 1
        )
        yield CounterMetricFamily(
            "venue_journal_commits", "group commits written", value=runtime.journal_batches
        )
        yield CounterMetricFamily(
            "venue_journal_commit_seconds", "time spent in journal writes", value=runtime.journal_seconds
        )
        yield _histogram(
            "venue_journal_commit_latency_seconds", "duration of each group commit (journal latency)",
            JOURNAL_LATENCY_BOUNDS, runtime.journal_latency_counts, runtime.journal_seconds,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "venue_journal_failing", "1 while journal writes fail", value=runtime.journal_failing
        )
        yield CounterMetricFamily(
            "venue_refused_unjournaled", "new-risk commands refused while the journal failed",
            value=runtime.refused_unjournaled,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "venue_intake_queue_depth", "commands waiting to be applied", value=runtime.intake_depth
        )
        yield CounterMetricFamily(
            "venue_fanout_dropped", "records the bus fan-out dropped", value=venue.fanout.dropped
        )
        yield GaugeMetricFamily(
            "venue_records_lag", "commands applied that the derived records have not projected yet",
            value=max(0, runtime.chain.last_seq - venue.records.projected_seq),
        )  # fmt: skip
        settlement = venue.settlement
        if settlement is not None:
            stats = settlement.stats
            yield GaugeMetricFamily(
                "venue_settlement_alarm", "1 while reconciliation failed and batches are stopped",
                value=1 if stats.alarm else 0,
            )  # fmt: skip
            yield GaugeMetricFamily(
                "venue_settlement_chain_up", "0 while the settlement chain does not answer",
                value=1 if stats.chain_up else 0,
            )  # fmt: skip
            for name, help_text, value in (
                ("venue_settlement_batches_built", "settlement batches cut and stored", stats.batches_built),
                ("venue_settlement_batches_confirmed", "batches confirmed on chain", stats.batches_confirmed),
                ("venue_settlement_submissions", "settleBatch transactions sent", stats.submissions),
                (
                    "venue_settlement_replacements",
                    "transactions replaced with higher fees",
                    stats.replacements,
                ),
                ("venue_settlement_refusals", "batches the vault refused", stats.refusals),
                ("venue_settlement_deposits", "deposits credited from the chain", stats.deposits_credited),
                ("venue_settlement_gas", "gas used by confirmed batches", stats.gas_used),
            ):
                yield CounterMetricFamily(name, help_text, value=value)
            yield GaugeMetricFamily(
                "venue_settlement_refused_requests", "on-chain withdrawal requests waiting for funds",
                value=stats.refused_requests,
            )  # fmt: skip
        depth = GaugeMetricFamily(
            "venue_book_levels", "price levels per book side", labels=["symbol", "side"]
        )
        for symbol, book in venue.readmodel.books.items():
            if book.bids or book.asks:
                depth.add_metric([symbol, "bid"], len(book.bids))
                depth.add_metric([symbol, "ask"], len(book.asks))
        yield depth
        age = GaugeMetricFamily(
            "venue_mark_age_seconds",
            "seconds since each underlying's last mark update",
            labels=["underlying"],
        )
        stale = GaugeMetricFamily(
            "venue_marks_stale",
            "1 while an underlying's marks are older than stale_after_s",
            labels=["underlying"],
        )
        now = time.time_ns()
        watch = venue.mark_watch
        for underlying in venue.catalog.underlyings:
            last = watch.last.get(underlying)
            if last is not None:
                age.add_metric([underlying], (now - last) / 1e9)
            stale.add_metric([underlying], 1.0 if watch.stale(now, [underlying]) else 0.0)
        yield age
        yield stale
        yield CounterMetricFamily(
            "venue_liquidation_levels_refreshed", "liquidation levels recomputed after mark updates",
            value=venue.levels.refreshed,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "venue_python_allocated_blocks", "blocks the interpreter has allocated (objects, buffers)",
            value=memory.python_blocks(),
        )  # fmt: skip
        in_use = memory.malloc_in_use()
        if in_use is not None:
            yield GaugeMetricFamily(
                "venue_malloc_in_use_bytes", "bytes malloc has handed out (quickfix, SQLite, big buffers)",
                value=in_use,
            )  # fmt: skip
        if venue.fix is not None:
            yield from _fix_metrics(venue)


def _fix_metrics(venue: Venue) -> Iterator[Metric]:
    assert venue.fix is not None
    application, gateway = venue.fix.application, venue.fix.gateway
    on = GaugeMetricFamily(
        "venue_fix_session_logged_on", "1 while a FIX session is logged on", labels=["session"]
    )
    for name, state in gateway.sessions.items():
        on.add_metric([name], 1.0 if state.logged_on else 0.0)
    yield on
    yield CounterMetricFamily(
        "venue_fix_logons_refused", "FIX logons refused", value=application.guard.failed
    )
    yield CounterMetricFamily(
        "venue_fix_rate_limited",
        "FIX messages refused by a session's rate limit",
        value=application.rate_limited,
    )
    yield CounterMetricFamily(
        "venue_fix_callback_errors", "errors caught in quickfix callbacks", value=application.callback_errors
    )
    yield CounterMetricFamily(
        "venue_fix_messages_in", "FIX application messages handled", value=gateway.received
    )
    yield CounterMetricFamily("venue_fix_messages_out", "FIX application messages sent", value=gateway.sent)
