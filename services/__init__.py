"""courtbus services: thin processes that move records and call the library's decisions."""
