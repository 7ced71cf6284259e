"""Access to the bus: principals, ACLs derived from the directory, identities, signatures.

One module per concern; pure where it can be (``principals``, ``acl``), admin I/O in its own
module (``acl_admin``).
"""
