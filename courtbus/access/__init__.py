"""Who may do what on the bus, derived from the directory: the ACL plan (``acl``), applying it
to a cluster (``acl_admin``), and issuing participants' credentials (``credentials``), and the operator's own rights granted when a secure stack starts (``bootstrap``).

A floor above ``catalogue`` (the directory and topics it reads) and ``security`` (principals,
certificates, keys and signatures, which need no directory).
"""
