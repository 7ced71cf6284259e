"""What every bus service shares: the record to produce (``records``), topic names
(``topics``), and refusals (``refusals``: dead letter + ``MessageRejected``).

Imports the wire layer only; no Kafka client. Import from the modules themselves: this package
imports nothing, so that ``courtbus.bus.topics``, which imports nothing of courtbus either,
can be named from every floor (the flow specs among them) without running the rest.
"""
