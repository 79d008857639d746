"""The change feed from Python: pages, consumers, at-least-once."""

import crm_core


def test_a_consumer_reads_again_until_it_acknowledges(tmp_path):
    path = str(tmp_path / "crm.db")
    with crm_core.open(path) as crm:
        s = crm.as_system()
        s.create_feed_consumer("shop", filter={"entity_kinds": ["customer"]})
        for name in ["Ada", "Grace", "Edsger"]:
            s.create_customer("person", name)
        first = s.read_feed_consumer("shop", limit=2)
        assert [e["seq"] for e in first["events"]] == [2, 3]
    # A crash before the acknowledgement: the same events again.
    with crm_core.open(path) as crm:
        s = crm.as_system()
        again = s.read_feed_consumer("shop", limit=2)
        assert again == first
        s.ack_feed_consumer("shop", again["next_after"])
        rest = s.read_feed_consumer("shop")
        assert [e["seq"] for e in rest["events"]] == [4]
        assert rest["caught_up"]
        assert [c["name"] for c in s.feed_consumers()] == ["shop"]
        page = s.feed(0, limit=1)
        assert len(page["events"]) == 1 and page["next_after"] == 1
        assert s.delete_feed_consumer("shop")["deleted"]
