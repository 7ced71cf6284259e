"""Access to the bus: principals, the bus's certificate authority, credentials."""
