"""The batch run's read-ahead: order kept, errors raised in the consumer, an early stop stops the
producer and closes its iterator."""

import threading

import pytest

from edgeml.batch._ahead import ahead
from edgeml.errors import SchemaError


def test_items_come_in_order_and_at_most_depth_ahead():
    made = []

    def produce():
        for i in range(50):
            made.append(i)
            yield i

    got = []
    for item in ahead(produce(), depth=2):
        # the producer is never more than depth queued + one in hand + this one ahead
        assert len(made) - len(got) <= 4
        got.append(item)
    assert got == list(range(50))


def test_a_producer_error_is_raised_in_the_consumer_after_the_items_before_it():
    def produce():
        yield 1
        yield 2
        raise SchemaError("data.csv row 3: bad")

    got = []
    with pytest.raises(SchemaError, match="row 3"):
        for item in ahead(produce(), depth=1):
            got.append(item)
    assert got == [1, 2]


def test_stopping_early_stops_the_producer_and_closes_its_iterator():
    closed = threading.Event()

    def produce():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    before = threading.active_count()
    items = ahead(produce(), depth=1)
    assert next(items) == 0
    items.close()
    assert closed.is_set()  # closed on its own thread, before close() returned
    assert threading.active_count() == before
