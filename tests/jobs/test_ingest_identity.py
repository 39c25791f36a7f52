"""Which files are new is decided by the ledger, not the watermark: a file copied in with an old
mtime (`cp -p`, `rsync -a`, `mv`) or replaced in place is found; keys are an injective encoding
of a name's bytes, so no two names share an item or a document."""

from __future__ import annotations

import os
import random
import shutil

import pytest

from cronsole.core.clock import FrozenClock
from cronsole.core.engine import Engine
from cronsole.core.models import ItemStatus
from cronsole.core.text import path_key
from tests.conftest import T0, Workspace, run_job
from tests.jobs.test_ingest import CONFIG, add, company, documents


@pytest.fixture
def engine(workspace: Workspace, clock: FrozenClock) -> Engine:
    workspace.configure(CONFIG)
    return workspace.engine(clock, builtin=True)


def test_a_back_dated_file_copied_in_after_the_watermark_passed_is_ingested(
    engine: Engine, workspace: Workspace
) -> None:
    for n in range(3):
        add(workspace, company(f"sales/inv-{n}.pdf"), age=1000 - n)
    assert run_job(engine, "invoice-ingest").processed == 3
    old = add(workspace, company("sales/old.pdf"), age=90_000)  # as `cp -p` leaves it
    assert run_job(engine, "invoice-ingest").processed == 1
    assert documents(engine)[f"invoices/{company('sales/old.pdf')}"]["status"] == "ok"
    assert run_job(engine, "invoice-ingest").processed == 0  # the same file is not new twice
    moved = old.with_name("moved.pdf")  # `mv` keeps the mtime: a new name is a new file
    shutil.move(old, moved)
    assert run_job(engine, "invoice-ingest").processed == 1
    assert f"invoices/{company('sales/moved.pdf')}" in documents(engine)


def test_a_file_replaced_with_its_old_mtime_is_ingested_again(
    engine: Engine, workspace: Workspace
) -> None:
    path = add(workspace, company("sales/inv.pdf"), age=1000, data=b"%PDF first\n")
    run_job(engine, "invoice-ingest")
    first = documents(engine)[f"invoices/{company('sales/inv.pdf')}"]["sha256"]
    add(workspace, company("sales/later.pdf"), age=500)  # the watermark moves past it
    run_job(engine, "invoice-ingest")
    path.write_bytes(b"%PDF second, longer\n")  # replaced, then its old mtime put back
    os.utime(path, (T0.timestamp() - 1000,) * 2)
    assert run_job(engine, "invoice-ingest").processed == 1
    again = documents(engine)[f"invoices/{company('sales/inv.pdf')}"]
    assert again["sha256"] != first and again["size"] == len(b"%PDF second, longer\n")


def test_a_backslash_in_a_name_is_a_character_not_a_folder(
    engine: Engine, workspace: Workspace
) -> None:
    add(workspace, company("sales/win\\name.pdf"), age=100)
    run_job(engine, "invoice-ingest")
    [doc] = documents(engine).values()
    assert doc["status"] == "ok"
    assert doc["path"] == f"invoices/{company('sales/win')}\\name.pdf"


def test_a_name_spelling_escapes_and_the_bytes_it_spells_are_two_files(
    engine: Engine, workspace: Workspace
) -> None:
    literal = add(workspace, company("sales/bad\\xff\\xfe.pdf"), age=200, data=b"%PDF text\n")
    folder = os.fsencode(literal.parent)
    with open(folder + b"/bad\xff\xfe.pdf", "wb") as handle:  # a real non-UTF-8 name
        handle.write(b"%PDF bytes\n")
    os.utime(folder + b"/bad\xff\xfe.pdf", (T0.timestamp() - 100,) * 2)
    assert run_job(engine, "invoice-ingest").processed == 2
    items = engine.store.list_items("invoice-ingest")
    assert len({i.key for i in items}) == 2
    assert {i.status for i in items} == {ItemStatus.DONE}
    docs = documents(engine)
    assert len(docs) == 2
    assert sorted(d["size"] for d in docs.values()) == sorted(
        [len(b"%PDF bytes\n"), len(b"%PDF text\n")]
    )
    assert {d["status"] for d in docs.values()} == {"ok"}


def decode_key(key: str) -> bytes:
    """The inverse of `path_key`, written out here: `\\\\` is a backslash, `\\xNN` a byte."""
    out, n = bytearray(), 0
    while n < len(key):
        if key[n] == "\\" and key[n + 1] == "\\":
            out += b"\\"
            n += 2
        elif key[n] == "\\" and key[n + 1] == "x":
            out.append(int(key[n + 2 : n + 4], 16))
            n += 4
        else:
            out += key[n].encode()
            n += 1
    return bytes(out)


def test_path_keys_decode_back_to_the_bytes_of_the_name() -> None:
    """Injective: every name's key decodes to that name's bytes, for random byte names
    heavy in backslashes, `x`, hex digits and bytes that are not UTF-8."""
    rng = random.Random(15)
    alphabet = [
        b"\\",
        b"x",
        b"f",
        b"0",
        b"a",
        b"/",
        b"\xff",
        b"\xfe",
        b"\xc3",
        b"\xa9",
        "é".encode(),
        "€".encode(),
        b" ",
    ]
    for _ in range(5000):
        name = b"".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 12)))
        assert decode_key(path_key(os.fsdecode(name))) == name, name
