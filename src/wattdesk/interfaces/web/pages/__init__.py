"""Back-office and portal pages, one module per area; each registers its nav entries on import."""
