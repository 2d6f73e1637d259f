"""Local sandboxes of the outside systems WattDesk talks to (payment gateway, ...), each a small web service
of its own for development, demos and tests. Standard library only."""
