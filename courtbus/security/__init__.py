"""Access to the bus: principals, the bus's certificate authority and credentials, ACLs
derived from the directory, signatures.

One module per concern; pure where it can be (``principals``, ``acl``, ``signing``), admin and
file I/O in their own modules (``acl_admin``, ``pki``, ``credentials``, ``keys``).
"""
