"""Generation speed of the synthetic national list: pure Python, no Kafka, no encoding.

Generates 1 M ``BlacklistEntry`` payloads (``--count N``; 8.6 M is the 2023 national list)
with ``courtbus.synth.blacklist.entry_payloads`` and prints entries/s and what the whole
national list would take at that speed. ``--encode`` also times the Avro envelope (memory
registry) over the first 100 000, the cost ``courtbus blacklist generate --topic`` adds.

``--json PATH`` writes the figures (``synth_entries_s``, ``synth_encode_entries_s``).

``python -m bench.synth_blacklist [--count N] [--seed S] [--encode] [--json PATH]``
"""

from __future__ import annotations

import argparse
import time
from itertools import islice

from bench.common import add_json_option, load, write_json
from courtbus.bus.topics import BLACKLIST_VIEW
from courtbus.synth.blacklist import NATIONAL_LIST_2023, entry_payloads

ENTRY = "cn.court.bus.blacklist.BlacklistEntry"


def main() -> None:
    """Time the generation (and the encoding), print (and write) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--encode", action="store_true", help="also time Envelope.build")
    add_json_option(parser)
    args = parser.parse_args()
    figures: dict[str, float | int] = {"synth_entries": args.count}
    print(f"synthetic blacklist generation: {args.count:,} entries, seed {args.seed}; {load()}")
    started = time.perf_counter()
    generated = sum(1 for _ in entry_payloads(args.count, seed=args.seed))
    elapsed = time.perf_counter() - started
    rate = generated / elapsed
    figures["synth_entries_s"] = rate
    print(f"  generate  {generated:>12,} entries in {elapsed:7.2f} s  {rate:>10,.0f} entries/s")
    print(
        f"  the 2023 national list ({NATIONAL_LIST_2023:,}) at this speed: "
        f"{NATIONAL_LIST_2023 / rate:,.0f} s"
    )
    if args.encode:
        from courtbus.runtime.harness import memory_envelope

        envelope = memory_envelope()
        sample = list(islice(entry_payloads(min(args.count, 100_000), seed=args.seed), 100_000))
        started = time.perf_counter()
        for payload in sample:
            envelope.build(BLACKLIST_VIEW, ENTRY, payload, "bus:synth")
        elapsed = time.perf_counter() - started
        figures["synth_encode_entries_s"] = len(sample) / elapsed
        print(
            f"  encode    {len(sample):>12,} entries in {elapsed:7.2f} s  "
            f"{len(sample) / elapsed:>10,.0f} entries/s (Envelope.build, memory registry)"
        )
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
