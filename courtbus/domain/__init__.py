"""Pure domain layer: identities, state machines, policies, distribution maths.

Must not import Kafka, Faust, SQLAlchemy, HTTP clients or anything doing I/O.
"""
