"""Request and response schemas of the REST API, one module per business area (``common`` holds the shared
patterns and error bodies)."""
